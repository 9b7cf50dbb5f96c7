package io.github.phi3v.core.model;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.function.Supplier;

import javax.imageio.ImageIO;

import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import com.fasterxml.jackson.databind.JsonNode;

import io.github.phi3v.testsupport.GoldenTensors;
import io.github.phi3v.testsupport.Jsonl;
import io.github.phi3v.testsupport.SharedData;

/**
 * Inputs of the golden tiny-a forward/generation cases. Pixel values are rebuilt from the stored HD
 * PNG and global crop with the recipe of golden/tiny-a/README.md section 3 (so these tests do not
 * depend on the image module) and checked against the manifest's SHA-256. Also the {@link Loaded}
 * fixture through which the model tests (here and in {@code io.github.phi3v.core}) load their model once
 * per test class.
 */
public final class GoldenCases {

    static final List<String> CASES = List.of("a_one_image", "b_two_images", "c_text_long", "d_text_short");
    /** For {@code @MethodSource}: a parameterized test over every golden case. */
    public static final String ALL_CASES = "io.github.phi3v.core.model.GoldenCases#cases";
    /** The crop budget every golden case was produced with. */
    public static final int NUM_CROPS = 16;
    static final int CROP = 336;
    private static final float[] MEAN = {0.48145466f, 0.4578275f, 0.40821073f};
    private static final float[] STD = {0.26862954f, 0.26130258f, 0.27577711f};

    private GoldenCases() {
    }

    /**
     * Every golden tiny-a case, in order; the source of {@link #ALL_CASES} tests.
     *
     * @return the case names
     */
    public static List<String> cases() {
        return CASES;
    }

    /**
     * The float32 golden tiny-a model folder.
     *
     * @return {@code golden/tiny-a/model-f32}
     */
    public static Path modelF32() {
        return SharedData.tinyA().resolve("model-f32");
    }

    static Path modelBf16() {
        return SharedData.tinyA().resolve("model-bf16");
    }

    /**
     * The golden tiny-a checkpoint loaded from {@code dir} with {@code options}, once per test class.
     *
     * @param dir {@link #modelF32()} or {@link #modelBf16()}
     * @param options precision and quantization
     * @return the fixture, to be held in a {@code @RegisterExtension static final} field
     */
    static Loaded<Phi3VModel> model(Path dir, ModelOptions options) {
        return new Loaded<>(() -> Phi3VModel.load(dir, options));
    }

    /** model-f32 computed in float32: the setting every float32 golden comparison uses. */
    static Loaded<Phi3VModel> modelF32InFloat32() {
        return model(modelF32(), ModelOptions.defaults().withPrecision(Precision.FLOAT32));
    }

    /**
     * A native resource (a model) a test class shares between its tests: loaded before the first test
     * (a missing golden model makes the whole class skip, through {@link SharedData}) and closed after
     * the last, even if a test failed. Declare it as {@code @RegisterExtension static final}; several
     * fixtures in one class load in declaration order and close in reverse.
     *
     * @param <T> the resource type
     */
    public static final class Loaded<T extends AutoCloseable> implements BeforeAllCallback, AfterAllCallback {

        private final Supplier<? extends T> loader;
        private volatile T value;

        /**
         * A fixture that calls {@code loader} before the class's first test.
         *
         * @param loader loads the resource
         */
        public Loaded(Supplier<? extends T> loader) {
            this.loader = loader;
        }

        @Override
        public void beforeAll(ExtensionContext context) {
            value = loader.get();
        }

        @Override
        public void afterAll(ExtensionContext context) throws Exception {
            T v = value;
            value = null;
            if (v != null) {
                v.close();
            }
        }

        /**
         * The loaded resource.
         *
         * @return it
         * @throws IllegalStateException outside the test class's lifetime (the field must be static and
         *         annotated {@code @RegisterExtension})
         */
        public T get() {
            T v = value;
            if (v == null) {
                throw new IllegalStateException("fixture not loaded: expected a @RegisterExtension static final "
                        + "field used between the class's first and last test, found it used outside them");
            }
            return v;
        }
    }

    static GoldenTensors forward(String c) {
        return GoldenTensors.read(SharedData.tinyA().resolve("forward/" + c + ".safetensors"));
    }

    /**
     * The generation golden of a case ({@code prompt_input_ids}, {@code nocache_pristine_new_ids}, ...).
     *
     * @param c the case name
     * @return its tensors
     */
    public static GoldenTensors generation(String c) {
        return GoldenTensors.read(SharedData.tinyA().resolve("generation/" + c + ".safetensors"));
    }

    /**
     * The case's entry under {@code forward} in manifest.json ({@code images},
     * {@code pixel_values_sha256_f32le}, ...).
     *
     * @param c the case name
     * @return its manifest entry
     */
    public static JsonNode manifestCase(String c) {
        return Jsonl.readJson(SharedData.tinyA().resolve("manifest.json")).get("forward").get(c);
    }

    static int[] inputIds(GoldenTensors g, String name) {
        return g.ints(name);
    }

    /** The case's images as the processor produced them (num_crops 16), SHA-256 checked. */
    static List<ImagePixels> images(String c) {
        JsonNode m = manifestCase(c);
        GoldenTensors f = forward(c);
        List<ImagePixels> out = new ArrayList<>();
        JsonNode imgs = m.get("images");
        if (imgs.size() == 0) {
            return out;
        }
        long[] sizes = f.longs("image_sizes");
        float[] globals = f.floats("pixel_values_global");
        int perCrop = 3 * CROP * CROP;
        for (int k = 0; k < imgs.size(); k++) {
            String file = Path.of(imgs.get(k).asText()).getFileName().toString();
            String stem = file.substring(0, file.lastIndexOf('.'));
            Path png = SharedData.tinyA().resolve("image_processor/hd/" + stem + "__nc" + NUM_CROPS + ".png");
            float[] global = java.util.Arrays.copyOfRange(globals, k * perCrop, (k + 1) * perCrop);
            float[] px = pixelValues(png, global);
            int h = (int) sizes[2 * k];
            int w = (int) sizes[2 * k + 1];
            out.add(new ImagePixels(px, NUM_CROPS, h, w));
        }
        String expected = m.get("pixel_values_sha256_f32le").asText();
        String found = pixelValuesSha256(out);
        if (!expected.equals(found)) {
            throw new AssertionError(c + ": rebuilt pixel_values SHA-256 " + found + " != manifest " + expected);
        }
        return out;
    }

    private static float[] pixelValues(Path png, float[] global) {
        BufferedImage img;
        try {
            img = ImageIO.read(png.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        int hh = img.getHeight();
        int ww = img.getWidth();
        int[] argb = img.getRGB(0, 0, ww, hh, null, 0, ww);
        int perCrop = 3 * CROP * CROP;
        float[] px = new float[(NUM_CROPS + 1) * perCrop];
        System.arraycopy(global, 0, px, 0, perCrop);
        int wc = ww / CROP;
        for (int r = 0; r < hh / CROP; r++) {
            for (int c = 0; c < wc; c++) {
                int base = (1 + r * wc + c) * perCrop;
                for (int y = 0; y < CROP; y++) {
                    for (int x = 0; x < CROP; x++) {
                        int p = argb[(r * CROP + y) * ww + c * CROP + x];
                        for (int ch = 0; ch < 3; ch++) {
                            int v = (p >> (16 - 8 * ch)) & 0xff;
                            px[base + ch * CROP * CROP + y * CROP + x] = ((float) v / 255f - MEAN[ch]) / STD[ch];
                        }
                    }
                }
            }
        }
        return px;
    }

    /**
     * The manifest's {@code pixel_values_sha256_f32le}: SHA-256 of every image's pixel values, in order,
     * as little-endian float32.
     *
     * @param images the images of one case
     * @return the lowercase hex digest
     */
    public static String pixelValuesSha256(List<ImagePixels> images) {
        MessageDigest sha;
        try {
            sha = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        for (ImagePixels image : images) {
            float[] px = image.pixelValues();
            ByteBuffer bb = ByteBuffer.allocate(px.length * 4).order(ByteOrder.LITTLE_ENDIAN);
            bb.asFloatBuffer().put(px);
            sha.update(bb.array());
        }
        return HexFormat.of().formatHex(sha.digest());
    }

    /** Max |a - b| over equally long arrays. */
    static double maxAbsDiff(float[] a, float[] b) {
        if (a.length != b.length) {
            throw new AssertionError("length " + a.length + " != " + b.length);
        }
        double m = 0;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs((double) a[i] - b[i]));
        }
        return m;
    }
}
