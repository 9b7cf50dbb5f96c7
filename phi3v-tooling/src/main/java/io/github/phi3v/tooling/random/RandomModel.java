package io.github.phi3v.tooling.random;

import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

import io.github.phi3v.core.config.ClipVisionConfig;
import io.github.phi3v.core.config.ImageEmbeddingConfig;
import io.github.phi3v.core.config.Phi3VConfig;
import io.github.phi3v.core.config.RopeScaling;
import io.github.phi3v.core.model.WeightNames;
import io.github.phi3v.core.weights.DType;
import io.github.phi3v.core.weights.SafetensorsWriter.Tensor;
import io.github.phi3v.core.weights.SafetensorsWriter;

/**
 * Builds a complete Hugging Face style Phi-3-V model folder with deterministic random weights:
 * {@code config.json}, {@code preprocessor_config.json}, a {@link SyntheticTokenizer} and
 * {@code model.safetensors} (or shards with an index, {@link Builder#maxShardBytes}) with every tensor of
 * {@link WeightNames#stored} (the model's one name table).
 * Its answers are meaningless; it exists so the whole pipeline (image in, streamed text out) can run
 * without the real 8 GB checkpoint, and for benchmarks with the real shapes.
 *
 * <pre>{@code
 * Path dir = RandomModel.builder(RandomModel.tinyConfig()).seed(7).build(Path.of("/tmp/tiny-random"));
 * try (Phi3VModel model = Phi3VModel.load(dir, ModelOptions.defaults())) { ... }
 *
 * // full size (8.3 GB in bf16), e.g. for benchmarks:
 * RandomModel.builder(Phi3VConfig.fromFile(Path.of("config.json"))).dtype(DType.BF16).build(dir);
 * }</pre>
 *
 * <p>Weights are streamed to disk one 1 MiB buffer at a time, so the heap needed does not depend on the
 * model size. Each tensor's values depend only on the seed and the tensor's name. The distributions
 * follow the golden tiny models (unit-variance uniform noise z): norm weights {@code 1 + 0.2 z}, biases
 * {@code 0.1 z}, separators and the class embedding {@code z}, token and position embeddings
 * {@code 0.5 z}, other matrices {@code z / sqrt(fan_in)} ({@code 1.5 z / sqrt(fan_in)} for q/k so
 * attention is not uniform). The builder is immutable; {@link #build} may be called from any thread.
 */
public final class RandomModel {

    /** Default seed of {@link Builder#seed}. */
    public static final long DEFAULT_SEED = 20240522L;

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final float SQRT3 = (float) Math.sqrt(3.0);

    private final Phi3VConfig config;
    private final DType dtype;
    private final long seed;
    private final int numCrops;
    private final String name;
    private final long maxShardBytes;

    private RandomModel(Phi3VConfig config, DType dtype, long seed, int numCrops, String name,
            long maxShardBytes) {
        this.config = config;
        this.dtype = dtype;
        this.seed = seed;
        this.numCrops = numCrops;
        this.name = name;
        this.maxShardBytes = maxShardBytes;
    }

    /**
     * The tiny configuration of the golden {@code tiny-a} models: decoder hidden 64, 2 layers, 4 heads,
     * MLP 128, vocabulary 32064, LongRoPE with 8 factors per set and {@code original_max_position_embeddings}
     * 64 (so a short prompt already crosses to the long factors); CLIP hidden 32, 3 layers, 4 heads,
     * MLP 64 at 336 px / patch 14, carried in {@code img_processor.clip_vision_config}. About 4.3 M
     * parameters (17 MB in float32).
     *
     * @return the config
     */
    public static Phi3VConfig tinyConfig() {
        double[] shortFactor = new double[8];
        double[] longFactor = new double[8];
        for (int i = 0; i < 8; i++) {
            shortFactor[i] = 1.0 + 0.2 * i;                  // gentle, like the real short factors
            longFactor[i] = Math.pow(1.8, i);               // steep, like the real long factors
        }
        ClipVisionConfig clip = new ClipVisionConfig(32, 64, 3, 4, 336, 14, 3, "quick_gelu", 1e-5);
        ImageEmbeddingConfig img = new ImageEmbeddingConfig(32, 144, ImageEmbeddingConfig.CLIP_MODEL_NAME, clip, -2,
                "patch", true, true, "sub_glb", "mlp");
        return new Phi3VConfig(32064, 64, 128, 2, 4, 4, 1e-5, 10000.0, 131072, 64,
                new RopeScaling("su", shortFactor, longFactor), 131072, 1, 2, 32000, false, "float32", img);
    }

    /**
     * A builder for a model folder of this configuration.
     *
     * @param config the architecture (e.g. {@link #tinyConfig()} or a real {@code config.json})
     * @return a builder with dtype F32, seed {@link #DEFAULT_SEED}, num_crops 16
     */
    public static Builder builder(Phi3VConfig config) {
        return new Builder(Objects.requireNonNull(config, "config"));
    }

    /**
     * The configuration the folder will have (with {@code torch_dtype} set to the weights' dtype).
     *
     * @return the config written as {@code config.json}
     */
    public Phi3VConfig config() {
        return config;
    }

    /**
     * Every tensor of the checkpoint, in file order, each with its own deterministic data source.
     *
     * @return a new list of the tensors to write
     */
    public List<Tensor> tensors() {
        List<Tensor> out = new ArrayList<>();
        for (Map.Entry<String, long[]> e : WeightNames.stored(config).entrySet()) {
            out.add(tensor(e.getKey(), e.getValue()));
        }
        return out;
    }

    /**
     * Bytes of {@code model.safetensors}.
     *
     * @return the exact file size in bytes (header included), computed without writing
     */
    public long checkpointBytes() {
        return SafetensorsWriter.fileSize(Map.of("format", "pt"), tensors());
    }

    /**
     * Writes the model folder. The files are written into a temporary sibling folder first, which is
     * then renamed to {@code dir}: a folder at {@code dir} is always complete.
     *
     * @param dir the folder to create; must not exist, or be empty
     * @return {@code dir}
     * @throws IOException if writing fails, or {@code dir} exists and is not empty
     */
    public Path build(Path dir) throws IOException {
        Path target = dir.toAbsolutePath().normalize();
        if (Files.exists(target)) {
            try (Stream<Path> s = Files.list(target)) {
                if (s.findAny().isPresent()) {
                    throw new FileAlreadyExistsException(target.toString(), null,
                            "expected a new or empty folder for the random model, found a non-empty one");
                }
            }
        }
        Path parent = target.getParent();
        Files.createDirectories(parent);
        // Not Files.createTempDirectory: its owner-only permissions would stick to the model folder.
        Path tmp = Files.createDirectory(parent.resolve("." + target.getFileName() + "."
                + Long.toUnsignedString(System.nanoTime(), 36) + Thread.currentThread().getId() + ".part"));
        boolean done = false;
        try {
            writeFiles(tmp);
            if (Files.exists(target)) {
                Files.delete(target);                          // empty (checked above)
            }
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target);
            }
            done = true;
            return target;
        } catch (DirectoryNotEmptyException e) {
            throw new FileAlreadyExistsException(target.toString(), null, "another process created it meanwhile");
        } finally {
            if (!done) {
                deleteTree(tmp);
            }
        }
    }

    private void writeFiles(Path dir) throws IOException {
        JSON.writeValue(dir.resolve("config.json").toFile(), configJson());
        JSON.writeValue(dir.resolve("preprocessor_config.json").toFile(), preprocessorJson());
        SyntheticTokenizer.writeTo(dir);
        List<List<Tensor>> shards = shards();
        if (shards.size() == 1) {
            SafetensorsWriter.write(dir.resolve("model.safetensors"), Map.of("format", "pt"), shards.get(0));
            return;
        }
        // Sharded like the real checkpoints: model-0000k-of-0000n.safetensors + model.safetensors.index.json
        Map<String, String> weightMap = new LinkedHashMap<>();
        long total = 0;
        for (int k = 0; k < shards.size(); k++) {
            String file = String.format("model-%05d-of-%05d.safetensors", k + 1, shards.size());
            SafetensorsWriter.write(dir.resolve(file), Map.of("format", "pt"), shards.get(k));
            for (Tensor t : shards.get(k)) {
                weightMap.put(t.name(), file);
                total += t.byteSize();
            }
        }
        Map<String, Object> index = new LinkedHashMap<>();
        index.put("metadata", Map.of("total_size", total));
        index.put("weight_map", weightMap);
        JSON.writeValue(dir.resolve("model.safetensors.index.json").toFile(), index);
    }

    /** The tensors split into consecutive shards of at most {@code maxShardBytes} (a bigger tensor alone). */
    private List<List<Tensor>> shards() {
        List<List<Tensor>> shards = new ArrayList<>();
        List<Tensor> current = new ArrayList<>();
        long bytes = 0;
        for (Tensor t : tensors()) {
            if (!current.isEmpty() && bytes + t.byteSize() > maxShardBytes) {
                shards.add(current);
                current = new ArrayList<>();
                bytes = 0;
            }
            current.add(t);
            bytes += t.byteSize();
        }
        shards.add(current);
        return shards;
    }

    /** {@code config.json} content, in the field order of the official files. */
    Map<String, Object> configJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("_name_or_path", name);
        m.put("architectures", List.of("Phi3VForCausalLM"));
        m.put("attention_dropout", 0.0);
        m.put("auto_map", Map.of("AutoConfig", "configuration_phi3_v.Phi3VConfig",
                "AutoModelForCausalLM", "modeling_phi3_v.Phi3VForCausalLM"));
        m.put("bos_token_id", config.bosTokenId());
        ImageEmbeddingConfig img = config.imageEmbedding();
        if (img != null) {
            Map<String, Object> embd = new LinkedHashMap<>();
            embd.put("embedding_cls", "image");
            embd.put("hd_transform_order", img.hdTransformOrder());
            embd.put("projection_cls", img.projectionCls());
            embd.put("use_hd_transform", img.useHdTransform());
            embd.put("with_learnable_separator", img.withLearnableSeparator());
            m.put("embd_layer", embd);
        }
        m.put("eos_token_id", config.eosTokenIds().size() == 1 ? config.eosTokenId() : config.eosTokenIds());
        m.put("hidden_act", "silu");
        m.put("hidden_size", config.hiddenSize());
        if (img != null) {
            Map<String, Object> ip = new LinkedHashMap<>();
            ip.put("image_dim_out", img.imageDimOut());
            ip.put("model_name", img.modelName());
            ip.put("name", "clip_vision_model");
            ip.put("num_img_tokens", img.numImgTokens());
            if (img.layerIdx() != -2) {
                ip.put("layer_idx", img.layerIdx());
            }
            if (!"patch".equals(img.typeFeature())) {
                ip.put("type_feature", img.typeFeature());
            }
            ClipVisionConfig c = img.clip();
            if (!c.equals(ClipVisionConfig.vitL14_336())) {
                Map<String, Object> cv = new LinkedHashMap<>();
                cv.put("hidden_size", c.hiddenSize());
                cv.put("intermediate_size", c.intermediateSize());
                cv.put("num_hidden_layers", c.numHiddenLayers());
                cv.put("num_attention_heads", c.numAttentionHeads());
                cv.put("image_size", c.imageSize());
                cv.put("patch_size", c.patchSize());
                cv.put("num_channels", c.numChannels());
                cv.put("hidden_act", c.hiddenAct());
                cv.put("layer_norm_eps", c.layerNormEps());
                ip.put("clip_vision_config", cv);
            }
            m.put("img_processor", ip);
        }
        m.put("initializer_range", 0.02);
        m.put("intermediate_size", config.intermediateSize());
        m.put("max_position_embeddings", config.maxPositionEmbeddings());
        m.put("model_type", "phi3_v");
        m.put("num_attention_heads", config.numAttentionHeads());
        m.put("num_hidden_layers", config.numHiddenLayers());
        m.put("num_key_value_heads", config.numKeyValueHeads());
        m.put("original_max_position_embeddings", config.originalMaxPositionEmbeddings());
        m.put("pad_token_id", config.padTokenId());
        m.put("rms_norm_eps", config.rmsNormEps());
        RopeScaling rs = config.ropeScaling();
        if (rs != null) {
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("long_factor", rs.longFactor());
            r.put("short_factor", rs.shortFactor());
            r.put("type", rs.type());
            m.put("rope_scaling", r);
        } else {
            m.put("rope_scaling", null);
        }
        m.put("rope_theta", config.ropeTheta());
        m.put("sliding_window", config.slidingWindow());
        m.put("tie_word_embeddings", config.tieWordEmbeddings());
        m.put("torch_dtype", config.torchDtype());
        m.put("use_cache", true);
        m.put("vocab_size", config.vocabSize());
        return m;
    }

    /** {@code preprocessor_config.json}: the Phi-3-V image processor with CLIP's mean and std. */
    Map<String, Object> preprocessorJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("auto_map", Map.of("AutoProcessor", "processing_phi3_v.Phi3VProcessor",
                "AutoImageProcessor", "image_processing_phi3_v.Phi3VImageProcessor"));
        m.put("num_crops", numCrops);
        m.put("image_mean", List.of(0.48145466, 0.4578275, 0.40821073));   // OPENAI_CLIP_MEAN
        m.put("image_processor_type", "Phi3VImageProcessor");
        m.put("image_std", List.of(0.26862954, 0.26130258, 0.27577711));   // OPENAI_CLIP_STD
        m.put("processor_class", "Phi3VProcessor");
        int tokens = config.hasVision() ? config.imageEmbedding().numImgTokens() : 144;
        m.put("num_img_tokens", tokens);
        return m;
    }

    private Tensor tensor(String tensorName, long[] shape) {
        float mean;
        float std;
        if (tensorName.endsWith("norm.weight") || tensorName.endsWith("layernorm.weight")
                || tensorName.endsWith("layrnorm.weight") || tensorName.endsWith("layer_norm1.weight")
                || tensorName.endsWith("layer_norm2.weight")) {
            mean = 1f;
            std = 0.2f;
        } else if (tensorName.endsWith(".bias")) {
            mean = 0f;
            std = 0.1f;
        } else if (tensorName.equals(WeightNames.GLB_GN) || tensorName.equals(WeightNames.SUB_GN)
                || tensorName.equals(WeightNames.CLASS_EMBEDDING)) {
            mean = 0f;
            std = 1f;
        } else if (tensorName.equals(WeightNames.EMBED_TOKENS) || tensorName.equals(WeightNames.POSITION_EMBEDDING)) {
            mean = 0f;
            std = 0.5f;
        } else {
            long fanIn = 1;
            for (int i = 1; i < shape.length; i++) {
                fanIn *= shape[i];
            }
            boolean qk = tensorName.endsWith("qkv_proj.weight") || tensorName.endsWith("q_proj.weight")
                    || tensorName.endsWith("k_proj.weight");
            mean = 0f;
            std = (float) ((qk ? 1.5 : 1.0) / Math.sqrt(Math.max(1, fanIn)));
        }
        long tensorSeed = seed ^ fnv1a(tensorName);
        float scale = std * SQRT3;                                  // uniform [-1, 1) has variance 1/3
        float offset = mean;
        Tensor probe = new Tensor(tensorName, dtype, shape, out -> { });
        long numel = probe.numel();
        return new Tensor(tensorName, dtype, shape, out -> {
            SplittableRandom rnd = new SplittableRandom(tensorSeed);
            long i = 0;
            for (; i + 1 < numel; i += 2) {
                long bits = rnd.nextLong();
                out.put(offset + scale * (((int) bits >> 8) * 0x1p-23f));
                out.put(offset + scale * (((int) (bits >>> 32) >> 8) * 0x1p-23f));
            }
            if (i < numel) {
                out.put(offset + scale * (((int) rnd.nextLong() >> 8) * 0x1p-23f));
            }
        });
    }

    private static long fnv1a(String s) {
        long h = 0xcbf29ce484222325L;
        for (int i = 0; i < s.length(); i++) {
            h ^= s.charAt(i);
            h *= 0x100000001b3L;
        }
        return h;
    }

    private static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    /** Configures a {@link RandomModel}. Not thread-safe; the built model is immutable. */
    public static final class Builder {

        private final Phi3VConfig config;
        private DType dtype = DType.F32;
        private long seed = DEFAULT_SEED;
        private int numCrops = 16;
        private String name = "phi3v-random";
        private long maxShardBytes = Long.MAX_VALUE;

        private Builder(Phi3VConfig config) {
            this.config = config;
        }

        /**
         * Element type of the weights.
         *
         * @param t F32, BF16 or F16
         * @return this builder
         */
        public Builder dtype(DType t) {
            if (!t.isWeightType()) {
                throw new IllegalArgumentException("weights dtype must be F32, BF16 or F16 (what the loader reads), got "
                        + t);
            }
            this.dtype = t;
            return this;
        }

        /**
         * Seed of the weights; the same seed gives byte-identical files.
         *
         * @param s any value
         * @return this builder
         */
        public Builder seed(long s) {
            this.seed = s;
            return this;
        }

        /**
         * {@code num_crops} of the written {@code preprocessor_config.json}.
         *
         * @param n at least 1
         * @return this builder
         */
        public Builder numCrops(int n) {
            if (n < 1) {
                throw new IllegalArgumentException("numCrops must be >= 1, got " + n);
            }
            this.numCrops = n;
            return this;
        }

        /**
         * {@code _name_or_path} of the written config.
         *
         * @param n a label
         * @return this builder
         */
        public Builder name(String n) {
            this.name = Objects.requireNonNull(n, "name");
            return this;
        }

        /**
         * Splits the weights into shards of at most this many bytes, with a
         * {@code model.safetensors.index.json}, as the real checkpoints are published (5 GB shards
         * there); by default everything goes into one {@code model.safetensors}.
         *
         * @param bytes the largest shard (a single bigger tensor gets a shard of its own)
         * @return this builder
         */
        public Builder maxShardBytes(long bytes) {
            if (bytes < 1) {
                throw new IllegalArgumentException("maxShardBytes must be >= 1, got " + bytes);
            }
            this.maxShardBytes = bytes;
            return this;
        }

        /**
         * The immutable model description.
         *
         * @return the random model, ready to {@link RandomModel#build}
         */
        public RandomModel create() {
            String torchDtype = switch (dtype) {
                case BF16 -> "bfloat16";
                case F16 -> "float16";
                default -> "float32";
            };
            Phi3VConfig c = config;
            Phi3VConfig withDtype = new Phi3VConfig(c.vocabSize(), c.hiddenSize(), c.intermediateSize(),
                    c.numHiddenLayers(), c.numAttentionHeads(), c.numKeyValueHeads(), c.rmsNormEps(), c.ropeTheta(),
                    c.maxPositionEmbeddings(), c.originalMaxPositionEmbeddings(), c.ropeScaling(), c.slidingWindow(),
                    c.bosTokenId(), c.eosTokenId(), c.padTokenId(), c.tieWordEmbeddings(), torchDtype,
                    c.imageEmbedding(), c.eosTokenIds());
            return new RandomModel(withDtype, dtype, seed, numCrops, name, maxShardBytes);
        }

        /**
         * Shortcut for {@code create().build(dir)}.
         *
         * @param dir the folder to create (must not exist or be empty)
         * @return {@code dir}
         * @throws IOException if writing fails
         */
        public Path build(Path dir) throws IOException {
            return create().build(dir);
        }
    }
}
