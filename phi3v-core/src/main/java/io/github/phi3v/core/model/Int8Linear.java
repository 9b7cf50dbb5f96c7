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
final class Int8Linear extends Modules.Linear implements QuantizedLinear {

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
     * The stored form of one int8 linear (the checkpoint layout of a pre-quantized folder). A carrier: the
     * tensors belong to whoever made them; {@link #toStored} hands them to its caller, who closes them.
     *
     * @param q {@code [out, in]} int8 in -127..127
     * @param scale {@code [out]} float32, positive: {@code w[o, k] = q[o, k] * scale[o]}
     */
    record Stored(Tensor q, Tensor scale) implements AutoCloseable {

        /** Releases the caller's reference to both tensors (what {@link #toStored} handed over). */
        @Override
        public void close() {
            q.close();
            scale.close();
        }
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

    /** Reads the stored form of a pre-quantized checkpoint (validated by {@link QuantizedCheckpoint}). */
    static Int8Linear loadStored(WeightLoader w, String name) {
        try (InferenceScope scope = InferenceScope.open()) {
            Stored s = new Stored(w.loadTemporary(name, ScalarType.Char),
                    w.loadTemporary(name + QuantizedCheckpoint.SCALE_SUFFIX, ScalarType.Float));
            Int8Linear layer = fromStored(s, w.dtype());
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
        // The stored form is only a step here: freed once the packed layer exists, also when packing fails.
        try (Stored s = toStored(f, name)) {
            return fromStored(s, outType);
        }
    }

    /**
     * Quantizes a float32 {@code [out, in]} weight into the stored form, overwriting it. The two tensors
     * outlive every scope (they may be made inside the caller's): the caller closes them
     * ({@link Stored#close}).
     *
     * @param f the float32 weight (a temporary: divided, rounded and clamped in place)
     * @param name what the weight is, for error messages
     * @return the int8 matrix and its scales, owned by the caller
     */
    static Stored toStored(Tensor f, String name) {
        try (InferenceScope scope = InferenceScope.open();
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
            Tensor scaleRow = scale.view(-1).contiguous();                       // [out]
            return new Stored(scope.keep(q), scope.keep(scaleRow));
        }
    }

    /**
     * The layer from its stored form (quantized at load or read from a pre-quantized checkpoint, already
     * validated). The layer's tensors are not owned by any scope: the caller owns {@link #resources()}.
     *
     * @param s the int8 matrix and its float32 scales (not modified)
     * @param outType the dtype {@link #apply} returns (the model dtype)
     * @return the layer
     */
    static Int8Linear fromStored(Stored s, ScalarType outType) {
        try (InferenceScope scope = InferenceScope.open();
             ScalarTypeOptional int32 = new ScalarTypeOptional(ScalarType.Int)) {
            Tensor q = s.q();
            // fbgemm's column offsets: per output channel, sum_k q[o, k] - zero_point · in (zero_point 0),
            // summed straight into int32 (exact: |sum| <= 127 · in): no int32 copy of the whole matrix.
            Tensor offsets = torch.sum(q, new long[] {1}, false, int32).contiguous();   // [out]
            Tensor packedQ = torch.fbgemm_pack_quantized_matrix(q.contiguous());
            Tensor scaleRow = s.scale().to(ScalarType.Float).contiguous();       // [out]
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

    @Override
    public List<Pointer> resources() {
        return List.of(weight, packed, colOffsets, scales, zeroBias, one, zero);
    }

    /** Bytes one {@link #apply} of a single row streams: the int8 weights and the float32 scales. */
    @Override
    public long streamedBytes() {
        return weight.size(0) * weight.size(1) + 4 * weight.size(0);
    }

    /** {@code [n, in] -> [n, out]} in the model dtype. */
    @Override
    public Tensor apply(Tensor x) {
        Tensor xf = Tensors.dtype(x) == ScalarType.Float ? x : x.to(ScalarType.Float);
        Tensor y = torch.fbgemm_linear_int8_weight_fp32_activation(xf.contiguous(), weight, packed, colOffsets, one,
                zero, zeroBias);                                                  // [n, out] float32, unscaled
        y.mul_(scales);                                                           // in place: per output channel
        return outType == ScalarType.Float ? y : y.to(outType);
    }
}
