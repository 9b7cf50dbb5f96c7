package io.github.phi3v.core.model;

import java.util.Locale;

import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import io.github.phi3v.core.runtime.InferenceScope;
import io.github.phi3v.core.runtime.TorchRuntime;

/**
 * Whether the CLIP vision tower's linears would be faster on fbgemm's int8 kernel ({@link Int8Linear}) than
 * on oneDNN's bf16 GEMM: the shapes of one CLIP-L/14 layer (q, k, v, out {@code 1024 -> 1024}, fc1
 * {@code 1024 -> 4096}, fc2 {@code 4096 -> 1024}) on the rows of a num_crops 4 image (global crop and four
 * sub-crops, 5 x 577 rows), bf16 activations in both cases. Not a test: run by hand (docs/benchmarks.md,
 * "CLIP on int8 kernels?").
 */
public final class ClipInt8Probe {

    private static final int REPEATS = 5;

    private ClipInt8Probe() {
    }

    /**
     * Prints per shape the best of {@value #REPEATS} passes (first dropped) of each kernel.
     *
     * @param args optional: the row count (default 2885)
     */
    public static void main(String[] args) {
        long rows = args.length > 0 ? Long.parseLong(args[0]) : 5 * 577;
        TorchRuntime.ensureInitialized();
        long[][] shapes = {{1024, 1024}, {4096, 1024}, {1024, 4096}};                 // [out, in]
        double bf16Total = 0;
        double int8Total = 0;
        try (InferenceScope scope = InferenceScope.open();
             TensorOptions f32 = new TensorOptions(ScalarType.Float);
             Scalar std = new Scalar(0.02)) {
            for (long[] shape : shapes) {
                Tensor w = torch.randn(shape, f32).mul_(std);
                Tensor wb = w.to(ScalarType.BFloat16);
                Int8Linear q = Int8Linear.quantize(w, "probe", ScalarType.BFloat16);
                Tensor x = torch.randn(new long[] {rows, shape[1]}, f32).to(ScalarType.BFloat16);
                double bf16 = time(() -> Modules.Linear.product(x, wb, null));
                double int8 = time(() -> q.apply(x));
                // q, k, v and out are four 1024 x 1024 linears per layer
                int perLayer = shape[0] == shape[1] ? 4 : 1;
                bf16Total += perLayer * bf16;
                int8Total += perLayer * int8;
                double gflop = 2.0 * rows * shape[0] * shape[1] / 1e9;
                System.out.printf(Locale.ROOT, "%d rows x [%d <- %d]: bf16 oneDNN %.1f ms (%.0f GFLOP/s), int8 fbgemm"
                        + " %.1f ms (%.0f GFLOP/s), int8/bf16 time %.2f%n", rows, shape[0], shape[1], bf16,
                        gflop / bf16 * 1000, int8, gflop / int8 * 1000, int8 / bf16);
            }
        }
        System.out.printf(Locale.ROOT, "one CLIP layer's linears: bf16 %.1f ms, int8 %.1f ms (%.2fx)%n", bf16Total,
                int8Total, bf16Total / int8Total);
    }

    private static double time(Runnable call) {
        return ProbeTimer.bestPassMillis(REPEATS, 1, CpuMatmulBackend.Mode.ONEDNN, i -> call.run());
    }
}
