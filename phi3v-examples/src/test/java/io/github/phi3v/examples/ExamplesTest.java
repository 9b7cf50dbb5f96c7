package io.github.phi3v.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import io.github.phi3v.core.Phi3Vision;
import io.github.phi3v.core.generate.Answer;
import io.github.phi3v.testsupport.SharedData;
import io.github.phi3v.tooling.Models;

/** Each seed example runs end to end (image file in, streamed text out) on the tiny golden model. */
class ExamplesTest {

    static Phi3Vision model;

    @BeforeAll
    static void load() {
        // num_crops 4 keeps the prompts short (757 image tokens) so the tests stay fast
        model = Phi3Vision.builder().modelDir(SharedData.tinyA().resolve("model-f32")).dtype("float32").numCrops(4)
                .build();
    }

    @AfterAll
    static void close() {
        if (model != null) {
            model.close();
        }
    }

    private static String image(String name) {
        return SharedData.tinyA().resolve("images/" + name).toString();
    }

    private static void check(Answer a, StringBuilder streamed, int expectedImageTokens) {
        assertEquals(a.text(), streamed.toString(), "streamed pieces concatenate to the answer");
        assertTrue(a.usage().generatedTokens() >= 1 && a.usage().generatedTokens() <= 6, a.toString());
        assertEquals(expectedImageTokens, a.usage().imageTokens(), a.toString());
        assertFalse(a.text().isEmpty() && a.usage().generatedTokens() > 1, "some text came out: " + a);
    }

    @Test
    void describeChart() {
        StringBuilder sb = new StringBuilder();
        Answer a = DescribeChart.run(model, image("a01_rgb_500x300.png"), DescribeChart.PROMPT, 6, sb::append);
        check(a, sb, 757);
    }

    @Test
    void ocrBookCover() {
        StringBuilder sb = new StringBuilder();
        Answer a = OcrBookCover.run(model, image("a09_photo_640x427.jpg"), OcrBookCover.PROMPT, 6, sb::append);
        check(a, sb, 757);
    }

    @Test
    void compareImages() {
        StringBuilder sb = new StringBuilder();
        Answer a = CompareImages.run(model, image("a05_tall_150x1200.png"), image("a04_wide_1600x200.png"),
                CompareImages.PROMPT, 6, sb::append);
        check(a, sb, 781 + 745);
    }

    @Test
    void seedPromptsAreTheNotebooks() {
        assertEquals("Could you please introduce this stock to me?", DescribeChart.PROMPT);
        assertEquals("Help me get the title and author information of this book?", OcrBookCover.PROMPT);
        assertEquals("What is difference in this two images?", CompareImages.PROMPT);
        assertTrue(Path.of(Models.PHI3_VISION).getNameCount() == 2);
    }
}
