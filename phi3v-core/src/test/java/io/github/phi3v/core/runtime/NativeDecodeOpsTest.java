package io.github.phi3v.core.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Locale;

import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link NativeDecodeOps} against the libtorch kernels they replace, bit for bit: RMSNorm ({@code rms_norm} on
 * float32, {@code to(bf16)}, {@code mul(weight)}), the residual add before it, and the rotary embedding of
 * one token ({@code x·cos + roll(x, d/2)·sin} in bf16) with its KV cache write.
 */
class NativeDecodeOpsTest {

    @BeforeAll
    static void nativeOpsRun() {
        NativeKernelsOnThisCpu.require();
        assertTrue(NativeDecodeOps.available(), "the native RMSNorm does not match libtorch's bits");
    }

    private static Tensor empty(ScalarType dtype, long... shape) {
        return Tensors.empty(dtype, shape);
    }

    /**
     * Rows of random scales with a few large values (so the sums of squares round differently in other
     * orders), {@code n} with and without leftovers of the 8-lane vectors and 32-value blocks of the sum.
     */
    private static Tensor rows(long seed, long m, long n) {
        try (TensorOptions f32 = new TensorOptions(ScalarType.Float)) {
            torch.manual_seed(seed);
            Tensor x = torch.randn(new long[] {m, n}, f32);
            Tensor scales = torch.exp(torch.mul(torch.randn(new long[] {m, 1}, f32), new org.bytedeco.pytorch.Scalar(3.0)));
            Tensor spikes = torch.add(torch.mul(torch.gt(torch.rand(new long[] {m, n}, f32),
                    new org.bytedeco.pytorch.Scalar(0.98)).to(ScalarType.Float), new org.bytedeco.pytorch.Scalar(30.0)),
                    new org.bytedeco.pytorch.Scalar(1.0));
            return torch.mul(torch.mul(x, scales), spikes).contiguous();
        }
    }

    private static Tensor libtorchNorm(Tensor x, Tensor weight, double eps) {
        try (TensorOptional none = new TensorOptional();
             DoubleOptional e = new DoubleOptional(eps)) {
            return torch.mul(weight, torch.rms_norm(x, new long[] {x.size(1)}, none, e).to(ScalarType.BFloat16));
        }
    }

    private static Tensor weight(long n) {
        try (TensorOptions f32 = new TensorOptions(ScalarType.Float)) {
            return torch.add(torch.mul(torch.randn(new long[] {n}, f32), new org.bytedeco.pytorch.Scalar(0.2)),
                    new org.bytedeco.pytorch.Scalar(1.0)).to(ScalarType.BFloat16);
        }
    }

    /** Counts the elements whose bits differ (NaN-free inputs). */
    private static long differing(Tensor a, Tensor b) {
        assertEquals(a.numel(), b.numel());
        return torch.ne(a, b).sum().item_long();
    }

    @ParameterizedTest
    @ValueSource(longs = {3072, 64, 96, 100, 33, 7, 4096})
    void rmsNormHasLibtorchBits(long n) {
        try (InferenceScope scope = InferenceScope.open()) {
            long m = 40;   // more than 2 x 8 rows: the rows also run on the OpenMP threads
            Tensor x = rows(n, m, n);
            Tensor w = weight(n);
            Tensor expected = libtorchNorm(x, w, 1e-5);
            Tensor got = empty(ScalarType.BFloat16, m, n);
            NativeDecodeOps.rmsNorm(x, w, 1e-5f, got);
            assertEquals(0, differing(expected, got), "elements of " + m + " x " + n + " whose bits differ");
            // One row, as in a decode step: the calling thread alone.
            Tensor one = empty(ScalarType.BFloat16, 1, n);
            NativeDecodeOps.rmsNorm(x.narrow(0, 5, 1), w, 1e-5f, one);
            assertEquals(0, differing(expected.narrow(0, 5, 1), one));
        }
    }

    /**
     * A plain left-to-right sum of squares gives other bits on these rows: the test would notice a native sum
     * in another order than libtorch's (in float32, before the bf16 rounding hides most differences).
     */
    @Test
    void theOrderOfTheSumMatters() {
        try (InferenceScope scope = InferenceScope.open();
             TensorOptional none = new TensorOptional();
             DoubleOptional eps = new DoubleOptional(1e-5)) {
            long m = 64;
            long n = 3072;
            float[] x = Tensors.toFloats(rows(7, m, n));
            float[] normed = Tensors.toFloats(torch.rms_norm(Tensors.fromFloats(x, m, n), new long[] {n}, none, eps));
            int other = 0;
            for (int r = 0; r < m; r++) {
                float sum = 0f;
                for (int c = 0; c < n; c++) {
                    float v = x[(int) (r * n) + c];
                    sum += v * v;
                }
                float inv = 1f / (float) Math.sqrt(sum / n + 1e-5f);
                for (int c = 0; c < n; c++) {
                    int i = (int) (r * n) + c;
                    if (Float.floatToRawIntBits(x[i] * inv) != Float.floatToRawIntBits(normed[i])) {
                        other++;
                        break;
                    }
                }
            }
            System.out.printf(Locale.ROOT, "[NativeDecodeOpsTest] a left-to-right sum differs from libtorch's rms_norm "
                    + "on %d of %d rows%n", other, m);
            assertTrue(other >= m / 4, "only " + other + " of " + m + " rows tell the orders apart");
        }
    }

    @ParameterizedTest
    @ValueSource(longs = {1, 3, 20})
    void addRmsNormHasLibtorchBits(long m) {
        try (InferenceScope scope = InferenceScope.open()) {
            long n = 3072;
            Tensor x = rows(m, m, n);
            Tensor delta = rows(m + 100, m, n).to(ScalarType.BFloat16);
            Tensor w = weight(n);
            Tensor expectedSum = torch.add(x, delta);
            Tensor expected = libtorchNorm(expectedSum, w, 1e-5);
            Tensor sum = empty(ScalarType.Float, m, n);
            Tensor got = empty(ScalarType.BFloat16, m, n);
            NativeDecodeOps.addRmsNorm(x, delta, w, 1e-5f, sum, got);
            assertEquals(0, differing(expectedSum, sum), "elements of the sum whose bits differ");
            assertEquals(0, differing(expected, got), "elements of the norm whose bits differ");
        }
    }

    /** Phi3DecoderLayer's libtorch path: roll, mul, mul, add on bf16, the keys and values copied into the cache. */
    @ParameterizedTest
    @ValueSource(longs = {96, 16, 6})
    void rotaryToCacheHasLibtorchBits(long d) {
        try (InferenceScope scope = InferenceScope.open();
             TensorOptions f32 = new TensorOptions(ScalarType.Float)) {
            long heads = 4;
            long kvHeads = 2;
            long capacity = 37;
            long position = 29;
            torch.manual_seed(d);
            Tensor qkv = torch.mul(torch.randn(new long[] {1, (heads + 2 * kvHeads) * d}, f32),
                    new org.bytedeco.pytorch.Scalar(4.0)).to(ScalarType.BFloat16);
            Tensor angles = torch.mul(torch.rand(new long[] {1, d / 2}, f32), new org.bytedeco.pytorch.Scalar(50.0));
            Tensor emb = torch.cat(new TensorVector(angles, angles), 1);
            Tensor cos = torch.mul(torch.cos(emb), new org.bytedeco.pytorch.Scalar(1.19)).to(ScalarType.BFloat16);
            Tensor half = torch.mul(torch.sin(angles), new org.bytedeco.pytorch.Scalar(1.19));
            Tensor sin = torch.cat(new TensorVector(torch.neg(half), half), 1).to(ScalarType.BFloat16);

            Tensor qk = qkv.narrow(1, 0, (heads + kvHeads) * d).view(1, heads + kvHeads, d).transpose(0, 1);
            Tensor rotated = torch.add(torch.mul(qk, cos), torch.mul(torch.roll(qk, new long[] {d / 2}, -1), sin));
            Tensor expectedQ = rotated.narrow(0, 0, heads).contiguous();                           // [H, 1, d]
            Tensor expectedK = rotated.narrow(0, heads, kvHeads).contiguous();                     // [K, 1, d]
            Tensor expectedV = qkv.narrow(1, (heads + kvHeads) * d, kvHeads * d).view(1, kvHeads, d)
                    .transpose(0, 1).contiguous();

            // Caches laid out as KvCache's: head h's rows at h * capacity * d; filled with a marker.
            Tensor keys = torch.full(new long[] {kvHeads, capacity, d}, new org.bytedeco.pytorch.Scalar(7.0),
                    new TensorOptions(ScalarType.BFloat16));
            Tensor values = torch.full(new long[] {kvHeads, capacity, d}, new org.bytedeco.pytorch.Scalar(7.0),
                    new TensorOptions(ScalarType.BFloat16));
            Tensor q = empty(ScalarType.BFloat16, heads, 1, d);
            NativeDecodeOps.rotaryToCache(qkv, cos, sin, heads, kvHeads, keys, values, position, q);

            assertEquals(0, differing(expectedQ, q), "query elements whose bits differ");
            assertEquals(0, differing(expectedK, keys.narrow(1, position, 1)), "key elements whose bits differ");
            assertEquals(0, differing(expectedV, values.narrow(1, position, 1)), "value elements whose bits differ");
            // Nothing else in the caches was written.
            long written = 2 * kvHeads * d;
            long unchanged = torch.eq(keys, new org.bytedeco.pytorch.Scalar(7.0)).sum().item_long()
                    + torch.eq(values, new org.bytedeco.pytorch.Scalar(7.0)).sum().item_long();
            long markersAtPosition = torch.eq(keys.narrow(1, position, 1), new org.bytedeco.pytorch.Scalar(7.0)).sum()
                    .item_long() + torch.eq(values.narrow(1, position, 1), new org.bytedeco.pytorch.Scalar(7.0)).sum()
                    .item_long();
            assertEquals(2 * keys.numel() - written, unchanged - markersAtPosition);
        }
    }

    @Test
    void refusesMismatchedArguments() {
        try (InferenceScope scope = InferenceScope.open()) {
            Tensor x = rows(1, 2, 64);
            Tensor w = weight(64);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> NativeDecodeOps.rmsNorm(x, w, 1e-5f, empty(ScalarType.Float, 2, 64)));
            assertTrue(e.getMessage().contains("out must be [2, 64] BFloat16"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> NativeDecodeOps.rmsNorm(x.to(ScalarType.BFloat16), w, 1e-5f, empty(ScalarType.BFloat16, 2, 64)));
            assertTrue(e.getMessage().contains("x must be [rows, 64] Float"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> NativeDecodeOps.rmsNorm(x.t(), weight(2), 1e-5f, empty(ScalarType.BFloat16, 64, 2)));
            assertTrue(e.getMessage().contains("contiguous"), e.getMessage());
            Tensor qkv = empty(ScalarType.BFloat16, 1, 4 * 16);
            Tensor cs = empty(ScalarType.BFloat16, 1, 16);
            Tensor strided = empty(ScalarType.BFloat16, 1, 8, 32).narrow(2, 0, 16);   // rows not contiguous
            e = assertThrows(IllegalArgumentException.class, () -> NativeDecodeOps.rotaryToCache(qkv, cs, cs, 2, 1,
                    strided, strided, 3, empty(ScalarType.BFloat16, 2, 1, 16)));
            assertTrue(e.getMessage().contains("contiguous rows"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> NativeDecodeOps.rotaryToCache(qkv, cs, cs, 2, 1,
                    empty(ScalarType.BFloat16, 1, 8, 16), empty(ScalarType.BFloat16, 1, 8, 16), 8,
                    empty(ScalarType.BFloat16, 2, 1, 16)));
            assertTrue(e.getMessage().contains("> 8"), e.getMessage());
        }
    }
}
