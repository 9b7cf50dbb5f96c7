package io.github.phi3v.core.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Input validation, placeholder semantics, threading and lifecycle of {@link Phi3VModel}. */
class Phi3VModelApiTest {

    @RegisterExtension
    static final GoldenCases.Loaded<Phi3VModel> MODEL = GoldenCases.modelF32InFloat32();
    private static ImagePixels tall;   // b_two_images image 1: 8x1 crops, 1405 tokens
    private static ImagePixels wide;   // b_two_images image 2: 1x8 crops, 1321 tokens

    @BeforeAll
    static void load() {
        List<ImagePixels> imgs = GoldenCases.images("b_two_images");
        tall = imgs.get(0);
        wide = imgs.get(1);
    }

    @Test
    void imageTokenCountsFollowTheFormula() {
        assertEquals(1405, MODEL.get().imageTokenCount(2688, 336));
        assertEquals(1321, MODEL.get().imageTokenCount(336, 2688));
        assertEquals(2353, MODEL.get().imageTokenCount(1008, 1680));
        assertThrows(IllegalArgumentException.class, () -> MODEL.get().imageTokenCount(1000, 336));
        try (ImageEmbeddings e = MODEL.get().encodeImage(wide)) {
            assertEquals(1321, e.tokenCount());
            assertEquals(1321 * 64, e.toFloatArray().length);
        }
    }

    @Test
    void placeholdersAreFilledByTheImageTheirIdNames() {
        // ids in reverse order: <|image_2|> block first. The official code would put image 1 there.
        try (ImageEmbeddings e1 = MODEL.get().encodeImage(tall);
             ImageEmbeddings e2 = MODEL.get().encodeImage(wide)) {
            int[] ids = new int[2 + 1321 + 1 + 1405];
            ids[0] = 1;
            Arrays.fill(ids, 1, 1 + 1321, -2);
            ids[1322] = 13;
            Arrays.fill(ids, 1323, 1323 + 1405, -1);
            ids[ids.length - 1] = 32007;
            int[] copy = ids.clone();
            Inspection ins = MODEL.get().inspect(ids, List.of(tall, wide), 1);
            assertArrayEquals(copy, ids);
            float[] emb = ins.get("inputs_embeds").values();
            float[] img2 = e2.toFloatArray();
            float[] img1 = e1.toFloatArray();
            assertArrayEquals(img2, Arrays.copyOfRange(emb, 64, 64 * (1 + 1321)));
            assertArrayEquals(img1, Arrays.copyOfRange(emb, 64 * 1323, 64 * (1323 + 1405)));
        }
    }

    @Test
    void badInputsGiveClearErrors() {
        try (KvCache cache = MODEL.get().newKvCache(32);
             ImageEmbeddings e = MODEL.get().encodeImage(wide)) {
            IllegalArgumentException ex = assertThrows(IllegalArgumentException.class,
                    () -> MODEL.get().forward(new int[] {1, -1, -1, 2}, List.of(e), cache, 0));
            assertTrue(ex.getMessage().contains("has 2 ids, but the image has 1321"), ex.getMessage());
            ex = assertThrows(IllegalArgumentException.class,
                    () -> MODEL.get().forward(new int[] {1, -2}, List.of(e), cache, 0));
            assertTrue(ex.getMessage().contains("refers to image 2, but 1 image"), ex.getMessage());
            ex = assertThrows(IllegalArgumentException.class,
                    () -> MODEL.get().forward(new int[] {1, 32064}, List.of(), cache, 0));
            assertTrue(ex.getMessage().contains("outside the vocabulary"), ex.getMessage());
            ex = assertThrows(IllegalArgumentException.class,
                    () -> MODEL.get().forward(new int[40], List.of(), cache, 0));
            assertTrue(ex.getMessage().contains("KV cache full"), ex.getMessage());
            ex = assertThrows(IllegalArgumentException.class,
                    () -> MODEL.get().forward(new int[] {1}, List.of(), cache, 5));
            assertTrue(ex.getMessage().contains("startPosition 5"), ex.getMessage());
            assertThrows(IllegalArgumentException.class,
                    () -> MODEL.get().encodeImage(new float[10], 16, 336, 336));
            assertThrows(IllegalArgumentException.class,
                    () -> MODEL.get().encodeImage(new float[5 * 3 * 336 * 336], 4, 672, 1008));  // 6 crops > 4
            assertEquals(0, cache.length());
        }
    }

    @Test
    void concurrentCallsWithSeparateCachesGiveTheSameLogits() throws Exception {
        int[] prompt = GoldenCases.generation("c_text_long").ints("prompt_input_ids");
        float[] expected;
        try (KvCache cache = MODEL.get().newKvCache(prompt.length)) {
            expected = MODEL.get().forward(prompt, List.of(), cache, 0);
        }
        ExecutorService pool = Executors.newFixedThreadPool(3);
        try {
            List<Future<float[]>> futures = new ArrayList<>();
            for (int t = 0; t < 6; t++) {
                futures.add(pool.submit(() -> {
                    try (KvCache cache = MODEL.get().newKvCache(prompt.length)) {
                        float[] last = null;
                        for (int i = 0; i < prompt.length; i += 29) {
                            int end = Math.min(prompt.length, i + 29);
                            last = MODEL.get().forward(Arrays.copyOfRange(prompt, i, end), List.of(), cache, i);
                        }
                        return last;
                    }
                }));
            }
            for (Future<float[]> f : futures) {
                assertTrue(GoldenCases.maxAbsDiff(expected, f.get()) <= 1e-4);
            }
        } finally {
            pool.shutdown();
        }
    }

    @Test
    void closedObjectsAreRejected() {
        Phi3VModel other = Phi3VModel.load(GoldenCases.modelF32(),
                ModelOptions.defaults().withPrecision(Precision.FLOAT32));
        KvCache foreign = other.newKvCache(8);
        assertThrows(IllegalArgumentException.class, () -> MODEL.get().forward(new int[] {1}, List.of(), foreign, 0));
        foreign.close();
        other.close();
        other.close();  // idempotent
        assertThrows(IllegalStateException.class, () -> other.newKvCache(8));
        KvCache cache = MODEL.get().newKvCache(8);
        cache.close();
        assertThrows(IllegalStateException.class, () -> MODEL.get().forward(new int[] {1}, List.of(), cache, 0));
    }
}
