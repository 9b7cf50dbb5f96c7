package io.github.phi3v.core.runtime;

import java.util.List;

import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * The int4 weight-only linear of the project's native library ({@link NativeKernels}): the activations
 * rounded to 16-bit fixed point per group of 32 columns, multiplied with the 4-bit levels exactly in
 * integers, scaled per group in float32; with AVX-512 VNNI ({@code phi3v_kernels.c}: {@code vpdpbusd}, 1.1-1.3x
 * the speed of ATen's {@code _weight_int4pack_mm_for_cpu}, which converts every weight to float) where
 * {@link NativeKernels#available()}, else with its AVX2 twin ({@code phi3v_int4_avx2.c}), which computes the same
 * bits. A prompt's many rows run on the prompt kernel of the same packed weight ({@link #mmPrompt}, 8-bit
 * activations; likewise with AVX-512 VNNI or AVX2). And the dequantization of that weight (docs/architecture.md,
 * "Native kernels").
 *
 * <p>Thread-safe: no state between calls; each call allocates its own scratch; libtorch's thread count.
 */
public final class NativeInt4Kernel {

    /** Name of the kernel in the messages of its refusals. */
    private static final String NAME = "native int4 kernel";

    private NativeInt4Kernel() {
    }

    /**
     * Whether {@link #mm} and {@link #dequantize} run here: with the AVX-512 VNNI kernel where
     * {@link NativeKernels#available()}, else with its AVX2 twin ({@code phi3v_int4_avx2.c}: the same packed weight, the same
     * arithmetic, the same bits) where the library is loaded and {@code /proc/cpuinfo} lists AVX2 and FMA. Loads
     * the library at the first call.
     *
     * @return true if the int4 kernel runs on this machine
     */
    public static boolean available() {
        return runs(Instructions.AVX512_VNNI) || runs(Instructions.AVX2);
    }

    /**
     * The two builds of the kernel: the same packed weight, the same arithmetic, the same output bits. {@link #mm}
     * and {@link #dequantize} run the {@link #preferred} one; the others take one by name, so that a CPU with
     * AVX-512 VNNI, which runs both, can check the twin too (NativeInt4KernelTest).
     */
    public enum Instructions {
        /** {@code phi3v_kernels.c}: {@code vpdpbusd}, 64 byte products per instruction. */
        AVX512_VNNI,
        /** {@code phi3v_int4_avx2.c}: {@code vpmaddubsw} + {@code vpmaddwd}, for CPUs without AVX-512 VNNI. */
        AVX2
    }

    /**
     * Whether the kernel built for {@code isa} runs here: AVX-512 VNNI where {@link NativeKernels#available()}, AVX2
     * where the library is loaded and {@code /proc/cpuinfo} lists AVX2 and FMA (so also on every CPU with VNNI).
     *
     * @param isa the build
     * @return true if it runs on this machine
     */
    public static boolean runs(Instructions isa) {
        return switch (isa) {
            case AVX512_VNNI -> NativeKernels.available();
            case AVX2 -> NativeKernels.libraryLoaded() && CpuFeatures.has("avx2", "fma");
        };
    }

    /**
     * The build {@link #mm} and {@link #dequantize} run: AVX-512 VNNI where it runs (it is the faster), else AVX2.
     *
     * @return the preferred build
     * @throws IllegalStateException if the kernel is not {@link #available()}
     */
    public static Instructions preferred() {
        if (runs(Instructions.AVX512_VNNI)) {
            return Instructions.AVX512_VNNI;
        }
        if (runs(Instructions.AVX2)) {
            return Instructions.AVX2;
        }
        throw unavailable();
    }

    /**
     * An int4 weight in the native kernel's layout: output rows in blocks of 16 (the 16 lanes of one AVX-512
     * accumulator), per block and group of 32 columns the 16 rows' 16 nibble bytes interleaved by 4-byte
     * word, so one {@code vpdpbusd} multiplies 8 columns of 16 rows by one broadcast word of activations;
     * the scales and zeros as {@link Int4ScaleCodes} (one byte per group, one exponent per 8 groups), likewise 16
     * rows side by side. {@code out} is rounded up to 16 with zero rows.
     *
     * @param weights {@code [out16 / 16, in / 32, 4, 16, 4]} uint8
     * @param codes {@code [out16 / 16, in / 32, 32]} bytes: per group the 16 rows' scale codes (unsigned), then their
     *     zero codes (signed)
     * @param exponents {@code [out16 / 16, ceil(in / 256), 32]} signed bytes: per block of 8 groups the 16 rows'
     *     scale exponents, then their zero exponents
     * @param outFeatures output rows before rounding
     * @param inFeatures input columns
     */
    public record Weight(Tensor weights, Tensor codes, Tensor exponents, long outFeatures, long inFeatures) {

        /** The weight's tensors, for whoever owns them. */
        public List<Pointer> resources() {
            return List.of(weights, codes, exponents);
        }

        /** Bytes one single-row product streams: the packed nibbles, the codes and the exponents. */
        public long streamedBytes() {
            return packedBytes(outFeatures, inFeatures);
        }
    }

    /**
     * Bytes of a {@link Weight} of {@code [out, in]}, which a single-row product streams: per 16 output rows (out
     * rounded up) and 32 columns 256 bytes of nibbles and 32 of codes, and per 16 rows and run of 8 groups 32 bytes
     * of exponents (4.56 bits per weight).
     *
     * @param outFeatures output rows
     * @param inFeatures input columns, a multiple of 32
     * @return bytes
     */
    public static long packedBytes(long outFeatures, long inFeatures) {
        long blocks = (outFeatures + 15) / 16;
        long groups = inFeatures / 32;
        return blocks * (groups * (256 + 32) + Int4ScaleCodes.blocks(Math.toIntExact(groups)) * 32L);
    }

    /**
     * Whether a model of this dtype runs its int4 linears on this kernel (else on ATen's): bf16 models where the
     * AVX-512 VNNI build runs; where only the AVX2 build runs, every model (the reasons in {@code Int4Kernel}).
     *
     * @param modelType the model dtype
     * @return true for this kernel
     */
    public static boolean takes(ScalarType modelType) {
        if (NativeKernels.available()) {
            return modelType == ScalarType.BFloat16;
        }
        return available();
    }

    /**
     * Rearranges an int4 weight from {@code Int4Linear}'s stored layout into {@link Weight}'s. Pure
     * libtorch and Java (works without the native library); the results are registered in the caller's scope.
     *
     * @param nibbles {@code [out, in / 2]} uint8: column {@code 2j} in the low nibble of byte {@code j}
     * @param scale {@code [out, in / 32]} bf16, following {@link Int4ScaleCodes}' rule
     * @param zero {@code [out, in / 32]} bf16, likewise; {@code w = (q - 8) * scale + zero}
     * @return the packed weight
     * @throws IllegalArgumentException if a scale or zero does not follow {@link Int4ScaleCodes}' rule
     */
    public static Weight pack(Tensor nibbles, Tensor scale, Tensor zero) {
        long out = nibbles.size(0);
        long in = nibbles.size(1) * 2;
        long groups = in / 32;
        long pad = (16 - out % 16) % 16;
        long blocks = (out + pad) / 16;
        int rows = Math.toIntExact(out);
        int g = Math.toIntExact(groups);
        Int4ScaleCodes.Encoded s = Int4ScaleCodes.encode(Tensors.toFloats(scale), rows, g, true, "int4 scales");
        Int4ScaleCodes.Encoded z = Int4ScaleCodes.encode(Tensors.toFloats(zero), rows, g, false, "int4 zeros");
        long codeBlocks = Int4ScaleCodes.blocks(g);
        Tensor w = padRows(nibbles, pad)                                     // [out16, in/2]
                .view(blocks, 16, groups, 4, 4)                               // [nb, lane, g, word, byte]
                .permute(0, 2, 3, 1, 4).contiguous();                         // [nb, g, word, lane, byte]
        // cat writes a new contiguous tensor: per group (per run of 8 groups) the scales' 16 lanes, then the zeros'.
        Tensor codes = torch.cat(new TensorVector(lanes(s.codes(), out, groups, pad),
                lanes(z.codes(), out, groups, pad)), 2);                      // [nb, g, 32]
        Tensor exponents = torch.cat(new TensorVector(lanes(s.exponents(), out, codeBlocks, pad),
                lanes(z.exponents(), out, codeBlocks, pad)), 2);              // [nb, codeBlocks, 32]
        return new Weight(w, codes, exponents, out, in);
    }

    /** {@code bytes [rows, cols]} padded with zero rows to 16 per block, as {@code [rows16 / 16, cols, 16]}. */
    private static Tensor lanes(byte[] bytes, long rows, long cols, long pad) {
        Tensor t = Tensors.empty(ScalarType.Byte, rows, cols);
        if (bytes.length > 0) {
            t.data_ptr_byte().put(bytes);
        }
        return padRows(t, pad).view((rows + pad) / 16, 16, cols).permute(0, 2, 1);      // [nb, cols, lane]
    }

    /** {@code t [rows, cols]} followed by {@code pad} zero rows. */
    private static Tensor padRows(Tensor t, long pad) {
        if (pad == 0) {
            return t.contiguous();
        }
        try (TensorOptions opts = new TensorOptions(Tensors.dtype(t))) {
            Tensor zeros = torch.zeros(new long[] {pad, t.size(1)}, opts);
            return torch.cat(new TensorVector(t, zeros), 0);
        }
    }

    /**
     * {@code out = x · wᵀ} for a {@link #pack packed} int4 weight. The activations are rounded to 16-bit
     * fixed point per group of 32 columns (scale {@code max |x| / 32639}), the products summed exactly in
     * int32 and scaled per group in float32; the zeros multiply the float32 sum of each group's activations.
     *
     * @param x {@code [m, in]} bf16 or float32, contiguous
     * @param w the weight
     * @param out {@code [m, out]} of {@code x}'s dtype, contiguous; overwritten
     * @throws IllegalArgumentException if a shape, dtype or layout does not match
     * @throws OutOfMemoryError if the kernel's scratch memory cannot be allocated
     * @throws IllegalStateException if the kernel is not {@link #available()}
     */
    public static void mm(Tensor x, Weight w, Tensor out) {
        product(x, w, out, preferred(), false);
    }

    /**
     * {@link #mm(Tensor, Weight, Tensor)} on the build given (the same bits on either).
     *
     * @param x {@code [m, in]} bf16 or float32, contiguous
     * @param w the weight
     * @param out {@code [m, out]} of {@code x}'s dtype, contiguous; overwritten
     * @param isa the build
     * @throws IllegalArgumentException if a shape, dtype or layout does not match
     * @throws OutOfMemoryError if the kernel's scratch memory cannot be allocated
     * @throws IllegalStateException if that build does not {@link #runs run} here
     */
    public static void mm(Tensor x, Weight w, Tensor out, Instructions isa) {
        requireRuns(isa);
        product(x, w, out, isa, false);
    }

    /**
     * {@link #mm} or, if {@code prompt}, {@link #mmPrompt} on a build known to run here (checked once per call, by
     * the caller).
     */
    private static void product(Tensor x, Weight w, Tensor out, Instructions isa, boolean prompt) {
        long m = checkProduct(x, w, out);
        if (m == 0) {
            return;
        }
        long xp = x.data_ptr().address();
        long wp = w.weights().data_ptr().address();
        long cp = w.codes().data_ptr().address();
        long ep = w.exponents().data_ptr().address();
        long op = out.data_ptr().address();
        boolean bf16 = Tensors.dtype(x) == ScalarType.BFloat16;
        long n = w.outFeatures();
        long k = w.inFeatures();
        int threads = TorchRuntime.threads();
        boolean vnni = isa == Instructions.AVX512_VNNI;
        int rc = prompt
                ? (vnni ? int4MmPrompt(xp, wp, cp, ep, op, m, n, k, bf16, threads)
                        : int4MmPromptAvx2(xp, wp, cp, ep, op, m, n, k, bf16, threads))
                : (vnni ? int4Mm(xp, wp, cp, ep, op, m, n, k, bf16, threads)
                        : int4MmAvx2(xp, wp, cp, ep, op, m, n, k, bf16, threads));
        if (rc != 0) {
            throw new OutOfMemoryError("native int4 " + (prompt ? "prompt " : "") + "kernel: no scratch memory for "
                    + m + " rows of " + k);
        }
    }

    /**
     * {@code out = x · wᵀ} for a prompt's many rows ({@code phi3v_int4_prompt.c}): the activations rounded to
     * 8 bits per group of 32 columns (scale {@code max |x| / 127}, so each moves by at most {@code max |x| / 254}
     * of its group), multiplied with the levels exactly in int32 with one {@code vpdpbusd} per weight byte, scaled
     * per group in float32; the zeros multiply the float32 sum of the unrounded activations. Twice the products
     * per instruction of {@link #mm}, whose 16-bit rounding needs two; the weights unpacked once per 12 rows.
     *
     * @param x {@code [m, in]} bf16 or float32, contiguous
     * @param w the weight
     * @param out {@code [m, out]} of {@code x}'s dtype, contiguous; overwritten
     * @throws IllegalArgumentException if a shape, dtype or layout does not match
     * @throws OutOfMemoryError if the kernel's scratch memory cannot be allocated
     * @throws IllegalStateException if the kernel is not {@link #available()}
     */
    public static void mmPrompt(Tensor x, Weight w, Tensor out) {
        product(x, w, out, preferred(), true);
    }

    /**
     * {@link #mmPrompt(Tensor, Weight, Tensor)} on the build given (the same bits on either: {@code
     * phi3v_int4_prompt.c} with AVX-512 VNNI, {@code phi3v_int4_prompt_avx2.c} with AVX2).
     *
     * @param x {@code [m, in]} bf16 or float32, contiguous
     * @param w the weight
     * @param out {@code [m, out]} of {@code x}'s dtype, contiguous; overwritten
     * @param isa the build
     * @throws IllegalArgumentException if a shape, dtype or layout does not match
     * @throws OutOfMemoryError if the kernel's scratch memory cannot be allocated
     * @throws IllegalStateException if that build does not {@link #runs run} here
     */
    public static void mmPrompt(Tensor x, Weight w, Tensor out, Instructions isa) {
        requireRuns(isa);
        product(x, w, out, isa, true);
    }

    /** Checks the operands of a product with {@code w}; returns the rows of {@code x}. */
    private static long checkProduct(Tensor x, Weight w, Tensor out) {
        ScalarType xt = Tensors.dtype(x);
        long k = w.inFeatures();
        long n = w.outFeatures();
        NativeKernels.require(NAME, xt == ScalarType.BFloat16 || xt == ScalarType.Float,
                () -> "x must be bf16 or float32, found " + xt);
        NativeKernels.require(NAME, x.dim() == 2 && x.size(1) == k, () -> "x must be [rows, " + k + "], found "
                + java.util.Arrays.toString(Tensors.shape(x)));
        NativeKernels.require(NAME, x.is_contiguous(), () -> "x must be contiguous");
        long m = x.size(0);
        NativeKernels.require(NAME, out.dim() == 2 && out.size(0) == m && out.size(1) == n
                && Tensors.dtype(out) == xt, () ->
                "out must be [" + m + ", " + n + "] of x's dtype " + xt + ", found " + Tensors.dtype(out) + " "
                + java.util.Arrays.toString(Tensors.shape(out)));
        NativeKernels.require(NAME, out.is_contiguous(), () -> "out must be contiguous");
        return m;
    }

    /**
     * Writes rows {@code [firstRow, firstRow + out.size(0))} of the dequantized weight {@code (q - 8) * scale +
     * zero} of a {@link #pack packed} int4 weight: exactly what dequantizing the stored form with libtorch's
     * float32 operations and copying to {@code out}'s dtype gives (the product is exact in float32, the sum
     * rounds once, the copy to bf16 to nearest even). What a product with the dequantized weight multiplies
     * ({@code Int4Linear}'s dequantized path, for probes and tests).
     *
     * @param w the weight
     * @param firstRow the first output row, a multiple of 16 (the layout's blocks)
     * @param out {@code [rows, in]} bf16 or float32, contiguous, {@code firstRow + rows <= out features};
     *     overwritten
     * @throws IllegalArgumentException if {@code firstRow} or {@code out}'s shape, dtype or layout does not match
     * @throws IllegalStateException if the kernel is not {@link #available()}
     */
    public static void dequantize(Weight w, long firstRow, Tensor out) {
        dequantizeOn(w, firstRow, out, preferred());
    }

    /**
     * {@link #dequantize(Weight, long, Tensor)} on the build given (the same bits on either).
     *
     * @param w the weight
     * @param firstRow the first output row, a multiple of 16
     * @param out {@code [rows, in]} bf16 or float32, contiguous, {@code firstRow + rows <= out features};
     *     overwritten
     * @param isa the build
     * @throws IllegalArgumentException if {@code firstRow} or {@code out}'s shape, dtype or layout does not match
     * @throws IllegalStateException if that build does not {@link #runs run} here
     */
    public static void dequantize(Weight w, long firstRow, Tensor out, Instructions isa) {
        requireRuns(isa);
        dequantizeOn(w, firstRow, out, isa);
    }

    /** {@link #dequantize} on a build known to run here (checked once per call, by the caller). */
    private static void dequantizeOn(Weight w, long firstRow, Tensor out, Instructions isa) {
        ScalarType ot = Tensors.dtype(out);
        NativeKernels.require(NAME, ot == ScalarType.BFloat16 || ot == ScalarType.Float,
                () -> "out must be bf16 or float32, found " + ot);
        NativeKernels.require(NAME, firstRow >= 0 && firstRow % 16 == 0, () ->
                "firstRow must be a non-negative multiple of 16, got " + firstRow);
        NativeKernels.require(NAME, out.dim() == 2 && out.size(1) == w.inFeatures()
                && firstRow + out.size(0) <= w.outFeatures(),
                () ->
                "out must be [rows, " + w.inFeatures() + "] with " + firstRow + " + rows <= " + w.outFeatures()
                + ", found " + java.util.Arrays.toString(Tensors.shape(out)));
        NativeKernels.require(NAME, out.is_contiguous(), () -> "out must be contiguous");
        long wp = w.weights().data_ptr().address();
        long cp = w.codes().data_ptr().address();
        long ep = w.exponents().data_ptr().address();
        long op = out.data_ptr().address();
        boolean bf16 = ot == ScalarType.BFloat16;
        if (isa == Instructions.AVX512_VNNI) {
            int4Dequantize(wp, cp, ep, op, firstRow, out.size(0), w.inFeatures(), bf16, TorchRuntime.threads());
        } else {
            int4DequantizeAvx2(wp, cp, ep, op, firstRow, out.size(0), w.inFeatures(), bf16, TorchRuntime.threads());
        }
    }

    private static IllegalStateException unavailable() {
        return new IllegalStateException("native int4 kernel unavailable: " + (NativeKernels.libraryLoaded()
                ? "this CPU lacks AVX2 and FMA" : NativeKernels.unavailableReason()));
    }

    private static void requireRuns(Instructions isa) {
        if (!runs(isa)) {
            // preferred() throws the kernel's own reason when no build runs here.
            throw new IllegalStateException("the native int4 kernel's " + isa + " build does not run here: "
                    + NativeKernels.unavailableReason() + "; use " + preferred());
        }
    }

    private static native int int4MmPrompt(long x, long weights, long codes, long exponents, long out, long m, long n,
            long k, boolean bf16, int threads);

    /** {@link #int4MmPrompt(long, long, long, long, long, long, long, long, boolean, int)} with AVX2 only. */
    private static native int int4MmPromptAvx2(long x, long weights, long codes, long exponents, long out, long m,
            long n, long k, boolean bf16, int threads);

    private static native int int4Mm(long x, long weights, long codes, long exponents, long out, long m, long n, long k,
            boolean bf16, int threads);

    /** {@link #int4Mm(long, long, long, long, long, long, long, long, boolean, int)} with AVX2 only. */
    private static native int int4MmAvx2(long x, long weights, long codes, long exponents, long out, long m, long n,
            long k, boolean bf16, int threads);

    /** {@link #int4Dequantize(long, long, long, long, long, long, long, boolean, int)} with AVX2 only. */
    private static native void int4DequantizeAvx2(long weights, long codes, long exponents, long out, long firstRow,
            long rows, long k, boolean bf16, int threads);

    private static native void int4Dequantize(long weights, long codes, long exponents, long out, long firstRow,
            long rows, long k, boolean bf16, int threads);
}
