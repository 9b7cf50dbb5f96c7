package io.github.phi3v.core;

import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.function.Consumer;

import io.github.phi3v.core.generate.Answer;
import io.github.phi3v.core.generate.CancellationToken;
import io.github.phi3v.core.generate.GenerationConfig;
import io.github.phi3v.core.model.ImagePixels;

/**
 * The lower-level entry points of a {@link Phi3Vision} model, behind the CLI's {@code generate --input-ids}
 * and the conformance tests: generation from a prompt already turned into token ids, with images already
 * preprocessed into pixel values. No chat template, no tokenization; the caller lays out the prompt.
 *
 * <pre>{@code
 * RawPrompts raw = phi.rawPrompts();
 * ImagePixels px = raw.preprocess(Path.of("cat.jpg"), 16);
 * int n = raw.imageTokenCount(px);                      // the length of image 1's placeholder block
 * Answer a = raw.generate(ids, List.of(px), GenerationConfig.defaults());
 * }</pre>
 *
 * <p>Thread-safe, like the model it belongs to; it needs the model open.
 */
public final class RawPrompts {

    private final Engine engine;

    RawPrompts(Engine engine) {
        this.engine = engine;
    }

    /**
     * Generates from token ids with a KV cache of exactly prompt + {@code maxNewTokens} for this call (not
     * pooled). Image {@code k} (1-based) is a block of {@code -k} ids whose length must equal its token count
     * ({@link #imageTokenCount(ImagePixels)}).
     *
     * @param inputIds the prompt ids; not modified
     * @param images the images referenced by the placeholders, in order
     * @param config how to generate
     * @return the answer; its usage includes the vision time
     * @throws io.github.phi3v.core.generate.ContextLengthExceededException if prompt + maxNewTokens exceed
     *     {@link Phi3Vision#maxContext()}
     * @throws LimitExceededException if it exceeds {@link Limits#maxImagesPerPrompt()} or
     *     {@link Limits#maxPromptTokens()}
     * @throws IllegalArgumentException if a placeholder block does not match its image
     * @throws IllegalStateException if the model is closed
     */
    public Answer generate(int[] inputIds, List<ImagePixels> images, GenerationConfig config) {
        return generate(inputIds, images, config, piece -> { }, CancellationToken.none());
    }

    /**
     * Like {@link #generate(int[], List, GenerationConfig)}, streaming text pieces to {@code onText}.
     *
     * @param inputIds the prompt ids; not modified
     * @param images the images referenced by the placeholders, in order
     * @param config how to generate
     * @param onText receives each text piece on the calling thread
     * @param cancel lets another thread end the generation
     * @return the answer
     */
    public Answer generate(int[] inputIds, List<ImagePixels> images, GenerationConfig config,
            Consumer<String> onText, CancellationToken cancel) {
        Objects.requireNonNull(inputIds, "inputIds");
        Objects.requireNonNull(images, "images");
        Objects.requireNonNull(config, "config");
        Objects.requireNonNull(onText, "onText");
        Objects.requireNonNull(cancel, "cancel");
        return engine.generate(inputIds, List.copyOf(images), config, onText, cancel);
    }

    /**
     * Loads and preprocesses an image file with the model's image processor.
     *
     * @param imageFile a PNG, JPEG, GIF, BMP or WebP file
     * @param numCrops the crop budget ({@code num_crops}); 16 for Phi-3-vision, 4 for Phi-3.5-vision
     * @return the pixel values for {@link #generate}
     * @throws io.github.phi3v.image.ImageProcessingException if the file cannot be read or decoded
     * @throws IllegalStateException if the model is closed
     */
    public ImagePixels preprocess(Path imageFile, int numCrops) {
        engine.checkOpen();
        return ImagePixels.of(engine.processor().process(imageFile, numCrops));
    }

    /**
     * Preprocesses a decoded image with the model's image processor.
     *
     * @param image the image (converted like PIL {@code convert("RGB")})
     * @param numCrops the crop budget
     * @return the pixel values for {@link #generate}
     * @throws IllegalStateException if the model is closed
     */
    public ImagePixels preprocess(BufferedImage image, int numCrops) {
        engine.checkOpen();
        return ImagePixels.of(engine.processor().process(image, numCrops));
    }

    /**
     * Number of placeholder tokens an image occupies in the prompt.
     *
     * @param image preprocessed pixels
     * @return {@code (h·w + 1)·144 + 1 + (h + 1)·12} for its {@code h x w} crop grid
     */
    public int imageTokenCount(ImagePixels image) {
        return engine.model().imageTokenCount(image.hdHeight(), image.hdWidth());
    }
}
