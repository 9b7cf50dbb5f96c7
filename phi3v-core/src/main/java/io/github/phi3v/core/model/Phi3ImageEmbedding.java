package io.github.phi3v.core.model;

import org.bytedeco.pytorch.Tensor;

import io.github.phi3v.core.config.ImageEmbeddingConfig;
import io.github.phi3v.core.runtime.Tensors;

/**
 * The image side of Phi-3-V (HF's {@code Phi3ImageEmbedding}): the CLIP vision tower on the global crop and
 * the real sub-crops, the HD transform with its separators, and {@code img_projection}. Its tensors belong to
 * the {@link WeightLoader} that made it; {@link #embed} allocates into the caller's {@code InferenceScope}.
 */
final class Phi3ImageEmbedding {

    private final ImageEmbeddingConfig config;
    private final ClipVisionTower clip;
    private final HdFeatureTransform hdTransform;
    private final ImageProjection projection;

    /**
     * @param upcastAttention run CLIP's attention in float32 (16-bit weights on a CPU, see
     *     {@link ClipVisionTower})
     */
    Phi3ImageEmbedding(WeightLoader w, ImageEmbeddingConfig config, boolean upcastAttention) {
        this.config = config;
        this.clip = new ClipVisionTower(w, config, upcastAttention);
        this.hdTransform = new HdFeatureTransform(w, config);
        this.projection = new ImageProjection(w);
    }

    /**
     * Placeholder tokens of an image with this padded HD size.
     *
     * @throws IllegalArgumentException if the size is not a valid HD grid
     */
    int tokenCount(int hdHeight, int hdWidth) {
        int s = checkHdSize(hdHeight, hdWidth);
        return Math.toIntExact(HdFeatureTransform.tokenCount(hdHeight / s, hdWidth / s, config.tokensPerSide()));
    }

    /**
     * The crops of {@code pixelValues} that {@link #embed} runs: the global crop and the {@code hc x wc} real
     * sub-crops, after checking the HD size and the array's length against {@code numCrops}.
     *
     * @return {@code 1 + hc * wc}
     * @throws IllegalArgumentException if the size, crop count or array length do not fit together
     */
    int cropsUsed(int pixelValues, int numCrops, int hdHeight, int hdWidth) {
        int s = checkHdSize(hdHeight, hdWidth);
        int hc = hdHeight / s;
        int wc = hdWidth / s;
        if (numCrops < 1 || hc * wc > numCrops) {
            throw new IllegalArgumentException("HD image " + hdHeight + "x" + hdWidth + " has " + hc + "x" + wc + " = "
                    + hc * wc + " crops, but num_crops is " + numCrops + " (expected at most num_crops crops)");
        }
        long expected = (numCrops + 1L) * floatsPerCrop();
        if (pixelValues != expected) {
            throw new IllegalArgumentException("pixelValues: expected (num_crops + 1) x " + config.clip().numChannels()
                    + " x " + s + " x " + s + " = " + expected + " floats for num_crops " + numCrops + ", found "
                    + pixelValues);
        }
        return 1 + hc * wc;
    }

    /** Channels x side x side of one crop. */
    private long floatsPerCrop() {
        int s = config.clip().imageSize();
        return (long) config.clip().numChannels() * s * s;
    }

    /**
     * The first {@code crops} crops of {@code pixelValues} as a float32 CPU tensor.
     *
     * @return {@code [crops, 3, S, S]} in the caller's scope
     */
    Tensor pixels(float[] pixelValues, int crops) {
        int s = cropSize();
        return Tensors.fromFloats(pixelValues, 0, Math.toIntExact(crops * floatsPerCrop()), crops,
                config.clip().numChannels(), s, s);
    }

    /** Side of a crop in pixels (336). */
    int cropSize() {
        return config.clip().imageSize();
    }

    /**
     * CLIP, HD transform and projection of the used crops.
     *
     * @param pixels {@code [1 + hc*wc, 3, S, S]} in the model dtype on the model's device
     * @param trace records intermediates under {@code prefix}, or null
     * @return {@code [tokens, hidden]}, contiguous
     */
    Tensor embed(Tensor pixels, int hc, int wc, Trace trace, String prefix) {
        Tensor features = clip.features(pixels);                                // [1+hc*wc, P, C]
        Trace.record(trace, prefix + "clip_features", features);
        Tensor merged = hdTransform.apply(features, hc, wc);                    // [tokens, 4C]
        Trace.record(trace, prefix + "hd_merged", merged);
        Tensor embeds = projection.apply(merged).contiguous();                  // [tokens, hidden]
        Trace.record(trace, prefix + "image_embeds", embeds);
        return embeds;
    }

    /** @return the crop side, after checking that the size is a positive multiple of it */
    private int checkHdSize(int hdHeight, int hdWidth) {
        int s = cropSize();
        if (hdHeight < s || hdWidth < s || hdHeight % s != 0 || hdWidth % s != 0) {
            throw new IllegalArgumentException("HD image size " + hdHeight + "x" + hdWidth + " is not a valid HD grid: "
                    + "expected positive multiples of " + s + " (image_sizes of the processor)");
        }
        return s;
    }
}
