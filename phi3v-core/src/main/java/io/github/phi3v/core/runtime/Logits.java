package io.github.phi3v.core.runtime;

import java.util.Arrays;

/**
 * Small numeric helpers over one row of logits: argmax, softmax, argsort. Stateless.
 *
 * <pre>{@code
 * int best = Logits.argmax(logits);          // first index on ties, like torch.argmax
 * double[] p = Logits.softmax(logits);       // -Infinity logits get probability 0
 * }</pre>
 */
public final class Logits {

    private Logits() {
    }

    /**
     * Index of the largest logit; the first such index on ties (the semantics of {@code torch.argmax}).
     *
     * @param logits the logits, none NaN
     * @return the index of the maximum
     * @throws IllegalArgumentException if {@code logits} is empty or contains NaN
     */
    public static int argmax(float[] logits) {
        if (logits.length == 0) {
            throw new IllegalArgumentException("cannot take the argmax of 0 logits");
        }
        int best = 0;
        float bestValue = logits[0];
        for (int i = 0; i < logits.length; i++) {
            float v = logits[i];
            if (Float.isNaN(v)) {
                throw new IllegalArgumentException("logit " + i + " is NaN; the model produced invalid output");
            }
            if (v > bestValue) {
                best = i;
                bestValue = v;
            }
        }
        return best;
    }

    /**
     * Softmax in double precision, shifted by the maximum for stability; {@code -Infinity} gives 0.
     *
     * @param logits the logits, at least one finite
     * @return probabilities summing to 1
     * @throws IllegalArgumentException if no logit is finite-or-positive-infinite (all are
     *     {@code -Infinity}) or one is NaN
     */
    public static double[] softmax(float[] logits) {
        float max = logits[argmax(logits)];
        if (max == Float.NEGATIVE_INFINITY) {
            throw new IllegalArgumentException("all " + logits.length + " logits are -Infinity; nothing to sample");
        }
        double[] p = new double[logits.length];
        double sum = 0;
        for (int i = 0; i < p.length; i++) {
            double e = Math.exp((double) logits[i] - max);
            p[i] = e;
            sum += e;
        }
        for (int i = 0; i < p.length; i++) {
            p[i] /= sum;
        }
        return p;
    }

    /**
     * Indices ordered by ascending logit; equal logits keep ascending index order (a stable sort).
     *
     * @param logits the logits, none NaN
     * @return the permutation
     */
    public static int[] argsortAscending(float[] logits) {
        // Pack (order-preserving int image of the float, index) into one long and sort primitives: the
        // boxed-comparator alternative is several times slower on a 32k vocabulary.
        long[] keys = new long[logits.length];
        for (int i = 0; i < logits.length; i++) {
            int bits = Float.floatToIntBits(logits[i]);
            int ordered = bits < 0 ? bits ^ 0x7fffffff : bits;
            keys[i] = ((long) ordered << 32) | i;
        }
        Arrays.sort(keys);
        int[] order = new int[keys.length];
        for (int i = 0; i < keys.length; i++) {
            order[i] = (int) keys[i];
        }
        return order;
    }
}
