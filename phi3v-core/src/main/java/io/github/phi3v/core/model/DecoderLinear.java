package io.github.phi3v.core.model;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import io.github.phi3v.core.runtime.InferenceScope;
import io.github.phi3v.core.runtime.TorchRuntime;

/**
 * One bias-free decoder linear layer on the CPU exactly as a decode step runs it: bf16/fp16/fp32 weights
 * through {@code linear} (bf16 on ATen's GEMV, the kernel switch of the decoder layers), int8 weights
 * quantized per output channel and run by fbgemm, int4 weights by ATen's int4 kernel, on a one-row input
 * ({@link #applyRows} also on a prompt's rows). It holds random N(0, 0.02) weights of a chosen shape, so
 * that tools (the benchmark's linear probe) can time the decode kernels alone, with the same kernel choice
 * as the model, without a checkpoint.
 *
 * <pre>{@code
 * try (DecoderLinear l = DecoderLinear.random(9216, 3072, Precision.BFLOAT16, Quantization.NONE)) {
 *     l.applyOneRow();                       // one decode-step product; time many of these
 *     long bytes = l.streamedBytes();
 * }
 * }</pre>
 *
 * <p>{@link #applyOneRow()} may run on several threads at once; {@link #close()} must not overlap it.
 */
public final class DecoderLinear implements AutoCloseable {

    private final Modules.Linear linear;
    private final Tensor input;
    private final List<Pointer> owned;
    private final CpuMatmulBackend.Mode mode;
    private final long streamedBytes;
    private boolean closed;

    private DecoderLinear(Modules.Linear linear, Tensor input, List<Pointer> owned, CpuMatmulBackend.Mode mode,
            long streamedBytes) {
        this.linear = linear;
        this.input = input;
        this.owned = owned;
        this.mode = mode;
        this.streamedBytes = streamedBytes;
    }

    /**
     * A layer with random weights {@code [outFeatures, inFeatures]} and a random one-row input.
     *
     * @param outFeatures output features (rows of the weight), at least 1
     * @param inFeatures input features, at least 1
     * @param precision the dtype of weights and activations (int8: of activations and output)
     * @param quantization {@link Quantization#INT8} for int8 weights, quantized from random float32 ones as
     *     loading quantizes a checkpoint; {@link Quantization#INT4} for random 4-bit values with random
     *     zeros in groups of 32 ({@code inFeatures} a multiple of 32)
     * @return the layer; close it to free its native memory
     * @throws IllegalArgumentException if a size is below 1, or for int4 if {@code inFeatures} is not a
     *     multiple of 32
     */
    public static DecoderLinear random(long outFeatures, long inFeatures, Precision precision,
            Quantization quantization) {
        if (outFeatures < 1 || inFeatures < 1) {
            throw new IllegalArgumentException("outFeatures and inFeatures must be >= 1, got " + outFeatures + " and "
                    + inFeatures);
        }
        Objects.requireNonNull(precision, "precision");
        Objects.requireNonNull(quantization, "quantization");
        if (quantization == Quantization.INT4 && inFeatures % Int4Linear.GROUP_SIZE != 0) {
            throw new IllegalArgumentException("int4 needs inFeatures a multiple of " + Int4Linear.GROUP_SIZE + ", got "
                    + inFeatures);
        }
        TorchRuntime.ensureInitialized();
        ScalarType dtype = precision.scalarType();
        List<Pointer> owned = new ArrayList<>();
        boolean done = false;
        try (InferenceScope scope = InferenceScope.open();
             TensorOptions f32 = new TensorOptions(ScalarType.Float);
             Scalar std = new Scalar(0.02)) {
            Tensor f = torch.randn(new long[] {outFeatures, inFeatures}, f32).mul_(std);   // [out, in] float32
            Modules.Linear linear;
            long bytes;
            if (quantization == Quantization.INT8) {
                Int8Linear q = Int8Linear.quantize(f, "random", dtype);
                owned.addAll(q.resources());
                linear = q;
                bytes = q.streamedBytes();
            } else if (quantization == Quantization.INT4) {
                // Random 4-bit values, scales and zeros rather than quantized random weights: the kernel's speed
                // does not depend on the values, and quantizing a decoder's worth of weights takes minutes.
                Tensor nibbles = torch.randint(0, 256, new long[] {outFeatures, inFeatures / 2},
                        new TensorOptions(ScalarType.Byte));                                    // [out, in/2]
                long groups = inFeatures / Int4Linear.GROUP_SIZE;
                Tensor scale = torch.full(new long[] {outFeatures, groups}, new Scalar(0.005),
                        new TensorOptions(ScalarType.BFloat16));                               // [out, groups]
                // Zero codes -127..127 of 2^-17 (|zero| < 0.001): values that follow Int4ScaleCodes' rule.
                Tensor zero = torch.randint(-127, 128, new long[] {outFeatures, groups}, f32)
                        .mul_(new Scalar(Math.scalb(1.0, -17))).to(ScalarType.BFloat16);        // [out, groups]
                Int4Linear q = Int4Linear.fromStored(new Int4Linear.Stored(nibbles, scale, zero), dtype);
                owned.addAll(q.resources());
                linear = q;
                bytes = q.streamedBytes();
            } else {
                Tensor w = f.to(dtype);
                owned.add(scope.keep(w));
                linear = new Modules.Linear(w, null);
                bytes = w.numel() * w.element_size();
            }
            Tensor x = torch.randn(new long[] {1, inFeatures}, f32).to(dtype);           // [1, in]
            owned.add(scope.keep(x));
            CpuMatmulBackend.Mode mode = Phi3DecoderLayer.decodeOnAtenGemv(dtype, quantization)
                    ? CpuMatmulBackend.Mode.ATEN_GEMV : CpuMatmulBackend.Mode.ONEDNN;
            DecoderLinear l = new DecoderLinear(linear, x, owned, mode, bytes);
            done = true;
            return l;
        } finally {
            if (!done) {
                owned.forEach(Pointer::close);
            }
        }
    }

    /**
     * Bytes of weights one {@link #applyOneRow()} reads: the weight matrix in its dtype, or for int8 the
     * int8 matrix plus the scale of each output channel (float32, 16-bit for ATen's kernel).
     *
     * @return bytes per application
     */
    public long streamedBytes() {
        return streamedBytes;
    }

    /**
     * Computes the layer once for its one-row input under the decode step's CPU kernels; the result is
     * freed before returning.
     *
     * @throws IllegalStateException if the layer is closed
     */
    public void applyOneRow() {
        if (closed) {
            throw new IllegalStateException("DecoderLinear is closed");
        }
        try (CpuMatmulBackend.Lease lease = CpuMatmulBackend.enter(mode);
             InferenceScope step = InferenceScope.open()) {
            linear.apply(input);
        }
    }

    /**
     * Computes the layer once for {@code rows} copies of its input row as a prompt's rows run (oneDNN, and
     * for int4 above the kernel's {@code maxKernelRows} the prompt kernel or the dequantized weight); the input
     * copy and the result are freed before returning.
     *
     * @param rows input rows, at least 1
     * @throws IllegalArgumentException if {@code rows < 1}
     * @throws IllegalStateException if the layer is closed
     */
    public void applyRows(int rows) {
        applyRows(rows, linear::apply);
    }

    /**
     * {@link #applyRows} for an int4 layer on the dequantized weight whatever the number of rows: with
     * {@link #applyRowsOnKernel} it times the two paths a prompt can take.
     *
     * @param rows input rows, at least 1
     * @throws IllegalArgumentException if {@code rows < 1}
     * @throws IllegalStateException if the layer is closed or not int4
     */
    public void applyRowsDequantized(int rows) {
        Int4Linear int4 = int4();
        applyRows(rows, x -> int4.apply(x, Int4Linear.Path.DEQUANTIZED));
    }

    /**
     * {@link #applyRows} for an int4 layer on the int4 kernel whatever the number of rows (one call).
     *
     * @param rows input rows, at least 1
     * @throws IllegalArgumentException if {@code rows < 1}
     * @throws IllegalStateException if the layer is closed or not int4
     */
    public void applyRowsOnKernel(int rows) {
        Int4Linear int4 = int4();
        applyRows(rows, x -> int4.apply(x, Int4Linear.Path.KERNEL));
    }

    /**
     * {@link #applyRows} for an int4 layer on its prompt kernel whatever the number of rows (one call).
     *
     * @param rows input rows, at least 1
     * @throws IllegalArgumentException if {@code rows < 1}
     * @throws IllegalStateException if the layer is closed, not int4, or its kernel has no prompt kernel here
     */
    public void applyRowsOnPromptKernel(int rows) {
        Int4Linear int4 = int4();
        if (!hasPromptKernel()) {
            throw new IllegalStateException("this int4 layer's kernel has no prompt kernel on this machine");
        }
        applyRows(rows, x -> int4.apply(x, Int4Linear.Path.PROMPT_KERNEL));
    }

    /**
     * Whether this is an int4 layer whose kernel has a prompt kernel here ({@link #applyRowsOnPromptKernel}).
     *
     * @return true if the prompt kernel can be timed
     */
    public boolean hasPromptKernel() {
        return linear instanceof Int4Linear int4 && int4.path(Long.MAX_VALUE) == Int4Linear.Path.PROMPT_KERNEL;
    }

    private Int4Linear int4() {
        if (!(linear instanceof Int4Linear int4)) {
            throw new IllegalStateException("only an int4 layer has an int4 kernel and a dequantized path; this "
                    + "one is " + linear.getClass().getSimpleName());
        }
        return int4;
    }

    private void applyRows(int rows, java.util.function.UnaryOperator<Tensor> product) {
        if (rows < 1) {
            throw new IllegalArgumentException("rows must be >= 1, got " + rows);
        }
        if (closed) {
            throw new IllegalStateException("DecoderLinear is closed");
        }
        try (CpuMatmulBackend.Lease lease = CpuMatmulBackend.enter(CpuMatmulBackend.Mode.ONEDNN);
             InferenceScope step = InferenceScope.open()) {
            product.apply(input.expand(rows, input.size(1)).contiguous());                 // [rows, in]
        }
    }

    /** Frees the weights and the input. Idempotent. */
    @Override
    public void close() {
        if (!closed) {
            closed = true;
            owned.forEach(Pointer::close);
        }
    }
}
