package io.github.phi3v.core.model;

/**
 * How {@link Phi3VModel#load} places the model.
 *
 * @param precision dtype of weights and activations (the checkpoint is converted at load)
 * @param device where tensors live
 * @param threads libtorch intra-op threads (process-wide); 0 keeps the current setting, which
 *     {@code TorchRuntime} initialises to the number of cores
 * @param quantization weight quantization applied at load ({@link Quantization#NONE} by default)
 * @param packedDecodeWeights keep each decoder linear's and lm_head's weight a second time in oneDNN's own
 *     layout, made at load, for decode steps: a batched step of 4 sequences then took 1.2x a one-sequence
 *     step, of 8 sequences 1.7x (docs/benchmarks.md, "Packed decode weights"), for the memory of those weights twice
 *     (about 7.6 GB more for the real model). bf16 on the CPU without quantization only; off by default
 */
public record ModelOptions(Precision precision, Device device, int threads, Quantization quantization,
        boolean packedDecodeWeights) {

    /** The devices a model can run on. */
    public enum Device {
        /** The CPU. */
        CPU,
        /** The first CUDA device; needs the {@code gpu} profile natives and a GPU. */
        CUDA
    }

    /**
     * Validates.
     *
     * @param precision dtype of weights and activations; not null
     * @param device where tensors live; not null
     * @param threads libtorch intra-op threads (≥ 0; 0 keeps the current setting)
     * @param quantization weight quantization; not null, {@link Quantization#INT8} and {@link Quantization#INT4} only on
     *     {@link Device#CPU}
     * @param packedDecodeWeights packed decode weights; only with {@link Precision#BFLOAT16}, {@link Device#CPU}
     *     and {@link Quantization#NONE}
     * @throws IllegalArgumentException if a rule is broken
     */
    public ModelOptions {
        if (precision == null || device == null || quantization == null) {
            throw new IllegalArgumentException("precision, device and quantization must not be null");
        }
        if (quantization != Quantization.NONE && device != Device.CPU) {
            throw new IllegalArgumentException(quantization.name().toLowerCase(java.util.Locale.ROOT)
                    + " quantization runs on the CPU only (CPU kernels), but device " + device + " was requested");
        }
        if (threads < 0) {
            throw new IllegalArgumentException("threads must be >= 0 (0 = keep the default), got " + threads);
        }
        if (packedDecodeWeights && (precision != Precision.BFLOAT16 || device != Device.CPU
                || quantization != Quantization.NONE)) {
            throw new IllegalArgumentException("packed decode weights need bf16 weights on the CPU without"
                    + " quantization (oneDNN's bf16 kernels), but " + precision.label() + ", " + device + ", quantization "
                    + quantization.name().toLowerCase(java.util.Locale.ROOT) + " was requested: drop the packed"
                    + " decode weights or use bf16, cpu and no quantization");
        }
    }

    /**
     * Options without packed decode weights.
     *
     * @param precision dtype of weights and activations
     * @param device where tensors live
     * @param threads libtorch intra-op threads (0 = keep)
     * @param quantization weight quantization
     */
    public ModelOptions(Precision precision, Device device, int threads, Quantization quantization) {
        this(precision, device, threads, quantization, false);
    }

    /**
     * Options without quantization.
     *
     * @param precision dtype of weights and activations
     * @param device where tensors live
     * @param threads libtorch intra-op threads (0 = keep)
     */
    public ModelOptions(Precision precision, Device device, int threads) {
        this(precision, device, threads, Quantization.NONE, false);
    }

    /**
     * CPU, {@link Precision#cpuDefault()}, default threads.
     *
     * @return CPU options without quantization
     */
    public static ModelOptions defaults() {
        return new ModelOptions(Precision.cpuDefault(), Device.CPU, 0);
    }

    /**
     * A copy with another precision.
     *
     * @param p the precision; not null
     * @return the copy
     */
    public ModelOptions withPrecision(Precision p) {
        return new ModelOptions(p, device, threads, quantization, packedDecodeWeights);
    }

    /**
     * A copy with another device.
     *
     * @param d the device; not null (CPU for int8)
     * @return the copy
     */
    public ModelOptions withDevice(Device d) {
        return new ModelOptions(precision, d, threads, quantization, packedDecodeWeights);
    }

    /**
     * A copy with another thread count (0 = default).
     *
     * @param n libtorch intra-op threads (≥ 0)
     * @return the copy
     */
    public ModelOptions withThreads(int n) {
        return new ModelOptions(precision, device, n, quantization, packedDecodeWeights);
    }

    /**
     * A copy with another weight quantization.
     *
     * @param q {@link Quantization#INT8} or {@link Quantization#INT4} for quantized decoder linears (CPU only)
     * @return the copy
     */
    public ModelOptions withQuantization(Quantization q) {
        return new ModelOptions(precision, device, threads, q, packedDecodeWeights);
    }

    /**
     * A copy with or without packed decode weights.
     *
     * @param packed whether decode steps run on packed weights (bf16, CPU, no quantization)
     * @return the copy
     */
    public ModelOptions withPackedDecodeWeights(boolean packed) {
        return new ModelOptions(precision, device, threads, quantization, packed);
    }
}
