package io.github.phi3v.core.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.github.phi3v.core.LimitExceededException;
import io.github.phi3v.core.Phi3Vision;
import io.github.phi3v.core.Session;
import io.github.phi3v.core.generate.ContextLengthExceededException;
import io.github.phi3v.core.model.Precision;
import io.github.phi3v.image.ImageLoader;
import io.github.phi3v.image.ImageProcessingException;
import io.github.phi3v.image.ImageProcessingException.Reason;

/**
 * The limits a server relies on, through the fluent API and their defaults (see
 * {@code docs/reliability.md}): the context limit (also bounding prompt tokens and images) is checked
 * before the vision tower runs; the image count is checked when an image is added; the image loader's
 * defaults (pixel limit, no {@code file:} URLs) apply to {@link Session#image}. The configured values of
 * these limits are tested in {@link ConfigurableLimitsTest}.
 */
class LimitsTest {

    private static Phi3Vision phi;

    @BeforeAll
    static void load() {
        phi = NativeMemoryTest.load();   // maxContext 4096
    }

    @AfterAll
    static void close() {
        if (phi != null) {
            phi.close();
        }
    }

    @Test
    void contextDefaultsAndValidation() {
        assertEquals(8192, Phi3Vision.DEFAULT_MAX_CONTEXT);
        assertEquals(4096, phi.maxContext());
        assertThrows(IllegalArgumentException.class, () -> Phi3Vision.builder().maxContext(0));
        IllegalArgumentException tooLarge = assertThrows(IllegalArgumentException.class, () -> Phi3Vision.builder()
                .modelDir(NativeMemoryTest.modelDir()).dtype(Precision.FLOAT32).maxContext(131_073).build());
        assertTrue(tooLarge.getMessage().contains("max_position_embeddings"), tooLarge.getMessage());
    }

    /** Max prompt tokens = maxContext - maxNewTokens, refused before any image is encoded. */
    @Test
    void longPromptIsRefusedBeforeTheVisionTower() {
        try (Session s = phi.session()) {
            s.config(NativeMemoryTest.EIGHT_TOKENS).numCrops(1).image(NativeMemoryTest.image("a06_tiny_40x30.png"));
            long before = phi.visionEncodings();
            ContextLengthExceededException e = assertThrows(ContextLengthExceededException.class,
                    () -> s.ask("word ".repeat(5000)));
            assertEquals(4096, e.maxContext());
            assertTrue(e.requiredTokens() > 4096, e.getMessage());
            assertEquals(before, phi.visionEncodings(), "no image encoded for a refused request");
            assertEquals(0, s.history().size(), "a refused call leaves the conversation unchanged");
        }
    }

    /**
     * Max images per prompt: the 17th image is refused by {@code maxImagesPerPrompt} (default 16) when it
     * is added; 16 images still cost >= 313 tokens each at numCrops 1, so the context refuses them too.
     */
    @Test
    void manyImagesAreRefusedByTheImageAndContextLimits() {
        try (Session s = phi.session()) {
            s.config(NativeMemoryTest.EIGHT_TOKENS).numCrops(1);
            byte[] png = NativeMemoryTest.image("a10_rgb_42x19.png");
            for (int i = 0; i < Phi3Vision.DEFAULT_MAX_IMAGES_PER_PROMPT; i++) {
                s.image(png);
            }
            LimitExceededException count = assertThrows(LimitExceededException.class, () -> s.image(png));
            assertEquals("maxImagesPerPrompt", count.limit());
            assertEquals(17, count.found());
            assertEquals(16, s.imageCount());
            long before = phi.visionEncodings();
            ContextLengthExceededException e = assertThrows(ContextLengthExceededException.class, () -> s.ask("All?"));
            assertTrue(e.getMessage().contains("images cost"), e.getMessage());
            assertEquals(before, phi.visionEncodings());
        }
    }

    /**
     * A 1.1 MB question made of one repeated tag expands to 100 000 x 313 placeholder ids; it must be
     * refused as too long without materialising them (they would be 125 MB, and a few MB of text at
     * num_crops 16 would exhaust the heap).
     */
    @Test
    void repeatedImageTagsAreRefusedWithoutExpandingThem() {
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
            try (Session s = phi.session()) {
                s.config(NativeMemoryTest.EIGHT_TOKENS).numCrops(1).image(NativeMemoryTest.image("a06_tiny_40x30.png"));
                String question = "<|image_1|>".repeat(100_000);
                long tid = Thread.currentThread().getId();
                long before = mx.getThreadAllocatedBytes(tid);
                ContextLengthExceededException e = assertThrows(ContextLengthExceededException.class,
                        () -> s.ask(question));
                long allocated = mx.getThreadAllocatedBytes(tid) - before;
                System.out.println("[reliability] 100000 repeated image tags: refused after " + (allocated >> 20)
                        + " MiB allocated: " + e.getMessage().substring(0, Math.min(120, e.getMessage().length())));
                assertTrue(e.requiredTokens() >= 100_000L * 313, e.getMessage());
                assertTrue(allocated < 100L << 20, "allocated " + (allocated >> 20) + " MiB to refuse the prompt");
            }
        });
    }

    /** The session's images go through the processor's loader: its safe defaults apply. */
    @Test
    void sessionImagesUseTheLoaderLimits(@TempDir Path dir) throws Exception {
        try (Session s = phi.session()) {
            Path png = dir.resolve("x.png");
            Files.write(png, NativeMemoryTest.image("a06_tiny_40x30.png"));
            ImageProcessingException file = assertThrows(ImageProcessingException.class, () -> s.image(png.toUri()));
            assertEquals(Reason.UNSUPPORTED_SOURCE, file.reason(), "file: URLs are refused by default");
            byte[] bomb = bombPng();
            ImageProcessingException big = assertThrows(ImageProcessingException.class, () -> s.image(bomb));
            assertEquals(Reason.TOO_MANY_PIXELS, big.reason(), big.getMessage());
            assertEquals(0, s.imageCount(), "refused images are not added");
            assertEquals(ImageLoader.DEFAULT_MAX_PIXELS, phi.imageProcessor().loader().maxPixels());
            assertEquals(false, phi.imageProcessor().loader().allowFileUrls());
        }
    }

    /** PNG signature + IHDR declaring 50 000 x 50 000 (the CRC is not checked before the size is). */
    private static byte[] bombPng() {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(8 + 25 + 12);
        b.put(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'});
        b.putInt(13).put("IHDR".getBytes(java.nio.charset.StandardCharsets.US_ASCII)).putInt(50_000).putInt(50_000)
                .put((byte) 8).put((byte) 2).put((byte) 0).put((byte) 0).put((byte) 0);
        java.util.zip.CRC32 crc = new java.util.zip.CRC32();
        crc.update(b.array(), 12, 17);
        b.putInt((int) crc.getValue());
        b.putInt(0).put("IEND".getBytes(java.nio.charset.StandardCharsets.US_ASCII)).putInt(0xAE426082);
        return b.array();
    }
}
