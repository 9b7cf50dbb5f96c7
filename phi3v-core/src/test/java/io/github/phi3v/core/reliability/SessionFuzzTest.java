package io.github.phi3v.core.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import java.time.Duration;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import io.github.phi3v.core.Phi3Vision;
import io.github.phi3v.core.Session;
import io.github.phi3v.core.generate.Answer;
import io.github.phi3v.core.generate.GenerationConfig;

/**
 * Reliability fuzzing of whole questions through {@link Session#ask}: random Unicode (lone surrogates,
 * special-token text, {@code <|image_N|>} tags in and out of range, huge tag numbers) as system prompt
 * and question, with 0-2 images. Each case answers or throws {@link IllegalArgumentException} (tag
 * mismatch, {@code ContextLengthExceededException}) with a message, and a refused question leaves the
 * conversation unchanged.
 */
class SessionFuzzTest {

    private static final String[] PIECES = {"<|image_1|>", "<|image_2|>", "<|image_3|>", "<|image_0|>",
        "<|image_99999999999999999999|>", "<|image_\u0661|>", "<|user|>", "<|end|>", "<|assistant|>", "<s>", "</s>",
        "<|endoftext|>", "\n", " ", "\uD800", "\uDFFF", "\uD83D\uDE00", "é", "\u0000", "word", "  spaced  "};
    private static Phi3Vision phi;
    private static final Map<String, Integer> COUNTS = new TreeMap<>();

    @BeforeAll
    static void load() {
        phi = NativeMemoryTest.load();
    }

    @AfterAll
    static void close() {
        if (phi != null) {
            phi.close();
        }
        int total = COUNTS.values().stream().mapToInt(Integer::intValue).sum();
        System.out.println("[reliability] session questions: " + total + " cases " + COUNTS);
    }

    private static String text(SplittableRandom r, int max) {
        StringBuilder sb = new StringBuilder();
        for (int i = r.nextInt(max + 1); i > 0; i--) {
            sb.append(r.nextInt(4) == 0 ? String.valueOf((char) r.nextInt(0x10000)) : PIECES[r.nextInt(PIECES.length)]);
        }
        return sb.toString();
    }

    @Test
    void randomQuestions() {
        byte[] png = NativeMemoryTest.image("a10_rgb_42x19.png");
        GenerationConfig one = GenerationConfig.builder().maxNewTokens(1).stopTokenIds().build();
        assertTimeoutPreemptively(Duration.ofMinutes(2), () -> {
            SplittableRandom root = new SplittableRandom(0x5E55L);
            try (Session s = phi.session()) {
                s.config(one).numCrops(1);
                for (int i = 0; i < 300; i++) {
                    SplittableRandom r = root.split();
                    s.clear();   // keeps the image embedding cache: the vision tower runs once per image
                    s.system(r.nextInt(3) == 0 ? text(r, 4) : null);
                    for (int k = r.nextInt(3) == 0 ? r.nextInt(1, 3) : 0; k > 0; k--) {
                        s.image(png);
                    }
                    String q = text(r, 12);
                    int before = s.history().size();
                    try {
                        Answer a = s.ask(q);
                        assertNotNull(a.text());
                        assertEquals(before + 2, s.history().size());
                        COUNTS.merge("ok", 1, Integer::sum);
                    } catch (IllegalArgumentException e) {
                        assertNotNull(e.getMessage(), "case " + i);
                        assertFalse(e.getMessage().isBlank(), "case " + i);
                        assertEquals(before, s.history().size(), "a refused question leaves the conversation as it was");
                        COUNTS.merge(e.getClass().getSimpleName(), 1, Integer::sum);
                    } catch (Throwable t) {
                        throw new AssertionError("session case " + i + ": undocumented " + t + " for question "
                                + q.codePoints().mapToObj(Integer::toHexString).toList(), t);
                    }
                }
            }
        });
    }
}
