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
 * A decode step's attention over 32 full-size layers' bf16 caches ({@code [32, P, 96]} keys and values
 * each, read from memory once per pass), the libtorch formula of {@link Phi3DecoderLayer} (two batched
 * GEMVs under oneDNN, float32 softmax) against {@link NativeKernels#decodeAttention}, alternating pass by
 * pass; best of {@value #PASSES} passes after the first. Prints ms per token and the cache read in GB/s.
 * Not a test: run by hand (docs/benchmarks.md, "Native decode attention").
 */
public final class DecodeAttentionProbe {

    private static final int PASSES = 7;
    private static final long HEADS = ProbeCaches.HEADS;
    private static final long HEAD_DIM = ProbeCaches.HEAD_DIM;
    private static final int LAYERS = ProbeCaches.LAYERS;

    private DecodeAttentionProbe() {
    }

    /**
     * @param args optional: comma-separated cache lengths (default 512,1024,2048,4096)
     */
    public static void main(String[] args) {
        long[] lengths = ProbeCaches.lengths(args, 512, 1024, 2048, 4096);
        TorchRuntime.ensureInitialized();
        System.out.println("native kernels: " + NativeKernels.available() + " " + NativeKernels.unavailableReason());
        float scale = (float) (1.0 / Math.sqrt(HEAD_DIM));
        try (InferenceScope scope = InferenceScope.open();
             TensorOptions f32 = new TensorOptions(ScalarType.Float);
             TensorOptions bf16 = new TensorOptions(ScalarType.BFloat16);
             MemoryFormatOptional fmt = new MemoryFormatOptional();
             Scalar s = new Scalar(scale)) {
            for (long p : lengths) {
                Tensor[] keys = ProbeCaches.randomLayers(p, f32);
                Tensor[] values = ProbeCaches.randomLayers(p, f32);
                Tensor q = torch.randn(new long[] {HEADS, 1, HEAD_DIM}, f32).to(ScalarType.BFloat16);
                Tensor out = torch.empty(new long[] {HEADS, 1, HEAD_DIM}, bf16, fmt);
                double[] aten = new double[PASSES];
                double[] mine = new double[PASSES];
                for (int pass = 0; pass < PASSES; pass++) {
                    long t0 = System.nanoTime();
                    try (CpuMatmulBackend.Lease lease = CpuMatmulBackend.enter(CpuMatmulBackend.Mode.ONEDNN)) {
                        for (int l = 0; l < LAYERS; l++) {
                            try (InferenceScope layer = InferenceScope.open()) {
                                Tensor scaled = torch.mul(torch.matmul(q, keys[l].transpose(1, 2))
                                        .to(ScalarType.Float), s);                                  // [H, 1, P]
                                torch.matmul(torch.softmax(scaled, -1).to(ScalarType.BFloat16), values[l]);
                            }
                        }
                    }
                    long t1 = System.nanoTime();
                    for (int l = 0; l < LAYERS; l++) {
                        NativeKernels.decodeAttention(q, keys[l], values[l], p, scale, out);
                    }
                    long t2 = System.nanoTime();
                    aten[pass] = (t1 - t0) / 1e6;
                    mine[pass] = (t2 - t1) / 1e6;
                }
                double a = Arrays.stream(aten, 1, PASSES).min().orElseThrow();
                double m = Arrays.stream(mine, 1, PASSES).min().orElseThrow();
                double gb = 2.0 * LAYERS * HEADS * p * HEAD_DIM * 2 / 1e9;
                System.out.printf(Locale.ROOT, "P=%d, %d layers (%.2f GB of keys and values): libtorch %.1f ms (%.1f "
                        + "GB/s), native %.1f ms (%.1f GB/s), %.2fx%n", p, LAYERS, gb, a, gb / a * 1e3, m, gb / m * 1e3,
                        a / m);
                for (int l = 0; l < LAYERS; l++) {
                    keys[l].close();
                    values[l].close();
                }
            }
        }
    }
}
