package io.github.phi3v.core.model;

import java.util.Arrays;
import java.util.Locale;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import io.github.phi3v.core.runtime.InferenceScope;
import io.github.phi3v.core.runtime.TorchRuntime;

/**
 * The full-size lm_head ({@code [32064, 3072]}) of a bf16 model on 1 to 256 rows: the float32 copy through
 * {@link Modules.Linear} (what the model ran before {@link Bf16LmHead}) against {@link Bf16LmHead}, and an int8
 * copy ({@link Int8Linear}, this CPU's preferred int8 kernel, bf16 activations: what an int8 lm_head would cost;
 * issue #20 asks for the lm_head in the model dtype), alternating call by call, best of {@value #PASSES} after
 * the first; prints ms per call and the weight read in GB/s.
 * Not a test: run by hand (docs/benchmarks.md, "Native decode attention", "Fewer bytes per int4 weight").
 */
public final class LmHeadProbe {

    private static final int PASSES = 11;

    private LmHeadProbe() {
    }

    /**
     * @param args ignored
     */
    public static void main(String[] args) {
        TorchRuntime.ensureInitialized();
        try (InferenceScope scope = InferenceScope.open();
             TensorOptions f32 = new TensorOptions(ScalarType.Float)) {
            Tensor w16 = torch.randn(new long[] {32064, 3072}, f32).to(ScalarType.BFloat16);   // [vocab, hidden]
            Modules.Linear float32 = new Modules.Linear(w16.to(ScalarType.Float), null);
            Bf16LmHead bf16 = new Bf16LmHead(w16);
            Int8Linear int8 = Int8Linear.quantize(w16.to(ScalarType.Float), "lm_head", ScalarType.BFloat16);
            try {
                for (long rows : new long[] {1, 4, 16, 64, 256}) {
                    Tensor x = torch.randn(new long[] {rows, 3072}, f32);                           // [rows, hidden]
                    double[] a = new double[PASSES];
                    double[] b = new double[PASSES];
                    double[] c = new double[PASSES];
                    Tensor x16 = x.to(ScalarType.BFloat16);
                    for (int p = 0; p < PASSES; p++) {
                        a[p] = millis(() -> float32.apply(x));
                        b[p] = millis(() -> bf16.apply(x));
                        c[p] = millis(() -> int8.apply(x16));
                    }
                    double ta = Arrays.stream(a, 1, PASSES).min().orElseThrow();
                    double tb = Arrays.stream(b, 1, PASSES).min().orElseThrow();
                    double tc = Arrays.stream(c, 1, PASSES).min().orElseThrow();
                    System.out.printf(Locale.ROOT, "lm_head, %d row(s): float32 copy %.2f ms (%.1f GB/s), bf16 native"
                            + " %.2f ms (%.1f GB/s), %.2fx; int8 %.2f ms (%.1f GB/s), bf16/int8 %.2fx%n", rows, ta,
                            32064 * 3072 * 4 / ta / 1e6, tb, 32064 * 3072 * 2 / tb / 1e6, ta / tb, tc,
                            32064 * 3072 / tc / 1e6, tb / tc);
                }
            } finally {
                int8.resources().forEach(org.bytedeco.javacpp.Pointer::close);   // held outside the scope
            }
        }
    }

    private static double millis(Runnable call) {
        try (InferenceScope call1 = InferenceScope.open()) {
            long t0 = System.nanoTime();
            call.run();
            return (System.nanoTime() - t0) / 1e6;
        }
    }
}
