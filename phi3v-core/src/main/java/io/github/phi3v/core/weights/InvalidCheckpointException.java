package io.github.phi3v.core.weights;

import java.nio.file.Path;

/**
 * A checkpoint that cannot be read safely: a malformed or inconsistent safetensors header, a missing
 * shard, an unsupported dtype, or a lookup of a tensor the checkpoint does not have. The message names
 * the file and, when there is one, the tensor, and says what was expected and what was found.
 */
public class InvalidCheckpointException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    /**
     * Creates the exception with a complete message.
     *
     * @param message the full message
     */
    public InvalidCheckpointException(String message) {
        super(message);
    }

    /**
     * Creates the exception with a complete message and its cause.
     *
     * @param message the full message
     * @param cause the underlying error
     */
    public InvalidCheckpointException(String message, Throwable cause) {
        super(message, cause);
    }

    /**
     * Creates the exception for one tensor of one file: {@code "<file>: tensor '<name>': <problem>"}.
     *
     * @param file the checkpoint file
     * @param tensor the tensor name, or null when the problem is not about one tensor
     * @param problem what is wrong, phrased "expected ..., found ..."
     */
    public InvalidCheckpointException(Path file, String tensor, String problem) {
        super(file + ": " + (tensor == null ? "" : "tensor '" + tensor + "': ") + problem);
    }
}
