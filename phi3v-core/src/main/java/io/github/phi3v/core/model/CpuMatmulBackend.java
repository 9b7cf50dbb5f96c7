package io.github.phi3v.core.model;

import org.bytedeco.pytorch.global.torch;

/**
 * Which CPU kernels libtorch picks for 16-bit matrix products, switched between one-row decode linears and
 * everything else.
 *
 * <p>Measured here (bf16, 2 threads, same run): with oneDNN enabled (libtorch's default) a one-row
 * {@code linear} streams the weight at 22-29 GB/s; with oneDNN disabled the same call takes ATen's own
 * vectorised GEMV and streams 42-45 GB/s. Every other product needs oneDNN: a 512-row bf16 GEMM drops from
 * ~900 to 62 GFLOP/s without it, and the decode attention's batched products get 3x slower. The switch is
 * libtorch's process-wide {@code Context.setUserEnabledMkldnn}, so it is flipped only under this class's
 * lock: a thread {@linkplain #enter enters} a mode, threads wanting the other mode wait until the current
 * holders leave, and a waiting mode goes first once they have (no starvation). Every CPU matrix product of
 * the model runs inside a lease, so which kernel computes a product depends only on the kind of product,
 * never on what other threads do: results stay deterministic under concurrency.
 *
 * <p>This is process-wide state by necessity (it mirrors libtorch's own global flag); code outside this
 * library that uses libtorch's oneDNN CPU kernels in the same process may see the ATen kernels during a
 * decode step of this library.
 */
final class CpuMatmulBackend {

    /** The kernel family a lease runs under. */
    enum Mode {
        /** oneDNN on: GEMMs, batched attention products, convolutions (libtorch's default). */
        ONEDNN,
        /** oneDNN off: ATen's GEMV for one-row bf16 linears. */
        ATEN_GEMV
    }

    /** A held mode; closing it lets the other mode in. Not reentrant: never nest leases on one thread. */
    interface Lease extends AutoCloseable {
        @Override
        void close();
    }

    private static final Object LOCK = new Object();
    private static final Lease NONE = () -> { };
    private static Mode current = Mode.ONEDNN;
    private static Mode pending;
    private static int active;

    private CpuMatmulBackend() {
    }

    /** A lease that does nothing (CUDA models: the switch only concerns CPU kernels). */
    static Lease none() {
        return NONE;
    }

    /**
     * Waits until {@code mode} can be held, switches libtorch to it if needed, and returns the lease.
     * An interrupt while waiting is kept (the thread's flag is set again) but does not abort the wait: the
     * caller is in the middle of a forward pass that must not stop half-way.
     *
     * @param mode the kernels the caller's products need
     * @return the lease; close it when those products are done
     */
    static Lease enter(Mode mode) {
        boolean interrupted = false;
        synchronized (LOCK) {
            while (active > 0 && (current != mode || (pending != null && pending != mode))) {
                if (current != mode && pending == null) {
                    pending = mode;
                }
                try {
                    LOCK.wait();
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            if (current != mode) {
                torch.globalContext().setUserEnabledMkldnn(mode == Mode.ONEDNN);
                current = mode;
            }
            if (pending == mode) {
                pending = null;
            }
            active++;
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        return CpuMatmulBackend::leave;
    }

    private static void leave() {
        synchronized (LOCK) {
            active--;
            if (active == 0) {
                if (current != Mode.ONEDNN && pending == null) {
                    // Leave libtorch in its default state when nobody needs the other one.
                    torch.globalContext().setUserEnabledMkldnn(true);
                    current = Mode.ONEDNN;
                }
                LOCK.notifyAll();
            }
        }
    }
}
