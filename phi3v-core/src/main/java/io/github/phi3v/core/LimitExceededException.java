package io.github.phi3v.core;

import java.util.Objects;

/**
 * A request was refused because it exceeds a configured limit of the {@link Phi3Vision} (for example
 * {@link Phi3VisionBuilder#maxImagesPerPrompt(int)} or {@link Phi3VisionBuilder#maxPromptTokens(int)}).
 * It is thrown before the expensive work (decoding, preprocessing, the vision tower, the prefill) and
 * leaves the conversation unchanged. The message names the limit, the value found, the maximum and the
 * builder option that changes it; the same facts are available as fields for servers that map them to
 * their own responses.
 *
 * <pre>{@code
 * try {
 *     chat.image(upload);
 * } catch (LimitExceededException e) {
 *     respond(413, e.limit() + ": " + e.found() + " > " + e.max());
 * }
 * }</pre>
 */
public final class LimitExceededException extends IllegalArgumentException {

    private static final long serialVersionUID = 1L;

    /** The name of the limit, as its builder option. */
    private final String limit;
    /** The value the request has (or would have). */
    private final long found;
    /** The configured maximum. */
    private final long max;
    /** Whether the same request may succeed later, once other requests have finished. */
    private final boolean retryable;

    /**
     * Creates the exception.
     *
     * @param limit the name of the limit, as its builder option (e.g. {@code maxImagesPerPrompt})
     * @param found the value the request has (or would have)
     * @param max the configured maximum
     * @param message the full explanation: what was refused, found vs maximum, the option to change it
     */
    public LimitExceededException(String limit, long found, long max, String message) {
        this(limit, found, max, false, message);
    }

    /**
     * Creates the exception, saying whether it is transient.
     *
     * @param limit the name of the limit, as its builder option (e.g. {@code kvCacheBytes})
     * @param found the value the request has (or would have)
     * @param max the configured maximum
     * @param retryable true if the request was refused only because other requests hold the resource now
     *     (it may succeed when they finish), false if the request itself exceeds the limit
     * @param message the full explanation: what was refused, found vs maximum, the option to change it
     */
    public LimitExceededException(String limit, long found, long max, boolean retryable, String message) {
        super(Objects.requireNonNull(message, "message"));
        this.limit = Objects.requireNonNull(limit, "limit");
        this.found = found;
        this.max = max;
        this.retryable = retryable;
    }

    /**
     * The name of the limit, as the {@link Phi3VisionBuilder} option that sets it.
     *
     * @return e.g. {@code maxImagesPerPrompt} or {@code maxPromptTokens}
     */
    public String limit() {
        return limit;
    }

    /**
     * The value the refused request has (or would have had).
     *
     * @return the count found
     */
    public long found() {
        return found;
    }

    /**
     * The configured maximum.
     *
     * @return the limit's value
     */
    public long max() {
        return max;
    }

    /**
     * Whether the refusal is transient: the request fits the limit on its own but other requests hold the
     * resource now (all {@code maxConcurrentRequests} slots taken, the {@code kvCacheBytes} budget held by
     * running requests past {@code kvCacheWait}). A server answers these with "retry later" (HTTP 429/503 and
     * {@code Retry-After}); the others need a different request or a different configuration.
     *
     * @return true if the same request may succeed later
     */
    public boolean retryable() {
        return retryable;
    }
}
