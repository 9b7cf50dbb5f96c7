package io.github.phi3v.core;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;
import java.util.regex.Pattern;

import io.github.phi3v.core.config.ClipVisionConfig;
import io.github.phi3v.core.config.Phi3VConfig;
import io.github.phi3v.core.generate.MemoryEstimate;
import io.github.phi3v.core.generate.Usage;
import io.github.phi3v.core.model.ModelOptions;
import io.github.phi3v.core.model.Phi3VModel;
import io.github.phi3v.core.model.Precision;
import io.github.phi3v.core.model.Quantization;
import io.github.phi3v.core.model.WeightNames;
import io.github.phi3v.core.runtime.TorchRuntime;
import io.github.phi3v.core.weights.Checkpoint;
import io.github.phi3v.image.Phi3ImageProcessor;
import io.github.phi3v.tokenizer.Phi3Tokenizer;

/**
 * What {@link Phi3VisionBuilder#build()} does: resolves the folder, reads the cheap files first (so a
 * broken folder fails before gigabytes of weights are touched), checks the memory estimate, loads the
 * weights and sets up the request pipeline with its limits.
 */
final class ModelLoader {

    private static final System.Logger LOG = System.getLogger(ModelLoader.class.getName());

    /** The decoder linear weights {@link Quantization#INT8} and {@link Quantization#INT4} quantize. */
    private static final Pattern INT8_WEIGHTS =
            Pattern.compile("model\\.layers\\.\\d+\\.(self_attn\\.(qkv_proj|o_proj)|mlp\\.(gate_up_proj|down_proj))\\.weight");

    private ModelLoader() {
    }

    static Phi3Vision load(Phi3VisionBuilder b) {
        long t0 = System.nanoTime();
        int promptLimit = b.maxPromptTokens != null ? b.maxPromptTokens : b.maxContext;
        if (promptLimit > b.maxContext) {
            throw new IllegalArgumentException("maxPromptTokens " + promptLimit + " exceeds maxContext "
                    + b.maxContext + ": a prompt must leave room in the context; lower maxPromptTokens(n) or raise"
                    + " maxContext(n)");
        }
        Path dir = resolveDir(b);
        Phi3VConfig config = Phi3VConfig.fromDirectory(dir);
        if (b.maxContext > config.maxPositionEmbeddings()) {
            throw new IllegalArgumentException("maxContext " + b.maxContext + " exceeds the model's "
                    + "max_position_embeddings " + config.maxPositionEmbeddings());
        }
        // Cheap files first, so a broken folder fails before gigabytes of weights are touched.
        Phi3Tokenizer tokenizer = Phi3Tokenizer.fromDirectory(dir);
        Phi3ImageProcessor processor = Files.isRegularFile(dir.resolve("preprocessor_config.json"))
                ? Phi3ImageProcessor.fromConfig(dir) : Phi3ImageProcessor.defaults();
        if (b.numCrops != null || b.imageLoader != null) {
            Phi3ImageProcessor.Builder pb = processor.toBuilder();
            if (b.numCrops != null) {
                pb.numCrops(b.numCrops);
            }
            if (b.imageLoader != null) {
                pb.loader(b.imageLoader);
            }
            processor = pb.build();
        }
        // Built (and so validated) before anything is estimated or loaded.
        ModelOptions options = ModelOptions.defaults().withPrecision(b.precision).withDevice(b.device)
                .withThreads(b.threads).withQuantization(b.quantization).withPackedDecodeWeights(b.packedDecodeWeights);
        MemoryEstimate estimate = estimateMemory(dir, b.precision, b.quantization, b.packedDecodeWeights,
                b.maxContext, processor.numCrops());
        long available = b.availableMemory != null ? b.availableMemory : MemoryEstimate.physicalMemoryBytes();
        estimate.requireFits(available);
        if (!b.precisionGiven && b.precision == Precision.FLOAT32 && b.device == ModelOptions.Device.CPU) {
            // Only when the choice was ours: the caller who asked for float32 knows what it costs.
            LOG.log(System.Logger.Level.INFO, "this CPU has no bf16 instructions (no avx512_bf16/amx_bf16 in"
                    + " /proc/cpuinfo): computing in float32, which needs twice the weight memory of bf16");
        }
        Phi3VModel model = Phi3VModel.load(dir, options);
        try {
            long kvBudget = b.kvCacheBytes != null ? b.kvCacheBytes
                    : model.kvCacheBytes(b.maxContext) + Math.max(0, available - estimate.totalBytes()) / 2;
            Limits limits = new Limits(b.maxContext, promptLimit, b.maxImagesPerPrompt, b.maxConcurrentRequests,
                    kvBudget, b.kvCacheWait, b.embeddingCacheBytes, b.maxBatchSize);
            Engine engine = new Engine(model, tokenizer, processor, limits);
            Phi3Vision phi = new Phi3Vision(dir, engine, estimate);
            LOG.log(System.Logger.Level.INFO, () -> "loaded " + dir + " in " + (System.nanoTime() - t0) / 1_000_000
                    + " ms: " + b.precision.label() + ", quantization " + b.quantization
                    + (b.packedDecodeWeights ? ", packed decode weights" : "") + ", " + b.device + ", "
                    + TorchRuntime.threads() + " threads, maxContext " + b.maxContext + ", KV budget "
                    + kvBudget / (1 << 20) + " MiB");
            if (b.warmUp) {
                Usage warm;
                try {
                    warm = engine.warmUp(Engine.WARM_UP_STEPS).usage();
                } catch (IllegalArgumentException e) {   // a limit (maxPromptTokens, maxContext, KV memory) refused it
                    throw new IllegalArgumentException("warmUp(true): the warm-up request (a one-word question and "
                            + Engine.WARM_UP_STEPS + " new tokens) does not fit this model's limits: " + e.getMessage()
                            + "; raise that limit or leave warmUp off", e);
                }
                LOG.log(System.Logger.Level.INFO, () -> "warm-up: " + warm);
            }
            return phi;
        } catch (RuntimeException | Error e) {
            model.close();
            throw e;
        }
    }

    private static Path resolveDir(Phi3VisionBuilder b) {
        if (b.location == null) {
            throw new IllegalStateException("no model given: call modelDir(path), modelId(\"org/name\") or model(idOrPath)"
                    + " first");
        }
        return b.location.resolve(b.hubConfig, b.revision, b.progress);
    }

    /**
     * See {@link Phi3Vision#estimateMemory(Path, Precision, Quantization, int, int)}; {@code packed} counts the
     * decoder linears and lm_head twice ({@link ModelOptions#packedDecodeWeights()}).
     */
    static MemoryEstimate estimateMemory(Path modelDir, Precision precision, Quantization quantization, boolean packed,
            int maxContext, int numCrops) {
        Objects.requireNonNull(quantization, "quantization");
        Phi3VConfig config = Phi3VConfig.fromDirectory(modelDir);
        int bytes = precision == Precision.FLOAT32 ? 4 : 2;
        long weightBytes = 0;
        try (Checkpoint checkpoint = Checkpoint.open(modelDir)) {
            for (String name : checkpoint.names()) {
                var info = checkpoint.info(name);
                boolean quantized = info.rank() == 2 && INT8_WEIGHTS.matcher(name).matches();
                if (info.dtype() == io.github.phi3v.core.weights.DType.I8
                        || info.dtype() == io.github.phi3v.core.weights.DType.U8) {
                    weightBytes += info.byteLength();                // a pre-quantized folder: as stored
                } else if (quantization == Quantization.INT8 && quantized) {
                    weightBytes += info.numel() + 4 * info.dim(0);
                } else if (quantization == Quantization.INT4 && quantized) {
                    weightBytes += info.numel() / 2 + 4 * (info.numel() / Quantization.INT4_GROUP_SIZE);
                } else {
                    boolean twice = packed && (quantized || name.equals(WeightNames.LM_HEAD));   // dense + packed
                    weightBytes += info.numel() * bytes * (twice ? 2 : 1);
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
