package io.github.phi3v.core.generate;

/**
 * Thrown before running when a prompt, its images and the requested new tokens do not fit the
 * model's maximum context. The message says what each part costs and what to change.
 *
 * <pre>{@code
 * try {
 *     TokenBudget.check(textTokens, imageTokens, config.maxNewTokens(), maxContext, numCrops);
 * } catch (ContextLengthExceededException e) {
 *     System.err.println(e.getMessage() + " (" + e.excessTokens() + " tokens too many)");
 * }
 * }</pre>
 */
public final class ContextLengthExceededException extends IllegalArgumentException {

    private static final long serialVersionUID = 1L;

    /** Prompt + image + new tokens that were asked for. */
    private final long requiredTokens;
    /** The maximum context the request had to fit in. */
    private final int maxContext;

    /**
     * Creates the exception.
     *
     * @param message the full explanation
     * @param requiredTokens prompt + image + new tokens that were asked for
     * @param maxContext the maximum context
     */
    public ContextLengthExceededException(String message, long requiredTokens, int maxContext) {
        super(message);
        this.requiredTokens = requiredTokens;
        this.maxContext = maxContext;
    }

    /**
     * Tokens the request needs.
     *
     * @return prompt text + image + max new tokens
     */
    public long requiredTokens() {
        return requiredTokens;
    }

    /**
     * The maximum context it had to fit in.
     *
     * @return max context in tokens
     */
    public int maxContext() {
        return maxContext;
    }

    /**
     * How many tokens too many.
     *
     * @return {@code requiredTokens() - maxContext()}
     */
    public long excessTokens() {
        return requiredTokens - maxContext;
    }
}
