package io.github.phi3v.core.config;

/**
 * Dimensions of the CLIP vision tower. The real Phi-3-V checkpoints hard-code CLIP ViT-L/14-336
 * ({@link #vitL14_336()}); the tiny test models carry their own values in
 * {@code img_processor.clip_vision_config}, and each field given there overrides the ViT-L/14-336 value.
 *
 * @param hiddenSize width of the tower (1024 for ViT-L)
 * @param intermediateSize MLP width (4096)
 * @param numHiddenLayers encoder layers (24)
 * @param numAttentionHeads attention heads (16); divides {@code hiddenSize}
 * @param imageSize square input side in pixels (336); a multiple of {@code patchSize}
 * @param patchSize patch side in pixels (14)
 * @param numChannels input channels (3)
 * @param hiddenAct MLP activation, {@code "quick_gelu"} (CLIP) or {@code "gelu"}
 * @param layerNormEps LayerNorm epsilon (1e-5)
 */
public record ClipVisionConfig(int hiddenSize, int intermediateSize, int numHiddenLayers, int numAttentionHeads,
        int imageSize, int patchSize, int numChannels, String hiddenAct, double layerNormEps) {

    /**
     * Validates the dimensions; see the class comment for the rules.
     *
     * @param hiddenSize width of the tower (&gt; 0)
     * @param intermediateSize MLP width (&gt; 0)
     * @param numHiddenLayers encoder layers (&gt; 0)
     * @param numAttentionHeads attention heads (&gt; 0); must divide {@code hiddenSize}
     * @param imageSize square input side in pixels; a positive multiple of {@code patchSize}
     * @param patchSize patch side in pixels (&gt; 0)
     * @param numChannels input channels (&gt; 0)
     * @param hiddenAct {@code "quick_gelu"} or {@code "gelu"}
     * @param layerNormEps LayerNorm epsilon; positive and finite
     * @throws InvalidConfigException if a rule is broken
     */
    public ClipVisionConfig {
        String where = "img_processor.clip_vision_config";
        requirePositive(where + ".hidden_size", hiddenSize);
        requirePositive(where + ".intermediate_size", intermediateSize);
        requirePositive(where + ".num_hidden_layers", numHiddenLayers);
        requirePositive(where + ".num_attention_heads", numAttentionHeads);
        requirePositive(where + ".image_size", imageSize);
        requirePositive(where + ".patch_size", patchSize);
        requirePositive(where + ".num_channels", numChannels);
        if (hiddenSize % numAttentionHeads != 0) {
            throw new InvalidConfigException("config.json: " + where + ".hidden_size: expected a multiple of "
                    + "num_attention_heads (" + numAttentionHeads + "), found " + hiddenSize);
        }
        if (imageSize % patchSize != 0) {
            throw new InvalidConfigException("config.json: " + where + ".image_size: expected a multiple of "
                    + "patch_size (" + patchSize + "), found " + imageSize);
        }
        if (!"quick_gelu".equals(hiddenAct) && !"gelu".equals(hiddenAct)) {
            throw new InvalidConfigException("config.json: " + where + ".hidden_act: expected \"quick_gelu\" or "
                    + "\"gelu\", found " + (hiddenAct == null ? "no value" : "\"" + hiddenAct + "\""));
        }
        if (!(layerNormEps > 0) || Double.isInfinite(layerNormEps)) {
            throw new InvalidConfigException("config.json: " + where + ".layer_norm_eps: expected a positive "
                    + "finite number, found " + layerNormEps);
        }
    }

    /**
     * CLIP ViT-L/14 at 336 px, the tower the official Phi-3-V code hard-codes.
     *
     * @return 1024 wide, 4096 MLP, 24 layers, 16 heads, 336 px, 14 px patches, 3 channels,
     *     {@code quick_gelu}, eps 1e-5
     */
    public static ClipVisionConfig vitL14_336() {
        return new ClipVisionConfig(1024, 4096, 24, 16, 336, 14, 3, "quick_gelu", 1e-5);
    }

    /**
     * Per-head width.
     *
     * @return {@code hiddenSize / numAttentionHeads} (64 for ViT-L)
     */
    public int headDim() {
        return hiddenSize / numAttentionHeads;
    }

    /**
     * Patches along one side of the image.
     *
     * @return {@code imageSize / patchSize} (24 for ViT-L/14-336)
     */
    public int patchesPerSide() {
        return imageSize / patchSize;
    }

    /** Reads {@code img_processor.clip_vision_config}; absent fields keep their ViT-L/14-336 value. */
    static ClipVisionConfig from(JsonFields f) {
        ClipVisionConfig d = vitL14_336();
        if (f == null) {
            return d;
        }
        try {
            return new ClipVisionConfig(
                    f.positiveInt("hidden_size", d.hiddenSize()),
                    f.positiveInt("intermediate_size", d.intermediateSize()),
                    f.positiveInt("num_hidden_layers", d.numHiddenLayers()),
                    f.positiveInt("num_attention_heads", d.numAttentionHeads()),
                    f.positiveInt("image_size", d.imageSize()),
                    f.positiveInt("patch_size", d.patchSize()),
                    f.positiveInt("num_channels", d.numChannels()),
                    f.optionalString("hidden_act", d.hiddenAct()),
                    f.positiveDouble("layer_norm_eps", d.layerNormEps()));
        } catch (InvalidConfigException e) {
            throw Phi3VConfig.resourced(e, f.source());
        }
    }

    private static void requirePositive(String field, int value) {
        if (value <= 0) {
            throw new InvalidConfigException("config.json: " + field + ": expected a positive integer, found "
                    + value);
        }
    }
}
