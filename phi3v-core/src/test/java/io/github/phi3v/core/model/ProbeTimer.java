package io.github.phi3v.core.model;

import java.util.function.IntConsumer;

import io.github.phi3v.core.runtime.InferenceScope;

/**
 * The timing rule of the hand-run kernel probes ({@code PackedLinearProbe}, {@code DecodeOpsProbe},
 * {@code ClipInt8Probe}): {@code passes} passes of {@code calls} runs, each run in its own
 * {@link InferenceScope} and each pass under one {@link CpuMatmulBackend} lease; the first pass warms up and is
 * dropped, the best of the others counts (the VM's speed moves, the best pass is the least disturbed one).
 */
final class ProbeTimer {

    private ProbeTimer() {
    }

    /**
     * @param passes passes including the dropped first one, at least 2
     * @param calls runs per pass
     * @param mode the kernels the runs' matrix products take
     * @param call receives the run's index {@code 0 .. calls-1}
     * @return milliseconds per pass of the best pass after the first
     */
    static double bestPassMillis(int passes, int calls, CpuMatmulBackend.Mode mode, IntConsumer call) {
        double best = Double.MAX_VALUE;
        for (int r = 0; r < passes; r++) {
            long t0 = System.nanoTime();
            try (CpuMatmulBackend.Lease lease = CpuMatmulBackend.enter(mode)) {
                for (int i = 0; i < calls; i++) {
                    try (InferenceScope run = InferenceScope.open()) {
                        call.accept(i);
                    }
                }
            }
            best = r == 0 ? best : Math.min(best, (System.nanoTime() - t0) / 1e6);
        }
        return best;
    }
}
