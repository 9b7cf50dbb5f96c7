package io.github.phi3v.core.model;

import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import io.github.phi3v.core.config.Phi3VConfig;
import io.github.phi3v.core.config.RopeScaling;
import io.github.phi3v.core.runtime.Tensors;

/**
 * Phi-3's "su"/LongRoPE rotary embedding.
 *
 * <p>{@code inv_freq[i] = 1 / (factor[i] · θ^(2i/d))} with the short factors while the whole sequence
 * is at most {@code original_max_position_embeddings} long and the long factors beyond; cos and sin
 * are multiplied by {@code sqrt(1 + ln(max_pos / orig_max) / ln(orig_max))}. The float32 arithmetic
 * follows the official code step by step (same ops, same order) so angles agree to the ulp.
 *
 * <p>Unlike the official code, the factor set is a property of the whole sequence, not of one
 * forward call: {@link Phi3VModel} recomputes the cached prefix when a sequence crosses the threshold
 * (see docs/longrope.md).
 */
final class LongRopeEmbedding {

    private final Tensor invFreqShort;   // [d/2] float32, CPU
    private final Tensor invFreqLong;    // [d/2] float32, CPU
    private final Scalar scaling;
    private final int originalMax;
    private final boolean switches;
    private final int headDim;

    LongRopeEmbedding(WeightLoader w, Phi3VConfig cfg) {
        this.headDim = cfg.headDim();
        RopeScaling rs = cfg.ropeScaling();
        double[] ones = new double[headDim / 2];
        java.util.Arrays.fill(ones, 1.0);
        this.invFreqShort = w.own(invFreq(cfg.ropeTheta(), rs == null ? ones : rs.shortFactor()));
        this.invFreqLong = w.own(invFreq(cfg.ropeTheta(), rs == null ? ones : rs.longFactor()));
        this.switches = rs != null;
        this.originalMax = cfg.originalMaxPositionEmbeddings();
        double scale = (double) cfg.maxPositionEmbeddings() / cfg.originalMaxPositionEmbeddings();
        double factor = rs == null || scale <= 1.0 ? 1.0
                : Math.sqrt(1 + Math.log(scale) / Math.log(cfg.originalMaxPositionEmbeddings()));
        this.scaling = w.own(new Scalar(factor));
    }

    /** {@code 1 / (factor · θ^(arange(0, d, 2).float() / d))} in float32, like the official code. */
    private Tensor invFreq(double theta, double[] factors) {
        float[] f = new float[factors.length];
        for (int i = 0; i < f.length; i++) {
            f[i] = (float) factors[i];
        }
        try (io.github.phi3v.core.runtime.InferenceScope scope = io.github.phi3v.core.runtime.InferenceScope.open();
             Scalar start = new Scalar(0L);
             Scalar end = new Scalar((long) headDim);
             Scalar step = new Scalar(2L);
             Scalar dim = new Scalar((long) headDim);
             Scalar base = new Scalar(theta);
             TensorOptions longs = new TensorOptions(ScalarType.Long)) {
            Tensor exponent = torch.div(torch.arange(start, end, step, longs).to(ScalarType.Float), dim);
            Tensor denominator = torch.mul(Tensors.fromFloats(f, f.length), torch.pow(base, exponent));
            return scope.keep(torch.reciprocal(denominator));
        }
    }

    /** True when the factor set depends on the sequence length (a {@code rope_scaling} is configured). */
    boolean switchesFactors() {
        return switches;
    }

    /** True when a sequence of {@code length} tokens uses the long factors. */
    boolean isLong(long length) {
        return switches && length > originalMax;
    }

    /**
     * The rotary tables of some positions, each {@code [n, d]}: {@code cos}, and {@code sin} with the sign of
     * {@code rotate_half} folded into its first half ({@code [-sin, sin]}, the two halves of the official
     * {@code sin} being equal), so that {@link #apply} needs a roll instead of a negation and a concatenation.
     */
    record CosSin(Tensor cos, Tensor sin) {
    }

    /** Angles {@code position · inv_freq} as float32 {@code [n, d/2]} (one rounding, like the official matmul). */
    private Tensor angles(long start, long n, boolean longFactors) {
        try (Scalar s = new Scalar(start);
             Scalar e = new Scalar(start + n);
             TensorOptions floats = new TensorOptions(ScalarType.Float)) {
            Tensor positions = torch.arange(s, e, floats);                          // [n]
            return torch.outer(positions, longFactors ? invFreqLong : invFreqShort); // [n, d/2]
        }
    }

    /**
     * cos and signed sin ({@link CosSin}) for positions {@code start .. start+n-1} with the given factor set, in
     * {@code dtype} on {@code device}.
     */
    CosSin cosSin(long start, long n, boolean longFactors, ScalarType dtype, Device device) {
        Tensor freqs = angles(start, n, longFactors);                            // [n, d/2]
        Tensor emb = torch.cat(new TensorVector(freqs, freqs), 1);               // [n, d]
        Tensor cos = torch.mul(torch.cos(emb), scaling);
        Tensor half = torch.mul(torch.sin(freqs), scaling);                      // [n, d/2]: each half of sin(emb)
        Tensor signedSin = torch.cat(new TensorVector(torch.neg(half), half), 1);  // [n, d]; negation is exact
        return new CosSin(cos.to(device, dtype), signedSin.to(device, dtype));
    }

    /**
     * {@code x·cos + rotate_half(x)·sin} over the last dimension, bit for bit: {@code rotate_half(x)·sin =
     * [-x2, x1]·[s, s] = [x2, x1]·[-s, s]}, and IEEE rounding is symmetric in the sign, so rolling {@code x} by
     * half and multiplying by the signed sin rounds to the same values. {@code x} is {@code [..., n, d]}, the
     * tables {@code [n, d]}; the queries and keys of a layer go through in one call.
     */
    static Tensor apply(Tensor x, CosSin cs) {
        return torch.add(torch.mul(x, cs.cos()), torch.mul(torch.roll(x, new long[] {x.size(-1) / 2}, -1), cs.sin()));
    }
}
