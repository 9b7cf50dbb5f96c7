package io.github.phi3v.core.model;

import java.util.List;

import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

import io.github.phi3v.core.runtime.NativeInt4Kernel;

/**
 * One int4 weight in the layout of the kernel that multiplies it, for {@link Int4Linear}: the project's
 * native kernel ({@link NativeInt4Weight}) where {@link NativeInt4Kernel#available() it runs} (AVX-512 VNNI,
 * or its AVX2 twin), else ATen's ({@link AtenInt4Kernel}). Both compute {@code x · ((q - 8) * scale + zero)ᵀ} from the same stored levels,
 * scales and zeros; they differ in how the activations enter the products (see each class).
 */
sealed interface Int4Kernel permits AtenInt4Kernel, NativeInt4Weight {

    /** Which kernel an {@link Int4Linear} is built for. */
    enum Choice {
        /** ATen's {@code _weight_int4pack_mm_for_cpu}. */
        ATEN,
        /** {@link NativeInt4Kernel#mm}. */
        NATIVE;

        /**
         * The native kernel for bf16 activations where it runs, else ATen's. A float32 model keeps ATen's
         * kernel where ATen multiplies float32 activations (CPUs with AVX-512): its float products are exact,
         * where the native kernel's 16-bit rounding of the activations (below a bf16 ulp, far above a float32
         * one) would be the largest error after the weights' own. On CPUs without AVX-512 ATen's kernel takes
         * bf16 activations ({@link io.github.phi3v.core.runtime.AtenOps#weightOnlyActivationType}), coarser than
         * the native kernel's rounding, so there the native kernel (its AVX2 twin) takes both dtypes.
         *
         * @param outType the model dtype
         */
        static Choice preferred(ScalarType outType) {
            return NativeInt4Kernel.takes(outType) ? NATIVE : ATEN;
        }
    }

    /**
     * @param x {@code [n, in]} contiguous, in the layer's output dtype
     * @return {@code [n, out]} in that dtype, in the caller's scope
     */
    Tensor mm(Tensor x);

    /**
     * Writes rows {@code [firstRow, firstRow + out.size(0))} of the dequantized weight {@code (q - 8) * scale
     * + zero}, computed in float32 and rounded once to {@code out}'s dtype: the same values whichever kernel
     * holds the weight.
     *
     * @param firstRow the first row: a multiple of 16 for the native kernel (its layout's blocks), any for ATen's
     * @param out {@code [rows, in]} bf16 or float32, contiguous; overwritten
     */
    void dequantize(long firstRow, Tensor out);

    /**
     * Input rows up to which {@link #mm} is faster than a prompt's path ({@link #promptMm} where the kernel has
     * one, else the product with the dequantized weight; {@link Int4Linear#path}), as measured by
     * {@code Int4PrefillProbe} for this kernel.
     */
    long maxKernelRows();

    /**
     * Whether {@link #promptMm} runs here: a kernel made for more rows than {@link #maxKernelRows()}, faster there
     * than the product with the dequantized weight.
     */
    boolean hasPromptKernel();

    /**
     * The product of a prompt's many rows on the prompt kernel, which may round the activations more coarsely
     * than {@link #mm} (see the implementing class).
     *
     * @param x {@code [n, in]} contiguous, in the layer's output dtype
     * @return {@code [n, out]} in that dtype, in the caller's scope
     * @throws UnsupportedOperationException if not {@link #hasPromptKernel()}
     */
    Tensor promptMm(Tensor x);

    /** The weight's own tensors, for the layer's owner. */
    List<Pointer> resources();

    /** Bytes one single-row {@link #mm} streams. */
    long streamedBytes();

    /**
     * Builds the kernel's weight from the stored form (not modified; the caller keeps ownership).
     *
     * @param s nibbles, scales and zeros
     * @param outType the model dtype: activations and output
     * @param choice which kernel
     * @return the weight, its tensors in the caller's scope
     * @throws IllegalArgumentException if the scales or zeros do not follow {@code Int4ScaleCodes}' rule (checked for
     *     either kernel, so that a weight loads on every CPU or on none)
     */
    static Int4Kernel of(Int4Linear.Stored s, ScalarType outType, Choice choice) {
        if (choice == Choice.NATIVE) {
            return NativeInt4Weight.of(s);                      // its packing encodes the codes, checking them
        }
        s.checkCodes();
        return AtenInt4Kernel.of(s, outType);
    }
}
