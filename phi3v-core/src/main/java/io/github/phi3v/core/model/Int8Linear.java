package io.github.phi3v.core.model;

import java.util.List;

import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import io.github.phi3v.core.runtime.InferenceScope;
import io.github.phi3v.core.runtime.TaskBatch;
import io.github.phi3v.core.runtime.Tensors;

/**
 * A weight-only int8 {@code nn.Linear} (no bias) for {@link Quantization#INT8}: symmetric per-output-channel
 * quantization {@code q[o, k] = round(w[o, k] / s[o])}, {@code s[o] = max_k |w[o, k]| / 127}, applied with one
 * of three CPU kernels ({@link Int8Kernel}), chosen by the CPU ({@link Int8Kernel.Choice#preferred}):
 * <ul>
 *   <li>fbgemm ({@link FbgemmInt8Kernel}) where it is exact, with AVX-512 VNNI: per-tensor uint8
 *       activations, ~1.5 % relative error per layer; its int8 GEMV streams faster than the bf16
 *       {@code linear} on CPUs without AMX;</li>
 *   <li>the project's AVX2 kernel ({@link NativeInt8Weight}) on other x86-64 CPUs: float32 activations and
 *       sums. Without VNNI fbgemm adds pairs of u8·s8 products into 16 bits with saturation, which clipped
 *       this model's products to 2-9 % relative error (AMD EPYC with AVX2, 2026-12-07);</li>
 *   <li>ATen's {@code _weight_int8pack_mm} ({@link AtenInt8Kernel}) where neither runs.</li>
 * </ul>
 * More rows than the kernel's {@link Int8Kernel#maxKernelRows} run a GEMM on the dequantized weight. The
 * result is in the model dtype, like {@link Modules.Linear}'s. Decode reads one byte per weight instead of
 * two (bf16).
 */
final class Int8Linear extends Modules.Linear implements QuantizedLinear {

    private final Int8Kernel kernel;
    private final ScalarType outType;

    /** {@code shapeOnly} stands in for the {@code [out, in]} matrix, which the kernel holds in its own form. */
    private Int8Linear(Tensor shapeOnly, Int8Kernel kernel, ScalarType outType) {
        super(shapeOnly, null);
        this.kernel = kernel;
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
     * Loads several linears of the checkpoint: reads each one's stored form on this thread (quantizing a
     * full-precision weight, whose float32 copy is freed before the next is read) and makes the layer for
     * its kernel ({@link #fromStored}) on the loader's workers ({@link WeightLoader#workers}), as the next is
     * read. fbgemm packs a matrix on one thread, which made packing half of an int8 load on a CPU with VNNI
     * (docs/benchmarks.md); the packed layouts are the same as packing one after the other.
     *
     * @param w the loader: owns the layers' tensors, also those of layers packed before a failure
     * @param names checkpoint names of the weights
     * @return the layers, in the order of {@code names}
     */
    static List<Int8Linear> loadAll(WeightLoader w, List<String> names) {
        ScalarType outType = w.dtype();
        try (TaskBatch<Int8Linear> batch = TaskBatch.on(w.workers(), layer -> layer.resources().forEach(w::own))) {
            for (String name : names) {
                Stored s = read(w, name);
                // The task owns s from here on and frees it once packed, on whichever thread packs it.
                batch.submit(() -> {
                    try (s) {
                        return fromStored(s, outType);
                    }
                });
            }
            return batch.join();
        }
    }

    /** One weight's stored form, read or quantized from the checkpoint; owned by the caller. */
    private static Stored read(WeightLoader w, String name) {
        try (InferenceScope scope = InferenceScope.open()) {
            if (!w.preQuantized()) {
                return toStored(w.loadTemporary(name, ScalarType.Float), name);   // its float32 copy: this scope's
            }
            Tensor q = w.loadTemporary(name, ScalarType.Char);
            Tensor scale = w.loadTemporary(name + QuantizedCheckpoint.SCALE_SUFFIX, ScalarType.Float);
            return new Stored(scope.keep(q), scope.keep(scale));
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
        return quantize(f, name, outType, Int8Kernel.Choice.preferred());
    }

    /** {@link #quantize(Tensor, String, ScalarType)} for a given kernel (tests compare them). */
    static Int8Linear quantize(Tensor f, String name, ScalarType outType, Int8Kernel.Choice kernel) {
        // The stored form is only a step here: freed once the layer exists, also when making it fails.
        try (Stored s = toStored(f, name)) {
            return fromStored(s, outType, kernel);
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
     * validated), on this CPU's {@linkplain Int8Kernel.Choice#preferred() preferred kernel}. The layer's tensors
     * are not owned by any scope: the caller owns {@link #resources()}.
     *
     * @param s the int8 matrix and its float32 scales (not modified)
     * @param outType the dtype {@link #apply} returns (the model dtype)
     * @return the layer
     */
    static Int8Linear fromStored(Stored s, ScalarType outType) {
        return fromStored(s, outType, Int8Kernel.Choice.preferred());
    }

    /**
     * {@link #fromStored(Stored, ScalarType)} on a given kernel (tests compare them).
     *
     * @param s the int8 matrix and its float32 scales (not modified)
     * @param outType the model dtype
     * @param choice the kernel
     * @return the layer, owned by the caller
     */
    static Int8Linear fromStored(Stored s, ScalarType outType, Int8Kernel.Choice choice) {
        try (InferenceScope scope = InferenceScope.open();
             TensorOptions i8 = new TensorOptions(ScalarType.Char)) {
            // Only the shape of the base class's weight is read: a zero-stride view of one byte stands in for
            // the [out, in] matrix, which the kernel holds in its own form.
            Tensor shape = torch.zeros(new long[] {1, 1}, i8).expand(s.q().size(0), s.q().size(1));
            Int8Kernel k = Int8Kernel.of(s, shape, outType, choice);
            // Kept only once nothing can fail: until here the scope frees the kernel's tensors on a fault.
            k.resources().forEach(scope::keep);
            return new Int8Linear(scope.keep(shape), k, outType);
        }
    }

    /** The kernel this layer multiplies with. */
    Int8Kernel kernel() {
        return kernel;
    }

    /**
     * The weight the kernel computes with, {@code q * scale} in float32 rounded once to the model dtype.
     *
     * @return {@code [out, in]} in the model dtype, in the caller's scope
     * @throws IllegalStateException on fbgemm's kernel (which keeps only its packed matrix)
     */
    Tensor dequantized() {
        return kernel.dequantized(outType);
    }

    @Override
    public List<Pointer> resources() {
        List<Pointer> all = new java.util.ArrayList<>(kernel.resources());
        all.add(0, weight);
        return all;
    }

    /** Bytes one {@link #apply} of a single row streams: the int8 weights and the scales. */
    @Override
    public long streamedBytes() {
        return kernel.streamedBytes();
    }

    /**
     * Above the kernel's {@link Int8Kernel#maxKernelRows} rows: a plain layer of {@link #dequantized}, in the
     * caller's scope, shared by the call's row blocks. Otherwise this layer.
     */
    @Override
    Modules.Linear forRows(long rows) {
        return rows > kernel.maxKernelRows() ? new Modules.Linear(dequantized(), null) : this;
    }

    /**
     * {@code [n, in] -> [n, out]} in the model dtype; above the kernel's {@link Int8Kernel#maxKernelRows} rows
     * through the dequantized weight ({@link #forRows} shares one between calls).
     */
    @Override
    public Tensor apply(Tensor x) {
        if (x.size(0) <= kernel.maxKernelRows()) {
            return kernel.mm(x);
        }
        return product(Tensors.dtype(x) == outType ? x : x.to(outType), dequantized(), null);
    }
}
