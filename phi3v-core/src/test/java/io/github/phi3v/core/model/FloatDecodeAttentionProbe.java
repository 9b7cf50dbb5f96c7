package io.github.phi3v.core.model;

import java.util.Arrays;
import java.util.Locale;

import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import io.github.phi3v.core.runtime.InferenceScope;
import io.github.phi3v.core.runtime.NativeKernels;
import io.github.phi3v.core.runtime.TorchRuntime;

/**
 * A float32 decode step's attention over 32 full-size layers' float32 caches ({@code [32, P, 96]} keys and
 * values each, read from memory once per pass): the libtorch formula of {@link CausalAttention} (two batched
 * GEMVs and a softmax) against {@link NativeKernels#decodeAttentionFloat}, alternating pass by pass; best of
 * {@value #PASSES} passes after the first. Prints ms per token and the cache read in GB/s. Not a test: run by
 * hand (docs/benchmarks.md, "Native float32 decode attention").
 */
public final class FloatDecodeAttentionProbe {

    private static final int PASSES = 7;

    private FloatDecodeAttentionProbe() {
    }

    /**
     * @param args optional: comma-separated cache lengths (default 784,2048)
     */
    public static void main(String[] args) {
        long[] lengths = ProbeCaches.lengths(args, 784, 2048);
        TorchRuntime.ensureInitialized();
        System.out.println("float32 decode attention available: " + NativeKernels.floatAttentionAvailable());
        long heads = ProbeCaches.HEADS;
        long d = ProbeCaches.HEAD_DIM;
        float scale = (float) (1.0 / Math.sqrt(d));
        try (InferenceScope scope = InferenceScope.open();
             TensorOptions f32 = new TensorOptions(ScalarType.Float);
             MemoryFormatOptional fmt = new MemoryFormatOptional();
             Scalar s = new Scalar(1.0 / Math.sqrt(d))) {
            for (long p : lengths) {
                Tensor[] keys = new Tensor[ProbeCaches.LAYERS];
                Tensor[] values = new Tensor[ProbeCaches.LAYERS];
                for (int l = 0; l < ProbeCaches.LAYERS; l++) {
                    keys[l] = torch.randn(new long[] {heads, p, d}, f32);                           // [H, P, d]
                    values[l] = torch.randn(new long[] {heads, p, d}, f32);
                }
                Tensor q = torch.randn(new long[] {heads, 1, d}, f32);
                Tensor out = torch.empty(new long[] {heads, 1, d}, f32, fmt);
                double[] aten = new double[PASSES];
                double[] mine = new double[PASSES];
                for (int pass = 0; pass < PASSES; pass++) {
                    long t0 = System.nanoTime();
                    for (int l = 0; l < ProbeCaches.LAYERS; l++) {
                        try (InferenceScope layer = InferenceScope.open()) {
                            Tensor probs = torch.softmax(torch.mul(torch.matmul(q, keys[l].transpose(1, 2)), s), -1);
                            torch.matmul(probs, values[l]);                                     // [H, 1, d]
                        }
                    }
                    long t1 = System.nanoTime();
                    for (int l = 0; l < ProbeCaches.LAYERS; l++) {
                        NativeKernels.decodeAttentionFloat(q, keys[l], values[l], p, scale, out);
                    }
                    long t2 = System.nanoTime();
                    aten[pass] = (t1 - t0) / 1e6;
                    mine[pass] = (t2 - t1) / 1e6;
                }
                double a = Arrays.stream(aten, 1, PASSES).min().orElseThrow();
                double m = Arrays.stream(mine, 1, PASSES).min().orElseThrow();
                double gb = 2.0 * ProbeCaches.LAYERS * heads * p * d * 4 / 1e9;
                System.out.printf(Locale.ROOT, "P=%d, %d layers (%.2f GB of keys and values): libtorch %.1f ms (%.1f "
                        + "GB/s), native %.1f ms (%.1f GB/s), %.2fx%n", p, ProbeCaches.LAYERS, gb, a, gb / a * 1e3, m,
                        gb / m * 1e3, a / m);
                for (int l = 0; l < ProbeCaches.LAYERS; l++) {
                    keys[l].close();
                    values[l].close();
                }
            }
        }
    }
}
