package io.github.phi3v.core.runtime;

import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * The small operations between the linears of a bf16 decoder layer as single native calls of the project's
 * library ({@code phi3v_decode_ops.c}): RMSNorm on float32 rows into bf16, the residual add fused with the
 * norm after it, and the rotary embedding of one token's queries and keys fused with its KV cache write.
 * Each gives the bits of the libtorch kernels it replaces (several per call, each with its own dispatch,
 * allocation and wrapper cost: a decode step ran some 30 of them per layer).
 *
 * <p>{@link #available()} requires the {@link NativeKernels native library} and checks once, on fixed
 * inputs, that {@link #rmsNorm} gives libtorch's bits: the norm's sum of squares follows the order of
 * libtorch's CPU sum, and a libtorch that summed in another order turns these ops off instead of changing
 * results.
 *
 * <p>Thread-safe: the functions keep no state.
 */
public final class NativeDecodeOps {

    private static final String NORM = "native RMSNorm";
    private static final String ROTARY = "native rotary and cache write";

    private static volatile Boolean available;

    private NativeDecodeOps() {
    }

    /**
     * Whether these ops run here: the native library is {@link NativeKernels#available() available} and its
     * RMSNorm matched libtorch's bits on the check made at the first call.
     *
     * @return true when the functions of this class may be called
     */
    public static boolean available() {
        Boolean a = available;
        if (a == null) {
            synchronized (NativeDecodeOps.class) {
                a = available;
                if (a == null) {
                    a = NativeKernels.available() && normMatchesLibtorch();
                    available = a;
                }
            }
        }
        return a;
    }

    /**
     * {@code out = bf16(weight * bf16(x * rsqrt(mean(x²) + eps)))} per row: libtorch's {@code rms_norm} on
     * float32 rows, rounded to bf16 and multiplied by a bf16 weight, with the same bits.
     *
     * @param x {@code [m, n]} float32, contiguous
     * @param weight {@code [n]} bf16, contiguous
     * @param eps added to the mean square (as float32, like libtorch)
     * @param out {@code [m, n]} bf16, contiguous; overwritten
     * @throws IllegalArgumentException if a shape, dtype or layout does not match
     * @throws IllegalStateException if the native library is not available
     */
    public static void rmsNorm(Tensor x, Tensor weight, float eps, Tensor out) {
        NativeKernels.requireAvailable();
        long n = checkNormWeight(weight);
        requireRows(x, n, ScalarType.Float, "x");
        long m = x.size(0);
        requireShape(NORM, out, m, n, ScalarType.BFloat16, "out");
        rmsNorm(x.data_ptr().address(), weight.data_ptr().address(), out.data_ptr().address(), m, n, eps,
                TorchRuntime.threads());
    }

    /**
     * {@code sum = x + delta} in float32 and {@code out = }{@link #rmsNorm}{@code (sum)}: a residual add and the
     * norm after it in one pass, with libtorch's bits for both.
     *
     * @param x {@code [m, n]} float32, contiguous: the residual stream
     * @param delta {@code [m, n]} bf16, contiguous: what the sublayer adds
     * @param weight {@code [n]} bf16, contiguous
     * @param eps added to the mean square
     * @param sum {@code [m, n]} float32, contiguous; overwritten with {@code x + delta}
     * @param out {@code [m, n]} bf16, contiguous; overwritten with the normed sum
     * @throws IllegalArgumentException if a shape, dtype or layout does not match
     * @throws IllegalStateException if the native library is not available
     */
    public static void addRmsNorm(Tensor x, Tensor delta, Tensor weight, float eps, Tensor sum, Tensor out) {
        NativeKernels.requireAvailable();
        long n = checkNormWeight(weight);
        requireRows(x, n, ScalarType.Float, "x");
        long m = x.size(0);
        requireShape(NORM, delta, m, n, ScalarType.BFloat16, "delta");
        requireShape(NORM, sum, m, n, ScalarType.Float, "sum");
        requireShape(NORM, out, m, n, ScalarType.BFloat16, "out");
        addRmsNorm(x.data_ptr().address(), delta.data_ptr().address(), weight.data_ptr().address(),
                sum.data_ptr().address(), out.data_ptr().address(), m, n, eps,
                TorchRuntime.threads());
    }

    /**
     * The rotary embedding of one decode token and its KV cache write: for each query head and each key head
     * of {@code qkv}, {@code x·cos + roll(x, d/2)·sin} with {@code sin} signed as
     * {@code LongRopeEmbedding.CosSin} keeps it (libtorch's bf16 mul, mul and add, each rounded to bf16); the
     * rotated queries go to {@code q}, the rotated keys and the values into the cache at {@code position}.
     *
     * @param qkv {@code [1, (heads + 2 kvHeads) * d]} bf16, contiguous: qkv_proj's output of the token
     * @param cos {@code [1, d]} bf16, contiguous
     * @param sin {@code [1, d]} bf16, contiguous, rotate_half's sign in its first half
     * @param heads query heads
     * @param kvHeads key and value heads
     * @param keys {@code [kvHeads, > position, d]} bf16, each head's rows contiguous ({@code stride(1) == d});
     *     row {@code position} overwritten
     * @param values like {@code keys}, with the same strides; row {@code position} overwritten
     * @param position the token's position
     * @param q {@code [heads, 1, d]} bf16, contiguous; overwritten
     * @throws IllegalArgumentException if a shape, dtype or layout does not match
     * @throws IllegalStateException if the native library is not available
     */
    public static void rotaryToCache(Tensor qkv, Tensor cos, Tensor sin, long heads, long kvHeads, Tensor keys,
            Tensor values, long position, Tensor q) {
        NativeKernels.requireAvailable();
        long d = q.dim() == 3 ? q.size(2) : -1;
        NativeKernels.require(ROTARY, heads > 0 && kvHeads > 0 && d > 0 && d % 2 == 0 && q.size(0) == heads
                && q.size(1) == 1 && q.is_contiguous() && Tensors.dtype(q) == ScalarType.BFloat16, () ->
                "q must be [" + heads + ", 1, d] bf16 contiguous with d even, found " + NativeKernels.describe(q));
        requireShape(ROTARY, qkv, 1, (heads + 2 * kvHeads) * d, ScalarType.BFloat16, "qkv");
        requireShape(ROTARY, cos, 1, d, ScalarType.BFloat16, "cos");
        requireShape(ROTARY, sin, 1, d, ScalarType.BFloat16, "sin");
        for (Tensor kv : new Tensor[] {keys, values}) {
            NativeKernels.require(ROTARY, kv.dim() == 3 && kv.size(0) == kvHeads && kv.size(1) > position
                    && kv.size(2) == d && kv.stride(2) == 1 && kv.stride(1) == d
                    && Tensors.dtype(kv) == ScalarType.BFloat16, () -> "keys and values must be [" + kvHeads + ", > "
                    + position + ", " + d + "] bf16 with contiguous rows, found " + NativeKernels.describe(kv));
        }
        NativeKernels.require(ROTARY, keys.stride(0) == values.stride(0), () -> "keys and values must have the "
                + "same head stride, found " + keys.stride(0) + " and " + values.stride(0));
        NativeKernels.require(ROTARY, position >= 0, () -> "position must not be negative, got " + position);
        rotaryToCache(qkv.data_ptr().address(), cos.data_ptr().address(), sin.data_ptr().address(),
                q.data_ptr().address(), keys.data_ptr().address(), values.data_ptr().address(), heads, kvHeads, d,
                keys.stride(0), position);
    }

    private static long checkNormWeight(Tensor weight) {
        NativeKernels.require(NORM, weight.dim() == 1 && weight.is_contiguous()
                && Tensors.dtype(weight) == ScalarType.BFloat16, () -> "weight must be [n] bf16 contiguous, found "
                + NativeKernels.describe(weight));
        return weight.size(0);
    }

    private static void requireRows(Tensor t, long n, ScalarType dtype, String name) {
        NativeKernels.require(NORM, t.dim() == 2 && t.size(1) == n && t.is_contiguous() && Tensors.dtype(t) == dtype,
                () -> name + " must be [rows, " + n + "] " + dtype + " contiguous, found " + NativeKernels.describe(t));
    }

    private static void requireShape(String op, Tensor t, long m, long n, ScalarType dtype, String name) {
        NativeKernels.require(op, t.dim() == 2 && t.size(0) == m && t.size(1) == n && t.is_contiguous()
                && Tensors.dtype(t) == dtype, () -> name + " must be [" + m + ", " + n + "] " + dtype
                + " contiguous, found " + NativeKernels.describe(t));
    }

    /**
     * The check of {@link #available()}: the native {@code rsqrt(mean(x²) + eps)} against libtorch's, read from
     * {@code rms_norm} of rows whose first value is 1 (so that value of the result is that factor itself), on 32
     * rows of each of two widths (with and without leftovers of the 32-value blocks of the sum) whose sums of
     * squares round differently in other orders: a plain left-to-right sum, or 16 lanes instead of 8, gives
     * other bits on most of them.
     */
    private static boolean normMatchesLibtorch() {
        try (InferenceScope scope = InferenceScope.open();
             TensorOptional noWeight = new TensorOptional();
             DoubleOptional eps = new DoubleOptional(1e-5)) {
            long seed = 0x9E3779B97F4A7C15L;
            for (int n : new int[] {3072, 100}) {
                int rows = 32;
                float[] x = new float[rows * n];
                for (int i = 0; i < x.length; i++) {
                    seed = seed * 6364136223846793005L + 1442695040888963407L;
                    double u = ((seed >>> 11) + 0.5) / (1L << 53);
                    double scale = Math.pow(10, (i / n) % 5 - 2) * ((seed >>> 7) % 53 == 0 ? 40 : 1);
                    x[i] = i % n == 0 ? 1f : (float) ((u - 0.5) * scale);
                }
                Tensor xt = Tensors.fromFloats(x, (long) rows, (long) n);
                float[] expected = Tensors.toFloats(torch.rms_norm(xt, new long[] {n}, noWeight, eps).select(1, 0)
                        .contiguous());
                Tensor got = Tensors.empty(ScalarType.Float, rows);
                inverseRms(xt.data_ptr().address(), got.data_ptr().address(), rows, n, 1e-5f);
                float[] mine = Tensors.toFloats(got);
                for (int r = 0; r < rows; r++) {
                    if (Float.floatToRawIntBits(expected[r]) != Float.floatToRawIntBits(mine[r])) {
                        return false;
                    }
                }
            }
            return true;
        }
    }

    private static native void inverseRms(long x, long out, long m, long n, float eps);

    private static native void rmsNorm(long x, long weight, long out, long m, long n, float eps, int threads);

    private static native void addRmsNorm(long x, long delta, long weight, long sum, long out, long m, long n,
            float eps, int threads);

    private static native void rotaryToCache(long qkv, long cos, long sin, long q, long keys, long values, long heads,
            long kvHeads, long d, long headStride, long position);
}
