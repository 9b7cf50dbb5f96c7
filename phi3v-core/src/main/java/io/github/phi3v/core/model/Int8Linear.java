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

import io.github.phi3v.core.runtime.AtenOps;
import io.github.phi3v.core.runtime.CpuFeatures;
import io.github.phi3v.core.runtime.InferenceScope;
import io.github.phi3v.core.runtime.NativeInt8Kernel;
import io.github.phi3v.core.runtime.TaskBatch;
import io.github.phi3v.core.runtime.Tensors;

/**
 * A weight-only int8 {@code nn.Linear} (no bias) for {@link Quantization#INT8}: symmetric per-output-channel
 * quantization {@code q[o, k] = round(w[o, k] / s[o])}, {@code s[o] = max_k |w[o, k]| / 127}, applied with one
 * of three CPU kernels ({@link Kernel}), chosen by the CPU:
 * <ul>
 *   <li>{@link Kernel#FBGEMM}, libtorch's {@code fbgemm_linear_int8_weight_fp32_activation} (deprecated in
 *       PyTorch but present in 2.10), where it is exact: with AVX-512 VNNI. It quantizes the activations per
 *       tensor to uint8 on the fly and takes one weight scale, so it runs with scale 1 and the per-channel
 *       scales are applied to its float32 output. fbgemm's int8 GEMV streams faster than the bf16
 *       {@code linear} on CPUs without AMX. Besides the weight rounding (≤ 0.4 % of each row's largest
 *       weight), the uint8 activations add ~1.5 % relative error per layer.</li>
 *   <li>{@link Kernel#NATIVE}, the project's AVX2 kernel ({@link NativeInt8Kernel}) on other x86-64 CPUs:
 *       float32 activations and sums, no activation quantization, no packing at load. Without VNNI fbgemm
 *       adds pairs of u8·s8 products into 16 bits with saturation, which clipped this model's products to
 *       2-9 % relative error (AMD EPYC with AVX2, 2026-12-07).</li>
 *   <li>{@link Kernel#ATEN}, ATen's weight-only {@code _weight_int8pack_mm}, where neither runs (no native
 *       library, or {@code -Dphi3v.nativeKernels=false}): 16-bit activations, per-channel scales.</li>
 * </ul>
 * The result is converted to the model dtype, like {@link Modules.Linear}'s. Decode reads one byte per weight
 * instead of two (bf16).
 */
final class Int8Linear extends Modules.Linear implements QuantizedLinear {

    /** The kernel a layer multiplies with. */
    enum Kernel {
        /** fbgemm's int8 GEMM on uint8 activations: exact only with AVX-512 VNNI. */
        FBGEMM,
        /** {@link NativeInt8Kernel}: float32 activations, AVX2. */
        NATIVE,
        /** ATen's {@code _weight_int8pack_mm} on 16-bit activations ({@link #atenKernelType}). */
        ATEN;

        /**
         * fbgemm where its products are exact ({@link CpuFeatures#exactFbgemmInt8()}), else the native kernel
         * where it runs, else ATen's.
         */
        static Kernel preferred() {
            if (CpuFeatures.exactFbgemmInt8()) {
                return FBGEMM;
            }
            return NativeInt8Kernel.available() ? NATIVE : ATEN;
        }
    }

    /**
     * Most input rows of a float32 model {@link Kernel#ATEN}'s kernel multiplies; more (a prompt) run on the
     * dequantized weight in float32. Measured on the {@code qkv_proj} shape ({@code Int8RowsProbe}, AMD EPYC
     * with AVX2, docs/benchmarks.md): the kernel took 24 ms for 16 rows against 69 ms, 114 ms for 64 rows against
     * 108 ms, 567 ms for 512 rows against 432 ms. bf16 models always run the kernel: there a bf16 GEMM on a CPU
     * without bf16 instructions took 2.8x the kernel's time at 512 rows.
     */
    static final long ATEN_FLOAT32_KERNEL_ROWS = 64;
    /** Most input rows {@link Kernel#NATIVE}'s kernel multiplies; more run on the dequantized weight. */
    static final long NATIVE_KERNEL_ROWS = Long.MAX_VALUE;

    private final Kernel kernel;
    /**
     * FBGEMM: fbgemm's packed matrix, with its column offsets, a zero bias and the scalars 1 and 0; NATIVE: the
     * matrix in {@link NativeInt8Kernel#pack}'s layout (the others null); ATEN: all null.
     */
    private final Tensor packed;
    private final Tensor colOffsets;
    private final Tensor zeroBias;
    private final Scalar one;
    private final Scalar zero;
    /** {@code [out]}: float32 for FBGEMM (applied to its float32 output), {@link #atenKernelType} for ATEN. */
    private final Tensor scales;
    private final ScalarType outType;

    /** A FBGEMM layer; {@code shapeOnly} stands in for the int8 matrix, which only the packed copy holds. */
    private Int8Linear(Tensor shapeOnly, Tensor packed, Tensor colOffsets, Tensor scales, Tensor zeroBias, Scalar one,
            Scalar zero, ScalarType outType) {
        super(shapeOnly, null);
        this.kernel = Kernel.FBGEMM;
        this.packed = packed;
        this.colOffsets = colOffsets;
        this.scales = scales;
        this.zeroBias = zeroBias;
        this.one = one;
        this.zero = zero;
        this.outType = outType;
    }

    /**
     * The activation dtype of {@link Kernel#ATEN}'s kernel for a model dtype: bf16 for float32 models too.
     * ATen's CPU build vectorizes {@code _weight_int8pack_mm} for 16-bit activations only on CPUs without
     * AVX-512: float32 rows took 10x as long as bf16 ones ({@code Int8RowsProbe}). Rounding the activations
     * to bf16 adds far less error than the int8 weights (fbgemm rounds them to 8 bits).
     */
    static ScalarType atenKernelType(ScalarType outType) {
        return outType == ScalarType.Float ? ScalarType.BFloat16 : outType;
    }

    /**
     * A NATIVE or ATEN layer: ATEN holds the int8 matrix itself as its weight, NATIVE a shape-only view and the
     * matrix in {@link NativeInt8Kernel#pack}'s layout; scales float32 for NATIVE, {@link #atenKernelType} for
     * ATEN.
     */
    private Int8Linear(Kernel kernel, Tensor weight, Tensor packed, Tensor scales, ScalarType outType) {
        super(weight, null);
        this.kernel = kernel;
        this.packed = packed;
        this.colOffsets = null;
        this.scales = scales;
        this.zeroBias = null;
        this.one = null;
        this.zero = null;
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
        return quantize(f, name, outType, Kernel.preferred());
    }

    /** {@link #quantize(Tensor, String, ScalarType)} for a given kernel (tests compare the two). */
    static Int8Linear quantize(Tensor f, String name, ScalarType outType, Kernel kernel) {
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
     * validated), on this CPU's {@linkplain Kernel#preferred() preferred kernel}. The layer's tensors are not
     * owned by any scope: the caller owns {@link #resources()}.
     *
     * @param s the int8 matrix and its float32 scales (not modified)
     * @param outType the dtype {@link #apply} returns (the model dtype)
     * @return the layer
     */
    static Int8Linear fromStored(Stored s, ScalarType outType) {
        return fromStored(s, outType, Kernel.preferred());
    }

    /**
     * {@link #fromStored(Stored, ScalarType)} on a given kernel (tests compare both where both are exact).
     *
     * @param s the int8 matrix and its float32 scales (not modified)
     * @param outType the model dtype
     * @param kernel the kernel
     * @return the layer, owned by the caller
     */
    static Int8Linear fromStored(Stored s, ScalarType outType, Kernel kernel) {
        return switch (kernel) {
            case FBGEMM -> fbgemm(s, outType);
            // The native kernel reads blocks of 4 rows in vectors of 8 columns; other shapes (none in Phi-3)
            // take ATen's.
            case NATIVE -> NativeInt8Kernel.multiplies(s.q().size(0), s.q().size(1)) ? nativeLayer(s, outType)
                    : aten(s, outType);
            case ATEN -> aten(s, outType);
        };
    }

    /** An ATEN layer: the stored matrix as it is (shared), its scales in {@link #atenKernelType}. */
    private static Int8Linear aten(Stored s, ScalarType outType) {
        try (InferenceScope scope = InferenceScope.open()) {
            Tensor q = s.q().contiguous();                                       // [out, in], shared, read-only
            Tensor scaleRow = s.scale().to(atenKernelType(outType)).contiguous(); // [out]
            return new Int8Linear(Kernel.ATEN, scope.keep(q), null, scope.keep(scaleRow), outType);
        }
    }

    /** A NATIVE layer: the matrix in the kernel's layout, float32 scales; a shape-only view stands for q. */
    private static Int8Linear nativeLayer(Stored s, ScalarType outType) {
        try (InferenceScope scope = InferenceScope.open();
             TensorOptions i8 = new TensorOptions(ScalarType.Char)) {
            Tensor packedQ = NativeInt8Kernel.pack(s.q());                      // [out/4, in/8, 4, 8]
            Tensor scaleRow = s.scale().to(ScalarType.Float).contiguous();       // [out]
            Tensor shapeOnly = torch.zeros(new long[] {1, 1}, i8).expand(s.q().size(0), s.q().size(1));
            return new Int8Linear(Kernel.NATIVE, scope.keep(shapeOnly), scope.keep(packedQ), scope.keep(scaleRow),
                    outType);
        }
    }

    private static Int8Linear fbgemm(Stored s, ScalarType outType) {
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

    /** The kernel this layer multiplies with. */
    Kernel kernel() {
        return kernel;
    }

    /**
     * The weight a NATIVE or ATEN layer computes with, {@code q * scale} in float32 rounded once to the model
     * dtype.
     *
     * @return {@code [out, in]} in the model dtype, in the caller's scope
     * @throws IllegalStateException on a FBGEMM layer (which keeps only the packed matrix)
     */
    Tensor dequantized() {
        if (kernel == Kernel.FBGEMM) {
            throw new IllegalStateException("an fbgemm int8 layer keeps only fbgemm's packed matrix");
        }
        Tensor q = kernel == Kernel.NATIVE ? NativeInt8Kernel.unpack(packed) : weight;         // [out, in]
        Tensor w = q.to(ScalarType.Float).mul_(scales.to(ScalarType.Float).view(-1, 1));        // [out, in]
        return outType == ScalarType.Float ? w : w.to(outType);
    }

    @Override
    public List<Pointer> resources() {
        return switch (kernel) {
            case FBGEMM -> List.of(weight, packed, colOffsets, scales, zeroBias, one, zero);
            case NATIVE -> List.of(weight, packed, scales);
            case ATEN -> List.of(weight, scales);
        };
    }

    /** Bytes one {@link #apply} of a single row streams: the int8 weights and the scales. */
    @Override
    public long streamedBytes() {
        return weight.size(0) * weight.size(1) + scales.element_size() * weight.size(0);
    }

    /**
     * The NATIVE or ATEN kernel on any number of rows ({@link #apply} uses it up to {@link #kernelRows()}; the
     * probe that chose that bound times both paths).
     *
     * @param x {@code [n, in]}
     * @return {@code [n, out]} in the model dtype
     */
    Tensor applyKernel(Tensor x) {
        if (kernel == Kernel.NATIVE) {
            Tensor xf = Tensors.dtype(x) == ScalarType.Float ? x : x.to(ScalarType.Float);
            Tensor y = Tensors.empty(ScalarType.Float, x.size(0), weight.size(0));              // [n, out]
            NativeInt8Kernel.mm(xf.contiguous(), packed, scales, y);
            return outType == ScalarType.Float ? y : y.to(outType);
        }
        if (kernel != Kernel.ATEN) {
            throw new IllegalStateException("an fbgemm int8 layer has no other kernel");
        }
        ScalarType type = Tensors.dtype(scales);
        Tensor xk = Tensors.dtype(x) == type ? x : x.to(type);
        Tensor y = AtenOps.weightInt8PackMm(xk.contiguous(), weight, scales);   // [n, out] in the kernel's dtype
        return type == outType ? y : y.to(outType);
    }

    /**
     * Above {@link #kernelRows()} rows: a plain layer of {@link #dequantized}, in the caller's scope, shared by
     * the call's row blocks. Otherwise this layer.
     */
    @Override
    Modules.Linear forRows(long rows) {
        return rows > kernelRows() ? new Modules.Linear(dequantized(), null) : this;
    }

    /**
     * Most rows this layer's kernel multiplies; more run on the dequantized weight. fbgemm takes any; ATen's
     * kernel for a float32 model {@link #ATEN_FLOAT32_KERNEL_ROWS}, for a bf16 model any; the native kernel
     * {@link #NATIVE_KERNEL_ROWS}.
     */
    private long kernelRows() {
        return switch (kernel) {
            case FBGEMM -> Long.MAX_VALUE;
            case NATIVE -> NATIVE_KERNEL_ROWS;
            case ATEN -> outType == ScalarType.Float ? ATEN_FLOAT32_KERNEL_ROWS : Long.MAX_VALUE;
        };
    }

    /**
     * {@code [n, in] -> [n, out]} in the model dtype; above {@link #kernelRows()} rows through the dequantized
     * weight ({@link #forRows} shares one between calls).
     */
    @Override
    public Tensor apply(Tensor x) {
        if (kernel != Kernel.FBGEMM) {
            if (x.size(0) <= kernelRows()) {
                return applyKernel(x);
            }
            return product(Tensors.dtype(x) == outType ? x : x.to(outType), dequantized(), null);
        }
        Tensor xf = Tensors.dtype(x) == ScalarType.Float ? x : x.to(ScalarType.Float);
        Tensor y = torch.fbgemm_linear_int8_weight_fp32_activation(xf.contiguous(), weight, packed, colOffsets, one,
                zero, zeroBias);                                                  // [n, out] float32, unscaled
        y.mul_(scales);                                                           // in place: per output channel
        return outType == ScalarType.Float ? y : y.to(outType);
    }
}
