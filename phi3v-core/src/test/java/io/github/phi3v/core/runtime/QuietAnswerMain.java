package io.github.phi3v.core.runtime;

import java.nio.file.Path;

import io.github.phi3v.core.ChatRequest;
import io.github.phi3v.core.ImageInput;
import io.github.phi3v.core.Phi3Vision;
import io.github.phi3v.core.generate.Answer;

/**
 * The child process of {@link LoggingTest}: loads a model and answers a question about an image through the
 * public API, printing nothing itself, so whatever reaches the process's stdout or stderr came from the
 * library, libtorch or the JVM. Exit code 0 when the answer has tokens, 3 otherwise.
 */
public final class QuietAnswerMain {

    private QuietAnswerMain() {
    }

    /**
     * Runs the load and the question.
     *
     * @param args the model folder and an image file
     */
    public static void main(String[] args) {
        try (Phi3Vision phi = Phi3Vision.builder().modelDir(Path.of(args[0])).dtype("float32").build()) {
            Answer a = phi.chat(ChatRequest.builder().maxNewTokens(3)
                    .user("What is shown?", ImageInput.of(Path.of(args[1]))).build());
            System.exit(a.usage().generatedTokens() > 0 ? 0 : 3);
        }
    }
}
