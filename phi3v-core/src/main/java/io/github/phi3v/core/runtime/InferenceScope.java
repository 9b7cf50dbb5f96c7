package io.github.phi3v.core.runtime;

import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.InferenceMode;

/**
 * The one way model code touches libtorch: inference mode (no autograd bookkeeping) plus a JavaCPP
 * {@link PointerScope} that frees every tensor created inside it when the scope closes.
 *
 * <pre>{@code
 * try (InferenceScope scope = InferenceScope.open()) {
 *     Tensor h = linear(x, w);          // freed at the end of the block
 *     return scope.keep(result);        // survives; the caller must close() it
 * }
 * }</pre>
 *
 * <p>Rules that make this safe: in-place ops ({@code add_}, {@code copy_}, ...) return the receiver
 * object, so their result is never closed separately; a tensor that must outlive the scope is passed
 * through {@link #keep}; scopes are thread-confined (JavaCPP keeps the scope stack per thread), so
 * concurrent callers on different threads never free each other's tensors.
 */
public final class InferenceScope implements AutoCloseable {

    private final InferenceMode mode;
    private final PointerScope scope;

    private InferenceScope() {
        // The guard is created before the scope so that the scope does not own it; it is closed last.
        this.mode = new InferenceMode();
        this.scope = new PointerScope();
    }

    /**
     * Initialises libtorch if needed and opens a new scope on the current thread.
     *
     * @return the scope; close it (try-with-resources) on the same thread
     */
    public static InferenceScope open() {
        TorchRuntime.ensureInitialized();
        return new InferenceScope();
    }

    /**
     * Lets {@code p} outlive this scope: it gets one extra reference, which the caller releases with
     * {@code p.close()} when done.
     *
     * @param <P> the pointer type (e.g. {@code Tensor})
     * @param p a pointer created in this scope
     * @return {@code p}
     */
    public <P extends Pointer> P keep(P p) {
        p.retainReference();
        return p;
    }

    /** Frees every pointer created in this scope (except those kept) and leaves inference mode. */
    @Override
    public void close() {
        try {
            scope.close();
        } finally {
            mode.close();
        }
    }
}
