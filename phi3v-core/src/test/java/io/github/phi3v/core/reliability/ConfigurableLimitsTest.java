package io.github.phi3v.core.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import io.github.phi3v.core.LimitExceededException;
import io.github.phi3v.core.Phi3Vision;
import io.github.phi3v.core.Session;
import io.github.phi3v.core.generate.Answer;
import io.github.phi3v.core.generate.GenerationConfig;
import io.github.phi3v.core.model.ImagePixels;
import io.github.phi3v.core.model.Precision;
import io.github.phi3v.image.ImageLoader;
import io.github.phi3v.image.ImageProcessingException;
import io.github.phi3v.image.ImageProcessingException.Reason;

/**
 * The limits set on {@link Phi3VisionBuilder} besides the context: the image loader of the sessions,
 * images per prompt and prompt tokens. Each is checked before the work it bounds (decoding, the vision
 * tower, the prefill), names itself, the value found and the option, and leaves the conversation as it
 * was. One tiny model with small limits: maxContext 4096, maxPromptTokens 700 (two images at num_crops 1
 * fit, three do not: 3 x 313 = 939), maxImagesPerPrompt 3, a loader admitting 1000 pixels and
 * {@code file:} URLs.
 */
@Timeout(120)
class ConfigurableLimitsTest {

    private static final GenerationConfig EIGHT_TOKENS = NativeMemoryTest.EIGHT_TOKENS;
    /** 42 x 19 = 798 pixels: under the test loader's limit. */
    private static final String SMALL = "a10_rgb_42x19.png";
    /** 40 x 30 = 1200 pixels: over it. */
    private static final String OVER_PIXELS = "a06_tiny_40x30.png";

    private static Phi3Vision phi;

    @BeforeAll
    static void load() {
        phi = Phi3Vision.builder().modelDir(NativeMemoryTest.modelDir()).dtype(Precision.FLOAT32).maxContext(4096)
                .maxPromptTokens(700).maxImagesPerPrompt(3).numCrops(1)
                .imageLoader(ImageLoader.builder().maxPixels(1000).allowFileUrls(true).build())
                .build();
    }

    @AfterAll
    static void close() {
        if (phi != null) {
            phi.close();
        }
    }

    @Test
    void defaultsAndBuilderValidation() {
        assertEquals(16, Phi3Vision.DEFAULT_MAX_IMAGES_PER_PROMPT);
        try (Phi3Vision defaults = Phi3Vision.builder().modelDir(NativeMemoryTest.modelDir()).dtype(Precision.FLOAT32)
                .build()) {
            assertEquals(Phi3Vision.DEFAULT_MAX_CONTEXT, defaults.limits().maxPromptTokens(), "default: the whole context");
            assertEquals(16, defaults.limits().maxImagesPerPrompt());
            ImageLoader loader = defaults.imageProcessor().loader();
            assertEquals(ImageLoader.DEFAULT_MAX_PIXELS, loader.maxPixels());
            assertEquals(ImageLoader.DEFAULT_TIMEOUT, loader.timeout());
            assertFalse(loader.allowFileUrls());
        }
        assertEquals(700, phi.limits().maxPromptTokens());
        assertEquals(3, phi.limits().maxImagesPerPrompt());
        assertEquals(1, phi.imageProcessor().numCrops(), "numCrops and imageLoader combine");

        IllegalArgumentException zero = assertThrows(IllegalArgumentException.class,
                () -> Phi3Vision.builder().maxPromptTokens(0));
        assertEquals("maxPromptTokens must be >= 1, got 0", zero.getMessage());
        assertEquals("maxImagesPerPrompt must be >= 1, got 0", assertThrows(IllegalArgumentException.class,
                () -> Phi3Vision.builder().maxImagesPerPrompt(0)).getMessage());
        assertThrows(NullPointerException.class, () -> Phi3Vision.builder().imageLoader(null));
        IllegalArgumentException over = assertThrows(IllegalArgumentException.class, () -> Phi3Vision.builder()
                .modelDir(NativeMemoryTest.modelDir()).maxContext(1000).maxPromptTokens(1001).build());
        assertTrue(over.getMessage().startsWith("maxPromptTokens 1001 exceeds maxContext 1000"), over.getMessage());
    }

    /** The builder's loader decodes every session image and {@code preprocess}: its limits apply. */
    @Test
    void imageLoaderAppliesToSessionsAndPreprocess(@TempDir Path dir) throws Exception {
        try (Session s = phi.session()) {
            ImageProcessingException big = assertThrows(ImageProcessingException.class,
                    () -> s.image(NativeMemoryTest.image(OVER_PIXELS)));
            assertEquals(Reason.TOO_MANY_PIXELS, big.reason(), big.getMessage());
            assertTrue(big.getMessage().contains("1000"), big.getMessage());
            Path file = dir.resolve("small.png");
            Files.write(file, NativeMemoryTest.image(SMALL));
            s.image(file.toUri());   // file: URLs are allowed by this loader (refused by the default one)
            assertEquals(1, s.imageCount());
            s.config(EIGHT_TOKENS);
            assertEquals(8, s.ask("What is it?").tokenIds().length);
        }
        Path over = dir.resolve("over.png");
        Files.write(over, NativeMemoryTest.image(OVER_PIXELS));
        assertEquals(Reason.TOO_MANY_PIXELS,
                assertThrows(ImageProcessingException.class, () -> phi.rawPrompts().preprocess(over, 1)).reason());
    }

    /** The image one too many is refused before a byte of it is read. */
    @Test
    void imagesPerPromptAreCountedBeforeDecoding() {
        try (Session s = phi.session()) {
            byte[] png = NativeMemoryTest.image(SMALL);
            for (int i = 0; i < 3; i++) {
                s.image(png);
            }
            AtomicBoolean read = new AtomicBoolean();
            InputStream watched = new ByteArrayInputStream(png) {
                @Override
                public synchronized int read(byte[] b, int off, int len) {
                    read.set(true);
                    return super.read(b, off, len);
                }

                @Override
                public synchronized int read() {
                    read.set(true);
                    return super.read();
                }
            };
            LimitExceededException e = assertThrows(LimitExceededException.class, () -> s.image(watched));
            assertEquals("maxImagesPerPrompt", e.limit());
            assertEquals(4, e.found());
            assertEquals(3, e.max());
            assertEquals("adding this image would give the conversation 4 images, but maxImagesPerPrompt is 3 "
                    + "(Phi3Vision.builder().maxImagesPerPrompt(n) raises it; a session counts every image of its "
                    + "conversation: clear() or a new session starts again)", e.getMessage());
            assertFalse(read.get(), "the refused image was not read");
            assertEquals(3, s.imageCount());
            s.clear();
            s.image(png);   // clear() starts the count again
            assertEquals(1, s.imageCount());
        }
    }

    /** A written tag beyond the limit is refused before tokenization; without images tags are text. */
    @Test
    void imageTagsBeyondTheLimitAreRefused() {
        try (Session s = phi.session()) {
            s.config(EIGHT_TOKENS).image(NativeMemoryTest.image(SMALL));
            long before = phi.visionEncodings();
            LimitExceededException e = assertThrows(LimitExceededException.class,
                    () -> s.ask("Compare <|image_1|> with <|image_4|>."));
            assertEquals("maxImagesPerPrompt", e.limit());
            assertEquals(4, e.found());
            assertEquals(3, e.max());
            assertTrue(e.getMessage().startsWith("the message refers to image 4 (<|image_4|>), but maxImagesPerPrompt"
                    + " is 3"), e.getMessage());
            assertTrue(e.getMessage().contains("maxImagesPerPrompt(n)"), e.getMessage());
            assertEquals(before, phi.visionEncodings());
            assertEquals(0, s.history().size(), "a refused question leaves the conversation unchanged");
            assertEquals(8, s.ask("Describe <|image_1|>.").tokenIds().length);
        }
        try (Session text = phi.session()) {
            Answer a = text.config(EIGHT_TOKENS).ask("What is <|image_9|>?");   // no images: plain text
            assertEquals(8, a.tokenIds().length);
        }
    }

    /** Text + image tokens over maxPromptTokens (but inside the context) are refused before the vision tower. */
    @Test
    void promptTokensAreLimitedSeparatelyFromTheContext() {
        byte[] png = NativeMemoryTest.image(SMALL);
        try (Session s = phi.session()) {
            s.config(EIGHT_TOKENS).image(png).image(png).image(png);
            long before = phi.visionEncodings();
            LimitExceededException e = assertThrows(LimitExceededException.class, () -> s.ask("Which differs?"));
            assertEquals("maxPromptTokens", e.limit());
            assertEquals(700, e.max());
            assertEquals(939, e.found(), "three images at num_crops 1, counted on the tags before tokenizing");
            assertTrue(e.getMessage().startsWith("the image tags of the prompt alone cost 939 image tokens but "
                    + "maxPromptTokens is 700 (239 too many"), e.getMessage());
            assertTrue(e.getMessage().contains("Phi3Vision.builder().maxPromptTokens(n)"), e.getMessage());
            assertEquals(before, phi.visionEncodings(), "no image preprocessed or encoded for a refused prompt");
            assertEquals(0, s.history().size());
        }
        try (Session s = phi.session()) {
            s.config(EIGHT_TOKENS).image(png);
            // Repeated tags are counted before they are expanded: 3 x 313 tagged tokens.
            LimitExceededException e = assertThrows(LimitExceededException.class,
                    () -> s.ask("<|image_1|><|image_1|><|image_1|>"));
            assertEquals("maxPromptTokens", e.limit());
            assertEquals(939, e.found());
            // Long text alone: refused although it fits the 4096-token context.
            LimitExceededException text = assertThrows(LimitExceededException.class,
                    () -> s.ask("word ".repeat(1000)));
            assertEquals("maxPromptTokens", text.limit());
            assertTrue(text.found() > 700 && text.found() < 4096 - 8, text.getMessage());
            assertTrue(text.getMessage().startsWith("the prompt has " + text.found() + " tokens ("
                    + (text.found() - 313) + " text + 313 image) but maxPromptTokens is 700"), text.getMessage());
            assertTrue(text.getMessage().contains("Phi3Vision.builder().maxPromptTokens(n)"), text.getMessage());
            // Within the limits the same session answers: two images, 626 image tokens.
            s.image(png);
            Answer a = s.ask("Compare them.");
            assertEquals(626, a.usage().imageTokens());
            assertTrue(a.usage().promptTokens() <= 700);
        }
    }

    /** {@link RawPrompts#generate} checks the image count and the id count before encoding. */
    @Test
    void generateChecksBothLimitsBeforeTheVisionTower(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("small.png");
        Files.write(file, NativeMemoryTest.image(SMALL));
        ImagePixels img = phi.rawPrompts().preprocess(file, 1);
        List<ImagePixels> four = List.of(img, img, img, img);
        long before = phi.visionEncodings();
        LimitExceededException many = assertThrows(LimitExceededException.class,
                () -> phi.rawPrompts().generate(new int[] {1, 2, 3}, four, EIGHT_TOKENS));
        assertEquals("maxImagesPerPrompt", many.limit());
        assertEquals(4, many.found());
        assertTrue(many.getMessage().startsWith("generate() was given 4 images, but maxImagesPerPrompt is 3"),
                many.getMessage());

        List<Integer> ids = new ArrayList<>();
        ids.add(1);
        for (int i = 0; i < phi.rawPrompts().imageTokenCount(img); i++) {
            ids.add(-1);
        }
        while (ids.size() < 701) {
            ids.add(450);
        }
        LimitExceededException longPrompt = assertThrows(LimitExceededException.class,
                () -> phi.rawPrompts().generate(ids.stream().mapToInt(Integer::intValue).toArray(), List.of(img), EIGHT_TOKENS));
        assertEquals("maxPromptTokens", longPrompt.limit());
        assertEquals(701, longPrompt.found());
        assertTrue(longPrompt.getMessage().startsWith("the prompt has 701 tokens (388 text + 313 image)"),
                longPrompt.getMessage());
        assertEquals(before, phi.visionEncodings());

        Answer ok = phi.rawPrompts().generate(ids.subList(0, 700).stream().mapToInt(Integer::intValue).toArray(), List.of(img),
                EIGHT_TOKENS);
        assertEquals(8, ok.tokenIds().length, "exactly maxPromptTokens is allowed");
    }
}
