package io.github.phi3v.core.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import io.github.phi3v.core.runtime.NativeKernels;

/**
 * {@link KvCache#layOut}: the heads are moved whenever a sequence needs another span of positions
 * (every {@value KvCache#SPAN_STEP} tokens while decoding, back after a truncation, on a prefix copy), and
 * a cache that went through such moves still answers like a full recomputation of its sequence, on the
 * golden float32 model. The layout's point, that a decode step attends over a contiguous tensor, is
 * asserted too. A bf16 model on the CPU (native decode attention) lets its spans grow by doubling instead.
 */
class KvCacheLayoutTest {

    @RegisterExtension
    static final GoldenCases.Loaded<Phi3VModel> MODEL = GoldenCases.modelF32InFloat32();

    /** model-bf16 in bf16: on the CPU its decode steps attend with the native kernel. */
    @RegisterExtension
    static final GoldenCases.Loaded<Phi3VModel> BF16 = GoldenCases.model(GoldenCases.modelBf16(),
            ModelOptions.defaults().withPrecision(Precision.BFLOAT16));

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

    /**
     * With the native decode attention the cache's spans only grow, each time to at least twice the last (a
     * few moves in all); decoding through it gives the same bits as through a cache with exact spans, which
     * moves its heads every {@value KvCache#SPAN_STEP} tokens (the kernel reads the same keys and values with
     * another head stride).
     */
    @Test
    void nativeDecodeAttentionLetsSpansGrowByDoubling() {
        assertTrue(NativeKernels.available(), "native kernels: " + NativeKernels.unavailableReason());
        Phi3VModel model = BF16.get();
        int[] ids = sequence(300, 11);
        int capacity = 400;
        int compared = 0;
        long expected = KvCache.spanFor(50);
        List<Long> growingSpans = new java.util.ArrayList<>(List.of(expected));
        List<Long> exactSpans = new java.util.ArrayList<>(List.of(expected));
        try (KvCache growing = model.newKvCache(capacity);
             KvCache exact = model.newKvCache(capacity, true)) {
            float[] a = model.forward(Arrays.copyOf(ids, 50), List.of(), growing, 0);
            float[] b = model.forward(Arrays.copyOf(ids, 50), List.of(), exact, 0);
            assertEquals(expected, growing.keys[0].size(1));
            for (int len = 50; len < 299; len++) {
                assertTrue(Arrays.equals(a, b), "logits after " + len + " positions");
                compared++;
                a = model.forward(new int[] {ids[len]}, List.of(), growing, len);
                b = model.forward(new int[] {ids[len]}, List.of(), exact, len);
                long needed = KvCache.spanFor(len + 1);
                if (needed > expected) {
                    expected = Math.min(capacity, Math.max(needed, 2 * expected));
                }
                for (int l = 0; l < growing.keys.length; l++) {
                    assertEquals(expected, growing.keys[l].size(1), "the growing cache's span, layer " + l);
                    assertEquals(needed, exact.keys[l].size(1), "the exact cache's span, layer " + l);
                }
                if (growingSpans.get(growingSpans.size() - 1) != expected) {
                    growingSpans.add(expected);
                }
                if (exactSpans.get(exactSpans.size() - 1) != needed) {
                    exactSpans.add(needed);
                }
            }
            assertTrue(Arrays.equals(a, b), "logits after 299 positions");
            compared++;
        }
        assertEquals(250, compared, "decode steps compared");
        assertEquals(List.of(64L, 128L, 256L, 400L), growingSpans);
        assertEquals(List.of(64L, 128L, 192L, 256L, 320L), exactSpans);
    }
}
