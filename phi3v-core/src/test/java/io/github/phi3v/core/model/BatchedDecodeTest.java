package io.github.phi3v.core.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import io.github.phi3v.core.runtime.Logits;
import io.github.phi3v.testsupport.GoldenTensors;

/**
 * {@link Phi3VModel#decodeStep}: B sequences of different lengths (the four golden cases, images included,
 * one crossing the LongRoPE threshold during the run, one joining late) decoded together give the greedy
 * ids of decoding each alone with {@link Phi3VModel#forward}, step by step; bad batches are refused before
 * anything is written.
 */
class BatchedDecodeTest {

    static final int STEPS = 24;
    /** Float32: the batched linears are GEMMs, the single-row ones GEMVs (another summation order). */
    static final double F32_TOL = 1e-4;
    @RegisterExtension
    static final GoldenCases.Loaded<Phi3VModel> MODEL = GoldenCases.modelF32InFloat32();

    /** One golden case decoded twice: alone ({@code ref}) and in the batch ({@code cache}). */
    private static final class Seq implements AutoCloseable {
        final String name;
        final KvCache ref;
        final KvCache cache;
        float[] refLogits;
        float[] batchLogits;
        final List<Integer> refIds = new ArrayList<>();
        final List<Integer> batchIds = new ArrayList<>();

        Seq(Phi3VModel model, String c) {
            name = c;
            GoldenTensors g = GoldenCases.generation(c);
            int[] prompt = g.ints("prompt_input_ids");
            List<ImageEmbeddings> images = new ArrayList<>();
            for (ImagePixels p : GoldenCases.images(c)) {
                images.add(model.encodeImage(p));
            }
            try {
                ref = model.newKvCache(prompt.length + STEPS + 1);
                cache = model.newKvCache(prompt.length + STEPS + 1);
                refLogits = model.forward(prompt, images, ref, 0);
                batchLogits = model.forward(prompt, images, cache, 0);
            } finally {
                images.forEach(ImageEmbeddings::close);
            }
        }

        @Override
        public void close() {
            ref.close();
            cache.close();
        }
    }

    static double decodeAll(Phi3VModel model, boolean lateJoin) {
        List<Seq> seqs = new ArrayList<>();
        double worst = 0;
        try {
            for (String c : GoldenCases.CASES) {
                seqs.add(new Seq(model, c));
            }
            for (int step = 0; step < STEPS; step++) {
                List<Seq> active = new ArrayList<>();
                for (Seq s : seqs) {
                    // the late joiner (the last case) starts after 5 steps of the others
                    if (!lateJoin || s != seqs.get(seqs.size() - 1) || step >= 5) {
                        active.add(s);
                    }
                }
                int[] tokens = new int[active.size()];
                List<KvCache> caches = new ArrayList<>();
                for (int i = 0; i < active.size(); i++) {
                    Seq s = active.get(i);
                    int ref = Logits.argmax(s.refLogits);
                    int got = Logits.argmax(s.batchLogits);
                    s.refIds.add(ref);
                    s.batchIds.add(got);
                    worst = Math.max(worst, GoldenCases.maxAbsDiff(s.refLogits, s.batchLogits));
                    s.refLogits = model.forward(new int[] {ref}, List.of(), s.ref, s.ref.length());
                    tokens[i] = got;
                    caches.add(s.cache);
                }
                float[][] rows = model.decodeStep(tokens, caches);
                for (int i = 0; i < active.size(); i++) {
                    active.get(i).batchLogits = rows[i];
                }
            }
            for (Seq s : seqs) {
                System.out.println("[BatchedDecodeTest] " + s.name + (lateJoin ? " (late join)" : "") + ": "
                        + s.batchIds);
                assertEquals(s.refIds, s.batchIds, s.name + ": batched greedy ids differ from decoding alone");
                assertEquals(s.ref.length(), s.cache.length(), s.name + ": cache lengths");
            }
            return worst;
        } finally {
            seqs.forEach(Seq::close);
        }
    }

    @Test
    void batchedGreedyEqualsDecodingAloneInFloat32() {
        double worst = Math.max(decodeAll(MODEL.get(), false), decodeAll(MODEL.get(), true));
        System.out.printf("[BatchedDecodeTest] float32 batched vs alone: max abs logit diff %.2e%n", worst);
        assertTrue(worst <= F32_TOL, "float32 batched logits differ from decoding alone by " + worst);
    }

    @Test
    void batchedGreedyEqualsDecodingAloneInBf16() {
        try (Phi3VModel bf16 = Phi3VModel.load(GoldenCases.modelBf16(),
                ModelOptions.defaults().withPrecision(Precision.BFLOAT16))) {
            double worst = decodeAll(bf16, true);
            System.out.printf("[BatchedDecodeTest] bf16 batched vs alone: max abs logit diff %.2e%n", worst);
            assertTrue(worst <= GenerationTest.BF16_CACHED_TOL, "bf16 batched logits differ by " + worst);
        }
    }

    @Test
    void refusesBadBatchesBeforeWritingAnything() {
        Phi3VModel m = MODEL.get();
        try (KvCache a = m.newKvCache(8); KvCache b = m.newKvCache(8); KvCache full = m.newKvCache(1)) {
            m.forward(new int[] {1, 2, 3}, List.of(), a, 0);
            m.forward(new int[] {4}, List.of(), full, 0);
            assertThrows(IllegalArgumentException.class, () -> m.decodeStep(new int[] {5, 6}, List.of(a, a)));
            assertThrows(IllegalArgumentException.class, () -> m.decodeStep(new int[] {5}, List.of(a, b)));
            assertThrows(IllegalArgumentException.class, () -> m.decodeStep(new int[] {-1, 6}, List.of(a, b)));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> m.decodeStep(new int[] {5, 6}, List.of(a, full)));
            assertTrue(e.getMessage().contains("full"), e.getMessage());
            b.close();
            assertThrows(IllegalStateException.class, () -> m.decodeStep(new int[] {5, 6}, List.of(a, b)));
            assertEquals(3, a.length(), "a refused step must not grow any cache");
            float[][] one = m.decodeStep(new int[] {5}, List.of(a));
            assertEquals(4, a.length());
            assertEquals(m.config().vocabSize(), one[0].length);
        }
    }

    @Test
    void aBatchOfOneIsExactlyForward() {
        Phi3VModel m = MODEL.get();
        try (KvCache a = m.newKvCache(8); KvCache b = m.newKvCache(8)) {
            m.forward(new int[] {1, 2, 3}, List.of(), a, 0);
            m.forward(new int[] {1, 2, 3}, List.of(), b, 0);
            float[] alone = m.forward(new int[] {7}, List.of(), a, 3);
            float[] batched = m.decodeStep(new int[] {7}, List.of(b))[0];
            assertArrayEquals(alone, batched, 0f);
            assertTrue(Arrays.equals(alone, batched));
        }
    }
}
