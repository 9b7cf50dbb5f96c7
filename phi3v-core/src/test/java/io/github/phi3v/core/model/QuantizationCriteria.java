package io.github.phi3v.core.model;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.BiFunction;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import io.github.phi3v.core.runtime.InferenceScope;
import io.github.phi3v.core.runtime.Tensors;
import io.github.phi3v.core.weights.Checkpoint;

/**
 * Issue #20's accuracy criteria for a quantized model against bf16, shared by the int8 and int4 tests:
 * argmax agreement where bf16 is decided, and each quantized linear's relative output error.
 */
final class QuantizationCriteria {

    /** Issue #20: a bf16 top-2 gap above this decides the token; the quantized model must then agree. */
    static final double DECIDED_GAP = 0.5;

    private QuantizationCriteria() {
    }

    /**
     * Prefill positions where bf16's top-2 gap exceeds {@link #DECIDED_GAP}, where the argmax differs there,
     * and the largest bf16 gap among those differences (0 if none).
     */
    record Decided(int decided, int positions, List<String> mismatches, double largestMismatchGap, String report) {
    }

    /** Every prompt position of the four golden forward cases (one prefill pass each). */
    static Decided prefillArgmax(Phi3VModel bf16, Phi3VModel quantized) {
        int decided = 0;
        int positions = 0;
        List<String> mismatches = new ArrayList<>();
        double largest = 0;
        StringBuilder report = new StringBuilder();
        for (String c : GoldenCases.CASES) {
            int[] ids = GoldenCases.forward(c).ints("input_ids");
            List<ImagePixels> images = GoldenCases.images(c);
            Inspection ref = bf16.inspect(ids, images, 1);
            Inspection q = quantized.inspect(ids, images, 1);
            int caseDecided = 0;
            int caseSame = 0;
            for (int i = 0; i < ids.length; i++) {
                boolean same = ref.logitsArgmax()[i] == q.logitsArgmax()[i];
                caseSame += same ? 1 : 0;
                if (ref.logitsTop2Gap()[i] > DECIDED_GAP) {
                    caseDecided++;
                    if (!same) {
                        mismatches.add(String.format("%s position %d (bf16 gap %.3f)", c, i, ref.logitsTop2Gap()[i]));
                        largest = Math.max(largest, ref.logitsTop2Gap()[i]);
                    }
                }
            }
            decided += caseDecided;
            positions += ids.length;
            report.append(String.format("%s: %d/%d positions decided, argmax agreement on all positions %d/%d; ",
                    c, caseDecided, ids.length, caseSame, ids.length));
        }
        return new Decided(decided, positions, mismatches, largest, report.toString());
    }

    /** One quantized linear's relative output error on one kind of input. */
    record LinearError(String name, String input, double error) {
        @Override
        public String toString() {
            return String.format("%s on %s %.4f", name, input, error);
        }
    }

    /**
     * The relative error of each quantized decoder linear of the golden bf16 model against the same linear
     * with the bf16 weights in float32. The exact inputs are only reachable for {@code qkv_proj} (the input
     * RMSNorm of each layer's traced input, here on the longest forward case); all four linears of each
     * layer also get 64 unit-Gaussian rows, the plainest activation distribution (no outliers).
     *
     * @param bf16 the bf16 model (for the traced hidden states)
     * @param quantized quantizes a float32 weight ({@code (weight, name)}, the weight a private copy); the
     *     layer's resources are closed after use
     */
    static List<LinearError> linearErrors(Phi3VModel bf16, BiFunction<Tensor, String, QuantizedLinear> quantized) {
        List<LinearError> errors = new ArrayList<>();
        String c = "b_two_images";
        Inspection trace = bf16.inspect(GoldenCases.forward(c).ints("input_ids"), GoldenCases.images(c), 1);
        int layers = bf16.config().numHiddenLayers();
        try (Checkpoint ckpt = Checkpoint.open(GoldenCases.modelBf16())) {
            for (int layer = 0; layer < layers; layer++) {
                Inspection.TracedTensor in = trace.get(layer == 0 ? "inputs_embeds" : "layer_" + (layer - 1) + "_output");
                float[] norm;
                try (InferenceScope scope = InferenceScope.open()) {
                    norm = Tensors.toFloats(ckpt.tensor(WeightNames.decoderLayer(layer,
                            WeightNames.INPUT_LAYERNORM)).to(ScalarType.Float));
                }
                float[] x = rmsNorm(in.values(), norm, 1e-5f);
                String qkv = WeightNames.decoderLayer(layer, WeightNames.QKV_PROJ);
                errors.add(new LinearError(qkv, c + " hidden states",
                        relativeError(ckpt, qkv, x, x.length / norm.length, quantized)));
                for (String suffix : QuantizedCheckpoint.LINEARS) {
                    String name = WeightNames.decoderLayer(layer, suffix);
                    long in2 = ckpt.info(name).shape()[1];
                    SplittableRandom r = new SplittableRandom(name.hashCode());
                    float[] g = new float[(int) (64 * in2)];
                    for (int i = 0; i < g.length; i++) {
                        g[i] = (float) gaussian(r);
                    }
                    errors.add(new LinearError(name, "N(0,1)", relativeError(ckpt, name, g, 64, quantized)));
                }
            }
        }
        return errors;
    }

    /** The median of the errors. */
    static double median(List<LinearError> errors) {
        double[] e = errors.stream().mapToDouble(LinearError::error).sorted().toArray();
        return e.length % 2 == 1 ? e[e.length / 2] : (e[e.length / 2 - 1] + e[e.length / 2]) / 2;
    }

    /** {@code x [rows, n] * rsqrt(mean(x^2) + eps) * w}, per row, in double (the model's RMSNorm). */
    private static float[] rmsNorm(float[] x, float[] w, float eps) {
        int n = w.length;
        float[] out = new float[x.length];
        for (int row = 0; row < x.length / n; row++) {
            double ss = 0;
            for (int k = 0; k < n; k++) {
                ss += (double) x[row * n + k] * x[row * n + k];
            }
            double inv = 1.0 / Math.sqrt(ss / n + eps);
            for (int k = 0; k < n; k++) {
                out[row * n + k] = (float) (x[row * n + k] * inv * w[k]);
            }
        }
        return out;
    }

    private static double gaussian(SplittableRandom r) {
        double u = r.nextDouble();
        double v = r.nextDouble();
        return Math.sqrt(-2 * Math.log(1 - u)) * Math.cos(2 * Math.PI * v);
    }

    /**
     * ||quantized(x) - x W^T|| / ||x W^T|| (Frobenius) for the checkpoint weight {@code name} (bf16, upcast
     * exactly to float32 for the reference) on {@code rows} rows of {@code x}.
     */
    private static double relativeError(Checkpoint ckpt, String name, float[] x, int rows,
            BiFunction<Tensor, String, QuantizedLinear> quantized) {
        try (InferenceScope scope = InferenceScope.open()) {
            Tensor w = ckpt.tensor(name).to(ScalarType.Float);
            QuantizedLinear q = quantized.apply(w.clone(), name);
            float[] ref;
            float[] got;
            try {
                Tensor in = Tensors.fromFloats(x, (long) rows, (long) (x.length / rows));
                ref = Tensors.toFloats(torch.matmul(in, w.t()));
                got = Tensors.toFloats(q.apply(in).to(ScalarType.Float));
            } finally {
                q.resources().forEach(org.bytedeco.javacpp.Pointer::close);
            }
            return relativeError(got, ref);
        }
    }

    /** Squared error of {@code w[from, from + n)} rounded to the 16 levels {@code offset + q * scale}, q in 0..15. */
    static double gridError(float[] w, int from, int n, double scale, double offset) {
        double e = 0;
        for (int j = from; j < from + n; j++) {
            double q = Math.max(0, Math.min(15, Math.rint((w[j] - offset) / scale)));
            double d = q * scale + offset - w[j];
            e += d * d;
        }
        return e;
    }

    /** An int4 weight as its kernels dequantize it, {@code (q - 8) * scale + zero}, row-major {@code [out, in]}. */
    static float[] dequantize(Int4Linear.Stored s) {
        float[] scale = Tensors.toFloats(s.scale().to(ScalarType.Float));                     // [out, in / 32]
        float[] zero = Tensors.toFloats(s.zero().to(ScalarType.Float));
        long[] packed = Tensors.toLongs(s.nibbles().to(ScalarType.Long));                      // [out, in / 2]
        float[] out = new float[packed.length * 2];
        for (int i = 0; i < out.length; i++) {
            long q = (packed[i / 2] >> (4 * (i % 2))) & 15;                                   // even column: low nibble
            int g = i / Int4Linear.GROUP_SIZE;
            out[i] = (float) ((q - 8) * (double) scale[g] + zero[g]);
        }
        return out;
    }

    /** ||got - ref|| / ||ref|| (Euclidean, in double). */
    static double relativeError(float[] got, float[] ref) {
        double num = 0;
        double den = 0;
        for (int i = 0; i < ref.length; i++) {
            num += ((double) got[i] - ref[i]) * ((double) got[i] - ref[i]);
            den += (double) ref[i] * ref[i];
        }
        return Math.sqrt(num / den);
    }
}
