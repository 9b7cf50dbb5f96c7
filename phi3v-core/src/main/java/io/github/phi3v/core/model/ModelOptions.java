package io.github.phi3v.core.model;

/**
 * How {@link Phi3VModel#load} places the model.
 *
 * @param precision dtype of weights and activations (the checkpoint is converted at load)
 * @param device where tensors live
 * @param threads libtorch intra-op threads (process-wide); 0 keeps the current setting, which
 *     {@code TorchRuntime} initialises to the number of cores
 */
public record ModelOptions(Precision precision, Device device, int threads) {

    /** The devices a model can run on. */
    public enum Device {
        /** The CPU. */
        CPU,
        /** The first CUDA device; needs the {@code gpu} profile natives and a GPU. */
        CUDA
    }

    /** Validates. */
    public ModelOptions {
        if (precision == null || device == null) {
            throw new IllegalArgumentException("precision and device must not be null");
        }
        if (threads < 0) {
            throw new IllegalArgumentException("threads must be >= 0 (0 = keep the default), got " + threads);
        }
    }

    /** CPU, {@link Precision#cpuDefault()}, default threads. */
    public static ModelOptions defaults() {
        return new ModelOptions(Precision.cpuDefault(), Device.CPU, 0);
    }

    /** A copy with another precision. */
    public ModelOptions withPrecision(Precision p) {
        return new ModelOptions(p, device, threads);
    }

    /** A copy with another device. */
    public ModelOptions withDevice(Device d) {
        return new ModelOptions(precision, d, threads);
    }

    /** A copy with another thread count (0 = default). */
    public ModelOptions withThreads(int n) {
        return new ModelOptions(precision, device, n);
    }
}
