package io.github.phi3v.core.runtime;

import java.util.function.Supplier;

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

    /**
     * TEST-ONLY hook, never set by the library: when a test has set it on the current thread, it makes the
     * {@link PointerScope} of every scope that thread opens. The fault-injection tests
     * ({@code AllocationFaults} in the test sources) install a scope that counts the native objects
     * JavaCPP attaches to it and fails the k-th one, so every allocation the model makes inside a scope
     * can be made to fail. A {@code ThreadLocal} rather than a static field so that no other thread can
     * ever see it; in production it is empty and costs one lookup per scope (a few ns, next to the
     * microsecond of every libtorch call made in the scope).
     */
    static final ThreadLocal<Supplier<PointerScope>> SCOPES_FOR_TESTS = new ThreadLocal<>();

    private final InferenceMode mode;
    private final PointerScope scope;

    private InferenceScope() {
        // The guard is created before the scope so that the scope does not own it; it is closed last.
        InferenceMode guard = new InferenceMode();
        try {
            Supplier<PointerScope> testScopes = SCOPES_FOR_TESTS.get();
            this.scope = testScopes == null ? new PointerScope() : testScopes.get();
        } catch (RuntimeException | Error e) {
            guard.close();   // leave inference mode again: the guard is thread state, not just memory
            throw e;
        }
        this.mode = guard;
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
