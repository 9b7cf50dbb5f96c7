package io.github.phi3v.core.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Locale;

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
 * {@link NativeKernels#decodeAttention} against the libtorch formula of a bf16 decode step
 * (Phi3DecoderLayer's two batched GEMVs): {@code bf16(softmax(bf16(q kᵀ) * scale)) · v}.
 */
class NativeDecodeAttentionTest {

    private static final long HEADS = 4;
    private static final long D = 96;
    private static final long CAPACITY = 2304;

    @BeforeAll
    static void nativeKernelsRun() {
        NativeKernelsOnThisCpu.require();
    }

    /**
     * Each output within what the two computations do not share: the output's own bf16 rounding (2^-9 of
     * each result, on either side) and a score rounded to the neighbouring bf16 value by another summation
     * order. Such a score moves by one bf16 ulp (at most 2^-7 of it) and its probability by that times the
     * scale; bounded with the largest score, over the sum of |p v| it weighs. Most outputs are bit-equal.
     */
    @ParameterizedTest
    @ValueSource(longs = {1, 3, 16, 17, 200, 2100})
    void equalsTheLibtorchFormulaWithinBf16Rounding(long length) {
        try (InferenceScope scope = InferenceScope.open();
             TensorOptions f32 = new TensorOptions(ScalarType.Float)) {
            torch.manual_seed(length);
            Tensor q = torch.randn(new long[] {HEADS, 1, D}, f32).to(ScalarType.BFloat16);          // [H, 1, d]
            // A cache of larger capacity: the heads are CAPACITY * D elements apart, as in KvCache.
            Tensor kCache = torch.randn(new long[] {HEADS, CAPACITY, D}, f32).to(ScalarType.BFloat16);
            Tensor vCache = torch.randn(new long[] {HEADS, CAPACITY, D}, f32).to(ScalarType.BFloat16);
            Tensor keys = kCache.narrow(1, 0, length);                                                 // [H, L, d]
            Tensor values = vCache.narrow(1, 0, length);
            float scale = (float) (1.0 / Math.sqrt(D));

            Tensor scaled = torch.mul(torch.matmul(q, keys.transpose(1, 2)).to(ScalarType.Float), new Scalar(scale));
            Tensor probs = torch.softmax(scaled, -1);                                                 // [H, 1, L]
            float[] ref = Tensors.toFloats(torch.matmul(probs.to(ScalarType.BFloat16), values).to(ScalarType.Float));
            float[] weight = Tensors.toFloats(torch.matmul(probs, torch.abs(values.to(ScalarType.Float))));
            double maxScore = torch.abs(scaled).max().item_double();

            Tensor out = torch.empty(new long[] {HEADS, 1, D}, new TensorOptions(ScalarType.BFloat16),
                    new org.bytedeco.pytorch.MemoryFormatOptional());
            NativeKernels.decodeAttention(q, kCache, vCache, length, scale, out);
            float[] mine = Tensors.toFloats(out.to(ScalarType.Float));

            assertEquals(HEADS * D, mine.length);
            int equal = 0;
            double worst = 0;
            for (int i = 0; i < ref.length; i++) {
                double tol = Math.scalb(Math.abs(ref[i]) + Math.abs(mine[i]), -9)
                        + Math.expm1(Math.scalb(maxScore, -7)) * 1.01 * weight[i];
                double diff = Math.abs(ref[i] - mine[i]);
                assertTrue(diff <= tol, "length " + length + ", output " + i + ": " + mine[i] + " vs " + ref[i]
                        + " (tolerance " + tol + ")");
                worst = Math.max(worst, diff / tol);
                equal += ref[i] == mine[i] ? 1 : 0;
            }
            System.out.printf(Locale.ROOT, "[NativeDecodeAttentionTest] length %d: %d of %d outputs bit-equal, "
                    + "largest difference %.2f of its tolerance%n", length, equal, ref.length, worst);
            assertTrue(equal >= ref.length * 3 / 4, equal + " of " + ref.length + " bit-equal");
        }
    }

    @Test
    void refusesWhatItCannotRead() {
        try (InferenceScope scope = InferenceScope.open();
             TensorOptions bf16 = new TensorOptions(ScalarType.BFloat16);
             TensorOptions f32 = new TensorOptions(ScalarType.Float)) {
            Tensor q = torch.zeros(new long[] {HEADS, 1, D}, bf16);
            Tensor kv = torch.zeros(new long[] {HEADS, 8, D}, bf16);
            Tensor out = torch.zeros(new long[] {HEADS, 1, D}, bf16);
            float s = 0.1f;
            assertRefused("length must be at least 1", () -> NativeKernels.decodeAttention(q, kv, kv, 0, s, out));
            assertRefused(">= 9", () -> NativeKernels.decodeAttention(q, kv, kv, 9, s, out));
            assertRefused("q must be", () -> NativeKernels.decodeAttention(q.to(ScalarType.Float), kv, kv, 4, s, out));
            assertRefused("q must be", () -> NativeKernels.decodeAttention(torch.zeros(new long[] {HEADS, 1, 40}, bf16),
                    kv, kv, 4, s, out));
            assertRefused("contiguous rows", () -> NativeKernels.decodeAttention(q, kv.transpose(0, 1).contiguous()
                    .transpose(0, 1), kv, 4, s, out));
            assertRefused("same head stride", () -> NativeKernels.decodeAttention(q, kv,
                    torch.zeros(new long[] {HEADS, 16, D}, bf16), 4, s, out));
            assertRefused("out must be", () -> NativeKernels.decodeAttention(q, kv, kv, 4, s,
                    torch.zeros(new long[] {HEADS, 1, D}, f32)));
        }
    }

    private static void assertRefused(String expected, Runnable call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call::run);
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }
}
