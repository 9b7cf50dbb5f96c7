package io.github.phi3v.core.model;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;

import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import io.github.phi3v.core.runtime.InferenceScope;
import io.github.phi3v.core.runtime.Tensors;
import io.github.phi3v.core.weights.Checkpoint;
import io.github.phi3v.core.weights.SafetensorsWriter;
import io.github.phi3v.core.weights.TensorInfo;

/**
 * Hand-run: what 4-bit weight formats with fewer bytes per weight than {@link Int4Linear}'s would cost in
 * accuracy. Data for issue #20's open question of reading fewer bytes per decode token (docs/benchmarks.md,
 * "Fewer bytes per int4 weight"); no kernel reads these formats. Printed per format: the relative weight error
 * on Gaussian weights (what the random golden and bench weights are), and with a work folder issue #20's two
 * criteria on the golden tiny bf16 model ({@link #golden}), the format's dequantized weights standing in for a
 * kernel (for Int4Linear's own format this gives the real kernel's flip count), then the argmax with an int8
 * lm_head ({@link #int8Rows}) alone and with two of the formats.
 * Formats, with their bits per weight:
 * <ul>
 *   <li>{@link Int4Linear} itself: groups of 32, scale and zero as 8-bit codes of two powers of two per block of 8
 *       groups ({@link io.github.phi3v.core.runtime.Int4ScaleCodes}; 4.5625);</li>
 *   <li>the same rounding written here ({@link #byteCodesAll}), to check this probe against it;</li>
 *   <li>groups of 32, bf16 scale and bf16 zero, Int4Linear's format until 2026-12-08 (5.0);</li>
 *   <li>groups of 64, bf16 scale and zero (4.5);</li>
 *   <li>groups of 32, bf16 scale and an integer zero level 0..15 stored in 4 bits (4.625);</li>
 *   <li>super-blocks of 256 (8 groups of 32), each group's scale and minimum as 6-bit codes of two fp16
 *       super-block factors, the layout of llama.cpp's Q4_K (4.5);</li>
 *   <li>8-bit scale and zero codes of two bf16 factors per super-block of 8 or 16 groups (4.625, 4.5625);</li>
 *   <li>symmetric groups of 32 (levels (q - 8) d): with a bf16 d, the best of a dense search over both signs,
 *       and as llama.cpp's Q4_0 rounds them (fp16 d = the signed largest-magnitude weight / -8) (4.5).</li>
 * </ul>
 * {@code java -cp "$CP" io.github.phi3v.core.model.Int4FormatProbe [groups [workDir]]} (groups a multiple of 8,
 * default 16384; with a folder, also issue #20's criteria on the golden model: {@link #golden}).
 */
final class Int4FormatProbe {

    private static final int G = 32;
    private static final int REFINE = Int4Linear.REFINE_STEPS;

    private Int4FormatProbe() {
    }

    /** A weight format: label, bits per weight, and the dequantized weight of a float32 {@code [rows, cols]}. */
    record Format(String label, double bits, Dequantizer dequantize) {
    }

    /** Rounds a row-major {@code [rows, cols]} weight (groups of 32 along each row) through a format. */
    interface Dequantizer {
        float[] apply(float[] w, int rows, int cols);
    }

    private static final Format INT4_LINEAR = new Format("Int4Linear (group 32, 8-bit codes, 8-group blocks)", 4.5625,
            Int4FormatProbe::int4Linear);
    private static final Format Q4_K = new Format("Q4_K layout: 8x32 per super-block, 6-bit scale/min codes", 4.5,
            (w, r, c) -> q4kAll(w));

    static final List<Format> FORMATS = List.of(
            INT4_LINEAR,
            new Format("8-bit codes of power-of-two factors per 8 groups (this probe)", 4.5625,
                    (w, r, c) -> byteCodesAll(w, 8, true)),
            new Format("group 32, bf16 scale + bf16 zero (Int4Linear before 2026-12-08)", 5.0,
                    (w, r, c) -> asymmetricAll(w, G)),
            new Format("asymmetric group 64, bf16 scale + zero", 4.5, (w, r, c) -> asymmetricAll(w, 64)),
            new Format("group 32, bf16 scale + 4-bit integer zero", 4.625, (w, r, c) -> integerZeroAll(w)),
            Q4_K,
            new Format("8x32 per super-block, 8-bit scale/zero codes of bf16 factors", 4.625,
                    (w, r, c) -> byteCodesAll(w, 8, false)),
            new Format("16x32 per super-block, 8-bit scale/zero codes of bf16 factors", 4.5625,
                    (w, r, c) -> byteCodesAll(w, 16, false)),
            new Format("symmetric group 32, bf16 scale, best of a dense search", 4.5,
                    (w, r, c) -> symmetricAll(w, true)),
            new Format("symmetric group 32 as Q4_0 rounds (max / -8)", 4.5, (w, r, c) -> symmetricAll(w, false)));

    public static void main(String[] args) throws java.io.IOException {
        int groups = args.length > 0 ? Integer.parseInt(args[0]) : 16384;
        float[] w = new float[groups * G];
        Random random = new Random(20);
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) random.nextGaussian();
        }
        System.out.println("[Int4FormatProbe] " + groups + " groups of " + G + " Gaussian weights");
        for (Format f : FORMATS) {
            print(f, "relative weight error " + String.format(Locale.ROOT, "%.5f",
                    QuantizationCriteria.relativeError(f.dequantize().apply(w, groups, G), w)));
        }
        if (args.length > 1) {
            golden(Path.of(args[1]));
        }
    }

    private static void print(Format f, String what) {
        System.out.printf(Locale.ROOT, "[Int4FormatProbe] %-60s %5.3f bits/weight  %s%n", f.label(), f.bits(), what);
    }

    /**
     * On the golden tiny bf16 model, issue #20's two criteria per format, with the format's dequantized
     * weights standing in for a kernel: each decoder linear's relative output error on the golden activations
     * ({@link QuantizationCriteria#linearErrors}, float32 products), and the argmax against bf16 at the
     * decided positions of the four forward cases, from a copy of the checkpoint (written under {@code work})
     * whose decoder linears hold the dequantized weights rounded to bf16 (2<sup>-9</sup> of each weight at
     * most, against ~7 % from the format).
     */
    private static void golden(Path work) throws java.io.IOException {
        Path src = GoldenCases.modelBf16();
        try (Phi3VModel bf16 = Phi3VModel.load(src, ModelOptions.defaults().withPrecision(Precision.BFLOAT16))) {
            int layers = bf16.config().numHiddenLayers();
            for (Format f : FORMATS) {
                List<QuantizationCriteria.LinearError> errors = QuantizationCriteria.linearErrors(bf16,
                        (weight, name) -> dequantizedLinear(f, weight));
                Path dir = work.resolve("format-" + FORMATS.indexOf(f));
                writeCopy(src, dir, f, layers, false);
                QuantizationCriteria.Decided d;
                try (Phi3VModel m = Phi3VModel.load(dir, ModelOptions.defaults().withPrecision(Precision.BFLOAT16))) {
                    d = QuantizationCriteria.prefillArgmax(bf16, m);
                }
                print(f, String.format(Locale.ROOT, "golden linears: median output error %.4f (%.4f-%.4f); argmax "
                        + "differs at %d of %d decided positions, largest bf16 gap there %.3f", QuantizationCriteria
                        .median(errors), errors.stream().mapToDouble(QuantizationCriteria.LinearError::error).min()
                        .orElse(0), errors.stream().mapToDouble(QuantizationCriteria.LinearError::error).max()
                        .orElse(0), d.mismatches().size(), d.decided(), d.largestMismatchGap()));
            }
            // The other part of a token's bytes: the lm_head in int8 (one scale per row), alone and with two formats.
            List<Format> withInt8Head = List.of(new Format("bf16 linears", 16, (w, r, c) -> w.clone()), INT4_LINEAR,
                    Q4_K);
            for (Format f : withInt8Head) {
                Path dir = work.resolve("int8-lm-head-" + withInt8Head.indexOf(f));
                writeCopy(src, dir, f, layers, true);
                try (Phi3VModel m = Phi3VModel.load(dir, ModelOptions.defaults().withPrecision(Precision.BFLOAT16))) {
                    QuantizationCriteria.Decided d = QuantizationCriteria.prefillArgmax(bf16, m);
                    print(f, String.format(Locale.ROOT, "with an int8 lm_head: argmax differs at %d of %d decided "
                            + "positions, largest bf16 gap there %.3f", d.mismatches().size(), d.decided(),
                            d.largestMismatchGap()));
                }
            }
        }
    }

    /** Int8Linear's quantization (symmetric, one scale per row), dequantized: what an int8 lm_head would hold. */
    private static float[] int8Rows(float[] w, int rows, int cols) {
        try (InferenceScope scope = InferenceScope.open();
             Int8Linear.Stored s = Int8Linear.toStored(Tensors.fromFloats(w, (long) rows, (long) cols), "lm_head")) {
            float[] q = Tensors.toFloats(s.q().to(ScalarType.Float));                            // [rows, cols]
            float[] scale = Tensors.toFloats(s.scale());                                        // [rows]
            float[] out = new float[w.length];
            for (int i = 0; i < out.length; i++) {
                out[i] = q[i] * scale[i / cols];
            }
            return out;
        }
    }

    /** A float32 linear on the format's dequantized weight (the stand-in for a kernel of that format). */
    private static QuantizedLinear dequantizedLinear(Format f, Tensor weight) {
        int rows = (int) weight.size(0);
        int cols = (int) weight.size(1);
        float[] deq = f.dequantize().apply(Tensors.toFloats(weight), rows, cols);    // weight: the caller's scope
        Tensor wq = Tensors.fromFloats(deq, (long) rows, (long) cols);
        wq.retainReference();   // outlives the caller's scope until resources() are closed
        return new QuantizedLinear() {
            @Override
            public Tensor apply(Tensor x) {
                return torch.matmul(x.to(ScalarType.Float), wq.t());
            }

            @Override
            public List<Pointer> resources() {
                return List.of(wq);
            }

            @Override
            public long streamedBytes() {
                return 0;
            }
        };
    }

    /**
     * The golden checkpoint with every decoder linear rounded through the format (then to bf16), and the lm_head
     * through {@link #int8Rows} if asked.
     */
    private static void writeCopy(Path src, Path dir, Format f, int layers, boolean int8LmHead)
            throws java.io.IOException {
        Files.createDirectories(dir);
        try (java.util.stream.Stream<Path> files = Files.list(src)) {
            for (Path p : files.toList()) {
                if (!p.getFileName().toString().endsWith(".safetensors")) {
                    Files.copy(p, dir.resolve(p.getFileName()), StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
        Set<String> linears = new HashSet<>();
        for (int layer = 0; layer < layers; layer++) {
            for (String suffix : QuantizedCheckpoint.LINEARS) {
                linears.add(WeightNames.decoderLayer(layer, suffix));
            }
        }
        List<SafetensorsWriter.Tensor> out = new ArrayList<>();
        try (Checkpoint ckpt = Checkpoint.open(src); InferenceScope scope = InferenceScope.open()) {
            for (String name : new TreeSet<>(ckpt.names())) {
                TensorInfo info = ckpt.info(name);
                long[] shape = info.shape();
                float[] v = Tensors.toFloats(ckpt.tensor(name).to(ScalarType.Float));
                if (linears.contains(name)) {
                    v = f.dequantize().apply(v, (int) shape[0], (int) shape[1]);
                } else if (int8LmHead && name.equals(WeightNames.LM_HEAD)) {
                    v = int8Rows(v, (int) shape[0], (int) shape[1]);
                }
                out.add(SafetensorsWriter.Tensor.ofFloats(name, info.dtype(), shape, v));
            }
        }
        SafetensorsWriter.write(dir.resolve(Checkpoint.SINGLE_FILE), Map.of("format", "pt"), out);
    }

    /** Int4Linear's own quantization, dequantized as its kernels do: {@code (q - 8) * scale + zero}. */
    private static float[] int4Linear(float[] w, int rows, int cols) {
        try (InferenceScope scope = InferenceScope.open();
             Int4Linear.Stored s = Int4Linear.quantize(Tensors.fromFloats(w, (long) rows, (long) cols), "weight")) {
            return QuantizationCriteria.dequantize(s);
        }
    }

    private static float[] asymmetricAll(float[] w, int group) {
        float[] out = new float[w.length];
        for (int k = 0; k < w.length / group; k++) {
            double[] so = asymmetric(w, k * group, group);
            double s16 = bf16(so[0]);
            put(out, w, k * group, group, s16, bf16(so[1] + 8 * so[0]) - 8 * s16);
        }
        return out;
    }

    /**
     * Int4Linear's rounding in doubles: starts from the min/max range shrunk by 1, 0.9, 0.8, each refined by
     * least squares; the best of the three after rounding scale and zero (offset + 8 scale) to bf16.
     *
     * @return {scale, offset}: w ≈ q * scale + offset, q in 0..15
     */
    static double[] asymmetric(float[] w, int from, int n) {
        double mn = Double.MAX_VALUE;
        double mx = -Double.MAX_VALUE;
        for (int j = from; j < from + n; j++) {
            mn = Math.min(mn, w[j]);
            mx = Math.max(mx, w[j]);
        }
        double centre = (mn + mx) / 2;
        double[] best = null;
        double bestErr = Double.MAX_VALUE;
        for (double shrink : Int4Linear.RANGE_SHRINKS) {
            double lo = centre + (mn - centre) * shrink;
            double scale = Math.max((centre + (mx - centre) * shrink - lo) / 15, 1e-12);
            double offset = lo;
            for (int step = 0; step < REFINE; step++) {
                double[] ls = leastSquares(w, from, n, scale, offset);
                scale = ls[0];
                offset = ls[1];
            }
            double s16 = bf16(scale);
            double o16 = bf16(offset + 8 * scale) - 8 * s16;
            double e = QuantizationCriteria.gridError(w, from, n, s16, o16);
            if (e < bestErr) {
                bestErr = e;
                best = new double[] {scale, offset};
            }
        }
        return best;
    }

    /** Levels for (scale, offset), then the scale and offset that fit w on them best; var 0 keeps the scale. */
    private static double[] leastSquares(float[] w, int from, int n, double scale, double offset) {
        double qm = 0;
        double wm = 0;
        double[] q = new double[n];
        for (int j = 0; j < n; j++) {
            q[j] = level(w[from + j], scale, offset);
            qm += q[j];
            wm += w[from + j];
        }
        qm /= n;
        wm /= n;
        double var = 0;
        double cov = 0;
        for (int j = 0; j < n; j++) {
            var += (q[j] - qm) * (q[j] - qm);
            cov += (q[j] - qm) * (w[from + j] - wm);
        }
        double s = var > 0 ? Math.max(cov / var, 1e-12) : scale;
        return new double[] {s, wm - s * qm};
    }

    private static float[] integerZeroAll(float[] w) {
        float[] out = new float[w.length];
        for (int k = 0; k < w.length / G; k++) {
            int from = k * G;
            double[] so = asymmetric(w, from, G);
            double best = Double.MAX_VALUE;
            double bestScale = 0;
            int bestZero = 0;
            int z0 = (int) Math.rint(-so[1] / so[0]);
            for (int z = Math.max(0, z0 - 1); z <= Math.min(15, z0 + 1); z++) {
                // w ≈ (q - z) * s: for fixed z, alternate levels and the least-squares scale through the origin.
                double s = so[0];
                for (int step = 0; step < REFINE + 1; step++) {
                    double num = 0;
                    double den = 0;
                    for (int j = from; j < from + G; j++) {
                        double t = level(w[j], s, -z * s) - z;
                        num += t * w[j];
                        den += t * t;
                    }
                    s = den > 0 ? Math.max(num / den, 1e-12) : s;
                }
                double s16 = bf16(s);
                double e = QuantizationCriteria.gridError(w, from, G, s16, -z * s16);
                if (e < best) {
                    best = e;
                    bestScale = s16;
                    bestZero = z;
                }
            }
            put(out, w, from, G, bestScale, -bestZero * bestScale);
        }
        return out;
    }

    /**
     * Q4_K's layout: per super-block of 8 groups, fp16 factors d and dmin; per group 6-bit codes sc, mc with
     * scale = d sc and minimum = dmin mc (w ≈ q scale - minimum, minimum clamped to >= 0 as Q4_K stores it).
     * Each group's float scale and offset come from {@link #asymmetric}; the codes round them; the levels
     * are then re-rounded for the coded scale and minimum.
     */
    private static float[] q4kAll(float[] w) {
        int sub = 8;
        float[] out = new float[w.length];
        for (int b = 0; b < superBlocks(w, sub); b++) {
            double[][] fit = superBlockFit(w, b, sub);
            double[] scale = fit[0];
            double[] min = new double[sub];
            double maxScale = 0;
            double maxMin = 0;
            for (int j = 0; j < sub; j++) {
                min[j] = Math.max(0, -fit[1][j]);
                maxScale = Math.max(maxScale, scale[j]);
                maxMin = Math.max(maxMin, min[j]);
            }
            double d = fp16(maxScale / 63);
            double dmin = fp16(maxMin / 63);
            for (int j = 0; j < sub; j++) {
                double s = d * Math.min(63, Math.rint(scale[j] / d));
                double m = dmin > 0 ? dmin * Math.min(63, Math.rint(min[j] / dmin)) : 0;
                put(out, w, (b * sub + j) * G, G, Math.max(s, 1e-12), -m);
            }
        }
        return out;
    }

    /**
     * Super-blocks of {@code sub} groups: per super-block factors d and dz (bf16, or with {@code powerOfTwo} the
     * smallest powers of two that hold the largest code, as {@link io.github.phi3v.core.runtime.Int4ScaleCodes}
     * chooses them, computed here on its own), per group an unsigned 8-bit scale
     * code and a signed 8-bit zero code, scale = d sc (sc 1..255), zero = dz zc (zc -127..127; the zero is the value of
     * level 8, as {@link Int4Linear} stores it: w = (q - 8) scale + zero), so a group's two
     * 16-bit numbers become two bytes. Each group's float scale and zero come from {@link #asymmetric}; the codes
     * round them; the levels are then re-rounded for the coded scale and zero.
     */
    private static float[] byteCodesAll(float[] w, int sub, boolean powerOfTwo) {
        float[] out = new float[w.length];
        for (int b = 0; b < superBlocks(w, sub); b++) {
            double[][] fit = superBlockFit(w, b, sub);
            double[] scale = fit[0];
            double[] zero = new double[sub];
            double maxScale = 0;
            double maxZero = 0;
            for (int j = 0; j < sub; j++) {
                zero[j] = fit[1][j] + 8 * scale[j];   // the group's centre (level 8), as Int4Linear stores its zero
                maxScale = Math.max(maxScale, scale[j]);
                maxZero = Math.max(maxZero, Math.abs(zero[j]));
            }
            double d = powerOfTwo ? powerOfTwoAbove(maxScale / 255) : bf16(maxScale / 255);
            double dz = powerOfTwo ? powerOfTwoAbove(maxZero / 127) : bf16(maxZero / 127);
            for (int j = 0; j < sub; j++) {
                double s = d * Math.max(1, Math.min(255, Math.rint(scale[j] / d)));
                double z = dz > 0 ? dz * Math.max(-127, Math.min(127, Math.rint(zero[j] / dz))) : 0;
                put(out, w, (b * sub + j) * G, G, Math.max(s, 1e-12), z - 8 * s);
            }
        }
        return out;
    }

    /** Super-blocks of {@code sub} groups in {@code w}, which must hold a whole number of them. */
    private static int superBlocks(float[] w, int sub) {
        if (w.length % (G * sub) != 0) {
            throw new IllegalArgumentException("super-blocks need a multiple of " + G * sub + " weights: " + w.length);
        }
        return w.length / (G * sub);
    }

    /** {@link #asymmetric}'s scale and offset of each group of super-block {@code b}: {@code {scales, offsets}}. */
    private static double[][] superBlockFit(float[] w, int b, int sub) {
        double[][] fit = new double[2][sub];
        for (int j = 0; j < sub; j++) {
            double[] so = asymmetric(w, (b * sub + j) * G, G);
            fit[0][j] = so[0];
            fit[1][j] = so[1];
        }
        return fit;
    }

    /** The smallest power of two at or above {@code x > 0} (0 for 0). */
    private static double powerOfTwoAbove(double x) {
        if (x <= 0) {
            return 0;
        }
        double p = Math.scalb(1.0, Math.getExponent(x));
        return p < x ? 2 * p : p;
    }

    private static float[] symmetricAll(float[] w, boolean search) {
        float[] out = new float[w.length];
        for (int k = 0; k < w.length / G; k++) {
            int from = k * G;
            double amax = 0;
            double signed = 0;
            for (int j = from; j < from + G; j++) {
                if (Math.abs(w[j]) > amax) {
                    amax = Math.abs(w[j]);
                    signed = w[j];
                }
            }
            double best = fp16(signed / -8);                   // Q4_0: fp16 d, q = round(w / d) + 8, d may be < 0
            if (search) {
                // Both signs: the grid (q - 8) s spans -8 s .. 7 s, so the sign decides which end is the longer one.
                double bestErr = Double.MAX_VALUE;
                for (int a = 0; a <= 160; a++) {
                    double s = bf16(amax / 8 * (0.5 + 0.75 * a / 160));
                    for (double d : new double[] {s, -s}) {
                        double e = QuantizationCriteria.gridError(w, from, G, d, -8 * d);
                        if (e < bestErr) {
                            bestErr = e;
                            best = d;
                        }
                    }
                }
            }
            put(out, w, from, G, best, -8 * best);
        }
        return out;
    }

    /** The nearest level 0..15 of {@code x} on the grid {@code q * scale + offset}. */
    private static double level(double x, double scale, double offset) {
        return Math.max(0, Math.min(15, Math.rint((x - offset) / scale)));
    }

    /** {@code w[from, from + n)} rounded to the grid {@code q * scale + offset}, q in 0..15, into {@code out}. */
    private static void put(float[] out, float[] w, int from, int n, double scale, double offset) {
        for (int j = from; j < from + n; j++) {
            out[j] = (float) (level(w[j], scale, offset) * scale + offset);
        }
    }

    /** Rounded to bf16 (nearest, ties to even: {@link SafetensorsWriter#toBf16}), as a double. */
    private static double bf16(double x) {
        return Float.intBitsToFloat(SafetensorsWriter.toBf16((float) x) << 16);
    }

    /** Rounded to fp16's 11 significant bits (normal range only, enough for these factors), as a double. */
    private static double fp16(double x) {
        if (x == 0) {
            return 0;
        }
        int e = Math.getExponent(x);
        double ulp = Math.scalb(1.0, e - 10);
        return Math.rint(x / ulp) * ulp;
    }
}
