package io.github.phi3v.core.runtime;

import java.util.Arrays;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * The causal attention of a decoder prefill over a bf16 (or float32) KV cache as one call of the project's native
 * library ({@code phi3v_prefill_attention.c}, AVX-512 BF16 dot products): the queries at positions {@code offset ..
 * offset + n - 1} of every head attend to the cached keys {@code 0 ..} their own position. It replaces the blocks of
 * two bf16 GEMMs with float32 copies, scaling, mask and softmax between them that a bf16 model's prefill ran in
 * libtorch (docs/architecture.md, "Native kernels"; docs/benchmarks.md, "Causal prefill attention").
 *
 * <p>What it computes, per head and query row: the formula of the decode step's kernel
 * ({@link NativeKernels#decodeAttention}), so a cached decode step and a recomputed prompt round alike: scores
 * {@code bf16(q · k) * scale}, a float32 softmax whose probabilities are rounded to bf16, their float32 sums with
 * the values rounded to bf16. Products are exact; the order of the float32 sums differs from oneDNN's GEMMs, so a
 * score can round to the neighbouring bf16 value ({@code NativePrefillAttentionTest} bounds the effect).
 *
 * <p>Its float32 twin ({@link #floatAvailable()}: AVX-512 F) takes a float32 model's prefill: the formula of the
 * float32 blocks, all in float32 (scores {@code (q · k) * scale}, a softmax with an exponential within 2 float32 ulp
 * times the sum's reciprocal, float32 sums), in a different order of its sums than libtorch's GEMMs.
 *
 * <p>Thread-safe: no state between calls; each call allocates its own scratch; libtorch's thread count.
 */
public final class NativePrefillAttention {

    /** The largest head dimension the kernel takes. */
    public static final long MAX_HEAD_DIM = 256;
    private static final String NAME = "native prefill attention";

    private NativePrefillAttention() {
    }

    /**
     * Whether the kernel runs here: with the AVX-512 kernels ({@link NativeKernels#available()}) on a CPU whose
     * {@code /proc/cpuinfo} lists {@code avx512_bf16} (its dot products are {@code vdpbf16ps}).
     *
     * @return true when {@link #attention} may be called
     */
    public static boolean available() {
        return NativeKernels.available() && CpuFeatures.has("avx512_bf16");
    }

    /**
     * Whether the float32 twin runs here: with the AVX-512 kernels ({@link NativeKernels#available()}).
     *
     * @return true when {@link #attention} may be called with float32 tensors
     */
    public static boolean floatAvailable() {
        return NativeKernels.available();
    }

    /**
     * Whether the kernel takes heads of this dimension: a positive multiple of 16 up to {@value #MAX_HEAD_DIM}
     * (Phi-3: 96).
     *
     * @param headDim the head dimension
     * @return true if supported
     */
    public static boolean attends(long headDim) {
        return headDim > 0 && headDim % 16 == 0 && headDim <= MAX_HEAD_DIM;
    }

    /**
     * Causal attention of {@code q}'s rows over the first {@code offset + n} cached positions, as described above.
     *
     * @param q {@code [heads, n, d]} bf16 (float32: the twin), contiguous, rotated; {@code d}
     *     {@linkplain #attends supported}
     * @param keys {@code [heads, >= offset + n, d]} in {@code q}'s dtype with contiguous rows (a KV cache's span)
     * @param values like {@code keys}, with the same head stride
     * @param offset the position of {@code q}'s first row
     * @param scale the factor of the scores, after their bf16 rounding in bf16 ({@code 1 / sqrt(d)})
     * @param out {@code [heads, n, d]} in {@code q}'s dtype, contiguous; overwritten
     * @throws IllegalArgumentException if a shape, dtype or layout does not match
     * @throws OutOfMemoryError if the kernel's scratch memory cannot be allocated
     * @throws IllegalStateException if the kernel for {@code q}'s dtype is not {@link #available()} (bf16) or
     *     {@link #floatAvailable()} (float32)
     */
    public static void attention(Tensor q, Tensor keys, Tensor values, long offset, float scale, Tensor out) {
        ScalarType dtype = Tensors.dtype(q);
        boolean f32 = dtype == ScalarType.Float;
        if (f32 ? !floatAvailable() : !available()) {
            throw new IllegalStateException(NAME + " unavailable: " + (!NativeKernels.available()
                    ? NativeKernels.unavailableReason() : "this CPU lacks avx512_bf16"));
        }
        long d = q.dim() == 3 ? q.size(2) : -1;
        NativeKernels.require(NAME, q.dim() == 3 && attends(d) && q.is_contiguous()
                && (f32 || dtype == ScalarType.BFloat16), () -> "q must be [heads, n, d] bf16 or float32 contiguous "
                + "with d a multiple of 16 up to " + MAX_HEAD_DIM + ", found " + NativeKernels.describe(q));
        long heads = q.size(0);
        long n = q.size(1);
        NativeKernels.require(NAME, offset >= 0, () -> "offset must be >= 0, got " + offset);
        for (Tensor kv : new Tensor[] {keys, values}) {
            NativeKernels.require(NAME, kv.dim() == 3 && kv.size(0) == heads && kv.size(1) >= offset + n
                    && kv.size(2) == d && kv.stride(2) == 1 && kv.stride(1) == d && Tensors.dtype(kv) == dtype, () ->
                    "keys and values must be [" + heads + ", >= " + (offset + n) + ", " + d + "] " + dtype
                    + " with contiguous rows, found " + NativeKernels.describe(kv));
        }
        NativeKernels.require(NAME, keys.stride(0) == values.stride(0), () -> "keys and values must have the same "
                + "head stride, found " + keys.stride(0) + " and " + values.stride(0));
        NativeKernels.require(NAME, out.dim() == 3 && Arrays.equals(Tensors.shape(out), Tensors.shape(q))
                && out.is_contiguous() && Tensors.dtype(out) == dtype, () -> "out must be "
                + Arrays.toString(Tensors.shape(q)) + " " + dtype + " contiguous, found "
                + NativeKernels.describe(out));
        if (n == 0 || heads == 0) {
            return;
        }
        long qa = q.data_ptr().address();
        long ka = keys.data_ptr().address();
        long va = values.data_ptr().address();
        long oa = out.data_ptr().address();
        int threads = TorchRuntime.threads();
        int rc = f32 ? prefillAttentionFloat(qa, ka, va, oa, heads, n, offset, d, keys.stride(0), scale, threads)
                : prefillAttention(qa, ka, va, oa, heads, n, offset, d, keys.stride(0), scale, threads);
        if (rc != 0) {
            throw new OutOfMemoryError(NAME + ": no scratch memory for " + (offset + n) + " positions");
        }
    }

    private static native int prefillAttention(long q, long keys, long values, long out, long heads, long n,
            long offset, long d, long headStride, float scale, int threads);

    private static native int prefillAttentionFloat(long q, long keys, long values, long out, long heads, long n,
            long offset, long d, long headStride, float scale, int threads);
}
