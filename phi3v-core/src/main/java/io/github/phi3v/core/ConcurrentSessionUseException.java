package io.github.phi3v.core;

/**
 * Thrown when a {@link Session} is used by a second thread (or re-entered from its own streaming
 * callback) while a call is still running. A session holds one conversation and its KV cache, so
 * concurrent calls would corrupt it; the second call fails immediately instead and the running one is
 * not affected.
 *
 * <pre>{@code
 * // one session per conversation; for parallel questions open one session per thread:
 * try (Session s = phi.session()) { ... }
 * }</pre>
 */
public final class ConcurrentSessionUseException extends IllegalStateException {

    private static final long serialVersionUID = 1L;

    /**
     * Creates the exception.
     *
     * @param message what was attempted and which thread holds the session
     */
    public ConcurrentSessionUseException(String message) {
        super(message);
    }
}
