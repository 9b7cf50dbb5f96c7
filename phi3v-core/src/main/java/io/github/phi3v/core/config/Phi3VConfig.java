package io.github.phi3v.core.config;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;

/**
 * A validated Phi-3-V model configuration, read from an HF {@code config.json}. Absent fields take the
 * defaults of the official {@code configuration_phi3_v.py} (e.g. {@code pad_token_id} 32000,
 * {@code num_key_value_heads} = {@code num_attention_heads}); present fields are type- and
 * range-checked and cross-checked (head sizes, rotary factor counts, token ids inside the vocabulary).
 *
 * @param vocabSize rows of the token embedding and the LM head (32064)
 * @param hiddenSize decoder width (3072)
 * @param intermediateSize MLP width (8192)
 * @param numHiddenLayers decoder layers (32)
 * @param numAttentionHeads query heads (32)
 * @param numKeyValueHeads key/value heads (32; divides {@code numAttentionHeads})
 * @param rmsNormEps RMSNorm epsilon (1e-5)
 * @param ropeTheta rotary base (10000)
 * @param maxPositionEmbeddings longest supported context (131072)
 * @param originalMaxPositionEmbeddings context of pre-training (4096): LongRoPE switches from short to
 *     long factors beyond it
 * @param ropeScaling LongRoPE factors, or null for plain RoPE
 * @param slidingWindow attention window, or null for none
 * @param bosTokenId beginning-of-sequence id (1)
 * @param eosTokenId the (first) end-of-sequence id of the config (2); chat generation must also stop at
 *     {@code <|end|>}, which the config does not list
 * @param padTokenId padding id (32000; only the embedding's padding index)
 * @param tieWordEmbeddings whether {@code lm_head} shares the embedding (false for Phi-3-V)
 * @param torchDtype {@code torch_dtype} of the checkpoint ("float32", "bfloat16", "float16") or null
 * @param imageEmbedding the vision part, or null for a text-only config
 * @param eosTokenIds every end-of-sequence id the config lists ({@code eos_token_id} may be an int or a
 *     list); the first is {@code eosTokenId}
 */
public record Phi3VConfig(int vocabSize, int hiddenSize, int intermediateSize, int numHiddenLayers,
        int numAttentionHeads, int numKeyValueHeads, double rmsNormEps, double ropeTheta, int maxPositionEmbeddings,
        int originalMaxPositionEmbeddings, RopeScaling ropeScaling, Integer slidingWindow, int bosTokenId,
        int eosTokenId, int padTokenId, boolean tieWordEmbeddings, String torchDtype,
        ImageEmbeddingConfig imageEmbedding, List<Integer> eosTokenIds) {

    /** Name of the config file inside a model folder. */
    public static final String FILE_NAME = "config.json";

    private static final ObjectMapper JSON = JsonMapper.builder()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .build();

    /**
     * Validates every field and the relations between them (see the class comment).
     *
     * @param vocabSize rows of the token embedding and the LM head (&gt; 0)
     * @param hiddenSize decoder width; a multiple of {@code numAttentionHeads} with an even head size
     * @param intermediateSize MLP width (&gt; 0)
     * @param numHiddenLayers decoder layers (&gt; 0)
     * @param numAttentionHeads query heads (&gt; 0)
     * @param numKeyValueHeads key/value heads; divides {@code numAttentionHeads}
     * @param rmsNormEps RMSNorm epsilon; positive and finite
     * @param ropeTheta rotary base; positive and finite
     * @param maxPositionEmbeddings longest supported context in positions (&gt; 0)
     * @param originalMaxPositionEmbeddings pre-training context (&gt; 0, at most
     *     {@code maxPositionEmbeddings})
     * @param ropeScaling LongRoPE factors ({@code headDim / 2} per set), or null for plain RoPE
     * @param slidingWindow attention window in positions (&gt; 0), or null for none
     * @param bosTokenId beginning-of-sequence id, inside the vocabulary
     * @param eosTokenId first end-of-sequence id
     * @param padTokenId padding id, inside the vocabulary
     * @param tieWordEmbeddings whether {@code lm_head} shares the embedding
     * @param torchDtype {@code "float32"}, {@code "bfloat16"}, {@code "float16"} or null
     * @param imageEmbedding the vision part, or null for a text-only config
     * @param eosTokenIds every end-of-sequence id, starting with {@code eosTokenId}, all inside the
     *     vocabulary; null = just {@code eosTokenId}; copied
     * @throws InvalidConfigException if a rule is broken
     */
    public Phi3VConfig {
        requirePositive("vocab_size", vocabSize);
        requirePositive("hidden_size", hiddenSize);
        requirePositive("intermediate_size", intermediateSize);
        requirePositive("num_hidden_layers", numHiddenLayers);
        requirePositive("num_attention_heads", numAttentionHeads);
        requirePositive("num_key_value_heads", numKeyValueHeads);
        if (hiddenSize % numAttentionHeads != 0) {
            throw invalid("hidden_size", "a multiple of num_attention_heads (" + numAttentionHeads + ")", hiddenSize);
        }
        if (numAttentionHeads % numKeyValueHeads != 0) {
            throw invalid("num_key_value_heads", "a divisor of num_attention_heads (" + numAttentionHeads + ")",
                    numKeyValueHeads);
        }
        int headDim = hiddenSize / numAttentionHeads;
        if (headDim % 2 != 0) {
            throw invalid("hidden_size", "an even head size for the rotary embedding, hidden_size / "
                    + "num_attention_heads", hiddenSize + " / " + numAttentionHeads + " = " + headDim);
        }
        requirePositiveFinite("rms_norm_eps", rmsNormEps);
        requirePositiveFinite("rope_theta", ropeTheta);
        requirePositive("max_position_embeddings", maxPositionEmbeddings);
        requirePositive("original_max_position_embeddings", originalMaxPositionEmbeddings);
        if (originalMaxPositionEmbeddings > maxPositionEmbeddings) {
            throw invalid("original_max_position_embeddings", "at most max_position_embeddings ("
                    + maxPositionEmbeddings + ")", originalMaxPositionEmbeddings);
        }
        if (ropeScaling != null && ropeScaling.size() != headDim / 2) {
            throw invalid("rope_scaling.short_factor", headDim / 2 + " values (head_dim / 2 = " + hiddenSize + " / "
                    + numAttentionHeads + " / 2)", ropeScaling.size() + " values");
        }
        if (slidingWindow != null && slidingWindow <= 0) {
            throw invalid("sliding_window", "a positive integer or null", slidingWindow);
        }
        requireTokenId("bos_token_id", bosTokenId, vocabSize);
        requireTokenId("pad_token_id", padTokenId, vocabSize);
        if (eosTokenIds == null) {
            eosTokenIds = List.of(eosTokenId);
        }
        eosTokenIds = List.copyOf(eosTokenIds);
        if (eosTokenIds.isEmpty() || eosTokenIds.get(0) != eosTokenId) {
            throw invalid("eos_token_id", "a list starting with eosTokenId " + eosTokenId, eosTokenIds);
        }
        for (int id : eosTokenIds) {
            requireTokenId("eos_token_id", id, vocabSize);
        }
        if (torchDtype != null && !List.of("float32", "bfloat16", "float16").contains(torchDtype)) {
            throw invalid("torch_dtype", "\"float32\", \"bfloat16\" or \"float16\"", "\"" + torchDtype + "\"");
        }
    }

    /**
     * Creates a config with a single end-of-sequence id (the component list of the original contract).
     *
     * @param vocabSize see the record components
     * @param hiddenSize see the record components
     * @param intermediateSize see the record components
     * @param numHiddenLayers see the record components
     * @param numAttentionHeads see the record components
     * @param numKeyValueHeads see the record components
     * @param rmsNormEps see the record components
     * @param ropeTheta see the record components
     * @param maxPositionEmbeddings see the record components
     * @param originalMaxPositionEmbeddings see the record components
     * @param ropeScaling see the record components
     * @param slidingWindow see the record components
     * @param bosTokenId see the record components
     * @param eosTokenId see the record components
     * @param padTokenId see the record components
     * @param tieWordEmbeddings see the record components
     * @param torchDtype see the record components
     * @param imageEmbedding see the record components
     */
    public Phi3VConfig(int vocabSize, int hiddenSize, int intermediateSize, int numHiddenLayers,
            int numAttentionHeads, int numKeyValueHeads, double rmsNormEps, double ropeTheta,
            int maxPositionEmbeddings, int originalMaxPositionEmbeddings, RopeScaling ropeScaling,
            Integer slidingWindow, int bosTokenId, int eosTokenId, int padTokenId, boolean tieWordEmbeddings,
            String torchDtype, ImageEmbeddingConfig imageEmbedding) {
        this(vocabSize, hiddenSize, intermediateSize, numHiddenLayers, numAttentionHeads, numKeyValueHeads,
                rmsNormEps, ropeTheta, maxPositionEmbeddings, originalMaxPositionEmbeddings, ropeScaling,
                slidingWindow, bosTokenId, eosTokenId, padTokenId, tieWordEmbeddings, torchDtype, imageEmbedding,
                List.of(eosTokenId));
    }

    /**
     * Per-head width of the decoder, {@code hiddenSize / numAttentionHeads} (96 for Phi-3-V).
     *
     * @return {@code hiddenSize / numAttentionHeads}, always even (96 for Phi-3-V)
     */
    public int headDim() {
        return hiddenSize / numAttentionHeads;
    }

    /**
     * True when the config has an image embedding (Phi-3-V proper), false for a text-only config.
     *
     * @return {@code imageEmbedding() != null}
     */
    public boolean hasVision() {
        return imageEmbedding != null;
    }

    /**
     * Reads {@code config.json} from a model folder.
     *
     * @param modelDir an HF model folder (or snapshot directory)
     * @return the validated config
     * @throws InvalidConfigException if the file is missing, unreadable, not JSON or not a valid config
     */
    public static Phi3VConfig fromDirectory(Path modelDir) {
        return fromFile(modelDir.resolve(FILE_NAME));
    }

    /**
     * Reads and validates a config file.
     *
     * @param file the path of a {@code config.json}
     * @return the validated config
     * @throws InvalidConfigException if the file is missing, unreadable, not JSON or not a valid config;
     *     the message starts with the file's path
     */
    public static Phi3VConfig fromFile(Path file) {
        String json;
        try {
            json = Files.readString(file);
        } catch (NoSuchFileException e) {
            throw new InvalidConfigException(file + ": expected a Phi-3-V config.json, found no such file", e);
        } catch (IOException e) {
            throw new InvalidConfigException(file + ": cannot read: " + e, e);
        }
        return parse(json, file.toString());
    }

    /**
     * Parses and validates config JSON held in memory; messages name the source {@code config.json}.
     *
     * @param json the content of a {@code config.json}
     * @return the validated config
     * @throws InvalidConfigException if the text is not JSON or not a valid config
     */
    public static Phi3VConfig fromJson(String json) {
        return parse(json, FILE_NAME);
    }

    private static Phi3VConfig parse(String json, String source) {
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (JsonProcessingException e) {
            throw new InvalidConfigException(source + ": expected a JSON object, found malformed JSON: "
                    + e.getOriginalMessage() + " at line " + e.getLocation().getLineNr() + ", column "
                    + e.getLocation().getColumnNr(), e);
        }
        if (root == null || !root.isObject()) {
            throw new InvalidConfigException(source + ": expected a JSON object, found "
                    + (root == null ? "nothing" : JsonFields.describe(root)));
        }
        JsonFields f = new JsonFields(source, "", root);
        try {
            if (f.has("model_type")) {
                f.oneOf("model_type", null, "phi3_v");
            }
            f.oneOf("hidden_act", "silu", "silu");
            int heads = f.positiveInt("num_attention_heads", 32);
            int hidden = f.positiveInt("hidden_size", 3072);
            List<Integer> eos = eosIds(f);
            ImageEmbeddingConfig image = imageEmbedding(f);
            return new Phi3VConfig(
                    f.positiveInt("vocab_size", 32064),
                    hidden,
                    f.positiveInt("intermediate_size", 8192),
                    f.positiveInt("num_hidden_layers", 32),
                    heads,
                    f.positiveInt("num_key_value_heads", heads),
                    f.positiveDouble("rms_norm_eps", 1e-5),
                    f.positiveDouble("rope_theta", 10000.0),
                    f.positiveInt("max_position_embeddings", 4096),
                    f.positiveInt("original_max_position_embeddings", 4096),
                    RopeScaling.from(f.objectOrNull("rope_scaling"), hidden, heads),
                    f.nullableInt("sliding_window"),
                    f.optionalInt("bos_token_id", 1),
                    eos.get(0),
                    f.optionalInt("pad_token_id", 32000),
                    f.optionalBoolean("tie_word_embeddings", false),
                    f.optionalString("torch_dtype", null),
                    image,
                    eos);
        } catch (InvalidConfigException e) {
            throw resourced(e, source);
        }
    }

    /** {@code eos_token_id}: an int or a non-empty list of ints (default 32000). */
    private static List<Integer> eosIds(JsonFields f) {
        if (!f.has("eos_token_id")) {
            return List.of(32000);
        }
        JsonNode v = f.raw("eos_token_id");
        if (v.isArray()) {
            if (v.isEmpty()) {
                throw f.error("eos_token_id", "an integer or a non-empty list of integers", "[]");
            }
            List<Integer> ids = new ArrayList<>();
            for (int i = 0; i < v.size(); i++) {
                ids.add(f.toInt("eos_token_id[" + i + "]", v.get(i)));
            }
            return ids;
        }
        if (!v.isIntegralNumber() || !v.canConvertToInt()) {
            throw f.error("eos_token_id", "an integer or a non-empty list of integers", JsonFields.describe(v));
        }
        return List.of(v.intValue());
    }

    /**
     * The vision part. As in the official model code, {@code embd_layer} being an object enables it;
     * absent, null or a string (the official default {@code "default"}) means a text-only model.
     */
    private static ImageEmbeddingConfig imageEmbedding(JsonFields f) {
        JsonNode embd = f.raw("embd_layer");
        if (embd == null || embd.isNull() || embd.isTextual()) {
            return null;
        }
        JsonFields embdFields = f.objectOrNull("embd_layer");
        JsonFields img = f.objectOrNull("img_processor");
        if (img == null) {
            throw f.error("img_processor", "an object describing the CLIP image processor (embd_layer is set)",
                    "no value");
        }
        return ImageEmbeddingConfig.from(img, embdFields);
    }

    /** Rewrites the "config.json: " prefix of record-constructor errors to the actual source. */
    static InvalidConfigException resourced(InvalidConfigException e, String source) {
        String m = e.getMessage();
        String prefix = FILE_NAME + ": ";
        if (FILE_NAME.equals(source) || m == null || !m.startsWith(prefix)) {
            return e;
        }
        return new InvalidConfigException(source + ": " + m.substring(prefix.length()), e.getCause());
    }

    private static InvalidConfigException invalid(String field, String expected, Object found) {
        return new InvalidConfigException(FILE_NAME + ": " + field + ": expected " + expected + ", found " + found);
    }

    private static void requirePositive(String field, int value) {
        if (value <= 0) {
            throw invalid(field, "a positive integer", value);
        }
    }

    private static void requirePositiveFinite(String field, double value) {
        if (!(value > 0) || Double.isInfinite(value)) {
            throw invalid(field, "a positive finite number", value);
        }
    }

    private static void requireTokenId(String field, int id, int vocabSize) {
        if (id < 0 || id >= vocabSize) {
            throw invalid(field, "a token id in [0, vocab_size = " + vocabSize + ")", id);
        }
    }
}
