package io.github.phi3v.core.model;

import java.util.List;

import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarOptional;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import io.github.phi3v.core.runtime.InferenceScope;
import io.github.phi3v.core.runtime.Tensors;

/**
 * A weight-only int8 {@code nn.Linear} (no bias) for {@link Quantization#INT8}: symmetric per-output-channel
 * quantization {@code q[o, k] = round(w[o, k] / s[o])}, {@code s[o] = max_k |w[o, k]| / 127}, applied with
 * libtorch's fbgemm kernel {@code fbgemm_linear_int8_weight_fp32_activation} (the only int8 CPU GEMM that
 * JavaCPP exposes; deprecated in PyTorch but present in 2.10). That kernel quantizes the activations per
 * tensor to uint8 on the fly and takes one weight scale, so it runs with scale 1 and the per-channel scales
 * are applied to its float32 output. The result is converted to the model dtype, like
 * {@link Modules.Linear}'s. Decode reads one byte per weight instead of two (bf16), and fbgemm's int8 GEMV
 * streams faster than the bf16 {@code linear} on CPUs without AMX.
 *
 * <p>Numerics: besides the weight rounding (≤ 0.4 % of each row's largest weight), the per-tensor uint8
 * activation quantization adds ~1.5 % relative error per layer; see the int8 tests for the effect on
 * greedy tokens.
 */
final class Int8Linear extends Modules.Linear {

    private final Tensor packed;
    private final Tensor colOffsets;
    private final Tensor scales;
    private final Tensor zeroBias;
    private final Scalar one;
    private final Scalar zero;
    private final ScalarType outType;

    private Int8Linear(Tensor q, Tensor packed, Tensor colOffsets, Tensor scales, Tensor zeroBias, Scalar one,
            Scalar zero, ScalarType outType) {
        super(q, null);
        this.packed = packed;
        this.colOffsets = colOffsets;
        this.scales = scales;
        this.zeroBias = zeroBias;
        this.one = one;
        this.zero = zero;
        this.outType = outType;
    }

    /**
     * Reads a {@code [out, in]} weight from the checkpoint and quantizes it; the full-precision copy is
     * freed before returning, so loading needs only one matrix in float32 at a time.
     *
     * @param w the loader (owns the int8 tensors)
     * @param name the checkpoint name of the weight
     * @return the quantized layer
     */
    static Int8Linear load(WeightLoader w, String name) {
        try (InferenceScope scope = InferenceScope.open()) {
            Int8Linear layer = quantize(w.loadTemporary(name, ScalarType.Float), name, w.dtype());
            layer.resources().forEach(w::own);
            return layer;
        }
    }

    /**
     * Quantizes a float32 {@code [out, in]} weight, overwriting it. The layer's tensors are not owned by any
     * scope: the caller owns {@link #resources()} and closes them after the last {@link #apply}.
     *
     * @param f the float32 weight (a temporary: divided, rounded and clamped in place)
     * @param name what the weight is, for error messages
     * @param outType the dtype {@link #apply} returns (the model dtype)
     * @return the quantized layer
     */
    static Int8Linear quantize(Tensor f, String name, ScalarType outType) {
        try (InferenceScope scope = InferenceScope.open();
             ScalarTypeOptional keepType = new ScalarTypeOptional();
             Scalar s127 = new Scalar(127.0);
             Scalar tiny = new Scalar(1e-12);
             ScalarOptional lo = new ScalarOptional(new Scalar(-127.0));
             ScalarOptional hi = new ScalarOptional(new Scalar(127.0))) {
            if (f.dim() != 2) {
                throw new IllegalArgumentException(name + ": int8 quantization expects a 2-D [out, in] weight, found "
                        + f.dim() + " dimensions");
            }
            Tensor amax = torch.amax(torch.abs(f), new long[] {1}, true);        // [out, 1]
            // An all-zero row keeps a tiny scale > 0 (its q is 0 anyway), never a division by zero.
            Tensor scale = torch.div(torch.clamp_min(amax, tiny), s127);          // [out, 1]
            // In place on the float32 copy: each full-size temporary costs ~0.2 s of page faults here.
            f.div_(scale).round_().clamp_(lo, hi);                                // receiver returned, not closed
            Tensor q = f.to(ScalarType.Char).contiguous();                       // [out, in]
            // fbgemm's column offsets: per output channel, sum_k q[o, k] - zero_point · in (zero_point 0).
            Tensor offsets = torch.sum(q.to(ScalarType.Int), new long[] {1}, false, keepType)
                    .to(ScalarType.Int).contiguous();                          // [out]
            Tensor packedQ = torch.fbgemm_pack_quantized_matrix(q);
            Tensor scaleRow = scale.view(-1).contiguous();                       // [out]
            Tensor bias;
            Tensor shapeOnly;
            try (TensorOptions f32 = new TensorOptions(ScalarType.Float);
                 TensorOptions i8 = new TensorOptions(ScalarType.Char)) {
                bias = torch.zeros(new long[] {q.size(0)}, f32);
                // fbgemm computes from the packed copy and reads only the shape of its weight argument, so
                // the plain int8 matrix is dropped (it would double the int8 weights' memory): a zero-stride
                // [out, in] view of one byte stands in for it.
                shapeOnly = torch.zeros(new long[] {1, 1}, i8).expand(q.size(0), q.size(1));
            }
            Scalar one = new Scalar(1.0);
            Scalar zero = new Scalar(0L);
            // Kept only after the last allocation: if one of them fails, the scope frees everything made above.
            return new Int8Linear(scope.keep(shapeOnly), scope.keep(packedQ), scope.keep(offsets),
                    scope.keep(scaleRow), scope.keep(bias), scope.keep(one), scope.keep(zero), outType);
        }
    }

    /** The native objects this layer holds; whoever created the layer closes them. */
    List<Pointer> resources() {
        return List.of(weight, packed, colOffsets, scales, zeroBias, one, zero);
    }

    /** Bytes one {@link #apply} of a single row streams: the int8 weights and the float32 scales. */
    long streamedBytes() {
        return weight.size(0) * weight.size(1) + 4 * weight.size(0);
    }

    /** {@code [n, in] -> [n, out]} in the model dtype. */
    @Override
    Tensor apply(Tensor x) {
        Tensor xf = Tensors.dtype(x) == ScalarType.Float ? x : x.to(ScalarType.Float);
        Tensor y = torch.fbgemm_linear_int8_weight_fp32_activation(xf.contiguous(), weight, packed, colOffsets, one,
                zero, zeroBias);                                                  // [n, out] float32, unscaled
        y.mul_(scales);                                                           // in place: per output channel
        return outType == ScalarType.Float ? y : y.to(outType);
    }
}
