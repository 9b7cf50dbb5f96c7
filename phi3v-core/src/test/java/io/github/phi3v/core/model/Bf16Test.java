package io.github.phi3v.core.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import io.github.phi3v.testsupport.GoldenTensors;

/**
 * bf16: (1) the bf16 checkpoint computed in float32 matches the official bf16-weight goldens
 * ({@code bf16w_*}: the same bf16 weights upcast exactly, float32 compute), so the only error is
 * float32 rounding; (2) bfloat16 compute keeps the argmax of that reference on at least 99% of positions.
 */
class Bf16Test {

    static final double TOL = 1e-4;
    static final double DECIDABLE_GAP = 0.25;
    /** A top-2 gap far below bf16's logit error here (0.06-0.16): its argmax is decided by rounding. */
    static final double TINY_GAP = 0.01;
    /**
     * The share of positions whose reference top-2 gap must exceed {@link #DECIDABLE_GAP} for the agreement
     * check to mean anything: measured 33-40 % in every golden case (18 of 49 in the shortest), so a
     * quarter leaves margin while a model or reference whose logits went flat (every gap tiny, nothing
     * decidable) fails instead of passing an empty check.
     */
    static final double MIN_DECIDABLE_SHARE = 0.25;
    @RegisterExtension
    static final GoldenCases.Loaded<Phi3VModel> BF16_IN_FLOAT32 = GoldenCases.model(GoldenCases.modelBf16(),
            ModelOptions.defaults().withPrecision(Precision.FLOAT32));
    @RegisterExtension
    static final GoldenCases.Loaded<Phi3VModel> BF16_IN_BF16 = GoldenCases.model(GoldenCases.modelBf16(),
            ModelOptions.defaults().withPrecision(Precision.BFLOAT16));

    @ParameterizedTest
    @MethodSource(GoldenCases.ALL_CASES)
    void bf16CheckpointInFloat32MatchesBf16wGoldens(String c) {
        GoldenTensors g = GoldenCases.forward(c);
        Inspection ins = BF16_IN_FLOAT32.get().inspect(g.ints("input_ids"), GoldenCases.images(c), 1);
        double eLast = GoldenCases.maxAbsDiff(ins.get("logits_last1").values(), g.floats("bf16w_logits_last1"));
        double eMax = GoldenCases.maxAbsDiff(ins.logitsMax(), g.floats("bf16w_logits_max"));
        double eLse = GoldenCases.maxAbsDiff(ins.logitsLogsumexp(), g.floats("bf16w_logits_logsumexp"));
        long[] gold = g.longs("bf16w_logits_argmax");
        int mismatches = 0;
        for (int i = 0; i < gold.length; i++) {
            mismatches += gold[i] == ins.logitsArgmax()[i] ? 0 : 1;
        }
        String report = String.format("%s bf16 checkpoint, f32 compute vs bf16w goldens: logits_last1 %.2e, "
                + "max %.2e, logsumexp %.2e, argmax mismatches %d/%d", c, eLast, eMax, eLse, mismatches, gold.length);
        System.out.println("[Bf16Test] " + report);
        assertTrue(Math.max(eLast, Math.max(eMax, eLse)) <= TOL, report);
        assertEquals(0, mismatches, report);
    }

    /**
     * bfloat16 compute against the same bf16 weights computed in float32 (the reference; the test above
     * shows it equals the official bf16w goldens). Rounding activations to bf16 moves logits by up to
     * ~0.2 here, while this random model's top-2 gap is below 0.003 at 1% of positions, so the argmax
     * over ALL positions agrees on only ~95-98% (printed). Asserted: >= 99% agreement wherever the
     * reference top-2 gap exceeds {@value #DECIDABLE_GAP}, i.e. where bf16 rounding cannot decide it, and
     * at least {@value #MIN_DECIDABLE_SHARE} of each case's positions are such positions.
     */
    @ParameterizedTest
    @MethodSource(GoldenCases.ALL_CASES)
    void bf16ComputeKeepsTheArgmax(String c) {
        GoldenTensors g = GoldenCases.forward(c);
        int[] ids = g.ints("input_ids");
        List<ImagePixels> images = GoldenCases.images(c);
        Inspection ref = BF16_IN_FLOAT32.get().inspect(ids, images, 1);
        Inspection ins = BF16_IN_BF16.get().inspect(ids, images, 1);
        int n = ids.length;
        int same = 0;
        int decidable = 0;
        int sameDecidable = 0;
        int tiny = 0;
        for (int i = 0; i < n; i++) {
            tiny += ref.logitsTop2Gap()[i] < TINY_GAP ? 1 : 0;
            boolean eq = ref.logitsArgmax()[i] == ins.logitsArgmax()[i];
            same += eq ? 1 : 0;
            if (ref.logitsTop2Gap()[i] > DECIDABLE_GAP) {
                decidable++;
                sameDecidable += eq ? 1 : 0;
            }
        }
        double eLast = GoldenCases.maxAbsDiff(ins.get("logits_last1").values(), ref.get("logits_last1").values());
        double eMax = GoldenCases.maxAbsDiff(ins.logitsMax(), ref.logitsMax());
        String report = String.format("%s bf16 compute vs bf16 weights in f32: argmax agreement %.4f of all %d "
                + "positions, %.4f of the %d with top-2 gap > %.2f; max abs err last logits %.3f, per-position "
                + "max logit %.3f; reference top-2 gap < %.2f (a coin flip for any bf16 rounding) at %d positions "
                + "(%.2f%%)", c, (double) same / n, n, (double) sameDecidable / decidable, decidable,
                DECIDABLE_GAP, eLast, eMax, TINY_GAP, tiny, 100.0 * tiny / n);
        System.out.println("[Bf16Test] " + report);
        assertTrue(decidable >= MIN_DECIDABLE_SHARE * n, "fewer than " + MIN_DECIDABLE_SHARE + " of the positions "
                + "are decidable: " + report);
        assertTrue(sameDecidable >= 0.99 * decidable, report);
    }
}
