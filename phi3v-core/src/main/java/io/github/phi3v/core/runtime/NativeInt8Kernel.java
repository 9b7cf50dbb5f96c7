package io.github.phi3v.core.runtime;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * The int8 linear of the project's native library ({@code phi3v_int8.c}) for x86-64 CPUs with AVX2 and FMA:
 * float32 rows times an int8 weight (in the kernel's own layout, {@link #pack}) with one float32 scale per
 * output row, {@code out[i, n] = scale[n] · Σ_k x[i, k] · q[n, k]}, each int8 value widened to float32
 * (exact), float32 products and sums. The int8
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

    /** Weight rows per block of the kernel's layout ({@link #pack}); {@code NR} in {@code phi3v_int8.c}. */
    public static final long ROWS_PER_BLOCK = 4;
    /** Columns per vector: the layout interleaves the block's rows by this many columns. */
    private static final long COLUMNS = 8;
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
     * Whether {@link #mm} takes a weight of this shape: {@code k} a positive multiple of 8 (one AVX2 vector),
     * {@code n} a positive multiple of {@value #ROWS_PER_BLOCK}.
     *
     * @param n output features (weight rows)
     * @param k input features
     * @return true if supported
     */
    public static boolean multiplies(long n, long k) {
        return k > 0 && k % COLUMNS == 0 && n > 0 && n % ROWS_PER_BLOCK == 0;
    }

    /**
     * The kernel's layout of an int8 weight: blocks of {@value #ROWS_PER_BLOCK} rows with their rows side by
     * side, 8 columns each, {@code [n / 4, k / 8, 4, 8]}, so each thread of the kernel reads one contiguous
     * stream. Pure libtorch (works without the library); the result is in the caller's scope.
     *
     * @param q {@code [n, k]} int8 with {@link #multiplies}{@code (n, k)}
     * @return {@code [n / 4, k / 8, 4, 8]} int8, contiguous
     * @throws IllegalArgumentException if the shape or dtype does not fit
     */
    public static Tensor pack(Tensor q) {
        NativeKernels.require(NAME, q.dim() == 2 && multiplies(q.size(0), q.size(1))
                && Tensors.dtype(q) == ScalarType.Char, () -> "q must be [n, k] int8 with n a multiple of "
                + ROWS_PER_BLOCK + " and k of " + COLUMNS + ", found " + NativeKernels.describe(q));
        long n = q.size(0);
        long k = q.size(1);
        return q.view(n / ROWS_PER_BLOCK, ROWS_PER_BLOCK, k / COLUMNS, COLUMNS)   // [n/4, 4, k/8, 8]
                .permute(0, 2, 1, 3).contiguous();                                   // [n/4, k/8, 4, 8]
    }

    /**
     * The plain {@code [n, k]} matrix of a {@link #pack}ed weight (for the dequantized weight of a layer).
     *
     * @param packed {@code [n / 4, k / 8, 4, 8]} int8
     * @return {@code [n, k]} int8, contiguous, in the caller's scope
     */
    public static Tensor unpack(Tensor packed) {
        long n = packed.size(0) * ROWS_PER_BLOCK;
        long k = packed.size(1) * COLUMNS;
        return packed.permute(0, 2, 1, 3).contiguous().view(n, k);                  // [n/4, 4, k/8, 8] -> [n, k]
    }

    /**
     * {@code out = (x · qᵀ) * scale} per output column, as described above.
     *
     * @param x {@code [m, k]} float32, contiguous
     * @param q {@code [n / 4, k / 8, 4, 8]} int8, contiguous: {@link #pack}'s layout
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
        NativeKernels.require(NAME, q.dim() == 4 && q.size(2) == ROWS_PER_BLOCK && q.size(3) == COLUMNS
                && q.is_contiguous() && Tensors.dtype(q) == ScalarType.Char, () ->
                "q must be [n / 4, k / 8, 4, 8] int8 contiguous (NativeInt8Kernel.pack), found "
                + NativeKernels.describe(q));
        long n = q.size(0) * ROWS_PER_BLOCK;
        long k = q.size(1) * COLUMNS;
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
