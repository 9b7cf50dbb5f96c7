package io.github.phi3v.core.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;

/**
 * The vision encoder's native attention ({@link NativeEncoderAttention}) against the float64 attention of the same
 * bf16 inputs, within the bf16 rounding of its output and float32 arithmetic, and against libtorch's float32
 * attention it replaces: as close to float64 and nearly always the same bits. Shapes: CLIP-L's (577 positions, d
 * 64), the golden tiny model's d 8, a head dimension that is not a multiple of 16, a single position. On a CPU with
 * AVX-512 BF16 the power-of-two scales (d 64 and 16) take the kernel's vdpbf16ps scores, the others its float32 ones.
 */
class NativeEncoderAttentionTest {

    @Test
    void matchesTheFloat64AttentionWithinBf16RoundingAndAgreesWithLibtorch() {
        NativeKernelsOnThisCpu.require();
        long[][] shapes = {{2, 577, 3, 64}, {1, 577, 4, 8}, {1, 37, 2, 80}, {2, 1, 2, 16}};    // n, len, heads, d
        for (long[] shape : shapes) {
            long n = shape[0];
            long len = shape[1];
            long heads = shape[2];
            long d = shape[3];
            float scale = (float) Math.pow(d, -0.5);
            try (InferenceScope scope = InferenceScope.open();
                 TensorOptions f32 = new TensorOptions(ScalarType.Float)) {
                // Queries at 3x so that the softmax is far from uniform.
                Tensor q = torch.randn(new long[] {n, len, heads * d}, f32).mul_(new Scalar(3.0))
                        .to(ScalarType.BFloat16);
                Tensor k = torch.randn(new long[] {n, len, heads * d}, f32).to(ScalarType.BFloat16);
                Tensor v = torch.randn(new long[] {n, len, heads * d}, f32).to(ScalarType.BFloat16);
                Tensor out = Tensors.empty(ScalarType.BFloat16, n, len, heads * d);
                NativeEncoderAttention.attention(q, k, v, heads, scale, out);
                float[] got = Tensors.toFloats(out.to(ScalarType.Float));
                double[] ref = doubles(reference(q, k, v, n, len, heads, d, scale, ScalarType.Double));
                double[] bound = doubles(reference(q, k.abs(), v.abs(), n, len, heads, d, scale, ScalarType.Double));
                double[] libtorch = doubles(reference(q, k, v, n, len, heads, d, scale, ScalarType.Float)
                        .to(ScalarType.BFloat16));
                double nativeError = 0;
                double libtorchError = 0;
                int sameBits = 0;
                for (int i = 0; i < got.length; i++) {
                    // bf16 rounding of the output + float32 arithmetic (generous: 2^-16 of sum_j p_j |v_j|).
                    double tol = Math.scalb(Math.abs(ref[i]), -8) + Math.scalb(bound[i], -16);
                    assertEquals(ref[i], got[i], tol, java.util.Arrays.toString(shape) + ", element " + i);
                    double lt = libtorch[i];
                    nativeError += Math.abs(got[i] - ref[i]);
                    libtorchError += Math.abs(lt - ref[i]);
                    sameBits += lt == got[i] ? 1 : 0;
                }
                System.out.printf(java.util.Locale.ROOT, "[NativeEncoderAttentionTest] %s: %d of %d outputs the bits "
                        + "of libtorch's float32 attention; summed error against float64 %.4g (libtorch's %.4g)%n",
                        java.util.Arrays.toString(shape), sameBits, got.length, nativeError, libtorchError);
                assertTrue(nativeError <= 1.02 * libtorchError, java.util.Arrays.toString(shape)
                        + ": native error " + nativeError + " against libtorch's " + libtorchError);
                assertTrue(sameBits >= 0.99 * got.length, java.util.Arrays.toString(shape) + ": " + sameBits + " of "
                        + got.length + " outputs equal libtorch's float32 attention rounded to bf16");
            }
        }
    }

    @Test
    void refusesMismatchedArguments() {
        NativeKernelsOnThisCpu.require();
        try (InferenceScope scope = InferenceScope.open()) {
            Tensor x = Tensors.empty(ScalarType.BFloat16, 1, 4, 64);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> NativeEncoderAttention.attention(x, x, x, 3, 1f, x));
            assertTrue(e.getMessage().contains("q must be [n, len, heads * d]"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> NativeEncoderAttention.attention(x, x,
                    x.to(ScalarType.Float), 2, 1f, x));
            assertTrue(e.getMessage().contains("must be contiguous bf16 [1, 4, 64], found Float"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> NativeEncoderAttention.attention(x, x, x, 2, 1f,
                    Tensors.empty(ScalarType.BFloat16, 1, 4, 32)));
            assertTrue(e.getMessage().contains("found BFloat16 [1, 4, 32]"), e.getMessage());
        }
    }

    /**
     * softmax((scale q) kᵀ) v per crop and head in {@code dtype} (float32: libtorch's attention, as ClipVisionTower
     * ran it before the native kernel), {@code [n, len, heads * d]} like {@code q}.
     */
    private static Tensor reference(Tensor q, Tensor k, Tensor v, long n, long len, long heads, long d, float scale,
            ScalarType dtype) {
        Tensor qh = q.to(dtype).view(n, len, heads, d).transpose(1, 2);                    // [n, heads, len, d]
        Tensor kh = k.to(dtype).view(n, len, heads, d).transpose(1, 2);
        Tensor vh = v.to(dtype).view(n, len, heads, d).transpose(1, 2);
        Tensor o;
        try (TensorOptional noMask = new TensorOptional();
             DoubleOptional s = new DoubleOptional(scale)) {
            o = torch.scaled_dot_product_attention(qh, kh, vh, noMask, 0.0, false, s, false);
        }
        return o.transpose(1, 2).reshape(n, len, heads * d);
    }

    private static double[] doubles(Tensor t) {
        Tensor flat = t.to(ScalarType.Double).contiguous();
        double[] r = new double[(int) flat.numel()];
        flat.data_ptr_double().get(r);
        return r;
    }
}
