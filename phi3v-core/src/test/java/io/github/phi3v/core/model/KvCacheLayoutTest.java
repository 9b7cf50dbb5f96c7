package io.github.phi3v.core.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@link KvCache#layOut}: the heads are moved whenever a sequence needs another span of positions
 * (every {@value KvCache#SPAN_STEP} tokens while decoding, back after a truncation, on a prefix copy), and
 * a cache that went through such moves still answers like a full recomputation of its sequence, on the
 * golden float32 model. The layout's point, that a decode step attends over a contiguous tensor, is
 * asserted too.
 */
class KvCacheLayoutTest {

    @RegisterExtension
    static final GoldenCases.Loaded<Phi3VModel> MODEL = GoldenCases.modelF32InFloat32();

    /** A random token sequence of the model's vocabulary (text ids only). */
    private static int[] sequence(int n, long seed) {
        Random random = new Random(seed);
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) {
            ids[i] = 1 + random.nextInt(31_000);
        }
        return ids;
    }

    /** Logits of the last position of {@code ids} computed from scratch in a fresh cache. */
    private static float[] recomputed(int[] ids, int len) {
        try (KvCache fresh = MODEL.get().newKvCache(len)) {
            return MODEL.get().forward(Arrays.copyOf(ids, len), List.of(), fresh, 0);
        }
    }

    private static void assertContiguousSpan(KvCache cache) {
        for (int l = 0; l < cache.keys.length; l++) {
            assertEquals(Math.min(KvCache.spanFor(cache.length()), cache.capacity()), cache.keys[l].size(1),
                    "span of layer " + l);
            assertTrue(cache.keys[l].is_contiguous() && cache.values[l].is_contiguous(), "layer " + l);
        }
    }

    @Test
    void decodingAcrossSpansTruncatingAndCopyingKeepEveryCachedPosition() {
        Phi3VModel model = MODEL.get();
        int[] ids = sequence(300, 7);
        int capacity = 300;
        int checks = 0;
        double worst = 0;
        try (KvCache cache = model.newKvCache(capacity)) {
            long bytes = cache.sizeInBytes();
            // A prompt of 60 (span 64), then one token at a time through spans 128, 192 and 256.
            float[] logits = model.forward(Arrays.copyOf(ids, 60), List.of(), cache, 0);
            for (int len = 60; len < 200; len++) {
                if (len % 16 == 12 || len % KvCache.SPAN_STEP <= 1) {
                    worst = Math.max(worst, GoldenCases.maxAbsDiff(logits, recomputed(ids, len)));
                    checks++;
                }
                logits = model.forward(new int[] {ids[len]}, List.of(), cache, len);
                assertContiguousSpan(cache);
            }
            assertEquals(200, cache.length());
            assertEquals(bytes, cache.sizeInBytes(), "the buffers are allocated once");

            // Truncated to 70 and one token on (span 256 -> 128), then on to 129 (-> 192), then back to 30 (-> 64).
            logits = model.forward(Arrays.copyOfRange(ids, 70, 71), List.of(), cache, 70);
            worst = Math.max(worst, GoldenCases.maxAbsDiff(logits, recomputed(ids, 71)));
            logits = model.forward(Arrays.copyOfRange(ids, 71, 129), List.of(), cache, 71);
            worst = Math.max(worst, GoldenCases.maxAbsDiff(logits, recomputed(ids, 129)));
            assertContiguousSpan(cache);
            logits = model.forward(Arrays.copyOfRange(ids, 30, 31), List.of(), cache, 30);
            worst = Math.max(worst, GoldenCases.maxAbsDiff(logits, recomputed(ids, 31)));
            assertContiguousSpan(cache);
            assertEquals(64, cache.keys[0].size(1));
            checks += 3;

            // A prefix copy into a cache whose span was different, then decoding on from it.
            logits = model.forward(Arrays.copyOfRange(ids, 31, 150), List.of(), cache, 31);
            try (KvCache copy = model.newKvCache(capacity)) {
                model.forward(Arrays.copyOf(ids, 10), List.of(), copy, 0);            // span 64
                copy.copyPrefixFrom(cache);                                             // 150 positions: span 192
                assertEquals(150, copy.length());
                float[] next = model.forward(new int[] {ids[150]}, List.of(), copy, 150);
                worst = Math.max(worst, GoldenCases.maxAbsDiff(next, recomputed(ids, 151)));
                assertContiguousSpan(copy);
                checks++;
            }
        }
        System.out.printf("[KvCacheLayoutTest] %d checks against recomputation, worst logit difference %.2e%n",
                checks, worst);
        assertEquals(19, checks, "positions checked against recomputation");
        assertTrue(worst <= GenerationTest.TOL, "cached logits differ from recomputation by " + worst);
    }
}
