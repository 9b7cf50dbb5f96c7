package io.github.phi3v.core.model;

import java.util.Locale;

import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import io.github.phi3v.core.runtime.InferenceScope;
import io.github.phi3v.core.runtime.NativePrefillAttention;
import io.github.phi3v.core.runtime.Tensors;
import io.github.phi3v.core.runtime.TorchRuntime;

/**
 * One full-size decoder layer's causal attention of a P-token prefill ({@code [32, P, 96]} bf16 or float32 queries,
 * keys and values), called as a prefill calls it (row blocks of {@link Phi3DecoderLayer#ROW_BLOCK} queries, each over
 * the keys up to its end): {@link CausalAttention#chunkedCausal}'s libtorch blocks against
 * {@link NativePrefillAttention}, {@value #ROUNDS} rounds of one then the other, each the best of {@value #PASSES}
 * passes after the first ({@link ProbeTimer}). Prints ms per layer and GFLOP/s (causal: the multiply-adds of q·kᵀ
 * and p·v up to each query's own position). Not a test: run by hand (docs/benchmarks.md, "Causal prefill
 * attention").
 */
public final class PrefillAttentionProbe {

    private static final int PASSES = 5;
    private static final int ROUNDS = 2;

    private PrefillAttentionProbe() {
    }

    /**
     * @param args optional: comma-separated prompt lengths (default 780,2000,4000), then {@code float32} for a
     *     float32 model's blocks against the float32 twin (default bf16)
     */
    public static void main(String[] args) {
        long[] lengths = ProbeCaches.lengths(args, 780, 2000, 4000);
        TorchRuntime.ensureInitialized();
        ScalarType dtype = args.length > 1 && args[1].equals("float32") ? ScalarType.Float : ScalarType.BFloat16;
        System.out.println("native prefill attention (" + dtype + "): " + (dtype == ScalarType.Float
                ? NativePrefillAttention.floatAvailable() : NativePrefillAttention.available()));
        long heads = ProbeCaches.HEADS;
        long d = ProbeCaches.HEAD_DIM;
        float scale = (float) (1.0 / Math.sqrt(d));
        try (InferenceScope scope = InferenceScope.open();
             TensorOptions f32 = new TensorOptions(ScalarType.Float);
             Scalar s = new Scalar(1.0 / Math.sqrt(d))) {
            for (long p : lengths) {
                Tensor q = torch.randn(new long[] {heads, p, d}, f32).to(dtype);                  // [H, P, d]
                Tensor k = torch.randn(new long[] {heads, p, d}, f32).to(dtype);
                Tensor v = torch.randn(new long[] {heads, p, d}, f32).to(dtype);
                int blocks = (int) ((p + Phi3DecoderLayer.ROW_BLOCK - 1) / Phi3DecoderLayer.ROW_BLOCK);
                double flop = 4.0 * heads * d * p * (p + 1) / 2.0;
                for (int round = 0; round < ROUNDS; round++) {
                    double aten = ProbeTimer.bestPassMillis(PASSES, blocks, CpuMatmulBackend.Mode.ONEDNN, b -> {
                        long r = b * Phi3DecoderLayer.ROW_BLOCK;
                        long n = Math.min(Phi3DecoderLayer.ROW_BLOCK, p - r);
                        CausalAttention.chunkedCausal(q.narrow(1, r, n), k.narrow(1, 0, r + n), v.narrow(1, 0, r + n),
                                r, s);
                    });
                    double mine = ProbeTimer.bestPassMillis(PASSES, blocks, CpuMatmulBackend.Mode.ONEDNN, b -> {
                        long r = b * Phi3DecoderLayer.ROW_BLOCK;
                        long n = Math.min(Phi3DecoderLayer.ROW_BLOCK, p - r);
                        NativePrefillAttention.attention(q.narrow(1, r, n).contiguous(), k, v, r, scale,
                                Tensors.empty(dtype, heads, n, d));                               // [H, n, d]
                    });
                    System.out.printf(Locale.ROOT, "P=%d, one layer (%.1f GFLOP): libtorch blocks %.1f ms (%.0f "
                            + "GFLOP/s), native %.1f ms (%.0f GFLOP/s), native/libtorch %.2fx%n", p, flop / 1e9, aten,
                            flop / aten / 1e6, mine, flop / mine / 1e6, mine / aten);
                }
            }
        }
    }
}
