package io.github.phi3v.core.runtime;

import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;

/**
 * Test fixture: counts the native allocations an operation makes on the calling thread and makes the k-th
 * one fail, to prove that every failure path frees what was made before it.
 *
 * <p>How: JavaCPP hands every native object it creates with a deallocator (tensors, options, scalars,
 * optionals, devices, guards) to the innermost {@link PointerScope} of the creating thread, through
 * {@link PointerScope#attach}, right after the native object exists and before the call that made it
 * returns. This fixture installs, on the calling thread only, a {@link PointerScope} subclass as the
 * scope of every {@link InferenceScope} (through the test-only hook {@link InferenceScope#SCOPES_FOR_TESTS})
 * plus one outermost scope that counts without owning (for objects made outside any inference scope, which
 * stay unowned as in production). At the k-th attach the object is freed and the fault is thrown from
 * inside the libtorch/JavaCPP call, exactly where a real allocation failure surfaces: the call throws and
 * its result never exists.
 *
 * <p>The fault alternates between the two ways native allocation fails for real: odd k a
 * {@link RuntimeException} with libtorch's CPU-allocator message (how JavaCPP surfaces a {@code c10::Error}),
 * even k an {@link OutOfMemoryError} as JavaCPP throws when its {@code maxBytes} limit is hit. So cleanup
 * code that only catches {@code RuntimeException} is caught out.
 */
public final class AllocationFaults {

    /**
     * What one run did.
     *
     * @param allocations native allocations attempted (the failed one included)
     * @param injected the fault thrown at the k-th allocation, or null if the operation made fewer than k
     * @param thrown what the operation threw (the fault or an exception wrapping it), or null if it completed
     */
    public record Run(int allocations, Throwable injected, Throwable thrown) {

        /**
         * Whether {@link #thrown} is the injected fault or wraps it.
         *
         * @return true if the operation failed because of the fault
         */
        public boolean failedWithInjectedFault() {
            for (Throwable t = thrown; t != null; t = t.getCause()) {
                if (t == injected) {
                    return true;
                }
            }
            return false;
        }
    }

    private AllocationFaults() {
    }

    /**
     * Counts the native allocations of {@code op} (which must complete).
     *
     * @param op the operation
     * @return the number of JavaCPP objects with a deallocator it created on this thread
     */
    public static int count(Runnable op) {
        Run run = failAt(0, op);
        if (run.thrown() != null) {
            throw new AssertionError("the counted operation failed", run.thrown());
        }
        return run.allocations();
    }

    /**
     * Runs {@code op} with its {@code k}-th native allocation failing.
     *
     * @param k 1-based index of the allocation to fail; 0 fails none
     * @param op the operation
     * @return what happened; an exception that is not the injected fault (nor wraps it) is rethrown
     */
    public static Run failAt(int k, Runnable op) {
        Plan plan = new Plan(k);
        InferenceScope.SCOPES_FOR_TESTS.set(() -> new CountingScope(plan, true));
        try (CountingScope outer = new CountingScope(plan, false)) {
            op.run();
            return new Run(plan.seen, plan.injected, null);
        } catch (RuntimeException | Error e) {
            Run run = new Run(plan.seen, plan.injected, e);
            if (!run.failedWithInjectedFault()) {
                throw e;
            }
            return run;
        } finally {
            InferenceScope.SCOPES_FOR_TESTS.remove();
        }
    }

    /** The shared counter of one run. Thread-confined: only the running thread's scopes see it. */
    private static final class Plan {
        final int failAt;
        int seen;
        Throwable injected;

        Plan(int failAt) {
            this.failAt = failAt;
        }
    }

    /** Counts attaches; owns them like a plain scope ({@code owning}) or leaves them unowned (outermost). */
    private static final class CountingScope extends PointerScope {
        private final Plan plan;
        private final boolean owning;

        CountingScope(Plan plan, boolean owning) {
            this.plan = plan;
            this.owning = owning;
        }

        @Override
        public PointerScope attach(Pointer p) {
            plan.seen++;
            if (plan.seen == plan.failAt) {
                String what = p.getClass().getSimpleName() + " (native allocation #" + plan.seen + ", injected)";
                p.deallocate();   // a failed allocation leaves nothing behind
                if (plan.seen % 2 == 1) {
                    RuntimeException fault = new RuntimeException("DefaultCPUAllocator: not enough memory: you tried "
                            + "to allocate a " + what);
                    plan.injected = fault;
                    throw fault;
                }
                OutOfMemoryError fault = new OutOfMemoryError("Failed to allocate memory within limits: " + what);
                plan.injected = fault;
                throw fault;
            }
            return owning ? super.attach(p) : this;
        }
    }
}
