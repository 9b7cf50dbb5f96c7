package io.github.phi3v.core.model;

import java.util.ArrayList;
import java.util.List;

import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

import io.github.phi3v.core.runtime.InferenceScope;
import io.github.phi3v.core.weights.Checkpoint;

/**
 * Copies checkpoint tensors into owned tensors of the compute dtype on the compute device, and owns
 * every native object the model's modules hold (freed together by {@link #close()}).
 *
 * <p>Copying (rather than keeping zero-copy views of the memory-mapped file) touches every page once
 * at load, so no first-token page faults, and lets the checkpoint be closed right after loading.
 */
final class WeightLoader implements AutoCloseable {

    private final Checkpoint checkpoint;
    private final ScalarType dtype;
    private final Device device;
    private final Quantization quantization;
    private final List<Pointer> owned = new ArrayList<>();

    WeightLoader(Checkpoint checkpoint, ScalarType dtype, Device device) {
        this(checkpoint, dtype, device, Quantization.NONE);
    }

    WeightLoader(Checkpoint checkpoint, ScalarType dtype, Device device, Quantization quantization) {
        this.checkpoint = checkpoint;
        this.dtype = dtype;
        this.device = own(device);
        this.quantization = quantization;
    }

    /** The named checkpoint tensor as a fresh contiguous tensor of the compute dtype and device. */
    Tensor load(String name) {
        return load(name, dtype);
    }

    /** The named checkpoint tensor as a fresh contiguous tensor of the given dtype on the compute device. */
    Tensor load(String name, ScalarType type) {
        try (InferenceScope scope = InferenceScope.open();
             MemoryFormatOptional fmt = new MemoryFormatOptional()) {
            Tensor stored = checkpoint.tensor(name);
            Tensor copy = stored.to(device, type, false, true, fmt).contiguous();
            return own(scope.keep(copy));
        }
    }

    /**
     * The named checkpoint tensor as a fresh CPU tensor of the given dtype that this loader does NOT own: it
     * belongs to the caller's scope (e.g. the float32 source of an int8 quantization).
     */
    Tensor loadTemporary(String name, ScalarType type) {
        try (MemoryFormatOptional fmt = new MemoryFormatOptional()) {
            return checkpoint.tensor(name).to(type).contiguous().clone(fmt);
        }
    }

    /** The quantization the decoder's linear layers are loaded with. */
    Quantization quantization() {
        return quantization;
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
        List<Pointer> out = new ArrayList<>(owned);
        owned.clear();
        return out;
    }

    /** Frees everything still owned (used when loading fails half-way). */
    @Override
    public void close() {
        for (int i = owned.size() - 1; i >= 0; i--) {
            owned.get(i).close();
        }
        owned.clear();
    }
}
