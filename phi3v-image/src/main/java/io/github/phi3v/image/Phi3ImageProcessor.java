package io.github.phi3v.image;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Objects;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * The Phi-3-Vision image processor ({@code Phi3VImageProcessor}, HD transform), pixel-exact with the
 * official Python one:
 *
 * <ol>
 *   <li>{@code convert("RGB")} (done by {@link ImageLoader});</li>
 *   <li>transpose portrait images; {@code scale} = largest s with {@code s * ceil(s / ratio) <= numCrops};
 *       resize to {@code (scale * 336, int(scale * 336 / ratio))} with Pillow's antialiased BILINEAR
 *       filter (fixed point, bit-identical); pad the height with white to a multiple of 336, centred
 *       ({@code top = floor(pad / 2)}); transpose back (see {@link HdGeometry});</li>
 *   <li>{@code ToTensor} and CLIP normalisation in float32: {@code (x / 255f - mean[c]) / std[c]};</li>
 *   <li>global view: PyTorch bicubic ({@code A = -0.75}, {@code align_corners=False}, no antialias) of
 *       the normalised HD image to 336x336;</li>
 *   <li>336x336 sub-crops in row-major order after the global view, zero crops up to
 *       {@code numCrops + 1}.</li>
 * </ol>
 *
 * <p>Immutable and thread-safe: one instance can serve any number of threads. Create it from a model's
 * {@code preprocessor_config.json} ({@link #fromConfig(Path)}) or with {@link #builder()}.
 */
public final class Phi3ImageProcessor {

    /** {@code OPENAI_CLIP_MEAN}, the default {@code image_mean}. */
    private static final float[] CLIP_MEAN = {0.48145466f, 0.4578275f, 0.40821073f};
    /** {@code OPENAI_CLIP_STD}, the default {@code image_std}. */
    private static final float[] CLIP_STD = {0.26862954f, 0.26130258f, 0.27577711f};
    /** Tokens per 336x336 crop after the 2x2 merge; the token formula is built on it. */
    private static final int TOKENS_PER_CROP = 144;
    private static final int CROP = HdGeometry.CROP;

    private final int numCrops;
    private final float[] mean;
    private final float[] std;
    private final ImageLoader loader;
    /** Normalised value of each byte per channel: the float32 ops are done once per value, not per pixel. */
    private final float[][] lut;

    private Phi3ImageProcessor(Builder b) {
        this.numCrops = checkNumCrops(b.numCrops);
        this.mean = b.mean.clone();
        this.std = b.std.clone();
        this.loader = b.loader;
        this.lut = new float[3][256];
        for (int c = 0; c < 3; c++) {
            for (int v = 0; v < 256; v++) {
                // Same float32 operations as torchvision ToTensor (x / 255) then Normalize ((x - m) / s).
                lut[c][v] = ((float) v / 255f - mean[c]) / std[c];
            }
        }
    }

    /**
     * The official defaults of Phi-3-vision-128k-instruct: {@code num_crops} 16, CLIP mean/std.
     *
     * @return a processor with {@code num_crops} 16
     */
    public static Phi3ImageProcessor defaults() {
        return builder().build();
    }

    /**
     * A builder starting from the Phi-3-vision-128k-instruct defaults.
     *
     * @return a new builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * A builder holding this processor's settings.
     *
     * @return a new builder
     */
    public Builder toBuilder() {
        return new Builder().numCrops(numCrops).imageMean(mean).imageStd(std).loader(loader);
    }

    /**
     * Reads {@code num_crops}, {@code image_mean} and {@code image_std} from a
     * {@code preprocessor_config.json}. Missing keys take the official code's defaults ({@code num_crops}
     * 1, CLIP mean/std).
     *
     * @param configOrModelDir the JSON file, or a model folder containing {@code preprocessor_config.json}
     * @return the processor
     * @throws UncheckedIOException if the file cannot be read
     * @throws IllegalArgumentException if a value is invalid
     */
    public static Phi3ImageProcessor fromConfig(Path configOrModelDir) {
        Path file = Files.isDirectory(configOrModelDir)
                ? configOrModelDir.resolve("preprocessor_config.json") : configOrModelDir;
        try (InputStream in = Files.newInputStream(file)) {
            return fromConfig(in, file.toString());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read preprocessor config " + file, e);
        }
    }

    /**
     * Reads {@code num_crops}, {@code image_mean} and {@code image_std} from a
     * {@code preprocessor_config.json} stream (not closed).
     *
     * @param json the JSON content
     * @return the processor
     * @throws UncheckedIOException if the stream cannot be read
     * @throws IllegalArgumentException if the JSON or a value is invalid
     */
    public static Phi3ImageProcessor fromConfig(InputStream json) {
        try {
            return fromConfig(json, "preprocessor config");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read preprocessor config", e);
        }
    }

    private static Phi3ImageProcessor fromConfig(InputStream json, String name) throws IOException {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(json);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalArgumentException(name + " is not valid JSON: " + e.getOriginalMessage(), e);
        }
        if (root == null || !root.isObject()) {
            throw new IllegalArgumentException(name + ": expected a JSON object");
        }
        String type = root.path("image_processor_type").asText("Phi3VImageProcessor");
        if (!type.equals("Phi3VImageProcessor")) {
            throw new IllegalArgumentException(name + ": image_processor_type must be Phi3VImageProcessor, found "
                    + type);
        }
        if (root.has("num_img_tokens") && root.get("num_img_tokens").asInt() != TOKENS_PER_CROP) {
            throw new IllegalArgumentException(name + ": num_img_tokens must be " + TOKENS_PER_CROP
                    + " (the token formula assumes it), found " + root.get("num_img_tokens"));
        }
        Builder b = builder().numCrops(1); // the official __init__ default when the key is absent
        if (root.has("num_crops")) {
            JsonNode n = root.get("num_crops");
            if (!n.canConvertToInt() || !n.isIntegralNumber()) {
                throw new IllegalArgumentException(name + ": num_crops must be an integer, found " + n);
            }
            b.numCrops(n.asInt());
        }
        if (root.has("image_mean")) {
            b.imageMean(floats(root.get("image_mean"), name + ": image_mean"));
        }
        if (root.has("image_std")) {
            b.imageStd(floats(root.get("image_std"), name + ": image_std"));
        }
        return b.build();
    }

    private static float[] floats(JsonNode n, String what) {
        if (!n.isArray() || n.size() != 3) {
            throw new IllegalArgumentException(what + " must be an array of 3 numbers, found " + n);
        }
        float[] f = new float[3];
        for (int i = 0; i < 3; i++) {
            if (!n.get(i).isNumber()) {
                throw new IllegalArgumentException(what + " must be an array of 3 numbers, found " + n);
            }
            f[i] = (float) n.get(i).asDouble(); // torch.as_tensor(..., float32) rounds to nearest
        }
        return f;
    }

    private static int checkNumCrops(int numCrops) {
        if (numCrops < 1) {
            throw new IllegalArgumentException("numCrops must be >= 1, found " + numCrops);
        }
        // The numCrops + 1 zero-padded crops live in one float[]: beyond this its size overflows an int.
        int max = (Integer.MAX_VALUE - 8) / (3 * CROP * CROP) - 1;
        if (numCrops > max) {
            throw new IllegalArgumentException("numCrops must be at most " + max + " (numCrops + 1 crops of 3 x "
                    + CROP + " x " + CROP + " floats must fit in one array; Phi-3-vision uses 16), found " + numCrops);
        }
        return numCrops;
    }

    /**
     * The configured {@code num_crops}.
     *
     * @return the default crop budget of {@link #process(RgbImage)}
     */
    public int numCrops() {
        return numCrops;
    }

    /**
     * The per-channel mean, as float32.
     *
     * @return a copy of {@code image_mean}
     */
    public float[] imageMean() {
        return mean.clone();
    }

    /**
     * The per-channel standard deviation, as float32.
     *
     * @return a copy of {@code image_std}
     */
    public float[] imageStd() {
        return std.clone();
    }

    /**
     * The loader used by the {@code process(Path)} and {@code process(BufferedImage)} conveniences.
     *
     * @return the image loader
     */
    public ImageLoader loader() {
        return loader;
    }

    /**
     * The HD geometry of an image of this size under the configured {@code num_crops}; no pixels.
     *
     * @param width  image width
     * @param height image height
     * @return the geometry
     */
    public HdGeometry hdGeometry(int width, int height) {
        return HdGeometry.of(width, height, numCrops);
    }

    /**
     * The HD geometry of an image of this size; no pixels involved.
     *
     * @param width    image width
     * @param height   image height
     * @param numCrops crop budget
     * @return the geometry
     * @throws IllegalArgumentException if {@code numCrops} is below 1 or too large for one pixel array
     */
    public static HdGeometry hdGeometry(int width, int height, int numCrops) {
        return HdGeometry.of(width, height, checkNumCrops(numCrops));
    }

    /**
     * Number of image placeholder tokens for an image of this size, without touching pixels (for
     * planning context length before decoding).
     *
     * @param width    image width
     * @param height   image height
     * @param numCrops crop budget
     * @return {@code num_img_tokens} exactly as the official processor computes it
     * @throws IllegalArgumentException if {@code numCrops} is below 1 or too large for one pixel array
     */
    public static int numImageTokens(int width, int height, int numCrops) {
        return HdGeometry.of(width, height, checkNumCrops(numCrops)).numImageTokens();
    }

    /**
     * Number of image placeholder tokens under the configured {@code num_crops}.
     *
     * @param width  image width
     * @param height image height
     * @return {@code num_img_tokens}
     */
    public int numImageTokens(int width, int height) {
        return numImageTokens(width, height, numCrops);
    }

    /**
     * Loads and processes an image file with the configured {@code num_crops}.
     *
     * @param file a PNG, JPEG, GIF, BMP or WebP file
     * @return the model input
     * @throws ImageProcessingException if the file cannot be read or decoded
     */
    public ProcessedImage process(Path file) {
        return process(loader.load(file), numCrops);
    }

    /**
     * Loads and processes an image file.
     *
     * @param file     a PNG, JPEG, GIF, BMP or WebP file
     * @param numCrops crop budget for this call
     * @return the model input
     * @throws ImageProcessingException if the file cannot be read or decoded
     */
    public ProcessedImage process(Path file, int numCrops) {
        return process(loader.load(file), numCrops);
    }

    /**
     * Downloads ({@code http}/{@code https}; {@code file} if the loader allows it) and processes an image,
     * with the loader's scheme, address and redirect checks ({@link ImageLoader#load(java.net.URI)}).
     *
     * @param uri      the location
     * @param numCrops crop budget for this call
     * @return the model input
     * @throws ImageProcessingException if it cannot be fetched or decoded
     */
    public ProcessedImage process(java.net.URI uri, int numCrops) {
        return process(loader.load(uri), numCrops);
    }

    /**
     * Decodes and processes an encoded image (file content).
     *
     * @param encoded  PNG, JPEG, GIF, BMP or WebP bytes
     * @param numCrops crop budget for this call
     * @return the model input
     * @throws ImageProcessingException if the bytes cannot be decoded
     */
    public ProcessedImage process(byte[] encoded, int numCrops) {
        return process(loader.load(encoded), numCrops);
    }

    /**
     * Processes an in-memory image with the configured {@code num_crops}.
     *
     * @param image the image (converted like PIL {@code convert("RGB")})
     * @return the model input
     */
    public ProcessedImage process(BufferedImage image) {
        return process(loader.fromBufferedImage(image), numCrops);
    }

    /**
     * Processes an in-memory image.
     *
     * @param image    the image (converted like PIL {@code convert("RGB")})
     * @param numCrops crop budget for this call
     * @return the model input
     */
    public ProcessedImage process(BufferedImage image, int numCrops) {
        return process(loader.fromBufferedImage(image), numCrops);
    }

    /**
     * Processes an RGB image with the configured {@code num_crops}.
     *
     * @param image the image
     * @return the model input
     */
    public ProcessedImage process(RgbImage image) {
        return process(image, numCrops);
    }

    /**
     * Processes an RGB image with a per-call {@code num_crops}.
     *
     * @param image    the image
     * @param numCrops crop budget for this call, at least 1
     * @return the model input
     * @throws ImageProcessingException ({@code INVALID_GEOMETRY}) for absurd aspect ratios
     */
    public ProcessedImage process(RgbImage image, int numCrops) {
        Objects.requireNonNull(image, "image");
        HdGeometry g = HdGeometry.of(image.width(), image.height(), checkNumCrops(numCrops));
        int hdW = g.hdWidth();
        int hdH = g.hdHeight();
        int stride = hdW * 3;
        byte[] hd = new byte[hdH * stride];
        float[] pv = new float[(numCrops + 1) * 3 * CROP * CROP]; // zero padding crops come for free
        // One pass: each HD row is normalised into the crops (and into the global view's horizontal
        // step) right after the resize wrote it, while it is still in the cache.
        PixelValuesWriter writer = new PixelValuesWriter(hd, g, lut, pv);
        // White only where the resized image does not land; it is written straight into the canvas.
        int top = g.padTop();
        Arrays.fill(hd, 0, top * stride, (byte) 255);
        for (int y = 0; y < top; y++) {
            writer.whiteRowDone(y);
        }
        if (g.padLeft() + g.padRight() > 0) {
            for (int y = 0; y < hdH; y++) {
                Arrays.fill(hd, y * stride, y * stride + g.padLeft() * 3, (byte) 255);
                Arrays.fill(hd, (y + 1) * stride - g.padRight() * 3, (y + 1) * stride, (byte) 255);
            }
        }
        PilBilinearResize.resize(image.rgbArray(), image.width(), image.height(), g.resizedWidth(),
                g.resizedHeight(), g.transposed(), hd, top * stride + g.padLeft() * 3, stride, image.isBgr(),
                y -> writer.rowDone(top + y));
        int bottom = hdH - g.padBottom();
        Arrays.fill(hd, bottom * stride, hd.length, (byte) 255);
        for (int y = bottom; y < hdH; y++) {
            writer.whiteRowDone(y);
        }
        writer.finish();
        return new ProcessedImage(pv, g, hd);
    }

    @Override
    public String toString() {
        return "Phi3ImageProcessor[numCrops=" + numCrops + ", mean=" + Arrays.toString(mean) + ", std="
                + Arrays.toString(std) + "]";
    }

    /** Builder for {@link Phi3ImageProcessor}; defaults are Phi-3-vision-128k-instruct's. */
    public static final class Builder {
        private int numCrops = 16;
        private float[] mean = CLIP_MEAN.clone();
        private float[] std = CLIP_STD.clone();
        private ImageLoader loader = ImageLoader.defaults();

        private Builder() {
        }

        /**
         * Sets {@code num_crops} (16 for Phi-3-vision, 4 for Phi-3.5-vision).
         *
         * @param numCrops crop budget, at least 1
         * @return this builder
         */
        public Builder numCrops(int numCrops) {
            this.numCrops = checkNumCrops(numCrops);
            return this;
        }

        /**
         * Sets {@code image_mean}.
         *
         * @param mean three finite values (R, G, B)
         * @return this builder
         */
        public Builder imageMean(float... mean) {
            this.mean = check3(mean, "image_mean", false);
            return this;
        }

        /**
         * Sets {@code image_std}.
         *
         * @param std three finite non-zero values (R, G, B)
         * @return this builder
         */
        public Builder imageStd(float... std) {
            this.std = check3(std, "image_std", true);
            return this;
        }

        /**
         * Sets the loader used by the {@code process(Path)} / {@code process(BufferedImage)} conveniences.
         *
         * @param loader the loader
         * @return this builder
         */
        public Builder loader(ImageLoader loader) {
            this.loader = Objects.requireNonNull(loader, "loader");
            return this;
        }

        private static float[] check3(float[] v, String what, boolean nonZero) {
            if (v == null || v.length != 3) {
                throw new IllegalArgumentException(what + " must have 3 values, found "
                        + (v == null ? "null" : Arrays.toString(v)));
            }
            for (float f : v) {
                if (!Float.isFinite(f) || (nonZero && f == 0f)) {
                    throw new IllegalArgumentException(what + " values must be finite" + (nonZero ? " and non-zero" : "")
                            + ", found " + Arrays.toString(v));
                }
            }
            return v.clone();
        }

        /**
         * Builds the immutable processor.
         *
         * @return the processor
         */
        public Phi3ImageProcessor build() {
            return new Phi3ImageProcessor(this);
        }
    }
}
