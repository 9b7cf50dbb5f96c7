package io.github.phi3v.langchain4j;

import java.nio.file.Path;
import java.util.Objects;

import io.github.phi3v.core.Phi3Vision;
import io.github.phi3v.core.Phi3VisionBuilder;

/**
 * Where an adapter's {@link Phi3Vision} comes from: given by the caller (shared, never closed here) or loaded
 * from a model id or folder (owned, closed with the adapter). Holds the loading options of the owned case.
 * Not thread-safe (builder state).
 */
final class ModelSource {

    private Phi3Vision model;
    private String modelIdOrPath;
    private String dtype;
    private Integer maxContext;
    private Integer numCrops;

    void model(Phi3Vision m) {
        this.model = Objects.requireNonNull(m, "model");
        this.modelIdOrPath = null;
    }

    void modelIdOrPath(String idOrPath) {
        this.modelIdOrPath = Objects.requireNonNull(idOrPath, "modelIdOrPath");
        this.model = null;
    }

    void dtype(String d) {
        this.dtype = Objects.requireNonNull(d, "dtype");
    }

    void maxContext(int tokens) {
        this.maxContext = tokens;
    }

    void numCrops(int n) {
        this.numCrops = n;
    }

    /** True when {@link #open()} loads a model that the adapter then owns. */
    boolean owned() {
        return model == null;
    }

    Phi3Vision open() {
        if (model != null) {
            if (dtype != null || maxContext != null || numCrops != null) {
                throw new IllegalStateException("dtype, maxContext and numCrops apply to a model the adapter loads"
                        + " (modelIdOrPath); set them on Phi3Vision.builder() for a model you pass with model(...)");
            }
            return model;
        }
        if (modelIdOrPath == null) {
            throw new IllegalStateException("no model: call model(Phi3Vision) or modelIdOrPath(String)");
        }
        Phi3VisionBuilder b = Phi3Vision.builder().model(modelIdOrPath);
        if (dtype != null) {
            b.dtype(dtype);
        }
        if (maxContext != null) {
            b.maxContext(maxContext);
        }
        if (numCrops != null) {
            b.numCrops(numCrops);
        }
        return b.build();
    }

    /** The name responses carry: the id or path the model was loaded from, else its folder's name. */
    String modelName(Phi3Vision phi) {
        if (modelIdOrPath != null) {
            return modelIdOrPath;
        }
        Path name = phi.modelDir().getFileName();
        return name == null ? phi.modelDir().toString() : name.toString();
    }
}
