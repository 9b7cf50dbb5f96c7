package io.github.phi3v.core;

import java.nio.file.Path;
import java.util.Objects;
import java.util.regex.Pattern;

import io.github.phi3v.core.config.ClipVisionConfig;
import io.github.phi3v.core.config.Phi3VConfig;
import io.github.phi3v.core.generate.MemoryEstimate;
import io.github.phi3v.core.model.Precision;
import io.github.phi3v.core.model.Quantization;
import io.github.phi3v.core.weights.Checkpoint;

/** The load-time memory estimate of a model folder, from its config and safetensors headers only. */
final class MemoryPlanner {

    /** The decoder linear weights {@link Quantization#INT8} stores as int8. */
    private static final Pattern INT8_WEIGHTS =
            Pattern.compile("model\\.layers\\.\\d+\\.(self_attn\\.(qkv_proj|o_proj)|mlp\\.(gate_up_proj|down_proj))\\.weight");

    private MemoryPlanner() {
    }

    /** See {@link Phi3Vision#estimateMemory(Path, Precision, Quantization, int, int)}. */
    static MemoryEstimate estimate(Path modelDir, Precision precision, Quantization quantization, int maxContext,
            int numCrops) {
        Objects.requireNonNull(quantization, "quantization");
        Phi3VConfig config = Phi3VConfig.fromDirectory(modelDir);
        int bytes = precision == Precision.FLOAT32 ? 4 : 2;
        long weightBytes = 0;
        try (Checkpoint checkpoint = Checkpoint.open(modelDir)) {
            for (String name : checkpoint.names()) {
                var info = checkpoint.info(name);
                if (quantization == Quantization.INT8 && info.rank() == 2 && INT8_WEIGHTS.matcher(name).matches()) {
                    weightBytes += info.numel() + 4 * info.dim(0);
                } else {
                    weightBytes += info.numel() * bytes;
                }
            }
        }
        MemoryEstimate.Builder m = MemoryEstimate.builder()
                .weightBytes(weightBytes)
                .kvCache(config.numHiddenLayers(), config.numKeyValueHeads(), config.headDim(), bytes)
                .maxContext(maxContext);
        if (config.hasVision()) {
            ClipVisionConfig clip = config.imageEmbedding().clip();
            int patches = clip.imageSize() / clip.patchSize();
            // The vision tower runs in float32 on the CPU even for 16-bit weights.
            m.images(1, MemoryEstimate.visionActivationBytes(numCrops + 1, patches * patches + 1, clip.hiddenSize(),
                    clip.intermediateSize(), clip.numAttentionHeads(), 4));
        }
        return m.build();
    }
}
