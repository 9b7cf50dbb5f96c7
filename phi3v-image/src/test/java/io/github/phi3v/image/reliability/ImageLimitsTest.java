package io.github.phi3v.image.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.github.phi3v.image.ImageLoader;
import io.github.phi3v.image.ImageProcessingException;
import io.github.phi3v.image.ImageProcessingException.Reason;
import io.github.phi3v.image.Phi3ImageProcessor;
import io.github.phi3v.image.RgbImage;
import io.github.phi3v.testsupport.SharedData;

/**
 * The configurable input limits of the image path and their defaults (see {@code docs/reliability.md}):
 * pixel limit, byte limit for every source, {@code file:} URLs only when allowed. The HTTP timeout and the
 * download size limit are exercised against a loopback server in {@code ImageLoaderUrlTest}.
 */
class ImageLimitsTest {

    private static Path tiny() {
        return SharedData.tinyA().resolve("images/a06_tiny_40x30.png");   // 40 x 30 = 1200 pixels
    }

    @Test
    void defaults() {
        ImageLoader d = ImageLoader.defaults();
        assertEquals(50_000_000L, d.maxPixels(), "50 Mpx: a 50-MP camera frame, 8160 x 6120, fits");
        assertTrue(8160L * 6120 <= d.maxPixels() && 4961L * 7016 <= d.maxPixels() && 8000L * 6000 <= d.maxPixels());
        assertEquals(100L << 20, d.maxBytes());
        assertEquals(Duration.ofSeconds(30), d.timeout());
        assertFalse(d.allowFileUrls(), "file: URLs must be refused by default (server use-case)");
        assertFalse(d.allowPrivateAddresses(), "non-public addresses must be refused by default");
        assertTrue(d.allowHttp(), "http stays allowed by default");
        assertTrue(d.allowedHosts().isEmpty());
        assertEquals(5, d.maxRedirects());
        ImageLoader u = ImageLoader.forUntrustedInput();
        assertFalse(u.allowHttp() || u.allowPrivateAddresses() || u.allowFileUrls(), u.toString());
        assertEquals(d.maxPixels(), u.maxPixels());
        assertEquals(d.maxBytes(), u.maxBytes());
        assertEquals(d, Phi3ImageProcessor.defaults().loader(), "the processor uses the default loader");
    }

    @Test
    void pixelLimitIsConfigurable() throws IOException {
        byte[] png = Files.readAllBytes(tiny());
        ImageLoader exact = ImageLoader.builder().maxPixels(1200).build();
        assertEquals(40, exact.load(png).width());
        ImageProcessingException e = assertThrows(ImageProcessingException.class,
                () -> ImageLoader.builder().maxPixels(1199).build().load(png));
        assertEquals(Reason.TOO_MANY_PIXELS, e.reason());
        assertTrue(e.getMessage().contains("40x30 = 1200 pixels") && e.getMessage().contains("1199"), e.getMessage());
        // Through a processor configured with that loader.
        Phi3ImageProcessor p = Phi3ImageProcessor.builder().loader(ImageLoader.builder().maxPixels(1199).build()).build();
        assertEquals(Reason.TOO_MANY_PIXELS, assertThrows(ImageProcessingException.class,
                () -> p.process(tiny(), 1)).reason());
    }

    @Test
    void byteLimitAppliesToEverySource() throws IOException {
        byte[] png = Files.readAllBytes(tiny());
        ImageLoader small = ImageLoader.builder().maxBytes(png.length - 1).build();
        for (ThrowingRunnable r : new ThrowingRunnable[] {() -> small.load(png), () -> small.load(tiny()),
            () -> small.load(new ByteArrayInputStream(png))}) {
            ImageProcessingException e = assertThrows(ImageProcessingException.class, r::run);
            assertEquals(Reason.TOO_MANY_BYTES, e.reason(), e.getMessage());
            assertTrue(e.getMessage().contains("maxBytes"), e.getMessage());
        }
        assertEquals(30, ImageLoader.builder().maxBytes(png.length).build().load(png).height());
    }

    @Test
    void fileUrlsOnlyWhenAllowed(@TempDir Path dir) throws IOException {
        Path f = dir.resolve("x.png");
        Files.copy(tiny(), f);
        ImageProcessingException e = assertThrows(ImageProcessingException.class,
                () -> ImageLoader.defaults().load(f.toUri()));
        assertEquals(Reason.UNSUPPORTED_SOURCE, e.reason());
        assertTrue(e.getMessage().contains("allowFileUrls"), e.getMessage());
        assertEquals(Reason.UNSUPPORTED_SOURCE, assertThrows(ImageProcessingException.class,
                () -> ImageLoader.defaults().load(f.toUri().toURL())).reason());
        assertEquals(Reason.UNSUPPORTED_SOURCE, assertThrows(ImageProcessingException.class,
                () -> ImageLoader.defaults().load(java.net.URI.create("ftp://example.invalid/x.png"))).reason());
        assertEquals(40, ImageLoader.builder().allowFileUrls(true).build().load(f.toUri()).width());
    }

    /**
     * What the default pixel limit still admits: a tiny PNG declaring 8160 x 6120 (a 50-MP camera frame, just
     * under the 50 Mpx limit) makes the decoder allocate its full 3-byte-per-pixel raster (150 MB) before
     * finding the data missing; 8160 x 6128 (50 004 480 pixels) is refused from the header for nothing.
     * Documented in {@code docs/image-processing.md} and on {@link ImageLoader#DEFAULT_MAX_PIXELS}.
     */
    @Test
    void justUnderTheDefaultLimitCostsOneRaster() {
        int w = 8160;
        int h = 6120;
        long raster = 3L * w * h;
        byte[] png = ImageFuzzTest.pngHeader(w, h);
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        assertTimeoutPreemptively(Duration.ofSeconds(30), () -> {
            long tid = Thread.currentThread().getId();
            long before = mx.getThreadAllocatedBytes(tid);
            ImageProcessingException e = assertThrows(ImageProcessingException.class,
                    () -> ImageLoader.defaults().load(png));
            long allocated = mx.getThreadAllocatedBytes(tid) - before;
            System.out.println("[reliability] " + png.length + "-byte PNG declaring " + w + "x" + h + ": " + e.reason()
                    + " after " + allocated / (1 << 20) + " MiB allocated (raster " + raster / (1 << 20) + " MiB)");
            assertEquals(Reason.CORRUPT, e.reason(), e.getMessage());
            assertTrue(allocated >= raster && allocated < raster + (32 << 20), allocated + " bytes");
            // 8 rows more are over the limit: refused from the header.
            long before2 = mx.getThreadAllocatedBytes(tid);
            assertEquals(Reason.TOO_MANY_PIXELS, assertThrows(ImageProcessingException.class,
                    () -> ImageLoader.defaults().load(ImageFuzzTest.pngHeader(w, 6128))).reason());
            long refused = mx.getThreadAllocatedBytes(tid) - before2;
            System.out.println("[reliability] " + w + "x6128 PNG: TOO_MANY_PIXELS after " + refused / 1024
                    + " KiB allocated");
            assertTrue(refused < 1 << 20, refused + " bytes allocated before refusing from the header");
        });
    }

    /**
     * numCrops is only bounded by what one pixel array can hold (6339): beyond it the processor used to
     * throw NegativeArraySizeException and the token formula overflowed to negative counts.
     */
    @Test
    void numCropsExtremes() throws IOException {
        RgbImage img = ImageLoader.defaults().load(Files.readAllBytes(tiny()));
        Phi3ImageProcessor p = Phi3ImageProcessor.defaults();
        for (int n : new int[] {0, -1, Integer.MIN_VALUE, 6340, 1_000_000, Integer.MAX_VALUE}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> p.process(img, n), "" + n);
            assertTrue(e.getMessage().contains("numCrops"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> Phi3ImageProcessor.numImageTokens(40, 30, n), "" + n);
            assertThrows(IllegalArgumentException.class, () -> Phi3ImageProcessor.builder().numCrops(n).build(), "" + n);
        }
        assertEquals(905_161, Phi3ImageProcessor.numImageTokens(40, 30, 6339), "the largest budget still counts exactly");
        assertEquals(2, p.process(img, 1).pixelValues().length / (3 * 336 * 336));
    }

    /** Mutated preprocessor_config.json: a processor or IllegalArgumentException with a message. */
    @Test
    void preprocessorConfigFuzz() throws IOException {
        String golden = Files.readString(SharedData.tinyA().resolve("model-f32/preprocessor_config.json"));
        String[] values = {"0", "-1", "1e309", "2147483648", "6340", "16", "4", "1.5", "null", "\"16\"", "[]", "{}",
            "[0.5,0.5]", "[0.5,0.5,0.5]", "[0,0,0]", "[\"a\",1,2]", "[1e39,1,1]", "true", "\"Phi3VImageProcessor\""};
        java.util.Map<String, Integer> counts = new java.util.TreeMap<>();
        java.util.SplittableRandom root = new java.util.SplittableRandom(0x9E1L);
        assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
            for (int i = 0; i < 2000; i++) {
                java.util.SplittableRandom r = root.split();
                String text;
                String kind;
                if (r.nextInt(3) == 0) {
                    kind = "bitflip";
                    byte[] b = golden.getBytes(java.nio.charset.StandardCharsets.UTF_8);
                    b[r.nextInt(b.length)] ^= (byte) (1 << r.nextInt(8));
                    text = new String(b, java.nio.charset.StandardCharsets.UTF_8);
                } else {
                    // Replace the value of one key (or add a key) with an odd value.
                    String key = new String[] {"num_crops", "image_mean", "image_std", "num_img_tokens",
                        "image_processor_type"}[r.nextInt(5)];
                    String v = values[r.nextInt(values.length)];
                    kind = "value";
                    text = golden.replaceFirst("\"" + key + "\"\\s*:\\s*(\\[[^\\]]*\\]|\"[^\"]*\"|[^,}\\s]+)",
                            "\"" + key + "\": " + java.util.regex.Matcher.quoteReplacement(v));
                    if (!text.contains("\"" + key + "\"")) {
                        text = text.replaceFirst("\\{", "{\"" + key + "\": " + java.util.regex.Matcher.quoteReplacement(v) + ",");
                    }
                }
                try {
                    Phi3ImageProcessor p = Phi3ImageProcessor.fromConfig(
                            new java.io.ByteArrayInputStream(text.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
                    assertTrue(p.numCrops() >= 1 && p.numCrops() <= 6339, text);
                    counts.merge(kind + ":ok", 1, Integer::sum);
                } catch (IllegalArgumentException e) {
                    assertTrue(e.getMessage() != null && !e.getMessage().isBlank(), text);
                    counts.merge(kind + ":IAE", 1, Integer::sum);
                } catch (Throwable t) {
                    throw new AssertionError("preprocessor config case " + i + ": undocumented " + t + " for " + text, t);
                }
            }
        });
        System.out.println("[reliability] preprocessor_config.json: 2000 cases " + counts);
        // 1/3 bit flips of the JSON (~667): about half break its syntax or a value the processor reads
        // (refused), the other half land in strings, key names or fields it does not read. 2/3 set one of 5
        // keys to one of 19 values (~1333): only ~7 of the 95 key/value pairs are valid (num_crops 16 or 4,
        // a 3-float mean or std, ...), so ~7 % load. Minimums are about half of that.
        requireAtLeast(counts, "bitflip:IAE", 150, "~half of ~667 bit flips break the JSON or a value");
        requireAtLeast(counts, "bitflip:ok", 150, "~half land in strings or unread fields");
        requireAtLeast(counts, "value:IAE", 600, "~93 % of the key/value pairs are invalid");
        requireAtLeast(counts, "value:ok", 45, "~7 of the 95 key/value pairs are valid");
    }

    /** Fails unless {@code outcome} was seen at least {@code min} times (a constant generator fails here). */
    private static void requireAtLeast(java.util.Map<String, Integer> counts, String outcome, int min, String why) {
        int n = counts.getOrDefault(outcome, 0);
        assertTrue(n >= min, "preprocessor_config.json: outcome '" + outcome + "' seen " + n + " times, expected at "
                + "least " + min + " (" + why + "); all outcomes " + counts);
    }

    @FunctionalInterface
    private interface ThrowingRunnable {
        void run() throws Exception;
    }
}
