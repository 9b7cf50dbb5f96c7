package io.github.phi3v.core.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import io.github.phi3v.core.runtime.CpuFeatures;
import io.github.phi3v.core.runtime.Logits;
import io.github.phi3v.testsupport.GoldenTensors;

/**
 * {@link ModelOptions#packedDecodeWeights()}: the bf16 model whose decode steps run on packed weights
 * ({@link PackedLinear}) keeps the official argmax of the bf16 weights wherever bf16 rounding cannot decide it,
 * gives the logits of the same model without packing, and gives each sequence in a batch what it gets alone.
 * The options and CPUs it refuses: {@link PackedDecodeOptionsTest}.
 */
class PackedDecodeWeightsTest {

    /** Decode steps per golden case: its last tokens, teacher-forced (the image cases have 16-18 after their images). */
    private static final int TAIL = 16;

    /** Loaded first: where oneDNN cannot pack bf16 weights nothing here can run ({@link PackedDecodeOptionsTest}). */
    @RegisterExtension
    static final GoldenCases.Loaded<Phi3VModel> PACKED = new GoldenCases.Loaded<>(() -> {
        assumeTrue(CpuFeatures.oneDnnBf16Packing(), "oneDNN cannot pack bf16 weights on this CPU (no AVX-512 "
                + "BW/VL/DQ, no AVX-NE-CONVERT): loading refuses packed decode weights, as PackedDecodeOptionsTest "
                + "asserts");
        return Phi3VModel.load(GoldenCases.modelBf16(),
                ModelOptions.defaults().withPrecision(Precision.BFLOAT16).withPackedDecodeWeights(true));
    });
    @RegisterExtension
    static final GoldenCases.Loaded<Phi3VModel> DENSE = GoldenCases.model(GoldenCases.modelBf16(),
            ModelOptions.defaults().withPrecision(Precision.BFLOAT16));
    /** The bf16 weights in float32 compute: equal to the official bf16w goldens ({@code Bf16Test}). */
    @RegisterExtension
    static final GoldenCases.Loaded<Phi3VModel> REFERENCE = GoldenCases.model(GoldenCases.modelBf16(),
            ModelOptions.defaults().withPrecision(Precision.FLOAT32));

    /**
     * The four golden cases prefilled up to their last {@value #TAIL} tokens, then decoded together in batched
     * steps fed the golden tokens; returns per case the {@code [TAIL][vocab]} logits of the positions
     * {@code n-TAIL-1 .. n-2} (the prefill's last row and each step's row).
     */
    private static float[][][] teacherForcedTails(Phi3VModel model) {
        List<KvCache> caches = new ArrayList<>();
        float[][][] out = new float[GoldenCases.CASES.size()][TAIL][];
        try {
            int[][] ids = new int[GoldenCases.CASES.size()][];
            for (int c = 0; c < ids.length; c++) {
                String name = GoldenCases.CASES.get(c);
                ids[c] = GoldenCases.forward(name).ints("input_ids");
                int prefix = ids[c].length - TAIL;
                for (int i = prefix; i < ids[c].length; i++) {
                    assertTrue(ids[c][i] >= 0, name + ": the teacher-forced tail must be text tokens");
                }
                List<ImageEmbeddings> images = new ArrayList<>();
                try {
                    for (ImagePixels p : GoldenCases.images(name)) {
                        images.add(model.encodeImage(p));
                    }
                    KvCache cache = model.newKvCache(ids[c].length);
                    caches.add(cache);
                    out[c][0] = model.forward(Arrays.copyOf(ids[c], prefix), images, cache, 0);
                } finally {
                    images.forEach(ImageEmbeddings::close);
                }
            }
            for (int step = 1; step < TAIL; step++) {
                int[] tokens = new int[ids.length];
                for (int c = 0; c < ids.length; c++) {
                    tokens[c] = ids[c][ids[c].length - TAIL + step - 1];
                }
                float[][] rows = model.decodeStep(tokens, caches);                       // B = 4 rows
                for (int c = 0; c < ids.length; c++) {
                    out[c][step] = rows[c];
                }
            }
            return out;
        } finally {
            caches.forEach(KvCache::close);
        }
    }

    @Test
    void reportsTheOption() {
        assertTrue(PACKED.get().options().packedDecodeWeights());
        assertFalse(DENSE.get().options().packedDecodeWeights());
    }

    /**
     * Against the official bf16w argmax (goldens), at the positions whose top-2 gap in the float32 reference
     * exceeds {@link Bf16Test#DECIDABLE_GAP}: bf16 compute must not flip those ({@code Bf16Test}'s criterion,
     * here on the packed decode steps); and against the same bf16 model without packing, whose batched steps
     * run oneDNN on the dense weights: only summation order differs.
     */
    @Test
    void batchedPackedStepsKeepTheGoldenArgmaxAndTheDenseLogits() {
        float[][][] packed = teacherForcedTails(PACKED.get());
        float[][][] dense = teacherForcedTails(DENSE.get());
        int decidable = 0;
        int agree = 0;
        double worst = 0;
        for (int c = 0; c < packed.length; c++) {
            String name = GoldenCases.CASES.get(c);
            GoldenTensors g = GoldenCases.forward(name);
            long[] golden = g.longs("bf16w_logits_argmax");
            int[] ids = g.ints("input_ids");
            Inspection ref = REFERENCE.get().inspect(ids, GoldenCases.images(name), 1);
            for (int t = 0; t < TAIL; t++) {
                int pos = ids.length - TAIL - 1 + t;
                assertEquals(golden[pos], ref.logitsArgmax()[pos], name + " " + pos + ": reference vs golden argmax");
                worst = Math.max(worst, GoldenCases.maxAbsDiff(packed[c][t], dense[c][t]));
                if (ref.logitsTop2Gap()[pos] > Bf16Test.DECIDABLE_GAP) {
                    decidable++;
                    agree += Logits.argmax(packed[c][t]) == golden[pos] ? 1 : 0;
                }
            }
        }
        String report = String.format("packed bf16 decode: golden argmax kept at %d of %d decidable positions (of %d);"
                + " max abs logit diff vs dense bf16 %.2e", agree, decidable, packed.length * TAIL, worst);
        System.out.println("[PackedDecodeWeightsTest] " + report);
        assertTrue(decidable >= Bf16Test.MIN_DECIDABLE_SHARE * packed.length * TAIL, report);
        assertTrue(agree >= 0.99 * decidable, report);
        assertTrue(worst <= GenerationTest.BF16_CACHED_TOL, report);
    }

    @Test
    void batchedEqualsDecodingAloneOnPackedWeights() {
        double worst = BatchedDecodeTest.decodeAll(PACKED.get(), true);
        System.out.printf("[PackedDecodeWeightsTest] packed batched vs alone: max abs logit diff %.2e%n", worst);
        assertTrue(worst <= GenerationTest.BF16_CACHED_TOL, "packed batched logits differ from alone by " + worst);
    }

    /** Single-sequence cached steps (packed lm_head) against full recomputations (the dense prefill). */
    @Test
    void cachedPackedStepsStayCloseToFullRecomputation() {
        double worst = GenerationTest.cachedVsRecomputed(PACKED.get());
        System.out.printf("[PackedDecodeWeightsTest] packed cached vs full recompute: max abs diff %.2e%n", worst);
        assertTrue(worst <= GenerationTest.BF16_CACHED_TOL, "packed cached decode drifts by " + worst);
    }
}
