package io.github.phi3v.core.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import io.github.phi3v.testsupport.GoldenTensors;

/**
 * Float32 forward of model-f32 against the official code's goldens: every stored intermediate within
 * 1e-4 max abs error and the argmax identical at every position.
 */
class GoldenForwardTest {

    static final double TOL = 1e-4;
    @RegisterExtension
    static final GoldenCases.Loaded<Phi3VModel> MODEL = GoldenCases.modelF32InFloat32();

    @ParameterizedTest
    @MethodSource(GoldenCases.ALL_CASES)
    void matchesOfficialForward(String c) {
        GoldenTensors g = GoldenCases.forward(c);
        int[] ids = g.ints("input_ids");
        int[] idsCopy = ids.clone();
        List<ImagePixels> images = GoldenCases.images(c);
        Inspection ins = MODEL.get().inspect(ids, images, 8);
        assertArrayEquals(idsCopy, ids, "the caller's ids must not be modified");
        StringBuilder report = new StringBuilder(c + ":");
        double worst = 0;

        if (g.has("clip_features_layer_m2_first3")) {
            float[] gold = g.floats("clip_features_layer_m2_first3");   // [n_img, 3, 576, C]
            int per = gold.length / images.size();
            for (int k = 0; k < images.size(); k++) {
                float[] ours = Arrays.copyOf(ins.get("image_" + (k + 1) + ".clip_features").values(), per);
                double e = GoldenCases.maxAbsDiff(ours, Arrays.copyOfRange(gold, k * per, (k + 1) * per));
                report.append(String.format(" clip[%d]=%.2e", k + 1, e));
                worst = Math.max(worst, e);
            }
        }
        if (g.has("hd_merged")) {
            double e = GoldenCases.maxAbsDiff(ins.get("hd_merged").values(), g.floats("hd_merged"));
            report.append(String.format(" hd_merged=%.2e", e));
            worst = Math.max(worst, e);
        }
        for (String name : List.of("inputs_embeds", "layer_0_output", "layer_1_output")) {
            double e = GoldenCases.maxAbsDiff(ins.get(name).values(), g.floats(name));
            report.append(String.format(" %s=%.2e", name, e));
            worst = Math.max(worst, e);
        }
        double eNorm = GoldenCases.maxAbsDiff(ins.get("final_norm_last8").values(), g.floats("final_norm_last8"));
        double eLogits = GoldenCases.maxAbsDiff(ins.get("logits_last8").values(), g.floats("logits_last8"));
        double eMax = GoldenCases.maxAbsDiff(ins.logitsMax(), g.floats("logits_max"));
        double eLse = GoldenCases.maxAbsDiff(ins.logitsLogsumexp(), g.floats("logits_logsumexp"));
        report.append(String.format(" final_norm_last8=%.2e logits_last8=%.2e logits_max=%.2e logsumexp=%.2e",
                eNorm, eLogits, eMax, eLse));
        worst = Math.max(worst, Math.max(Math.max(eNorm, eLogits), Math.max(eMax, eLse)));

        long[] goldArgmax = g.longs("logits_argmax");
        int mismatches = 0;
        for (int i = 0; i < goldArgmax.length; i++) {
            if (goldArgmax[i] != ins.logitsArgmax()[i]) {
                mismatches++;
            }
        }
        report.append(String.format(" | argmax mismatches %d/%d | worst %.2e", mismatches, goldArgmax.length, worst));
        System.out.println("[GoldenForwardTest] " + report);
        assertTrue(worst <= TOL, report.toString());
        assertEquals(0, mismatches, report.toString());
    }
}
