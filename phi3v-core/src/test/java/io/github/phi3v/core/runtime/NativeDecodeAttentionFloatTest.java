package io.github.phi3v.core.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.Locale;

import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link NativeKernels#decodeAttentionFloat} against the libtorch formula of a float32 decode step
 * (CausalAttention's two batched GEMVs and softmax): {@code softmax(q kᵀ * scale) · v}.
 */
class NativeDecodeAttentionFloatTest {

    private static final long HEADS = 4;
    private static final long D = 96;
    private static final long CAPACITY = 2304;

    @BeforeAll
    static void theKernelRunsWhereTheCpuHasAvx2() {
        TorchRuntime.ensureInitialized();
        boolean capable = CpuFeatures.has("avx2", "fma");
        // The build puts the library into the jar on Linux x86-64 (the CI platform): only the CPU may refuse.
        assertEquals(capable, NativeKernels.floatAttentionAvailable(), "float32 decode attention available exactly"
                + " where /proc/cpuinfo lists AVX2 and FMA; library: " + NativeKernels.unavailableReason());
        assumeTrue(capable, "this CPU lacks AVX2 and FMA: the float32 decode attention cannot run here");
    }

    /**
     * Each output within what the two computations do not share, bounded per output over the sum of
     * {@code p |v|} it weighs: a score summed in another order (float32, relative 2^-20 of {@code sum |q k|}
     * times the scale, moving its probability by that much relatively), exp within 2 ulp and the
     * normalisation (2^-21 relative), and the output's own sums (2^-20 relative). The heads lie
     * {@code CAPACITY * D} elements apart, as in a KvCache.
     */
    @ParameterizedTest
    @ValueSource(longs = {1, 3, 8, 17, 200, 2100})
    void equalsTheLibtorchFormulaWithinFloatRounding(long length) {
        try (InferenceScope scope = InferenceScope.open();
             TensorOptions f32 = new TensorOptions(ScalarType.Float)) {
            torch.manual_seed(length);
            Tensor q = torch.randn(new long[] {HEADS, 1, D}, f32).mul_(new Scalar(2.0));           // [H, 1, d]
            Tensor kCache = torch.randn(new long[] {HEADS, CAPACITY, D}, f32);
            Tensor vCache = torch.randn(new long[] {HEADS, CAPACITY, D}, f32);
            Tensor keys = kCache.narrow(1, 0, length);                                              // [H, L, d]
            Tensor values = vCache.narrow(1, 0, length);
            float scale = (float) (1.0 / Math.sqrt(D));

            Tensor scaled = torch.mul(torch.matmul(q, keys.transpose(1, 2)), new Scalar(1.0 / Math.sqrt(D)));
            Tensor probs = torch.softmax(scaled, -1);                                              // [H, 1, L]
            float[] ref = Tensors.toFloats(torch.matmul(probs, values));                           // [H, 1, d]
            float[] weight = Tensors.toFloats(torch.matmul(probs, torch.abs(values)));
            double scoreAbs = torch.matmul(torch.abs(q), torch.abs(keys).transpose(1, 2)).max().item_double() * scale;

            Tensor out = torch.empty(new long[] {HEADS, 1, D}, f32, new MemoryFormatOptional());
            NativeKernels.decodeAttentionFloat(q, kCache, vCache, length, scale, out);
            float[] mine = Tensors.toFloats(out);

            assertEquals(HEADS * D, mine.length);
            double relative = Math.scalb(scoreAbs, -20) * 2 + Math.scalb(1.0, -20);
            double worst = 0;
            for (int i = 0; i < ref.length; i++) {
                double tol = relative * weight[i] + 1e-7;
                double diff = Math.abs(ref[i] - mine[i]);
                assertTrue(diff <= tol, "length " + length + ", output " + i + ": " + mine[i] + " vs " + ref[i]
                        + " (tolerance " + tol + ")");
                worst = Math.max(worst, diff / tol);
            }
            System.out.printf(Locale.ROOT, "[NativeDecodeAttentionFloatTest] length %d: largest difference %.3f of "
                    + "its tolerance (%.2e relative to sum p|v|)%n", length, worst, relative);
        }
    }

    @Test
    void refusesWhatItCannotRead() {
        try (InferenceScope scope = InferenceScope.open();
             TensorOptions bf16 = new TensorOptions(ScalarType.BFloat16);
             TensorOptions f32 = new TensorOptions(ScalarType.Float)) {
            Tensor q = torch.zeros(new long[] {HEADS, 1, D}, f32);
            Tensor kv = torch.zeros(new long[] {HEADS, 8, D}, f32);
            Tensor out = torch.zeros(new long[] {HEADS, 1, D}, f32);
            float s = 0.1f;
            assertRefused("length must be at least 1", () -> NativeKernels.decodeAttentionFloat(q, kv, kv, 0, s, out));
            assertRefused(">= 9", () -> NativeKernels.decodeAttentionFloat(q, kv, kv, 9, s, out));
            assertRefused("q must be", () -> NativeKernels.decodeAttentionFloat(q.to(ScalarType.BFloat16), kv, kv, 4,
                    s, out));
            assertRefused("q must be", () -> NativeKernels.decodeAttentionFloat(torch.zeros(new long[] {HEADS, 1, 20},
                    f32), kv, kv, 4, s, out));
            assertRefused("contiguous rows", () -> NativeKernels.decodeAttentionFloat(q, kv.transpose(0, 1)
                    .contiguous().transpose(0, 1), kv, 4, s, out));
            assertRefused("same head stride", () -> NativeKernels.decodeAttentionFloat(q, kv,
                    torch.zeros(new long[] {HEADS, 16, D}, f32), 4, s, out));
            assertRefused("out must be", () -> NativeKernels.decodeAttentionFloat(q, kv, kv, 4, s,
                    torch.zeros(new long[] {HEADS, 1, D}, bf16)));
        }
    }

    private static void assertRefused(String expected, Runnable call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call::run);
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }
}
