package io.github.phi3v.core.model;

import java.util.List;

import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import io.github.phi3v.core.runtime.Tensors;

/**
 * An int8 weight for libtorch's fbgemm kernel {@code fbgemm_linear_int8_weight_fp32_activation} (the only int8
 * CPU GEMM that JavaCPP exposes; deprecated in PyTorch but present in 2.10), used where its products are exact
 * (AVX-512 VNNI). That kernel quantizes the activations per tensor to uint8 on the fly and takes one weight
 * scale, so it runs with scale 1 and the per-channel scales are applied to its float32 output; a call of several
 * rows has each row scaled to its own range first ({@link #mm}). Besides the weight rounding (≤ 0.4 % of each
 * row's largest weight), the uint8 activations add relative error: 0.85 % median per linear together on the
 * golden model. fbgemm computes from its packed copy and reads only the shape of its weight argument, so the plain
 * int8 matrix is dropped: the layer's zero-stride {@code [out, in]} stand-in is passed instead.
 *
 * @param shapeOnly the layer's stand-in {@code [out, in]} weight, borrowed: the layer owns it
 * @param packed fbgemm's packing of {@code q}
 * @param colOffsets {@code [out]} int32: {@code Σ_k q[o, k]}
 * @param scales {@code [out]} float32
 * @param zeroBias {@code [out]} float32 zeros
 * @param one the scalar 1 (weight scale)
 * @param zero the scalar 0 (weight zero point)
 * @param outType the layer's output dtype
 */
record FbgemmInt8Kernel(Tensor shapeOnly, Tensor packed, Tensor colOffsets, Tensor scales, Tensor zeroBias,
        Scalar one, Scalar zero, ScalarType outType) implements Int8Kernel {

    static FbgemmInt8Kernel of(Int8Linear.Stored s, Tensor shapeOnly, ScalarType outType) {
        try (ScalarTypeOptional int32 = new ScalarTypeOptional(ScalarType.Int);
             TensorOptions f32 = new TensorOptions(ScalarType.Float)) {
            Tensor q = s.q();
            // fbgemm's column offsets: per output channel, sum_k q[o, k] - zero_point · in (zero_point 0),
            // summed straight into int32 (exact: |sum| <= 127 · in): no int32 copy of the whole matrix.
            Tensor offsets = torch.sum(q, new long[] {1}, false, int32).contiguous();   // [out]
            Tensor packed = torch.fbgemm_pack_quantized_matrix(q.contiguous());
            Tensor scaleRow = s.scale().to(ScalarType.Float).contiguous();       // [out]
            Tensor bias = torch.zeros(new long[] {q.size(0)}, f32);
            return new FbgemmInt8Kernel(shapeOnly, packed, offsets, scaleRow, bias, new Scalar(1.0), new Scalar(0L),
                    outType);
        }
    }

    /**
     * {@code x · (q · scale)ᵀ}. fbgemm quantizes its whole input with one range, so a prompt's rows of small values
     * would share the step of its largest: rows are divided by their largest magnitude first and the outputs
     * multiplied back (exact apart from two float32 roundings), so each row is quantized about as finely as alone.
     * On the golden model the median relative error of a prompt's int8 linear went from 1.04 % to 0.85 % (one row
     * per call, as a decode step runs and which is left as it is, gives 0.81 %; docs/benchmarks.md, "int8 prompts
     * quantized per row").
     */
    @Override
    public Tensor mm(Tensor x) {
        boolean copied = Tensors.dtype(x) != ScalarType.Float;
        Tensor xf = copied ? x.to(ScalarType.Float) : x;
        Tensor rowMax = null;
        if (xf.size(0) > 1) {
            try (Scalar tiny = new Scalar(Float.MIN_NORMAL)) {
                rowMax = torch.clamp_min(torch.amax(torch.abs(xf), new long[] {1}, true), tiny);   // [n, 1]
            }
            // Rows within [-1, 1]: in place on our own float32 copy, never on the caller's tensor.
            xf = copied ? xf.div_(rowMax) : xf.div(rowMax);
        }
        Tensor y = torch.fbgemm_linear_int8_weight_fp32_activation(xf.contiguous(), shapeOnly, packed, colOffsets,
                one, zero, zeroBias);                                             // [n, out] float32, unscaled
        y.mul_(scales);                                                           // in place: per output channel
        if (rowMax != null) {
            y.mul_(rowMax);                                                       // per row
        }
        return outType == ScalarType.Float ? y : y.to(outType);
    }

    @Override
    public Tensor dequantized(ScalarType type) {
        throw new IllegalStateException("an fbgemm int8 layer keeps only fbgemm's packed matrix");
    }

    @Override
    public List<Pointer> resources() {
        return List.of(packed, colOffsets, scales, zeroBias, one, zero);
    }

    /** The int8 weights and the float32 scales. */
    @Override
    public long streamedBytes() {
        return shapeOnly.size(0) * shapeOnly.size(1) + 4 * shapeOnly.size(0);
    }
}
