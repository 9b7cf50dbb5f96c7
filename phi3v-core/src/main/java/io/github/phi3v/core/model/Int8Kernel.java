package io.github.phi3v.core.model;

import java.util.List;

import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

import io.github.phi3v.core.runtime.CpuFeatures;
import io.github.phi3v.core.runtime.NativeInt8Kernel;

/**
 * One int8 weight in the layout of the kernel that multiplies it, for {@link Int8Linear}: fbgemm's
 * ({@link FbgemmInt8Kernel}) where its products are exact, else the project's AVX2 kernel
 * ({@link NativeInt8Weight}), else ATen's ({@link AtenInt8Kernel}). All compute {@code x · (q · scale)ᵀ} from the
 * same stored int8 matrix and float32 scales; they differ in how the activations enter the products.
 */
sealed interface Int8Kernel permits AtenInt8Kernel, FbgemmInt8Kernel, NativeInt8Weight {

    /** Which kernel an {@link Int8Linear} is built for. */
    enum Choice {
        /** fbgemm's int8 GEMM on per-tensor uint8 activations: exact only with AVX-512 VNNI. */
        FBGEMM,
        /** {@link NativeInt8Kernel}: float32 activations, AVX2. */
        NATIVE,
        /** ATen's {@code _weight_int8pack_mm} on 16-bit activations. */
        ATEN;

        /**
         * fbgemm where its products are exact ({@link CpuFeatures#exactFbgemmInt8()}), else the native kernel
         * where it runs, else ATen's.
         */
        static Choice preferred() {
            if (CpuFeatures.exactFbgemmInt8()) {
                return FBGEMM;
            }
            return NativeInt8Kernel.available() ? NATIVE : ATEN;
        }
    }

    /**
     * @param x {@code [n, in]} in any float dtype
     * @return {@code [n, out]} in the layer's output dtype, in the caller's scope
     */
    Tensor mm(Tensor x);

    /**
     * Input rows up to which {@link #mm} is faster than a GEMM with the dequantized weight (a prompt's path,
     * {@link Int8Linear}), as measured by {@code Int8RowsProbe}: any for fbgemm (its GEMM serves prompts too)
     * and the native kernel (faster at every measured row count up to 512).
     */
    default long maxKernelRows() {
        return Long.MAX_VALUE;
    }

    /**
     * The weight the kernel computes with, {@code q * scale} in float32 rounded once to {@code type}.
     *
     * @throws IllegalStateException where the kernel keeps no readable copy of {@code q} (fbgemm)
     */
    Tensor dequantized(ScalarType type);

    /** The weight's own tensors, for the layer's owner. */
    List<Pointer> resources();

    /** Bytes one single-row {@link #mm} streams. */
    long streamedBytes();

    /**
     * Builds the kernel's weight from the stored form (not modified; the caller keeps ownership). The native
     * kernel reads blocks of 4 rows in vectors of 8 columns; other shapes (none in Phi-3) take ATen's.
     *
     * @param s the int8 matrix and its float32 scales
     * @param shapeOnly the layer's zero-stride {@code [out, in]} stand-in for the matrix (fbgemm's call takes a
     *     weight argument of that shape; the layer owns it)
     * @param outType the model dtype: {@link #mm}'s output
     * @param choice which kernel
     * @return the kernel's weight; its tensors belong to the caller's scope
     */
    static Int8Kernel of(Int8Linear.Stored s, Tensor shapeOnly, ScalarType outType, Choice choice) {
        return switch (choice) {
            case FBGEMM -> FbgemmInt8Kernel.of(s, shapeOnly, outType);
            case NATIVE -> NativeInt8Kernel.multiplies(s.q().size(0), s.q().size(1)) ? NativeInt8Weight.of(s, outType)
                    : AtenInt8Kernel.of(s, outType);
            case ATEN -> AtenInt8Kernel.of(s, outType);
        };
    }
}
