package io.github.phi3v.core.config;

/**
 * The image half of a Phi-3-V config: {@code img_processor} (the CLIP tower and which of its outputs
 * is used) and {@code embd_layer} (the HD transform and the projection into the decoder).
 *
 * <p>Only the layout every published Phi-3-V / Phi-3.5-V checkpoint uses is accepted — HD transform
 * with learnable separators, order {@code sub_glb}, {@code mlp} projection — because it is the only
 * one the model code implements; anything else is rejected here rather than producing wrong output.
 *
 * @param imageDimOut channels of the CLIP features ({@code img_processor.image_dim_out}); equals
 *     {@code clip.hiddenSize()}
 * @param numImgTokens tokens per 336-px crop after the 2×2 merge ({@code img_processor.num_img_tokens},
 *     144 = 12×12)
 * @param modelName {@code img_processor.model_name}; the official code requires
 *     {@code openai/clip-vit-large-patch14-336}
 * @param clip the tower's dimensions (ViT-L/14-336 unless {@code img_processor.clip_vision_config} says
 *     otherwise)
 * @param layerIdx which {@code hidden_states} entry is the feature map ({@code img_processor.layer_idx},
 *     default -2, Python indexing over the {@code numHiddenLayers + 1} hidden states)
 * @param typeFeature {@code "patch"} (drop CLS, the default) or {@code "cls_patch"}
 * @param useHdTransform {@code embd_layer.use_hd_transform}; must be true
 * @param withLearnableSeparator {@code embd_layer.with_learnable_separator}; must be true
 * @param hdTransformOrder {@code embd_layer.hd_transform_order}; must be {@code "sub_glb"}
 * @param projectionCls {@code embd_layer.projection_cls}; must be {@code "mlp"}
 */
public record ImageEmbeddingConfig(int imageDimOut, int numImgTokens, String modelName, ClipVisionConfig clip,
        int layerIdx, String typeFeature, boolean useHdTransform, boolean withLearnableSeparator,
        String hdTransformOrder, String projectionCls) {

    /** The CLIP checkpoint name the official image embedding asserts. */
    public static final String CLIP_MODEL_NAME = "openai/clip-vit-large-patch14-336";

    /**
     * Validates the combination; see the component descriptions for the rules.
     *
     * @param imageDimOut channels of the CLIP features; must equal {@code clip.hiddenSize()}
     * @param numImgTokens tokens per crop after the 2×2 merge; must equal {@code (patchesPerSide / 2)²}
     * @param modelName must be {@link #CLIP_MODEL_NAME}
     * @param clip the tower's dimensions; not null, with an even number of patches per side
     * @param layerIdx index into the {@code numHiddenLayers + 1} CLIP hidden states, negative counting
     *     from the end
     * @param typeFeature {@code "patch"} or {@code "cls_patch"}
     * @param useHdTransform must be true
     * @param withLearnableSeparator must be true
     * @param hdTransformOrder must be {@code "sub_glb"}
     * @param projectionCls must be {@code "mlp"}
     * @throws InvalidConfigException if a rule is broken
     */
    public ImageEmbeddingConfig {
        if (clip == null) {
            throw new InvalidConfigException("config.json: img_processor.clip_vision_config: expected a CLIP "
                    + "configuration, found null");
        }
        if (imageDimOut != clip.hiddenSize()) {
            throw new InvalidConfigException("config.json: img_processor.image_dim_out: expected the CLIP hidden "
                    + "size " + clip.hiddenSize() + ", found " + imageDimOut);
        }
        if (!CLIP_MODEL_NAME.equals(modelName)) {
            throw new InvalidConfigException("config.json: img_processor.model_name: expected \"" + CLIP_MODEL_NAME
                    + "\", found " + quote(modelName));
        }
        int layers = clip.numHiddenLayers();
        if (layerIdx < -(layers + 1) || layerIdx > layers) {
            throw new InvalidConfigException("config.json: img_processor.layer_idx: expected an index into the "
                    + (layers + 1) + " CLIP hidden states (" + -(layers + 1) + ".." + layers + "), found "
                    + layerIdx);
        }
        if (!"patch".equals(typeFeature) && !"cls_patch".equals(typeFeature)) {
            throw new InvalidConfigException("config.json: img_processor.type_feature: expected \"patch\" or "
                    + "\"cls_patch\", found " + quote(typeFeature));
        }
        if (!useHdTransform) {
            throw new InvalidConfigException("config.json: embd_layer.use_hd_transform: expected true (the only "
                    + "image layout implemented), found false");
        }
        if (!withLearnableSeparator) {
            throw new InvalidConfigException("config.json: embd_layer.with_learnable_separator: expected true "
                    + "(the only image layout implemented), found false");
        }
        if (!"sub_glb".equals(hdTransformOrder)) {
            throw new InvalidConfigException("config.json: embd_layer.hd_transform_order: expected \"sub_glb\" "
                    + "(the only order implemented), found " + quote(hdTransformOrder));
        }
        if (!"mlp".equals(projectionCls)) {
            throw new InvalidConfigException("config.json: embd_layer.projection_cls: expected \"mlp\" (the only "
                    + "projection implemented), found " + quote(projectionCls));
        }
        int side = clip.patchesPerSide();
        if (side % 2 != 0) {
            throw new InvalidConfigException("config.json: img_processor.clip_vision_config.image_size: expected "
                    + "an even number of patches per side for the 2x2 merge, found " + clip.imageSize() + "/"
                    + clip.patchSize() + " = " + side);
        }
        int merged = (side / 2) * (side / 2);
        if (numImgTokens != merged) {
            throw new InvalidConfigException("config.json: img_processor.num_img_tokens: expected " + merged
                    + " ((" + side + "/2)^2 merged patches per crop), found " + numImgTokens);
        }
    }

    /**
     * Channels of one merged token fed to the projection: {@code 4 · imageDimOut} (the 2×2 merge
     * concatenates four patch vectors).
     *
     * @return {@code 4 · imageDimOut} (4096 for ViT-L)
     */
    public int mergedDim() {
        return 4 * imageDimOut;
    }

    /**
     * Tokens along one side of a crop after the 2×2 merge.
     *
     * @return {@code clip.patchesPerSide() / 2} (12 for ViT-L/14-336)
     */
    public int tokensPerSide() {
        return clip.patchesPerSide() / 2;
    }

    /** Reads {@code img_processor} and {@code embd_layer}. */
    static ImageEmbeddingConfig from(JsonFields img, JsonFields embd) {
        try {
            img.oneOf("name", "clip_vision_model", "clip_vision_model");
            embd.oneOf("embedding_cls", "image", "image");
            ClipVisionConfig clip = ClipVisionConfig.from(img.objectOrNull("clip_vision_config"));
            return new ImageEmbeddingConfig(
                    img.positiveInt("image_dim_out"),
                    img.positiveInt("num_img_tokens", 144),
                    img.optionalString("model_name", null),
                    clip,
                    img.optionalInt("layer_idx", -2),
                    img.optionalString("type_feature", "patch"),
                    embd.optionalBoolean("use_hd_transform", false),
                    embd.optionalBoolean("with_learnable_separator", false),
                    embd.optionalString("hd_transform_order", "glb_sub"),
                    embd.optionalString("projection_cls", "linear"));
        } catch (InvalidConfigException e) {
            throw Phi3VConfig.resourced(e, img.source());
        }
    }

    private static String quote(String s) {
        return s == null ? "no value" : "\"" + s + "\"";
    }
}
