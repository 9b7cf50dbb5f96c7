package io.github.phi3v.core.generate;

import static io.github.phi3v.core.generate.Fakes.logOf;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class SamplerTest {

    private static int[] draw(Sampler s, float[] logits, int n) {
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            out[i] = s.sample(logits, new int[0]);
        }
        return out;
    }

    @Test
    void sameSeedSameTokensDifferentSeedDifferentTokens() {
        float[] flat = new float[100];
        GenerationConfig c = GenerationConfig.builder().doSample(true).topK(0).seed(7).build();
        int[] a = draw(Sampler.forConfig(c), flat, 50);
        int[] b = draw(Sampler.forConfig(c), flat, 50);
        int[] other = draw(Sampler.forConfig(c.withSeed(8)), flat, 50);
        assertArrayEquals(a, b);
        assertFalse(Arrays.equals(a, other), "seeds 7 and 8 gave the same 50 draws out of 100 tokens");
    }

    @Test
    void multinomialFollowsTheDistribution() {
        float[] logits = logOf(0.2, 0.3, 0.5);
        Sampler s = Sampler.multinomial(new SplittableRandom(1));
        int n = 40_000;
        int[] counts = new int[3];
        for (int id : draw(s, logits, n)) {
            counts[id]++;
        }
        // binomial standard deviation at p = 0.5 is 0.0025 of n; allow 4 sigma
        assertEquals(0.2, counts[0] / (double) n, 0.01);
        assertEquals(0.3, counts[1] / (double) n, 0.01);
        assertEquals(0.5, counts[2] / (double) n, 0.01);
    }

    @Test
    void multinomialNeverPicksFilteredTokens() {
        float[] logits = {Float.NEGATIVE_INFINITY, 0f, Float.NEGATIVE_INFINITY, 0f, Float.NEGATIVE_INFINITY};
        Sampler s = Sampler.multinomial(new SplittableRandom(3));
        for (int id : draw(s, logits, 2000)) {
            assertNotEquals(0, id % 2, "picked a filtered id " + id);
        }
    }

    @Test
    void samplingWithTopKOneIsGreedy() {
        float[] logits = logOf(0.1, 0.2, 0.3, 0.4);
        GenerationConfig c = GenerationConfig.builder().doSample(true).topK(1).seed(5).build();
        for (int id : draw(Sampler.forConfig(c), logits, 200)) {
            assertEquals(3, id);
        }
    }

    @Test
    void greedyPicksFirstOfTies() {
        assertEquals(2, Sampler.greedy().sample(new float[] {0f, 1f, 3f, 3f}, new int[0]));
        assertEquals(2, Sampler.forConfig(GenerationConfig.defaults()).sample(new float[] {0f, 1f, 3f, 3f}, new int[0]));
    }
}
