package io.github.phi3v.core.runtime;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * The self-attention of the CLIP vision encoder as one call of the project's native library
 * ({@code phi3v_encoder_attention.c}): every position attends to every position of its crop, on bf16 queries,
 * keys and values laid out as the q/k/v linears give them ({@code [n, L, heads * d]}), computed in float32 and
 * written as bf16 in the layout {@code out_proj} takes. It replaces the float32 copies of q, k and v, libtorch's
 * float32 attention (about 96 GFLOP/s on the project's machine) and the transposes a bf16 model's CLIP ran
 * around it (docs/architecture.md, "Native kernels"; docs/benchmarks.md, "CLIP's attention").
 *
 * <p>What it computes, per crop, head and query position: {@code bf16(softmax((scale q) · kᵀ) · v)} with float32
 * products and sums and an exponential within 2 float32 ulp; libtorch's float32 attention on the same bf16 inputs
 * differs in the order of its sums and its exponential, nearly always hidden by the bf16 rounding of the output
 * ({@code NativeEncoderAttentionTest} bounds it).
 *
 * <p>Thread-safe: no state between calls; each call allocates its own scratch; libtorch's thread count.
 */
public final class NativeEncoderAttention {

    /** The largest head dimension the kernel takes. */
    public static final long MAX_HEAD_DIM = 256;
    private static final String NAME = "native encoder attention";
    /**
     * The scores take AVX-512 BF16's dot products where the CPU has them and the scale is a power of two (CLIP-L's
     * 1/8): the same exact products, summed in pairs (docs/benchmarks.md, "CLIP's attention scores on vdpbf16ps").
     */
    private static final boolean BF16_DOT = CpuFeatures.has("avx512_bf16");

    private NativeEncoderAttention() {
    }

    /**
     * Whether the kernel runs here: with the AVX-512 kernels ({@link NativeKernels#available()}).
     *
     * @return true when {@link #attention} may be called
     */
    public static boolean available() {
        return NativeKernels.available();
    }

    /**
     * {@code out = softmax(scale q kᵀ) v} for every crop and head, as described above.
     *
     * @param q {@code [n, len, heads * d]} bf16, contiguous: head {@code h} of a position at columns
     *     {@code h * d .. h * d + d - 1}
     * @param k the keys, like {@code q}
     * @param v the values, like {@code q}
     * @param heads the number of heads; {@code d} = columns / heads, at most {@value #MAX_HEAD_DIM}
     * @param scale the factor of the queries (CLIP: {@code d^-0.5})
     * @param out {@code [n, len, heads * d]} bf16, contiguous; overwritten
     * @throws IllegalArgumentException if a shape, dtype or layout does not match
     * @throws OutOfMemoryError if the kernel's scratch memory cannot be allocated
     * @throws IllegalStateException if the kernel is not {@link #available()}
     */
    public static void attention(Tensor q, Tensor k, Tensor v, long heads, float scale, Tensor out) {
        if (!available()) {
            throw new IllegalStateException(NAME + " unavailable: " + NativeKernels.unavailableReason());
        }
        NativeKernels.require(NAME, q.dim() == 3 && heads > 0 && q.size(2) % heads == 0
                && q.size(2) / heads <= MAX_HEAD_DIM, () -> "q must be [n, len, heads * d] with d <= " + MAX_HEAD_DIM
                + " for " + heads + " heads, found " + java.util.Arrays.toString(Tensors.shape(q)));
        long[] shape = Tensors.shape(q);
        for (Tensor t : new Tensor[] {q, k, v, out}) {
            NativeKernels.require(NAME, java.util.Arrays.equals(Tensors.shape(t), shape)
                    && Tensors.dtype(t) == ScalarType.BFloat16 && t.is_contiguous(), () ->
                    "q, k, v and out must be contiguous bf16 " + java.util.Arrays.toString(shape) + ", found "
                    + Tensors.dtype(t) + " " + java.util.Arrays.toString(Tensors.shape(t))
                    + (t.is_contiguous() ? "" : " (not contiguous)"));
        }
        if (q.numel() == 0) {
            return;
        }
        int rc = encoderAttention(q.data_ptr().address(), k.data_ptr().address(), v.data_ptr().address(),
                out.data_ptr().address(), shape[0], shape[1], heads, shape[2] / heads, scale, BF16_DOT ? 1 : 0,
                TorchRuntime.threads());
        if (rc != 0) {
            throw new OutOfMemoryError(NAME + ": no scratch memory for " + shape[1] + " positions");
        }
    }

    private static native int encoderAttention(long q, long k, long v, long out, long n, long len, long heads, long d,
            float scale, int bf16Dot, int threads);
}
