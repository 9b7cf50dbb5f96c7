package io.github.phi3v.core.generate;

/**
 * A flag that another thread sets to stop a running generation. The decode loop polls it before every
 * forward pass and right after it, so a generation ends within one token (a long prefill finishes
 * first unless the model also polls the token). Cancelling is idempotent and cannot be undone; use a
 * new token for every generation.
 *
 * <pre>{@code
 * CancellationToken cancel = new CancellationToken();
 * executor.submit(() -> Generator.generate(ids, model, decoder, config, piece -> {}, cancel));
 * // later, from a UI thread:
 * cancel.cancel();                       // the answer ends with FinishReason.CANCELLED
 * }</pre>
 *
 * <p>Thread-safe.
 */
public final class CancellationToken {

    private static final CancellationToken NONE = new CancellationToken(false);

    private final boolean cancellable;
    private final CancellationToken parent;
    private volatile boolean cancelled;

    /** Creates a token that is not cancelled yet. */
    public CancellationToken() {
        this(true);
    }

    private CancellationToken(boolean cancellable) {
        this.cancellable = cancellable;
        this.parent = null;
    }

    private CancellationToken(CancellationToken parent) {
        this.cancellable = true;
        this.parent = parent;
    }

    /**
     * A token that is cancelled when this one is, and can also be cancelled on its own (for example one
     * call's token under a caller's token that cancels several calls).
     *
     * @return a new child token
     */
    public CancellationToken child() {
        return new CancellationToken(this);
    }

    /**
     * Returns a shared token that can never be cancelled, for callers that do not need cancellation.
     *
     * @return the never-cancelled token; {@link #cancel()} on it throws
     */
    public static CancellationToken none() {
        return NONE;
    }

    /**
     * Requests cancellation. Safe to call from any thread, any number of times.
     *
     * @throws UnsupportedOperationException on {@link #none()}, which is shared and must stay uncancelled
     */
    public void cancel() {
        if (!cancellable) {
            throw new UnsupportedOperationException(
                    "CancellationToken.none() cannot be cancelled; pass a new CancellationToken() instead");
        }
        cancelled = true;
    }

    /**
     * Tells whether {@link #cancel()} was called.
     *
     * @return true once cancelled
     */
    public boolean isCancelled() {
        return cancelled || (parent != null && parent.isCancelled());
    }

    @Override
    public String toString() {
        return cancellable ? "CancellationToken[cancelled=" + cancelled + "]" : "CancellationToken.none()";
    }
}
