package io.github.phi3v.tooling.bench;

import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import io.github.phi3v.core.runtime.InferenceScope;

/**
 * The machine limits the model is compared against, measured with the same libtorch and thread pool
 * the model uses, in the same process: memory read bandwidth (sum over a buffer far larger than any
 * cache) and bf16 GEMM throughput ({@code linear} with the shapes of a decoder MLP in prefill).
 * Each figure is the best of several repetitions, after one warm-up.
 */
public final class HardwareProbe {

    private HardwareProbe() {
    }

    /** Independent partial sums of the column-sum reader (a multiple of any vector width). */
    static final int ACCUMULATORS = 256;

    /**
     * Memory read bandwidth, the faster of two libtorch readers over a float32 buffer of {@code bytes}
     * bytes, each the best of {@code repetitions} passes after a warm-up: {@code sum} of the flat buffer
     * (one reduction tree per thread) and the column sums of the buffer viewed as
     * {@code [bytes / 4 / 256, 256]}: {@value #ACCUMULATORS} independent accumulators, so the reads are
     * never waiting on one add chain. A single {@code sum} pass gave 32-61 GB/s on the same day here (issue
     * #20); the best of both readers over several passes moves much less between runs.
     *
     * @param bytes buffer size (e.g. 1 GiB; must dwarf the last-level cache)
     * @param repetitions timed passes per reader (best is kept)
     * @return bytes per second
     */
    public static double readBandwidth(long bytes, int repetitions) {
        long n = bytes / 4 / ACCUMULATORS * ACCUMULATORS;
        try (InferenceScope scope = InferenceScope.open();
             TensorOptions opts = new TensorOptions(ScalarType.Float);
             ScalarTypeOptional keep = new ScalarTypeOptional()) {
            Tensor buffer = torch.ones(new long[] {n}, opts);          // touched: no page faults while timed
            Tensor columns = buffer.view(n / ACCUMULATORS, ACCUMULATORS);   // [rows, 256], same memory
            long[] rows = {0};
            double best = Double.MAX_VALUE;
            for (int i = 0; i <= repetitions; i++) {
                for (int reader = 0; reader < 2; reader++) {
                    try (InferenceScope ignored = InferenceScope.open()) {
                        long t0 = System.nanoTime();
                        if (reader == 0) {
                            torch.sum(buffer, keep).item_float();
                        } else {
                            torch.sum(columns, rows, false, keep);              // [256]
                        }
                        double s = (System.nanoTime() - t0) / 1e9;
                        if (i > 0) {
                            best = Math.min(best, s);
                        }
                    }
                }
            }
            return n * 4.0 / best;
        }
    }

    /**
     * GEMM throughput of {@code linear(x[m, k], w[n, k])} in {@code dtype}.
     *
     * @param dtype e.g. {@code BFloat16}
     * @param m rows of the activations (tokens)
     * @param n output features
     * @param k input features
     * @param repetitions timed repetitions (best is kept)
     * @return floating-point operations per second ({@code 2·m·n·k} per call)
     */
    public static double gemmFlops(ScalarType dtype, long m, long n, long k, int repetitions) {
        try (InferenceScope scope = InferenceScope.open();
             TensorOptions f32 = new TensorOptions(ScalarType.Float);
             MemoryFormatOptional fmt = new MemoryFormatOptional()) {
            Tensor x = torch.randn(new long[] {m, k}, f32).to(dtype);
            Tensor w = torch.randn(new long[] {n, k}, f32).to(dtype);
            double best = Double.MAX_VALUE;
            for (int i = 0; i <= repetitions; i++) {
                try (InferenceScope ignored = InferenceScope.open()) {
                    long t0 = System.nanoTime();
                    torch.linear(x, w);
                    double s = (System.nanoTime() - t0) / 1e9;
                    if (i > 0) {
                        best = Math.min(best, s);
                    }
                }
            }
            return 2.0 * m * n * k / best;
        }
    }
}
