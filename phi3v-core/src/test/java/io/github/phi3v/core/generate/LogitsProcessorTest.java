package io.github.phi3v.core.generate;

import io.github.phi3v.core.runtime.Logits;
import static io.github.phi3v.core.generate.Fakes.logOf;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/**
 * Each warper against values computed by hand from the definitions in transformers'
 * generation/logits_process.py (filter value -inf, min_tokens_to_keep 1).
 */
class LogitsProcessorTest {

    private static final float NEG = Float.NEGATIVE_INFINITY;
    private static final int[] NONE = {};

    /** Which positions survived (are not -inf). */
    private static boolean[] kept(float[] logits) {
        boolean[] k = new boolean[logits.length];
        for (int i = 0; i < logits.length; i++) {
            k[i] = logits[i] != NEG;
        }
        return k;
    }

    @Test
    void repetitionPenaltyDividesPositiveMultipliesNegativeOncePerId() {
        float[] logits = {2f, -1f, 0.5f, 3f, 0f};
        // id 1 occurs twice (penalised once), -5 is an image placeholder, 4 has logit 0
        float[] out = LogitsProcessor.repetitionPenalty(2f).apply(logits, new int[] {0, 1, 1, -5, 4});
        assertArrayEquals(new float[] {1f, -2f, 0.5f, 3f, 0f}, out);
        assertArrayEquals(new float[] {2f, -1f, 0.5f, 3f, 0f}, logits, "input must not change");
        // a penalty below 1 rewards repetition
        assertArrayEquals(new float[] {4f, -0.5f, 0.5f, 3f, 0f},
                LogitsProcessor.repetitionPenalty(0.5f).apply(logits, new int[] {0, 1}));
        assertThrows(IndexOutOfBoundsException.class,
                () -> LogitsProcessor.repetitionPenalty(2f).apply(logits, new int[] {5}));
        assertThrows(IllegalArgumentException.class, () -> LogitsProcessor.repetitionPenalty(0f));
    }

    @Test
    void temperatureDivides() {
        assertArrayEquals(new float[] {2f, -4f, 8f},
                LogitsProcessor.temperature(0.5f).apply(new float[] {1f, -2f, 4f}, NONE));
        assertThrows(IllegalArgumentException.class, () -> LogitsProcessor.temperature(0f));
    }

    @Test
    void topKKeepsTiesWithTheKthValue() {
        float[] logits = {1f, 3f, 3f, 2f, 0f};
        assertArrayEquals(new float[] {NEG, 3f, 3f, NEG, NEG}, LogitsProcessor.topK(2).apply(logits, NONE));
        assertArrayEquals(new float[] {NEG, 3f, 3f, 2f, NEG}, LogitsProcessor.topK(3).apply(logits, NONE));
        // k = 1 with a three-way tie at the top keeps all three (scores < kth_value are removed)
        assertArrayEquals(new float[] {NEG, 3f, 3f, 3f, NEG},
                LogitsProcessor.topK(1).apply(new float[] {1f, 3f, 3f, 3f, 0f}, NONE));
        // k beyond the vocabulary keeps everything
        assertArrayEquals(logits, LogitsProcessor.topK(99).apply(logits, NONE));
        assertThrows(IllegalArgumentException.class, () -> LogitsProcessor.topK(0));
    }

    @Test
    void topPKeepsTheSmallestHeadReachingP() {
        float[] logits = logOf(0.05, 0.1, 0.15, 0.3, 0.4);
        // ascending cumulative: 0.05 0.15 0.30 0.60 1.00
        // p = 0.75 -> drop cum <= 0.25 -> {0.15, 0.3, 0.4} (0.85; {0.3, 0.4} = 0.7 is too little)
        assertArrayEquals(new boolean[] {false, false, true, true, true}, kept(LogitsProcessor.topP(0.75f).apply(logits, NONE)));
        // p = 0.65 -> drop cum <= 0.35 -> {0.3, 0.4}
        assertArrayEquals(new boolean[] {false, false, false, true, true}, kept(LogitsProcessor.topP(0.65f).apply(logits, NONE)));
        // p = 0.1 and p = 0 -> only the top token (min_tokens_to_keep = 1)
        assertArrayEquals(new boolean[] {false, false, false, false, true}, kept(LogitsProcessor.topP(0.1f).apply(logits, NONE)));
        assertArrayEquals(new boolean[] {false, false, false, false, true}, kept(LogitsProcessor.topP(0f).apply(logits, NONE)));
        // p = 1 keeps everything; kept logits keep their values
        float[] all = LogitsProcessor.topP(1f).apply(logits, NONE);
        assertArrayEquals(logits, all);
        assertEquals(logits[3], LogitsProcessor.topP(0.65f).apply(logits, NONE)[3]);
        // ties: ascending order by id, so the highest id of a tie is the one that survives p = 0
        assertArrayEquals(new boolean[] {false, false, true}, kept(LogitsProcessor.topP(0f).apply(new float[] {1f, 1f, 1f}, NONE)));
        // already filtered (-inf) tokens have probability 0 and stay filtered
        float[] masked = {NEG, (float) Math.log(0.5), (float) Math.log(0.5)};
        assertArrayEquals(new boolean[] {false, true, true}, kept(LogitsProcessor.topP(0.9f).apply(masked, NONE)));
        assertThrows(IllegalArgumentException.class, () -> LogitsProcessor.topP(1.01f));
    }

    @Test
    void minPScalesByTheTopProbability() {
        float[] logits = logOf(0.05, 0.1, 0.15, 0.3, 0.4);
        // threshold 0.3 * 0.4 = 0.12 -> drop 0.05 and 0.1
        assertArrayEquals(new boolean[] {false, false, true, true, true}, kept(LogitsProcessor.minP(0.3f).apply(logits, NONE)));
        // threshold 1.0 * 0.4 -> only the top
        assertArrayEquals(new boolean[] {false, false, false, false, true}, kept(LogitsProcessor.minP(1f).apply(logits, NONE)));
        // tied top tokens both survive (probs < threshold is false for equal values)
        assertArrayEquals(new boolean[] {true, true, false},
                kept(LogitsProcessor.minP(1f).apply(new float[] {2f, 2f, 1f}, NONE)));
        assertArrayEquals(logits, LogitsProcessor.minP(0f).apply(logits, NONE));
        assertThrows(IllegalArgumentException.class, () -> LogitsProcessor.minP(2f));
    }

    @Test
    void forConfigRunsTemperatureBeforeTopPLikeHf() {
        // probs 0.1 0.2 0.7; temperature 2 -> 0.198 0.280 0.523 (ascending cum 0.198 0.478 1)
        // HF order (temperature first) with p = 0.65 drops cum <= 0.35 -> only id 0.
        // The wrong order (top-p on the raw probs: cum 0.1 0.3) would also drop id 1.
        GenerationConfig c = GenerationConfig.builder().doSample(true).temperature(2f).topK(0).topP(0.65f).build();
        float[] out = LogitsProcessor.forConfig(c).apply(logOf(0.1, 0.2, 0.7), NONE);
        assertArrayEquals(new boolean[] {false, true, true}, kept(out));
        assertEquals((float) Math.log(0.7) / 2f, out[2]);
    }

    @Test
    void forConfigRunsTopKBeforeTopPAndPenaltyFirst() {
        // penalty 2 on id 3 turns its logit 4 into 2, so the top-2 are ids 0 and 1
        GenerationConfig c = GenerationConfig.builder().doSample(true).topK(2).repetitionPenalty(2f).build();
        float[] out = LogitsProcessor.forConfig(c).apply(new float[] {3f, 2.5f, 1f, 4f}, new int[] {3});
        assertArrayEquals(new float[] {3f, 2.5f, NEG, NEG}, out);
    }

    @Test
    void greedyConfigAppliesOnlyThePenalty() {
        float[] logits = {1f, 5f, 3f};
        GenerationConfig greedy = GenerationConfig.builder().topK(1).topP(0.1f).temperature(0.1f).build();
        assertSame(logits, LogitsProcessor.forConfig(greedy).apply(logits, NONE));
        GenerationConfig penalised = greedy.toBuilder().repetitionPenalty(10f).build();
        assertArrayEquals(new float[] {1f, 0.5f, 3f}, LogitsProcessor.forConfig(penalised).apply(logits, new int[] {1}));
    }

    @Test
    void argmaxTakesTheFirstOfTiesAndRejectsNan() {
        assertEquals(1, Logits.argmax(new float[] {0f, 7f, 7f, 7f}));
        assertEquals(0, Logits.argmax(new float[] {NEG, NEG}));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Logits.argmax(new float[] {0f, Float.NaN}));
        assertEquals("logit 1 is NaN; the model produced invalid output", e.getMessage());
    }

    @Test
    void argsortIsStableAndOrdersNegativesAndInfinities() {
        float[] v = {0.5f, -1f, NEG, 2f, -0f, 0.5f, Float.POSITIVE_INFINITY, -3.5f};
        assertArrayEquals(new int[] {2, 7, 1, 4, 0, 5, 3, 6}, Logits.argsortAscending(v));
    }

    @Test
    void softmaxIgnoresMinusInfinity() {
        double[] p = Logits.softmax(new float[] {NEG, 0f, 0f});
        assertArrayEquals(new double[] {0, 0.5, 0.5}, p, 1e-15);
        assertThrows(IllegalArgumentException.class, () -> Logits.softmax(new float[] {NEG, NEG}));
    }
}
