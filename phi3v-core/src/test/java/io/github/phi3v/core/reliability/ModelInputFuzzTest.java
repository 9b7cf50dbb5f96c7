package io.github.phi3v.core.reliability;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import io.github.phi3v.core.Phi3Vision;
import io.github.phi3v.core.generate.Answer;
import io.github.phi3v.core.generate.GenerationConfig;
import io.github.phi3v.core.model.ImagePixels;
import io.github.phi3v.core.model.KvCache;

/**
 * Reliability fuzzing of the ids-level entry point {@link RawPrompts#generate(int[], List, GenerationConfig)}
 * (what the CLI's {@code --input-ids} feeds): random ids including ids past the vocabulary,
 * {@code Integer.MIN_VALUE}/{@code MAX_VALUE}, placeholders of missing images and placeholder runs of the
 * wrong length, plus random sampling settings. Every case generates or throws
 * {@link IllegalArgumentException} (or its subclass {@code ContextLengthExceededException}) with a
 * message, before any native op can see a bad index.
 */
class ModelInputFuzzTest {

    private static Phi3Vision phi;
    private static ImagePixels image;
    private static int imageTokens;
    private static final Map<String, Integer> COUNTS = new TreeMap<>();

    @BeforeAll
    static void load() {
        phi = NativeMemoryTest.load();
        image = ImagePixels.of(phi.imageProcessor().process(
                phi.imageProcessor().loader().load(NativeMemoryTest.image("a10_rgb_42x19.png")), 1));
        imageTokens = phi.rawPrompts().imageTokenCount(image);
    }

    @AfterAll
    static void close() {
        if (phi != null) {
            phi.close();
        }
        int total = COUNTS.values().stream().mapToInt(Integer::intValue).sum();
        System.out.println("[reliability] model inputs: " + total + " cases " + COUNTS);
    }

    private static synchronized void count(String outcome) {
        COUNTS.merge(outcome, 1, Integer::sum);
    }

    @Test
    void randomIdsAndSettings() {
        int vocab = phi.config().vocabSize();
        assertTimeoutPreemptively(Duration.ofMinutes(2), () -> {
            SplittableRandom root = new SplittableRandom(0x1D5L);
            for (int i = 0; i < 800; i++) {
                SplittableRandom r = root.split();
                List<Integer> ids = new ArrayList<>();
                int images = r.nextInt(3) == 0 ? r.nextInt(1, 3) : 0;   // vision runs dominate the time
                int parts = r.nextInt(0, 6);
                for (int p = 0; p < parts; p++) {
                    switch (r.nextInt(8)) {
                        case 0 -> ids.add(vocab + r.nextInt(0, 3));                  // just past the vocabulary
                        case 1 -> ids.add(r.nextBoolean() ? Integer.MIN_VALUE : Integer.MAX_VALUE);
                        case 2 -> ids.add(-r.nextInt(1, 4));                          // a lone placeholder
                        case 3 -> {                                                  // a run, sometimes 1 off
                            int k = r.nextInt(1, 3);
                            int len = imageTokens + (r.nextInt(3) == 0 ? r.nextInt(-1, 2) : 0);
                            for (int j = 0; j < len; j++) {
                                ids.add(-k);
                            }
                        }
                        default -> {
                            for (int j = r.nextInt(1, 6); j > 0; j--) {
                                ids.add(r.nextInt(vocab));
                            }
                        }
                    }
                }
                int[] input = ids.stream().mapToInt(Integer::intValue).toArray();
                List<ImagePixels> given = new ArrayList<>();
                for (int k = 0; k < images; k++) {
                    given.add(image);
                }
                String what = "case " + i + ": " + input.length + " ids " + summary(input) + ", " + images + " images";
                String stage = "settings";   // which input a refusal is about: the sampling settings or the ids
                try {
                    GenerationConfig config = randomConfig(r);
                    stage = "ids";
                    Answer a = phi.rawPrompts().generate(input, given, config);
                    assertNotNull(a.text(), what);
                    assertTrue(a.tokenIds().length <= config.maxNewTokens(), what);
                    for (int id : a.tokenIds()) {
                        assertTrue(id >= 0 && id < vocab, what + ": generated id " + id);
                    }
                    count(images == 0 ? "ok-text-only" : "ok-with-images");
                } catch (IllegalArgumentException e) {
                    assertNotNull(e.getMessage(), what);
                    assertFalse(e.getMessage().isBlank(), what);
                    count(e.getClass().getSimpleName() + "-" + stage);
                } catch (Throwable t) {
                    throw new AssertionError(what + ": undocumented " + t, t);
                }
            }
        });
        // Settings: maxNewTokens -1 or 0 with p 1/6; with p 1/2 sampling gets 4 floats drawn from 9 values of
        // which only some are valid for each, so about half the cases are refused for their settings. Ids:
        // each of 0-5 parts is in-vocabulary text with p 3/8 and a placeholder run (of the right length 2 times
        // in 3) with p 1/8; 0 parts is an empty prompt (refused). 1 in 3 cases gives 1-2 images. About 10 %
        // of cases generate, 2/5 of them with images; the rest are refused for their ids. Minimums are about
        // half of that.
        requireAtLeast("ok-text-only", 20, "~5 % of 800: valid settings, only in-vocabulary ids");
        requireAtLeast("ok-with-images", 12, "~4 %: valid settings, a correct run for each given image");
        requireAtLeast("IllegalArgumentException-settings", 200, "~1/2 have invalid sampling settings");
        requireAtLeast("IllegalArgumentException-ids", 150, "~3/8 have an invalid id, run or empty prompt");
    }

    /** Fails unless {@code outcome} was seen at least {@code min} times (a stuck generator fails here). */
    private static synchronized void requireAtLeast(String outcome, int min, String why) {
        int n = COUNTS.getOrDefault(outcome, 0);
        assertTrue(n >= min, "model inputs: outcome '" + outcome + "' seen " + n + " times, expected at least " + min
                + " (" + why + "); all outcomes " + COUNTS);
    }

    /** The model-level entry point validates the same way (-Integer.MIN_VALUE is not a valid image number). */
    @Test
    void modelForwardRefusesOutOfRangeIds() {
        try (KvCache cache = phi.model().newKvCache(8)) {
            for (int[] bad : new int[][] {{Integer.MIN_VALUE}, {1, Integer.MAX_VALUE}, {-1}, {phi.config().vocabSize()}}) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> phi.model().forward(bad, List.of(), cache, 0), Arrays.toString(bad));
                assertNotNull(e.getMessage());
                count("forward:" + e.getClass().getSimpleName());
            }
            assertThrows(IllegalArgumentException.class, () -> phi.model().forward(new int[0], List.of(), cache, 0));
            assertThrows(IllegalArgumentException.class, () -> phi.model().forward(new int[9], List.of(), cache, 0));
            assertThrows(IllegalArgumentException.class, () -> phi.model().newKvCache(0));
        }
    }

    /** Random sampling settings: invalid ones are refused by the builder with IllegalArgumentException. */
    private static GenerationConfig randomConfig(SplittableRandom r) {
        GenerationConfig.Builder b = GenerationConfig.builder().maxNewTokens(r.nextInt(4) == 0 ? r.nextInt(-1, 2) : 2);
        if (r.nextBoolean()) {
            float[] odd = {0f, -1f, Float.NaN, Float.POSITIVE_INFINITY, 1e-30f, 0.5f, 1f, 2f, 1e30f};
            b.doSample(true).temperature(odd[r.nextInt(odd.length)]).topP(odd[r.nextInt(odd.length)])
                    .minP(odd[r.nextInt(odd.length)]).topK(r.nextInt(-2, 70000))
                    .repetitionPenalty(odd[r.nextInt(odd.length)]).seed(r.nextLong());
        }
        return b.stopTokenIds().build();
    }

    private static String summary(int[] ids) {
        return ids.length <= 12 ? Arrays.toString(ids) : Arrays.toString(Arrays.copyOf(ids, 12)) + "...";
    }
}
