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
        assertEquals(89_478_485L, d.maxPixels(), "PIL's MAX_IMAGE_PIXELS");
        assertEquals(100L << 20, d.maxBytes());
        assertEquals(Duration.ofSeconds(30), d.timeout());
        assertFalse(d.allowFileUrls(), "file: URLs must be refused by default (server use-case)");
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
     * What the default pixel limit still admits: a 500-byte PNG declaring 9000 x 9000 (just under the
     * limit) makes the decoder allocate its full raster before finding the data missing. Documented in
     * {@code docs/reliability.md}; servers should lower {@code maxPixels}.
     */
    @Test
    void justUnderTheDefaultLimitCostsOneRaster() {
        byte[] png = ImageFuzzTest.pngHeader(9000, 9000);
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        assertTimeoutPreemptively(Duration.ofSeconds(30), () -> {
            long tid = Thread.currentThread().getId();
            long before = mx.getThreadAllocatedBytes(tid);
            ImageProcessingException e = assertThrows(ImageProcessingException.class,
                    () -> ImageLoader.defaults().load(png));
            long allocated = mx.getThreadAllocatedBytes(tid) - before;
            System.out.println("[reliability] " + png.length + "-byte PNG declaring 9000x9000: " + e.reason() + " after "
                    + allocated / (1 << 20) + " MiB allocated");
            assertEquals(Reason.CORRUPT, e.reason(), e.getMessage());
            // With a server-sized limit the same input costs nothing.
            long before2 = mx.getThreadAllocatedBytes(tid);
            assertEquals(Reason.TOO_MANY_PIXELS, assertThrows(ImageProcessingException.class,
                    () -> ImageLoader.builder().maxPixels(4096L * 4096).build().load(png)).reason());
            assertTrue(mx.getThreadAllocatedBytes(tid) - before2 < 16 << 20);
        });
    }

    @FunctionalInterface
    private interface ThrowingRunnable {
        void run() throws Exception;
    }
}
