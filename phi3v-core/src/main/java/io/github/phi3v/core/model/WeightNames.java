package io.github.phi3v.core.model;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;

import io.github.phi3v.core.config.ClipVisionConfig;
import io.github.phi3v.core.config.ImageEmbeddingConfig;
import io.github.phi3v.core.config.Phi3VConfig;

/**
 * The one table from checkpoint tensor names (the official state-dict names of
 * {@code Phi3VForCausalLM}) to the modules of this package, with the shape each must have.
 *
 * <p>Three kinds of names:
 * <ul>
 *   <li>{@link #computed(Phi3VConfig)}: loaded and used; every one must be present with this shape.</li>
 *   <li>{@link #isStoredButUnused}: present in real checkpoints but never computed, so never loaded:
 *       the CLIP encoder layers after {@code hidden_states[layer_idx]} (the last one for the default
 *       -2), CLIP's {@code post_layernorm}, the {@code position_ids} buffer and
 *       {@code vision_embed_tokens.wte} (the official module IS {@code model.embed_tokens}).</li>
 *   <li>anything else is unexpected: a checkpoint of another architecture or size.</li>
 * </ul>
 * {@link #validate} reports every missing, unexpected and wrongly shaped tensor in ONE exception.
 */
public final class WeightNames {

    /** Token embedding {@code [vocab, hidden]}; also the image embedding's {@code wte}. */
    public static final String EMBED_TOKENS = "model.embed_tokens.weight";
    /** Final RMSNorm weight {@code [hidden]}. */
    public static final String FINAL_NORM = "model.norm.weight";
    /** Output projection {@code [vocab, hidden]} (not tied to the embedding in Phi-3-V). */
    public static final String LM_HEAD = "lm_head.weight";

    /** Decoder layer suffix: fused q, k, v projection {@code [(heads + 2·kvHeads)·headDim, hidden]}. */
    public static final String QKV_PROJ = "self_attn.qkv_proj.weight";
    /** Decoder layer suffix: attention output projection {@code [hidden, heads·headDim]}. */
    public static final String O_PROJ = "self_attn.o_proj.weight";
    /** Decoder layer suffix: fused gate and up projection {@code [2·intermediate, hidden]}, gate first. */
    public static final String GATE_UP_PROJ = "mlp.gate_up_proj.weight";
    /** Decoder layer suffix: down projection {@code [hidden, intermediate]}. */
    public static final String DOWN_PROJ = "mlp.down_proj.weight";
    /** Decoder layer suffix: RMSNorm before attention. */
    public static final String INPUT_LAYERNORM = "input_layernorm.weight";
    /** Decoder layer suffix: RMSNorm before the MLP. */
    public static final String POST_ATTENTION_LAYERNORM = "post_attention_layernorm.weight";

    /** Prefix of the image embedding module. */
    public static final String VISION = "model.vision_embed_tokens.";
    /** Prefix of the CLIP vision model inside it. */
    public static final String CLIP = VISION + "img_processor.vision_model.";
    /** CLIP patch convolution {@code [C, channels, patch, patch]}, no bias. */
    public static final String PATCH_EMBEDDING = CLIP + "embeddings.patch_embedding.weight";
    /** CLIP class token {@code [C]}. */
    public static final String CLASS_EMBEDDING = CLIP + "embeddings.class_embedding";
    /** CLIP position embedding {@code [patches + 1, C]}. */
    public static final String POSITION_EMBEDDING = CLIP + "embeddings.position_embedding.weight";
    /** CLIP LayerNorm before the encoder (the official attribute name has this typo). */
    public static final String PRE_LAYRNORM = CLIP + "pre_layrnorm.";
    /** Separator after the sub-crop grid, {@code [1, 1, 4C]}. */
    public static final String GLB_GN = VISION + "glb_GN";
    /** Separator after every row of a grid, {@code [1, 1, 1, 4C]}. */
    public static final String SUB_GN = VISION + "sub_GN";
    /** First projection layer, {@code Linear(4C, hidden)}. */
    public static final String IMG_PROJECTION_0 = VISION + "img_projection.0.";
    /** Second projection layer, {@code Linear(hidden, hidden)} (index 1 is the GELU). */
    public static final String IMG_PROJECTION_2 = VISION + "img_projection.2.";

    private WeightNames() {
    }

    /**
     * {@code model.layers.<layer>.<suffix>}.
     *
     * @param layer decoder layer index, 0-based
     * @param suffix e.g. {@code self_attn.qkv_proj.weight}
     * @return the checkpoint name
     */
    public static String decoderLayer(int layer, String suffix) {
        return "model.layers." + layer + "." + suffix;
    }

    /**
     * {@code ...vision_model.encoder.layers.<layer>.<suffix>}, e.g. suffix {@code self_attn.q_proj.weight}.
     *
     * @param layer CLIP encoder layer index, 0-based
     * @param suffix the part after the layer index
     * @return the checkpoint name
     */
    public static String clipLayer(int layer, String suffix) {
        return CLIP + "encoder.layers." + layer + "." + suffix;
    }

    /**
     * How many CLIP encoder layers are computed: enough to produce {@code hidden_states[layer_idx]}
     * (the embeddings after {@code pre_layrnorm} are hidden state 0).
     *
     * @param img the image configuration (its {@code layerIdx} and CLIP depth)
     * @return the number of encoder layers to run, 0..{@code numHiddenLayers}
     */
    public static int computedClipLayers(ImageEmbeddingConfig img) {
        int states = img.clip().numHiddenLayers() + 1;
        return img.layerIdx() < 0 ? states + img.layerIdx() : img.layerIdx();
    }

    /**
     * Every tensor the model loads, with its required shape, in a stable order.
     *
     * @param cfg the model configuration
     * @return checkpoint name to shape, in insertion order
     */
    public static Map<String, long[]> computed(Phi3VConfig cfg) {
        Map<String, long[]> m = new LinkedHashMap<>();
        long h = cfg.hiddenSize();
        long v = cfg.vocabSize();
        long d = cfg.headDim();
        m.put(EMBED_TOKENS, new long[] {v, h});
        for (int i = 0; i < cfg.numHiddenLayers(); i++) {
            m.put(decoderLayer(i, INPUT_LAYERNORM), new long[] {h});
            m.put(decoderLayer(i, QKV_PROJ),
                    new long[] {(cfg.numAttentionHeads() + 2L * cfg.numKeyValueHeads()) * d, h});
            m.put(decoderLayer(i, O_PROJ), new long[] {h, cfg.numAttentionHeads() * d});
            m.put(decoderLayer(i, POST_ATTENTION_LAYERNORM), new long[] {h});
            m.put(decoderLayer(i, GATE_UP_PROJ), new long[] {2L * cfg.intermediateSize(), h});
            m.put(decoderLayer(i, DOWN_PROJ), new long[] {h, cfg.intermediateSize()});
        }
        m.put(FINAL_NORM, new long[] {h});
        m.put(LM_HEAD, new long[] {v, h});
        if (cfg.hasVision()) {
            ImageEmbeddingConfig img = cfg.imageEmbedding();
            ClipVisionConfig clip = img.clip();
            long c = clip.hiddenSize();
            long p = clip.patchSize();
            long patches = (long) clip.patchesPerSide() * clip.patchesPerSide();
            m.put(PATCH_EMBEDDING, new long[] {c, clip.numChannels(), p, p});
            m.put(CLASS_EMBEDDING, new long[] {c});
            m.put(POSITION_EMBEDDING, new long[] {patches + 1, c});
            m.put(PRE_LAYRNORM + "weight", new long[] {c});
            m.put(PRE_LAYRNORM + "bias", new long[] {c});
            for (int i = 0; i < computedClipLayers(img); i++) {
                putClipLayer(m, i, clip);
            }
            long merged = img.mergedDim();
            m.put(GLB_GN, new long[] {1, 1, merged});
            m.put(SUB_GN, new long[] {1, 1, 1, merged});
            m.put(IMG_PROJECTION_0 + "weight", new long[] {h, merged});
            m.put(IMG_PROJECTION_0 + "bias", new long[] {h});
            m.put(IMG_PROJECTION_2 + "weight", new long[] {h, h});
            m.put(IMG_PROJECTION_2 + "bias", new long[] {h});
        }
        return Collections.unmodifiableMap(m);
    }

    /**
     * Every tensor of a complete official checkpoint, with its shape: {@link #computed} plus the stored
     * but unused CLIP encoder layers after {@code hidden_states[layer_idx]} and CLIP's
     * {@code post_layernorm} (as the official state dict has them; {@code wte} and the
     * {@code position_ids} buffer are left out, like the tiny golden checkpoints). Used to write
     * checkpoints (the random-weight model builder); loading needs only {@link #computed}.
     *
     * @param cfg the model configuration
     * @return names to shapes, in a stable order
     */
    public static Map<String, long[]> stored(Phi3VConfig cfg) {
        Map<String, long[]> m = new LinkedHashMap<>(computed(cfg));
        if (cfg.hasVision()) {
            ClipVisionConfig clip = cfg.imageEmbedding().clip();
            for (int i = computedClipLayers(cfg.imageEmbedding()); i < clip.numHiddenLayers(); i++) {
                putClipLayer(m, i, clip);
            }
            m.put(CLIP + "post_layernorm.weight", new long[] {clip.hiddenSize()});
            m.put(CLIP + "post_layernorm.bias", new long[] {clip.hiddenSize()});
        }
        return Collections.unmodifiableMap(m);
    }

    private static void putClipLayer(Map<String, long[]> m, int i, ClipVisionConfig clip) {
        long c = clip.hiddenSize();
        long ic = clip.intermediateSize();
        for (String proj : List.of("q_proj", "k_proj", "v_proj", "out_proj")) {
            m.put(clipLayer(i, "self_attn." + proj + ".weight"), new long[] {c, c});
            m.put(clipLayer(i, "self_attn." + proj + ".bias"), new long[] {c});
        }
        for (String ln : List.of("layer_norm1", "layer_norm2")) {
            m.put(clipLayer(i, ln + ".weight"), new long[] {c});
            m.put(clipLayer(i, ln + ".bias"), new long[] {c});
        }
        m.put(clipLayer(i, "mlp.fc1.weight"), new long[] {ic, c});
        m.put(clipLayer(i, "mlp.fc1.bias"), new long[] {ic});
        m.put(clipLayer(i, "mlp.fc2.weight"), new long[] {c, ic});
        m.put(clipLayer(i, "mlp.fc2.bias"), new long[] {c});
    }

    /**
     * True for names real checkpoints carry that the model deliberately never loads (see the class
     * comment). They may be absent.
     *
     * @param cfg the model configuration
     * @param name a checkpoint tensor name
     * @return whether {@code name} is stored in real checkpoints but ignored by the model
     */
    public static boolean isStoredButUnused(Phi3VConfig cfg, String name) {
        if (!cfg.hasVision()) {
            return false;
        }
        if (name.equals(VISION + "wte.weight") || name.equals(CLIP + "embeddings.position_ids")
                || name.equals(CLIP + "post_layernorm.weight") || name.equals(CLIP + "post_layernorm.bias")) {
            return true;
        }
        String layers = CLIP + "encoder.layers.";
        if (!name.startsWith(layers)) {
            return false;
        }
        String rest = name.substring(layers.length());
        int dot = rest.indexOf('.');
        if (dot <= 0) {
            return false;
        }
        try {
            int layer = Integer.parseInt(rest.substring(0, dot));
            return layer >= computedClipLayers(cfg.imageEmbedding()) && layer < cfg.imageEmbedding().clip().numHiddenLayers()
                    && computedClipLayerSuffixes().contains(rest.substring(dot + 1));
        } catch (NumberFormatException e) {
            return false;
        }
    }

    private static Set<String> computedClipLayerSuffixes() {
        Set<String> s = new TreeSet<>();
        for (String proj : List.of("q_proj", "k_proj", "v_proj", "out_proj")) {
            s.add("self_attn." + proj + ".weight");
            s.add("self_attn." + proj + ".bias");
        }
        for (String p : List.of("layer_norm1", "layer_norm2", "mlp.fc1", "mlp.fc2")) {
            s.add(p + ".weight");
            s.add(p + ".bias");
        }
        return s;
    }

    /**
     * Checks a checkpoint's names and shapes against {@link #computed}.
     *
     * @param cfg the model configuration
     * @param names every tensor name in the checkpoint
     * @param shapeOf the stored shape of a name in {@code names}
     * @param source the checkpoint location, for the message
     * @throws WeightMismatchException listing every missing, unexpected and wrongly shaped tensor
     */
    public static void validate(Phi3VConfig cfg, Set<String> names, Function<String, long[]> shapeOf, String source) {
        Map<String, long[]> expected = computed(cfg);
        List<String> missing = new ArrayList<>();
        List<String> wrongShape = new ArrayList<>();
        for (Map.Entry<String, long[]> e : expected.entrySet()) {
            if (!names.contains(e.getKey())) {
                missing.add(e.getKey());
                continue;
            }
            long[] found = shapeOf.apply(e.getKey());
            if (!Arrays.equals(found, e.getValue())) {
                wrongShape.add(e.getKey() + ": expected " + Arrays.toString(e.getValue()) + ", found "
                        + Arrays.toString(found));
            }
        }
        List<String> unexpected = new ArrayList<>();
        for (String n : new TreeSet<>(names)) {
            if (!expected.containsKey(n) && !isStoredButUnused(cfg, n)) {
                unexpected.add(n);
            }
        }
        if (!missing.isEmpty() || !unexpected.isEmpty() || !wrongShape.isEmpty()) {
            throw new WeightMismatchException(source, missing, unexpected, wrongShape);
        }
    }
}
