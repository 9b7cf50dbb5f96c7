package io.github.phi3v.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The example job's command line: defaults, every option, and refusals that name the problem. */
class ImageCaptionJobOptionsTest {

    @Test
    void defaultsAndEveryOption() {
        ImageCaptionJob.Options d = ImageCaptionJob.Options.parse(new String[] {"--input", "in", "--output", "out"});
        assertEquals("microsoft/Phi-3-vision-128k-instruct", d.spec().model());
        assertEquals(Phi3VisionTransformer.DEFAULT_PROMPT, d.prompt());
        assertEquals(256, d.maxNewTokens());
        assertEquals(0, d.numCrops());
        assertEquals(0, d.partitions());
        assertEquals(8, d.spec().maxBatchSize());
        assertEquals(0, d.spec().threads());
        assertNull(d.spec().dtype());

        ImageCaptionJob.Options o = ImageCaptionJob.Options.parse(new String[] {"--input", "in", "--output", "out",
            "--model", "tiny-random", "--prompt", "What is it?", "--max-new-tokens", "16", "--num-crops", "4",
            "--dtype", "float32", "--batch", "4", "--threads", "3", "--hf-home", "/shared/hf", "--partitions", "12",
            "--glob", "*.png"});
        assertEquals(ModelSpec.of("tiny-random").withMaxBatchSize(4).withThreads(3).withDtype("float32")
                .withHfHome("/shared/hf"), o.spec());
        assertEquals("What is it?", o.prompt());
        assertEquals(16, o.maxNewTokens());
        assertEquals(4, o.numCrops());
        assertEquals(12, o.partitions());
        assertEquals("*.png", o.glob());
    }

    @Test
    void badCommandLinesNameTheProblem() {
        assertMessage("missing --output", "--input", "in");
        assertMessage("unknown option '--inptu'", "--inptu", "in", "--output", "out");
        assertMessage("--batch must be a whole number >= 1, got '0'", "--input", "in", "--output", "out", "--batch", "0");
        assertMessage("option --model needs a value", "--input", "in", "--output", "out", "--model");
    }

    private static void assertMessage(String expected, String... args) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ImageCaptionJob.Options.parse(args));
        assertTrue(e.getMessage().startsWith(expected), e.getMessage());
        assertTrue(e.getMessage().contains("Usage: ImageCaptionJob"), e.getMessage());
    }
}
