package io.github.phi3v.core.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;

import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import io.github.phi3v.core.runtime.CpuFeatures;
import io.github.phi3v.core.runtime.Logits;
import io.github.phi3v.core.runtime.NativeInt8Kernel;
import io.github.phi3v.testsupport.GoldenTensors;

/**
 * {@link Quantization#INT8} on the golden tiny bf16 model against plain bf16, by issue #20's criterion,
 * which does not depend on how many near-ties this random model has:
 * <ol>
 *   <li>int8's argmax equals bf16's at every position where bf16's top-2 logit gap exceeds
 *       {@value #DECIDED_GAP}: asserted on every prompt position of the four forward cases (722 of 5260
 *       positions qualify, 0 differ) and on the teacher-forced decode steps of the four generation cases
 *       (8 of 96 qualify, 0 differ). Wrong scales or a broken kernel change decided tokens and fail.</li>
 *   <li>each quantized linear's output within {@value #MAX_LINEAR_REL_ERROR} relative error: met by ATen's
 *       {@code _weight_int8pack_mm} (0.63-0.71 % on an AMD EPYC without AVX-512, 2026-12-07), the kernel the
 *       model runs on CPUs without AVX-512 VNNI, and by fbgemm where its products are exact (AVX-512 VNNI),
 *       which quantizes its input per tensor to uint8 and so gets each row scaled to its own range first
 *       (0.83-0.93 %, median 0.85 %; 0.94-1.31 %, median 1.04 %, before that scaling).</li>
 * </ol>
 * The token agreement counts are printed, not asserted: free running 45/96, teacher-forced 85/96 (int8 fed
 * bf16's tokens) on fbgemm (15/96 and 81/96 before rows were scaled), 58/96 and 91/96 on ATen's kernel. They are low because this model's random weights leave top-2 gaps far below the ~1 %
 * error of 8-bit weights and activations (bf16 itself keeps only 95-98 % of float32's argmax, see
 * {@link Bf16Test}), and one flipped token changes the rest of a free-running sequence.
 */
class Int8QuantizationTest {

    /** Issue #20: a bf16 top-2 gap above this decides the token; int8 must then agree. */
    static final double DECIDED_GAP = QuantizationCriteria.DECIDED_GAP;
    /** Issue #20's target for the relative error of each quantized linear's output (met by ATen's kernel). */
    static final double MAX_LINEAR_REL_ERROR = 0.01;
    /**
     * What the fbgemm int8 kernel was known to cost against a float32 {@code linear} when the int8 option was built:
     * ~1.5 % relative error (shared/NOTES.md, "JavaCPP pytorch 2.10.0-1.5.13 API facts"). Without AVX-512 VNNI its
     * products saturate, and it must then exceed this (else the reason for not choosing it there is gone).
     */
    static final double KERNEL_REL_ERROR = 0.015;

    @RegisterExtension
    static final GoldenCases.Loaded<Phi3VModel> BF16 = GoldenCases.model(GoldenCases.modelBf16(),
            ModelOptions.defaults().withPrecision(Precision.BFLOAT16));
    @RegisterExtension
    static final GoldenCases.Loaded<Phi3VModel> INT8 = GoldenCases.model(GoldenCases.modelBf16(),
            ModelOptions.defaults().withPrecision(Precision.BFLOAT16).withQuantization(Quantization.INT8));

    @Test
    void int8GreedyTokensMatchBf16() {
        int same = 0;
        int total = 0;
        int forcedSame = 0;
        int decidedSteps = 0;
        List<String> decidedMismatches = new ArrayList<>();
        StringBuilder report = new StringBuilder();
        for (String c : GoldenCases.CASES) {
            GoldenTensors g = GoldenCases.generation(c);
            int[] prompt = g.ints("prompt_input_ids");
            int n = g.longs("nocache_pristine_new_ids").length;
            List<ImagePixels> pixels = GoldenCases.images(c);
            float[] gaps = new float[n];
            int[] a = greedy(BF16.get(), prompt, pixels, n, null, gaps);
            int[] b = greedy(INT8.get(), prompt, pixels, n, null, null);
            // Teacher-forced: int8's argmax when fed bf16's tokens (isolates per-step agreement from drift).
            int[] forced = greedy(INT8.get(), prompt, pixels, n, a, null);
            int caseSame = 0;
            int caseForced = 0;
            for (int i = 0; i < n; i++) {
                caseSame += a[i] == b[i] ? 1 : 0;
                caseForced += a[i] == forced[i] ? 1 : 0;
                if (gaps[i] > DECIDED_GAP) {
                    decidedSteps++;
                    if (a[i] != forced[i]) {
                        decidedMismatches.add(String.format("%s step %d (bf16 gap %.3f)", c, i, gaps[i]));
                    }
                }
            }
            same += caseSame;
            forcedSame += caseForced;
            total += n;
            report.append(String.format("%s %d/%d (teacher-forced %d/%d); ", c, caseSame, n, caseForced, n));
        }
        double fraction = (double) same / total;
        System.out.printf("[Int8QuantizationTest] int8 vs bf16 greedy tokens identical: %d/%d = %.4f; "
                + "teacher-forced argmax agreement %d/%d = %.4f; steps with bf16 top-2 gap > %.1f: %d, int8 "
                + "mismatches there %s; %s%n", same, total, fraction, forcedSame, total, (double) forcedSame / total,
                DECIDED_GAP, decidedSteps, decidedMismatches, report);
        // The agreement counts above are printed, not asserted: on this random model they depend on how many
        // steps have near-tied logits, not on int8 alone. Asserted: issue #20's criterion on the decode steps.
        assertTrue(decidedSteps >= 5, "too few decode steps with bf16 top-2 gap > " + DECIDED_GAP + ": " + report);
        assertEquals(List.of(), decidedMismatches, "int8 (teacher-forced) argmax differs from bf16 at decode steps "
                + "where bf16's top-2 gap > " + DECIDED_GAP);
    }

    /**
     * Issue #20's accuracy criterion, part 1: wherever bf16's top-2 logit gap exceeds {@value #DECIDED_GAP}
     * (so its choice is not a rounding coin flip), int8 picks the same token. Checked on every prompt
     * position of the four forward cases (prefill, one pass each).
     */
    @Test
    void int8ArgmaxEqualsBf16WhereBf16IsDecided() {
        QuantizationCriteria.Decided d = QuantizationCriteria.prefillArgmax(BF16.get(), INT8.get());
        System.out.println("[Int8QuantizationTest] prefill, bf16 top-2 gap > " + DECIDED_GAP + ": " + d.decided() + " of "
                + d.positions() + " positions, " + d.mismatches().size() + " int8 argmax mismatches " + d.mismatches()
                + "; " + d.report());
        // A check over no position would pass vacuously: 719 of the 5260 positions are decided (measured).
        assertTrue(d.decided() >= d.positions() / 10, "too few decided positions: " + d.report());
        assertEquals(List.of(), d.mismatches(), "int8 argmax differs from bf16 where bf16's top-2 gap > " + DECIDED_GAP);
    }

    /**
     * Issue #20's accuracy criterion, part 2: each quantized decoder linear, applied to the activations it
     * sees in the model ({@link QuantizationCriteria#linearErrors}), against the same linear with the bf16
     * weights in float32, on every kernel:
     * <ul>
     *   <li>the native AVX2 kernel (where it runs) and ATen's {@code _weight_int8pack_mm} (activations
     *       unquantized) within issue #20's target of {@value #MAX_LINEAR_REL_ERROR}, both one row per call
     *       (decode) and all rows in one call (a prompt, which may take the dequantized weight);</li>
     *   <li>fbgemm within issue #20's {@value #MAX_LINEAR_REL_ERROR} too where its products are exact (AVX-512
     *       VNNI; each row of a call scaled to its own range before fbgemm's per-tensor uint8 quantization).
     *       Elsewhere it saturates, so it must be over its old known {@value #KERNEL_REL_ERROR} (else the reason
     *       for not choosing it is gone) and must not be the kernel the model chooses.</li>
     * </ul>
     */
    @Test
    void eachQuantizedLinearWithinTheKernelsKnownError() {
        List<Int8Kernel.Choice> unquantized = NativeInt8Kernel.available()
                ? List.of(Int8Kernel.Choice.NATIVE, Int8Kernel.Choice.ATEN) : List.of(Int8Kernel.Choice.ATEN);
        StringBuilder report = new StringBuilder();
        for (Int8Kernel.Choice kernel : unquantized) {
            // One row per call (a decode step), and all rows in one call (a prompt).
            List<QuantizationCriteria.LinearError> rows = QuantizationCriteria.linearErrors(BF16.get(),
                    (w, name) -> rowByRow(Int8Linear.quantize(w, name, ScalarType.Float, kernel)));
            List<QuantizationCriteria.LinearError> whole = QuantizationCriteria.linearErrors(BF16.get(),
                    (w, name) -> Int8Linear.quantize(w, name, ScalarType.Float, kernel));
            report.append(kernel).append(" row by row: ").append(rows).append(" median ")
                    .append(String.format("%.4f", QuantizationCriteria.median(rows))).append("; whole: ")
                    .append(whole).append("; ");
            assertEquals(10, rows.size(), "2 layers x (qkv on real inputs + 4 linears on Gaussian rows)");
            assertEquals(10, whole.size());
            assertEquals(List.of(), rows.stream().filter(e -> e.error() > MAX_LINEAR_REL_ERROR).toList(),
                    kernel + " int8 linears over issue #20's " + MAX_LINEAR_REL_ERROR + " relative error");
            assertEquals(List.of(), whole.stream().filter(e -> e.error() > MAX_LINEAR_REL_ERROR).toList(),
                    kernel + " int8 linears on whole inputs over issue #20's " + MAX_LINEAR_REL_ERROR);
        }
        List<QuantizationCriteria.LinearError> fbgemm = QuantizationCriteria.linearErrors(BF16.get(),
                (w, name) -> Int8Linear.quantize(w, name, ScalarType.Float, Int8Kernel.Choice.FBGEMM));
        boolean exact = CpuFeatures.exactFbgemmInt8();
        System.out.println("[Int8QuantizationTest] relative output error of each int8 linear vs bf16 weights in "
                + "float32: " + report + "FBGEMM (" + (exact ? "exact products, AVX-512 VNNI" : "saturating products, "
                + "no VNNI") + "): " + fbgemm + " median " + String.format("%.4f", QuantizationCriteria.median(fbgemm))
                + "; this CPU's kernel: " + Int8Kernel.Choice.preferred());
        assertEquals(10, fbgemm.size());
        if (exact) {
            assertEquals(List.of(), fbgemm.stream().filter(e -> e.error() > MAX_LINEAR_REL_ERROR).toList(),
                    "fbgemm int8 linears over issue #20's " + MAX_LINEAR_REL_ERROR + " relative error");
            assertEquals(Int8Kernel.Choice.FBGEMM, Int8Kernel.Choice.preferred());
        } else {
            assertFalse(fbgemm.stream().noneMatch(e -> e.error() > KERNEL_REL_ERROR),
                    "fbgemm stays within " + KERNEL_REL_ERROR + " without VNNI: " + fbgemm);
            assertEquals(NativeInt8Kernel.available() ? Int8Kernel.Choice.NATIVE : Int8Kernel.Choice.ATEN,
                    Int8Kernel.Choice.preferred());
        }
    }

    /** The layer applied to one row per call, as decode steps call it; the rows' results stacked. */
    private static QuantizedLinear rowByRow(Int8Linear layer) {
        return new QuantizedLinear() {
            @Override
            public Tensor apply(Tensor x) {
                TensorVector rows = new TensorVector();
                for (long r = 0; r < x.size(0); r++) {
                    rows.push_back(layer.apply(x.narrow(0, r, 1)));
                }
                return torch.cat(rows);
            }

            @Override
            public List<Pointer> resources() {
                return layer.resources();
            }

            @Override
            public long streamedBytes() {
                return layer.streamedBytes();
            }
        };
    }

    @Test
    void int8LoadKeepsTheApiAndRejectsCuda() {
        assertEquals(Quantization.INT8, INT8.get().options().quantization());
        assertEquals(Quantization.INT8, Quantization.parse("int8"));
        assertEquals(Quantization.NONE, Quantization.parse("none"));
        assertThrows(IllegalArgumentException.class, () -> Quantization.parse("int3"));
        assertThrows(IllegalArgumentException.class, () -> new ModelOptions(Precision.BFLOAT16,
                ModelOptions.Device.CUDA, 0, Quantization.INT8));
    }

    /** Largest minus second-largest logit. */
    private static float top2Gap(float[] logits) {
        float first = Float.NEGATIVE_INFINITY;
        float second = Float.NEGATIVE_INFINITY;
        for (float v : logits) {
            if (v > first) {
                second = first;
                first = v;
            } else if (v > second) {
                second = v;
            }
        }
        return first - second;
    }




    /** Greedy ids; with {@code forced}, the model is fed those ids instead of its own choices (gaps may be null). */
    static int[] greedy(Phi3VModel model, int[] prompt, List<ImagePixels> pixels, int n, int[] forced,
            float[] gaps) {
        List<ImageEmbeddings> images = new ArrayList<>();
        try {
            for (ImagePixels p : pixels) {
                images.add(model.encodeImage(p));
            }
            int[] out = new int[n];
            try (KvCache cache = model.newKvCache(prompt.length + n)) {
                float[] logits = model.forward(prompt, images, cache, 0);
                for (int i = 0; i < n; i++) {
                    out[i] = Logits.argmax(logits);
                    if (gaps != null) {
                        gaps[i] = top2Gap(logits);
                    }
                    if (i + 1 < n) {
                        int next = forced == null ? out[i] : forced[i];
                        logits = model.forward(new int[] {next}, images, cache, cache.length());
                    }
                }
            }
            return out;
        } finally {
            images.forEach(ImageEmbeddings::close);
        }
    }
}
