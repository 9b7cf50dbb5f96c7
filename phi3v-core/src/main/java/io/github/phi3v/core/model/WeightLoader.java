package io.github.phi3v.core.model;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;

import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.DeviceType;
import org.bytedeco.pytorch.global.torch.ScalarType;

import io.github.phi3v.core.runtime.InferenceScope;
import io.github.phi3v.core.runtime.TaskBatch;
import io.github.phi3v.core.runtime.Tensors;
import io.github.phi3v.core.runtime.TorchRuntime;
import io.github.phi3v.core.weights.Checkpoint;

import io.github.phi3v.core.weights.TensorInfo;

/**
 * Copies checkpoint tensors into owned tensors of the compute dtype on the compute device, and owns
 * every native object the model's modules hold (freed together by {@link #close()}).
 *
 * <p>Copying (rather than keeping zero-copy views of the memory-mapped file) touches every page once
 * at load, so no first-token page faults, and lets the checkpoint be closed right after loading.
 */
final class WeightLoader implements AutoCloseable {

    /** Most load workers: a decoder layer has four linears to pack at once. */
    private static final int MAX_WORKERS = 4;

    private final Checkpoint checkpoint;
    private final ScalarType dtype;
    private final Device device;
    private final Quantization quantization;
    private final boolean preQuantized;
    private final boolean packedDecode;
    private final List<Pointer> owned = new ArrayList<>();
    /** Made on first use ({@link #workers}), shut down with the loader; null until then. */
    private ExecutorService workers;

    WeightLoader(Checkpoint checkpoint, ScalarType dtype, DeviceType deviceType) {
        this(checkpoint, dtype, deviceType, Quantization.NONE, false, false);
    }

    /**
     * Creates the compute device, the loader's first native object, so that the loader owns every native
     * object of the model from the first one on (a device made earlier by the caller leaked whenever the
     * config or the checkpoint was refused before the loader existed).
     */
    WeightLoader(Checkpoint checkpoint, ScalarType dtype, DeviceType deviceType, Quantization quantization,
            boolean preQuantized, boolean packedDecode) {
        this.checkpoint = checkpoint;
        this.dtype = dtype;
        this.device = own(deviceType == DeviceType.CUDA ? new Device(deviceType, (byte) 0) : new Device(deviceType));
        this.quantization = quantization;
        this.preQuantized = preQuantized;
        this.packedDecode = packedDecode;
    }

    /** The file that holds the named tensor (for error messages). */
    Path fileOf(String name) {
        return checkpoint.info(name).file();
    }

    /** The named checkpoint tensor as a fresh contiguous tensor of the compute dtype and device. */
    Tensor load(String name) {
        return load(name, dtype);
    }

    /** The named checkpoint tensor as a fresh contiguous tensor of the given dtype on the compute device. */
    Tensor load(String name, ScalarType type) {
        try (InferenceScope scope = InferenceScope.open();
             MemoryFormatOptional fmt = new MemoryFormatOptional()) {
            Tensor stored = device.is_cpu() ? read(name) : checkpoint.tensor(name);
            Tensor copy = stored.to(device, type, false, !device.is_cpu(), fmt).contiguous();
            return own(scope.keep(copy));
        }
    }

    /**
     * The named tensor in its stored dtype, read from the file into a fresh CPU tensor of the caller's scope
     * ({@link Checkpoint#read}): reading instead of copying from the memory mapping keeps the file's pages
     * out of this process, and its 4 KiB page faults made loading 5-10x slower. Read errors and tensors
     * over 2 GiB are {@link io.github.phi3v.core.weights.InvalidCheckpointException}s naming file and tensor.
     */
    private Tensor read(String name) {
        return checkpoint.read(name);
    }

    /**
     * The named checkpoint tensor as a fresh CPU tensor of the given dtype that this loader does NOT own: it
     * belongs to the caller's scope (e.g. the float32 source of an int8 quantization).
     */
    Tensor loadTemporary(String name, ScalarType type) {
        Tensor stored = read(name);
        return Tensors.dtype(stored) == type ? stored : stored.to(type);
    }

    /**
     * Whether the checkpoint stores the decoder linears already quantized ({@link QuantizedCheckpoint}),
     * rather than in full precision to be quantized at load.
     */
    boolean preQuantized() {
        return preQuantized;
    }

    /**
     * Whether the decoder linears and lm_head also keep a packed copy of their weight for decode steps
     * ({@link PackedLinear}, {@link ModelOptions#packedDecodeWeights()}).
     */
    boolean packedDecode() {
        return packedDecode;
    }

    /** The quantization the decoder's linear layers are loaded with. */
    Quantization quantization() {
        return quantization;
    }

    /**
     * Worker threads for the load steps libtorch runs on one thread (fbgemm's int8 packing), one per
     * libtorch intra-op thread up to {@value #MAX_WORKERS} (a layer has four linears); null when libtorch
     * runs on one thread, which makes a {@link TaskBatch} run its tasks inline. Only the loading thread
     * calls this and {@link #own}.
     */
    ExecutorService workers() {
        int threads = Math.min(MAX_WORKERS, TorchRuntime.threads());
        if (workers == null && threads > 1) {
            workers = TaskBatch.newPool("phi3v-load", threads);
        }
        return workers;
    }

    /** Registers a native object to be freed with the model. */
    <P extends Pointer> P own(P p) {
        owned.add(p);
        return p;
    }

    ScalarType dtype() {
        return dtype;
    }

    Device device() {
        return device;
    }

    /** Hands everything this loader owns to {@code target} (the model), leaving the loader empty. */
    List<Pointer> release() {
        shutDownWorkers();
        List<Pointer> out = new ArrayList<>(owned);
        owned.clear();
        return out;
    }

    /** Frees everything still owned (used when loading fails half-way). */
    @Override
    public void close() {
        shutDownWorkers();
        for (int i = owned.size() - 1; i >= 0; i--) {
            owned.get(i).close();
        }
        owned.clear();
    }

    /** The workers' tasks have all ended by now (a TaskBatch waits for its tasks), so the threads just exit. */
    private void shutDownWorkers() {
        if (workers != null) {
            workers.shutdown();
            workers = null;
        }
    }
}
