package io.github.phi3v.core.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
                    int images = r.nextInt(3) == 0 ? r.nextInt(1, 3) : 0;
                    for (int k = images; k > 0; k--) {
                        s.image(png);
                    }
                    String q = text(r, 12);
                    int before = s.history().size();
                    try {
                        Answer a = s.ask(q);
                        assertNotNull(a.text());
                        assertEquals(before + 2, s.history().size());
                        COUNTS.merge(images == 0 ? "ok-text-only" : "ok-with-images", 1, Integer::sum);
                    } catch (IllegalArgumentException e) {
                        assertNotNull(e.getMessage(), "case " + i);
                        assertFalse(e.getMessage().isBlank(), "case " + i);
                        assertEquals(before, s.history().size(), "a refused question leaves the conversation as it was");
                        COUNTS.merge(e.getClass().getSimpleName() + (images == 0 ? "-text-only" : "-with-images"), 1,
                                Integer::sum);
                    } catch (Throwable t) {
                        throw new AssertionError("session case " + i + ": undocumented " + t + " for question "
                                + q.codePoints().mapToObj(Integer::toHexString).toList(), t);
                    }
                }
            }
        });
        // 1 in 3 cases attach 1-2 images (~100). Each of 0-12 pieces is a tag with p 3/4 x 6/21, so ~1/3 of
        // the questions hold no tag at all (~67 of the ~200 text-only ones: they must answer whatever a
        // session does with tag text when no image is attached; today it answers all of them). Next to
        // images, 4 of the 6 tags never match an attached image (0, 3, a huge and a non-ASCII number), so
        // about half of those questions are refused and half answered. Minimums are about half of that.
        requireAtLeast("ok-text-only", 30, "~1/3 of ~200 text-only questions hold no tag");
        requireAtLeast("ok-with-images", 15, "~half of ~100 questions with images hold no bad tag");
        requireAtLeast("IllegalArgumentException-with-images", 25, "~half hold a tag naming no attached image");
    }

    /** Fails unless {@code outcome} was seen at least {@code min} times (a stuck generator fails here). */
    private static void requireAtLeast(String outcome, int min, String why) {
        int n = COUNTS.getOrDefault(outcome, 0);
        assertTrue(n >= min, "session questions: outcome '" + outcome + "' seen " + n + " times, expected at least "
                + min + " (" + why + "); all outcomes " + COUNTS);
    }
}
