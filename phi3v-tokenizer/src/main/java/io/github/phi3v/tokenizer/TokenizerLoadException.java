package io.github.phi3v.tokenizer;

/**
 * A tokenizer file is missing, unreadable, malformed, or uses a feature this implementation does not
 * support. The message names the file and the JSON field, and says what was expected and what was
 * found.
 */
public final class TokenizerLoadException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    /**
     * Creates the exception.
     *
     * @param message what went wrong, naming the file and field
     */
    public TokenizerLoadException(String message) {
        super(message);
    }

    /**
     * Creates the exception with the underlying cause.
     *
     * @param message what went wrong, naming the file and field
     * @param cause the I/O or parse error
     */
    public TokenizerLoadException(String message, Throwable cause) {
        super(message, cause);
    }
}
