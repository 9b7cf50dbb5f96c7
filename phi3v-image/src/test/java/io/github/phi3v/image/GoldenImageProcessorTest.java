package io.github.phi3v.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import io.github.phi3v.testsupport.GoldenTensors;
import io.github.phi3v.testsupport.SharedData;

/**
 * Conformance with the official processor on every (image, num_crops) of
 * {@code golden/tiny-a/image_processor}: geometry, HD 8-bit image, pixel_values (sample, per-crop
 * statistics, full-tensor SHA-256), image_sizes, num_img_tokens; global crop vs the forward cases.
 */
class GoldenImageProcessorTest {

    /** Acceptance tolerance for PNG inputs (we expect 0: bit-exact). */
    private static final double PNG_TOL = 1e-5;
    /** Acceptance tolerance for the JPEG input: decoders may differ by one level. */
    private static final double JPEG_TOL = 0.05;

    private static final List<String> SUMMARY = new ArrayList<>();

    private static JsonNode manifest() throws IOException {
        return new ObjectMapper().readTree(SharedData.tinyA().resolve("manifest.json").toFile());
    }

    private static Phi3ImageProcessor processor() {
        return Phi3ImageProcessor.fromConfig(SharedData.tinyA().resolve("model-f32"));
    }

    /** golden/tiny-a/README.md section 3: every one of its 10 images at num_crops 16, 4 and 1. */
    private static final int IMAGES = 10;
    private static final List<Integer> NUM_CROPS = List.of(16, 4, 1);

    @TestFactory
    List<DynamicTest> everyImageAndNumCrops() throws IOException {
        JsonNode entries = manifest().get("image_processor");
        // A manifest that lost entries (or a reader that skipped them) must not pass with fewer cases.
        assertEquals(IMAGES * NUM_CROPS.size(), entries.size(), "manifest image_processor entries");
        java.util.Set<String> pairs = new java.util.TreeSet<>();
        java.util.Set<String> images = new java.util.TreeSet<>();
        for (JsonNode e : entries) {
            images.add(e.get("image").asText());
            assertTrue(NUM_CROPS.contains(e.get("num_crops").asInt()), "num_crops of " + e);
            pairs.add(e.get("image").asText() + " nc" + e.get("num_crops").asInt());
        }
        assertEquals(IMAGES, images.size(), "distinct images in the manifest: " + images);
        assertEquals(IMAGES * NUM_CROPS.size(), pairs.size(), "distinct (image, num_crops) pairs: " + pairs);
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonNode e : entries) {
            String name = e.get("image").asText() + " nc" + e.get("num_crops").asInt();
            tests.add(DynamicTest.dynamicTest(name, () -> checkEntry(e, e.get("image").asText())));
            if (e.get("image").asText().endsWith(".jpg")) {
                tests.add(DynamicTest.dynamicTest(name + " (decoded.png)",
                        () -> checkEntry(e, e.get("image").asText() + ".decoded.png")));
            }
        }
        return tests;
    }

    private void checkEntry(JsonNode e, String imageFile) throws IOException {
        Path tiny = SharedData.tinyA();
        int nc = e.get("num_crops").asInt();
        boolean jpeg = imageFile.endsWith(".jpg");
        String label = imageFile + " nc" + nc;
        RgbImage img = ImageLoader.defaults().load(tiny.resolve(imageFile));
        assertEquals(e.get("width").asInt(), img.width(), label + " width");
        assertEquals(e.get("height").asInt(), img.height(), label + " height");

        ProcessedImage p = processor().process(img, nc);

        // Geometry, pure function.
        JsonNode geo = e.get("geometry");
        HdGeometry g = p.geometry();
        assertEquals(geo.get("transposed").asBoolean(), g.transposed(), label + " transposed");
        assertEquals(geo.get("ratio_float64").asDouble(), g.ratio(), 0.0, label + " ratio");
        assertEquals(geo.get("scale").asInt(), g.scale(), label + " scale");
        assertEquals(geo.get("resize_wh").get(0).asInt(), g.resizedWidth(), label + " resize w");
        assertEquals(geo.get("resize_wh").get(1).asInt(), g.resizedHeight(), label + " resize h");
        assertEquals(geo.get("pad_left").asInt(), g.padLeft(), label + " pad left");
        assertEquals(geo.get("pad_right").asInt(), g.padRight(), label + " pad right");
        assertEquals(geo.get("pad_top").asInt(), g.padTop(), label + " pad top");
        assertEquals(geo.get("pad_bottom").asInt(), g.padBottom(), label + " pad bottom");
        assertEquals(e.get("crop_grid_hw").get(0).asInt(), g.cropRows(), label + " crop rows");
        assertEquals(e.get("crop_grid_hw").get(1).asInt(), g.cropCols(), label + " crop cols");
        assertEquals(e.get("num_real_crops_incl_global").asInt(), p.realCrops(), label + " real crops");
        assertEquals(g, Phi3ImageProcessor.hdGeometry(img.width(), img.height(), nc));

        // HD 8-bit image.
        RgbImage hd = ImageLoader.defaults().load(tiny.resolve(e.get("hd_png").asText()));
        assertEquals(hd.width(), p.hdWidth(), label + " hd width");
        assertEquals(hd.height(), p.hdHeight(), label + " hd height");
        byte[] ours = p.hdRgb();
        byte[] gold = hd.rgb();
        int hdMaxDiff = 0;
        int hdDiffCount = 0;
        for (int i = 0; i < gold.length; i++) {
            int d = Math.abs((ours[i] & 0xff) - (gold[i] & 0xff));
            hdMaxDiff = Math.max(hdMaxDiff, d);
            hdDiffCount += d != 0 ? 1 : 0;
        }
        if (!jpeg) {
            assertEquals(0, hdDiffCount, label + ": HD image differs from golden in " + hdDiffCount
                    + " bytes (max diff " + hdMaxDiff + ")");
            assertEquals(e.get("hd_rgb_u8_sha256").asText(), sha256(ours), label + " HD sha256");
        }

        // Tensors.
        GoldenTensors t = GoldenTensors.read(tiny.resolve(e.get("file").asText()));
        long[] sizes = t.longs("image_sizes");
        assertArrayEquals(new long[] {p.hdHeight(), p.hdWidth()}, sizes, label + " image_sizes");
        assertEquals(t.longs("num_img_tokens")[0], p.numImageTokens(), label + " num_img_tokens");
        assertEquals(e.get("num_img_tokens").asInt(), p.numImageTokens(), label + " manifest num_img_tokens");
        assertArrayEquals(new long[] {nc + 1, 3, 336, 336}, p.shape(), label + " shape");

        float[] pv = p.pixelValues();
        float[] sample = t.floats("pixel_values_sample");
        double sampleErr = 0;
        int s = 0;
        for (int crop = 0; crop <= nc; crop++) {
            for (int c = 0; c < 3; c++) {
                for (int r = 7; r < 336; r += 16) {
                    for (int col = 7; col < 336; col += 16) {
                        float v = pv[((crop * 3 + c) * 336 + r) * 336 + col];
                        sampleErr = Math.max(sampleErr, Math.abs(v - sample[s++]));
                    }
                }
            }
        }
        double[] stats = t.doubles("pixel_values_crop_stats");
        double statErr = 0; // min / max
        double sumRelErr = 0; // sum / sum of squares (float64 sums, order may differ)
        for (int crop = 0; crop <= nc; crop++) {
            for (int c = 0; c < 3; c++) {
                double sum = 0;
                double sq = 0;
                double min = Double.POSITIVE_INFINITY;
                double max = Double.NEGATIVE_INFINITY;
                int base = (crop * 3 + c) * 336 * 336;
                for (int i = 0; i < 336 * 336; i++) {
                    double v = pv[base + i];
                    sum += v;
                    sq += v * v;
                    min = Math.min(min, v);
                    max = Math.max(max, v);
                }
                int k = (crop * 3 + c) * 4;
                statErr = Math.max(statErr, Math.max(Math.abs(min - stats[k + 2]), Math.abs(max - stats[k + 3])));
                sumRelErr = Math.max(sumRelErr, Math.abs(sum - stats[k]) / Math.max(1.0, Math.abs(stats[k])));
                sumRelErr = Math.max(sumRelErr, Math.abs(sq - stats[k + 1]) / Math.max(1.0, Math.abs(stats[k + 1])));
            }
        }
        String fullSha = sha256(pv);
        String globalSha = sha256(java.util.Arrays.copyOf(pv, 3 * 336 * 336));
        boolean fullMatch = fullSha.equals(e.get("pixel_values_sha256_f32le").asText());
        boolean globalMatch = globalSha.equals(e.get("pixel_values_global_sha256_f32le").asText());
        String line = String.format("%-40s hd: %s  sample maxErr %.3g  min/max maxErr %.3g  sum relErr %.2g  "
                + "sha256 full %s global %s", label,
                jpeg ? hdDiffCount + " bytes differ (max " + hdMaxDiff + ")" : "identical", sampleErr, statErr,
                sumRelErr, fullMatch ? "=" : "DIFF", globalMatch ? "=" : "DIFF");
        synchronized (SUMMARY) {
            SUMMARY.add(line);
        }
        System.out.println("[image-golden] " + line);
        double tol = jpeg ? JPEG_TOL : PNG_TOL;
        assertTrue(sampleErr <= tol, label + ": pixel_values sample max abs error " + sampleErr + " > " + tol);
        assertTrue(statErr <= tol, label + ": per-crop min/max error " + statErr + " > " + tol);
        if (!jpeg) {
            assertTrue(sumRelErr <= 1e-9, label + ": per-crop sums differ, rel error " + sumRelErr);
            assertEquals(e.get("pixel_values_sha256_f32le").asText(), fullSha, label + " full pixel_values sha256");
            assertEquals(e.get("pixel_values_global_sha256_f32le").asText(), globalSha, label + " global crop sha256");
        }
    }

    /** The full global crops stored with the forward cases. */
    @Test
    void globalCropMatchesForwardCases() throws IOException {
        JsonNode entries = manifest().get("image_processor");
        Path tiny = SharedData.tinyA();
        int checked = 0;
        for (JsonNode e : entries) {
            if (e.get("full_global_crop_in").isNull()) {
                continue;
            }
            String[] ref = e.get("full_global_crop_in").asText().split(" ");
            int idx = Integer.parseInt(ref[1].replaceAll(".*\\[(\\d+)]", "$1"));
            GoldenTensors t = GoldenTensors.read(tiny.resolve(ref[0]));
            float[] all = t.floats("pixel_values_global");
            int n = 3 * 336 * 336;
            ProcessedImage p = processor().process(ImageLoader.defaults().load(tiny.resolve(e.get("image").asText())),
                    e.get("num_crops").asInt());
            double err = 0;
            for (int i = 0; i < n; i++) {
                err = Math.max(err, Math.abs(p.pixelValues()[i] - all[idx * n + i]));
            }
            System.out.printf("[image-golden] global crop %s nc%d vs %s: max abs err %.3g%n", e.get("image").asText(),
                    e.get("num_crops").asInt(), e.get("full_global_crop_in").asText(), err);
            assertTrue(err <= 1e-6, "global crop max abs error " + err);
            checked++;
        }
        assertEquals(3, checked, "forward cases with a full global crop");
    }

    @Test
    void numImgTokensExamplesWithoutPixels() throws IOException {
        Path file = SharedData.resolve("golden/phi3v-128k-config/num_img_tokens_examples.json");
        JsonNode root = new ObjectMapper().readTree(file.toFile());
        int nc = root.get("num_crops").asInt();
        // golden/phi3v-128k-config/README.md lists 4 examples (1344x1344, 800x600, 336x336, 1600x200).
        assertEquals(4, root.get("examples").size(), "num_img_tokens examples");
        Phi3ImageProcessor official = Phi3ImageProcessor.fromConfig(
                SharedData.resolve("golden/phi3v-128k-config/preprocessor_config.json"));
        assertEquals(nc, official.numCrops());
        for (JsonNode ex : root.get("examples")) {
            int w = ex.get("width").asInt();
            int h = ex.get("height").asInt();
            HdGeometry g = HdGeometry.of(w, h, nc);
            String label = w + "x" + h;
            assertEquals(ex.get("num_img_tokens").asInt(), Phi3ImageProcessor.numImageTokens(w, h, nc), label);
            assertEquals(ex.get("num_img_tokens").asInt(), official.numImageTokens(w, h), label);
            assertEquals(ex.get("image_sizes_hw").get(0).asInt(), g.hdHeight(), label);
            assertEquals(ex.get("image_sizes_hw").get(1).asInt(), g.hdWidth(), label);
            assertEquals(ex.get("crop_grid_hw").get(0).asInt(), g.cropRows(), label);
            assertEquals(ex.get("crop_grid_hw").get(1).asInt(), g.cropCols(), label);
            assertEquals(ex.get("pixel_values_shape").get(1).asInt(), nc + 1, label);
        }
    }

    @AfterAll
    static void printSummary() {
        if (!SUMMARY.isEmpty()) {
            System.out.println("[image-golden] ===== summary (" + SUMMARY.size() + " cases) =====");
            SUMMARY.stream().sorted().forEach(l -> System.out.println("[image-golden] " + l));
        }
    }

    static String sha256(byte[] b) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
        } catch (NoSuchAlgorithmException ex) {
            throw new AssertionError(ex);
        }
    }

    static String sha256(float[] f) {
        ByteBuffer bb = ByteBuffer.allocate(f.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        bb.asFloatBuffer().put(f);
        return sha256(bb.array());
    }

    static boolean exists(Path p) {
        return Files.exists(p);
    }
}
