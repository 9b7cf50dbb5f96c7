package io.github.phi3v.core.model;

import java.util.List;

import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

import io.github.phi3v.core.runtime.NativeInt8Kernel;
import io.github.phi3v.core.runtime.Tensors;

/**
 * An int8 weight for the project's AVX2 kernel ({@link NativeInt8Kernel}), on x86-64 CPUs without AVX-512
 * VNNI: float32 activations, products and sums, the weight interleaved by blocks of 4 rows at load
 * ({@link NativeInt8Kernel#pack}) so that each thread reads one stream. It beats a GEMM on the dequantized
 * weight at every measured row count up to 512 ({@code Int8RowsProbe}), so it takes every call.
 *
 * @param packed {@code [out / 4, in / 8, 4, 8]} int8
 * @param scales {@code [out]} float32
 * @param outType the layer's output dtype
 */
record NativeInt8Weight(Tensor packed, Tensor scales, ScalarType outType) implements Int8Kernel {

    static NativeInt8Weight of(Int8Linear.Stored s, ScalarType outType) {
        Tensor packed = NativeInt8Kernel.pack(s.q());                           // [out/4, in/8, 4, 8]
        Tensor scaleRow = s.scale().to(ScalarType.Float).contiguous();           // [out]
        return new NativeInt8Weight(packed, scaleRow, outType);
    }

    @Override
    public Tensor mm(Tensor x) {
        Tensor xf = Tensors.dtype(x) == ScalarType.Float ? x : x.to(ScalarType.Float);
        Tensor y = Tensors.empty(ScalarType.Float, x.size(0), scales.size(0));                  // [n, out]
        NativeInt8Kernel.mm(xf.contiguous(), packed, scales, y);
        return outType == ScalarType.Float ? y : y.to(outType);
    }

    @Override
    public Tensor dequantized(ScalarType type) {
        Tensor w = NativeInt8Kernel.unpack(packed).to(ScalarType.Float)
                .mul_(scales.view(-1, 1));                                                      // [out, in]
        return type == ScalarType.Float ? w : w.to(type);
    }

    @Override
    public List<Pointer> resources() {
        return List.of(packed, scales);
    }

    /** The int8 weights and the float32 scales. */
    @Override
    public long streamedBytes() {
        return packed.numel() + 4 * scales.size(0);
    }
}
