package io.github.phi3v.core.generate;

/**
 * Why a generation ended.
 *
 * <pre>{@code
 * if (answer.finishReason() == FinishReason.LENGTH) {
 *     System.err.println("answer was cut off; raise maxNewTokens");
 * }
 * }</pre>
 */
public enum FinishReason {
    /** A stop token id was generated or a stop string appeared in the text. */
    STOP,
    /** {@link GenerationConfig#maxNewTokens()} tokens were generated without a stop. */
    LENGTH,
    /** The generation was cancelled through its {@link CancellationToken} (or a stream was cancelled). */
    CANCELLED
}
