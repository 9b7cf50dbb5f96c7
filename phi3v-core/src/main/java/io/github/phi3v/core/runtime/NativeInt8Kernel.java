package io.github.phi3v.core.runtime;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * The int8 linear of the project's native library ({@code phi3v_int8.c}) for x86-64 CPUs with AVX2 and FMA:
 * float32 rows times an int8 weight with one float32 scale per output row, {@code out[i, n] = scale[n] ·
 * Σ_k x[i, k] · q[n, k]}, each int8 value widened to float32 (exact), float32 products and sums. The int8
 * decoder linears use it where fbgemm's int8 products saturate (no AVX-512 VNNI) and ATen's
 * {@code _weight_int8pack_mm} runs float32 activations on scalar loops (docs/benchmarks.md, "int8 without
 * AVX-512 VNNI").
 *
 * <p>Available when {@link NativeKernels}'s library is loaded (it is not when {@code -Dphi3v.nativeKernels=false})
 * and {@code /proc/cpuinfo} lists {@code avx2} and {@code fma}; the library's AVX-512 kernels need not be.
 *
 * <p>Thread-safe: no state between calls; runs on libtorch's thread count.
 */
public final class NativeInt8Kernel {

    private static final String NAME = "native int8 kernel";

    private NativeInt8Kernel() {
    }

    /**
     * Whether {@link #mm} runs on this machine (loads the library at the first call).
     *
     * @return true if the library is loaded and the CPU has AVX2 and FMA
     */
    public static boolean available() {
        return CpuFeatures.has("avx2", "fma") && NativeKernels.libraryLoaded();
    }

    /**
     * Whether {@link #mm} takes a weight of this row width: a positive multiple of 8 (one AVX2 vector).
     *
     * @param k input features
     * @return true if supported
     */
    public static boolean multipliesRows(long k) {
        return k > 0 && k % 8 == 0;
    }

    /**
     * {@code out = (x · qᵀ) * scale} per output column, as described above.
     *
     * @param x {@code [m, k]} float32, contiguous
     * @param q {@code [n, k]} int8, contiguous, {@code k} a multiple of 8
     * @param scale {@code [n]} float32, contiguous
     * @param out {@code [m, n]} float32, contiguous; overwritten
     * @throws IllegalArgumentException if a shape, dtype or layout does not match
     * @throws IllegalStateException if the kernel is not {@link #available()}
     */
    public static void mm(Tensor x, Tensor q, Tensor scale, Tensor out) {
        if (!available()) {
            throw new IllegalStateException(NAME + " unavailable: " + (NativeKernels.libraryLoaded()
                    ? "this CPU lacks AVX2 or FMA" : NativeKernels.unavailableReason()));
        }
        NativeKernels.require(NAME, q.dim() == 2 && multipliesRows(q.size(1)) && q.is_contiguous()
                && Tensors.dtype(q) == ScalarType.Char, () ->
                "q must be [n, k] int8 contiguous with k a multiple of 8, found " + NativeKernels.describe(q));
        long n = q.size(0);
        long k = q.size(1);
        NativeKernels.require(NAME, scale.dim() == 1 && scale.size(0) == n && scale.is_contiguous()
                && Tensors.dtype(scale) == ScalarType.Float, () ->
                "scale must be [" + n + "] float32 contiguous, found " + NativeKernels.describe(scale));
        NativeKernels.require(NAME, x.dim() == 2 && x.size(1) == k && x.is_contiguous()
                && Tensors.dtype(x) == ScalarType.Float, () ->
                "x must be [rows, " + k + "] float32 contiguous, found " + NativeKernels.describe(x));
        long m = x.size(0);
        NativeKernels.require(NAME, out.dim() == 2 && out.size(0) == m && out.size(1) == n && out.is_contiguous()
                && Tensors.dtype(out) == ScalarType.Float, () ->
                "out must be [" + m + ", " + n + "] float32 contiguous, found " + NativeKernels.describe(out));
        if (m == 0 || n == 0) {
            return;
        }
        int8Mm(x.data_ptr().address(), q.data_ptr().address(), scale.data_ptr().address(), out.data_ptr().address(),
                m, n, k, TorchRuntime.threads());
    }

    private static native void int8Mm(long x, long q, long scale, long out, long m, long n, long k, int threads);
}
