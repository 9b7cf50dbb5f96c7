package io.github.phi3v.core.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Locale;

import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;

/**
 * The decoder prefill's native causal attention ({@link NativePrefillAttention}) against its formula evaluated in
 * float64 (scores rounded to bf16, probabilities rounded to bf16, as the decode kernel and the libtorch blocks it
 * replaces), and against those libtorch blocks (bf16 GEMMs, float32 softmax): as close to the formula, and nearly
 * always the same bits. Shapes: Phi-3's head dimension 96 from position 0 and from an offset (a prefill after cached
 * positions, the cache longer than what is read and filled with NaN past it), the golden tiny model's 16, 256, and
 * rows that do not fill the kernel's blocks. The float32 twin likewise against its all-float32 formula in float64 and
 * the float32 blocks.
 */
class NativePrefillAttentionTest {

    /** heads, n, offset, d. */
    private static final long[][] SHAPES = {{4, 300, 0, 96}, {3, 41, 77, 96}, {2, 130, 5, 16}, {2, 25, 0, 256},
        {1, 1, 9, 32}};

    @Test
    void matchesItsFormulaInFloat64AndAgreesWithTheLibtorchBlocks() {
        requireKernel();
        for (long[] shape : SHAPES) {
            long heads = shape[0];
            long n = shape[1];
            long offset = shape[2];
            long d = shape[3];
            long span = offset + n + 19;                                            // cache longer than read
            float scale = (float) (1.0 / Math.sqrt(d));
            try (InferenceScope scope = InferenceScope.open();
                 TensorOptions f32 = new TensorOptions(ScalarType.Float)) {
                // Queries at 3x so that the softmax is far from uniform.
                Tensor q = torch.randn(new long[] {heads, n, d}, f32).mul_(new Scalar(3.0)).to(ScalarType.BFloat16);
                Tensor keys = torch.randn(new long[] {heads, span, d}, f32).to(ScalarType.BFloat16);
                Tensor values = torch.randn(new long[] {heads, span, d}, f32).to(ScalarType.BFloat16);
                // Positions past offset + n are never read: NaN there would show in every output.
                keys.narrow(1, offset + n, span - offset - n).fill_(new Scalar(Double.NaN));
                values.narrow(1, offset + n, span - offset - n).fill_(new Scalar(Double.NaN));
                Tensor out = Tensors.empty(ScalarType.BFloat16, heads, n, d);
                NativePrefillAttention.attention(q, keys, values, offset, scale, out);
                float[] got = Tensors.toFloats(out.to(ScalarType.Float));
                double[][] formula = formula(q, keys, values, offset, scale, true);
                float[] libtorch = Tensors.toFloats(libtorchBlocks(q, keys, values, offset, scale)
                        .to(ScalarType.Float));
                double nativeError = 0;
                double libtorchError = 0;
                int sameBits = 0;
                for (int i = 0; i < got.length; i++) {
                    double ref = formula[0][i];
                    // bf16 rounding of the output, plus a score rounded to its neighbouring bf16 value (a relative
                    // change of its probability of up to 2^-8 * |score| <= 2^-5 here) on the sum of p |v|.
                    double tol = Math.scalb(Math.abs(ref), -8) + Math.scalb(formula[1][i], -5);
                    assertEquals(ref, got[i], tol, Arrays.toString(shape) + ", element " + i);
                    nativeError += Math.abs(got[i] - ref);
                    libtorchError += Math.abs(libtorch[i] - ref);
                    sameBits += libtorch[i] == got[i] ? 1 : 0;
                }
                System.out.printf(Locale.ROOT, "[NativePrefillAttentionTest] %s: %d of %d outputs the bits of the "
                        + "libtorch blocks; summed error against the formula in float64 %.4g (libtorch's %.4g)%n",
                        Arrays.toString(shape), sameBits, got.length, nativeError, libtorchError);
                assertTrue(nativeError <= 1.05 * libtorchError + 1e-6, Arrays.toString(shape) + ": native error "
                        + nativeError + " against libtorch's " + libtorchError);
                assertTrue(sameBits >= 0.95 * got.length, Arrays.toString(shape) + ": " + sameBits + " of "
                        + got.length + " outputs equal the libtorch blocks'");
            }
        }
    }

    @Test
    void floatTwinMatchesItsFormulaInFloat64AndTheLibtorchBlocks() {
        NativeKernelsOnThisCpu.require();
        assertTrue(NativePrefillAttention.floatAvailable(), "the float32 twin runs wherever the AVX-512 kernels do");
        for (long[] shape : SHAPES) {
            long heads = shape[0];
            long n = shape[1];
            long offset = shape[2];
            long d = shape[3];
            long span = offset + n + 19;
            float scale = (float) (1.0 / Math.sqrt(d));
            try (InferenceScope scope = InferenceScope.open();
                 TensorOptions f32 = new TensorOptions(ScalarType.Float)) {
                Tensor q = torch.randn(new long[] {heads, n, d}, f32).mul_(new Scalar(3.0));
                Tensor keys = torch.randn(new long[] {heads, span, d}, f32);
                Tensor values = torch.randn(new long[] {heads, span, d}, f32);
                keys.narrow(1, offset + n, span - offset - n).fill_(new Scalar(Double.NaN));
                values.narrow(1, offset + n, span - offset - n).fill_(new Scalar(Double.NaN));
                Tensor out = Tensors.empty(ScalarType.Float, heads, n, d);
                NativePrefillAttention.attention(q, keys, values, offset, scale, out);
                float[] got = Tensors.toFloats(out);
                double[][] formula = formula(q, keys, values, offset, scale, false);
                float[] libtorch = Tensors.toFloats(libtorchBlocks(q, keys, values, offset, scale));
                double nativeError = 0;
                double libtorchError = 0;
                double worst = 0;
                for (int i = 0; i < got.length; i++) {
                    double ref = formula[0][i];
                    // float32 sums of up to ~2000 terms and scores of up to ~30: 2^-13 of sum p |v| is far above
                    // their rounding and far below any wrong key, row or probability.
                    double tol = Math.scalb(formula[1][i], -13);
                    assertEquals(ref, got[i], tol, Arrays.toString(shape) + ", element " + i);
                    nativeError += Math.abs(got[i] - ref);
                    libtorchError += Math.abs(libtorch[i] - ref);
                    worst = Math.max(worst, Math.abs(got[i] - ref) / formula[1][i]);
                }
                System.out.printf(Locale.ROOT, "[NativePrefillAttentionTest] float32 %s: summed error against the "
                        + "formula in float64 %.4g (libtorch's float32 blocks %.4g), largest error %.2g of sum p|v|%n",
                        Arrays.toString(shape), nativeError, libtorchError, worst);
                assertTrue(nativeError <= 1.5 * libtorchError + 1e-9, Arrays.toString(shape) + ": native error "
                        + nativeError + " against libtorch's " + libtorchError);
            }
        }
    }

    @Test
    void refusesMismatchedArguments() {
        requireKernel();
        try (InferenceScope scope = InferenceScope.open()) {
            Tensor q = Tensors.empty(ScalarType.BFloat16, 2, 4, 32);
            Tensor cache = Tensors.empty(ScalarType.BFloat16, 2, 10, 32);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> NativePrefillAttention.attention(Tensors.empty(ScalarType.BFloat16, 2, 4, 24), cache, cache,
                            0, 1f, q));
            assertTrue(e.getMessage().contains(
                    "q must be [heads, n, d] bf16 or float32 contiguous with d a multiple of 16"),
                    e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> NativePrefillAttention.attention(q, cache, cache, 7, 1f, q));
            assertTrue(e.getMessage().contains("keys and values must be [2, >= 11, 32]"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> NativePrefillAttention.attention(q, cache, cache.to(ScalarType.Float), 0, 1f, q));
            assertTrue(e.getMessage().contains("found Float"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> NativePrefillAttention.attention(q, cache, cache, -1, 1f, q));
            assertTrue(e.getMessage().contains("offset must be >= 0, got -1"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> NativePrefillAttention.attention(q, cache, cache,
                    0, 1f, Tensors.empty(ScalarType.BFloat16, 2, 3, 32)));
            assertTrue(e.getMessage().contains("out must be [2, 4, 32] BFloat16 contiguous"), e.getMessage());
        }
    }

    /** The kernel runs wherever the AVX-512 kernels do and the CPU lists avx512_bf16 (aborted elsewhere). */
    private static void requireKernel() {
        NativeKernelsOnThisCpu.require();
        boolean bf16 = CpuFeatures.has("avx512_bf16");
        assertEquals(bf16, NativePrefillAttention.available(), "available exactly where avx512_bf16 is listed");
        org.junit.jupiter.api.Assumptions.assumeTrue(bf16, "this CPU lacks avx512_bf16: the kernel cannot run here");
    }

    /**
     * The kernel's formula in float64 on the same inputs (with its bf16 roundings if {@code bf16}),
     * {@code [heads * n * d]} flattened: {@code [0]} the
     * outputs, {@code [1]} {@code sum_t p_t |v_t|} per output (the scale of a probability's error).
     */
    private static double[][] formula(Tensor q, Tensor keys, Tensor values, long offset, float scale,
            boolean bf16) {
        int heads = (int) q.size(0);
        int n = (int) q.size(1);
        int d = (int) q.size(2);
        int total = (int) (offset + n);
        float[] qf = Tensors.toFloats(q.to(ScalarType.Float));
        float[] kf = Tensors.toFloats(keys.narrow(1, 0, total).to(ScalarType.Float));
        float[] vf = Tensors.toFloats(values.narrow(1, 0, total).to(ScalarType.Float));
        double[] out = new double[heads * n * d];
        double[] mag = new double[heads * n * d];
        double[] s = new double[total];
        for (int h = 0; h < heads; h++) {
            for (int i = 0; i < n; i++) {
                int len = (int) offset + i + 1;
                double max = Double.NEGATIVE_INFINITY;
                for (int t = 0; t < len; t++) {
                    double dot = 0;
                    for (int c = 0; c < d; c++) {
                        dot += (double) qf[(h * n + i) * d + c] * kf[(h * total + t) * d + c];
                    }
                    s[t] = bf16 ? (double) (bf16((float) dot) * scale) : dot * scale;
                    max = Math.max(max, s[t]);
                }
                double sum = 0;
                for (int t = 0; t < len; t++) {
                    s[t] = Math.exp(s[t] - max);
                    sum += s[t];
                }
                for (int t = 0; t < len; t++) {
                    s[t] = bf16 ? bf16((float) (s[t] / sum)) : s[t] / sum;
                }
                for (int c = 0; c < d; c++) {
                    double o = 0;
                    double m = 0;
                    for (int t = 0; t < len; t++) {
                        double v = vf[(h * total + t) * d + c];
                        o += s[t] * v;
                        m += s[t] * Math.abs(v);
                    }
                    out[(h * n + i) * d + c] = o;
                    mag[(h * n + i) * d + c] = m;
                }
            }
        }
        return new double[][] {out, mag};
    }

    /** The blocks CausalAttention ran before the kernel: bf16 GEMMs, float32 scaling, mask and softmax. */
    private static Tensor libtorchBlocks(Tensor q, Tensor keys, Tensor values, long offset, float scale) {
        long n = q.size(1);
        long total = offset + n;
        Tensor k = keys.narrow(1, 0, total);
        Tensor v = values.narrow(1, 0, total);
        Tensor scores = torch.matmul(q, k.transpose(1, 2)).to(ScalarType.Float).mul_(new Scalar(scale)); // [H, n, L]
        // (a float32 q: the float32 blocks; to(Float) then returns the product itself)
        try (TensorOptions f32 = new TensorOptions(ScalarType.Float)) {
            Tensor future = torch.triu(torch.full(new long[] {n, n}, new Scalar(Float.NEGATIVE_INFINITY), f32), 1);
            scores.narrow(2, offset, n).add_(future);
        }
        Tensor probs = torch.softmax(scores, -1);
        // [H, n, d]
        return torch.matmul(Tensors.dtype(v) == ScalarType.Float ? probs : probs.to(ScalarType.BFloat16), v);
    }

    private static float bf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        bits += 0x7fff + ((bits >>> 16) & 1);
        return Float.intBitsToFloat(bits & 0xffff0000);
    }
}
