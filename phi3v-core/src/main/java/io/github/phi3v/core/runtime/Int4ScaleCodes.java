package io.github.phi3v.core.runtime;

/**
 * The rule an int4 weight's group scales and zeros follow, so that the native kernels can stream them as one byte
 * each instead of two: along each output row, every run of {@value #GROUPS_PER_BLOCK} groups (a block; the last
 * one of a row may be shorter) shares two powers of two, {@code 2^es} and {@code 2^ez}, and each group's
 * {@code scale = cs · 2^es} with an integer code {@code cs} in {@code 0..}{@value #SCALE_CODES} and
 * {@code zero = cz · 2^ez} with {@code cz} in {@code -}{@value #ZERO_CODES}{@code ..}{@value #ZERO_CODES}. Such
 * values are exact in bf16 (a code has at most 8 significant bits), so the stored form and ATen's kernel keep
 * their bf16 scales and zeros and compute the same values as the native kernels, which rebuild each float from
 * its byte and the block's exponent ({@code phi3v_int4.h}).
 *
 * <p>Why: the scales and zeros were 4 of the 20 bytes a decode step reads per 32 weights; as codes they are 2, plus
 * 4 bytes of exponents per 16 rows and block (4.56 instead of 5 bits per weight). On Gaussian weights and on the
 * golden model the rounding to codes cost nothing measurable (docs/benchmarks.md, "int4 scales and zeros as
 * 8-bit codes").
 *
 * <p>The exponent of a block is the smallest {@code e >= }{@value #MIN_EXPONENT} with {@code max |value| <= codes ·
 * 2^e} ({@link #exponent}): the quantizer rounds to codes of that exponent ({@link #round}), and any values that
 * follow the rule at all are integer multiples of it, so {@link #encode} finds the codes of every conforming
 * weight. Stateless; thread-safe.
 */
public final class Int4ScaleCodes {

    /** Groups of 32 columns per block along an output row, sharing the block's two exponents. */
    public static final int GROUPS_PER_BLOCK = 8;
    /** Largest scale code (unsigned byte): scales {@code 0 .. 255 · 2^es}. */
    public static final int SCALE_CODES = 255;
    /** Largest zero code magnitude (signed byte): zeros {@code -127 · 2^ez .. 127 · 2^ez}. */
    public static final int ZERO_CODES = 127;
    /** Smallest exponent: {@code 2^e} stays a normal float32, which the kernels build from its exponent bits. */
    public static final int MIN_EXPONENT = -126;

    private Int4ScaleCodes() {
    }

    /**
     * The exponent of a block whose values' largest magnitude is {@code max}: the smallest {@code e >=}
     * {@value #MIN_EXPONENT} with {@code max <= codes · 2^e}; 0 for a block of zeros.
     *
     * @param max the largest magnitude, finite and {@code >= 0}
     * @param codes {@link #SCALE_CODES} or {@link #ZERO_CODES}
     * @return the exponent
     */
    public static int exponent(double max, int codes) {
        if (max == 0) {
            return 0;
        }
        int e = Math.getExponent(max / codes);               // floor(log2(max / codes)): codes 2^e <= max
        if (Math.scalb((double) codes, e) < max) {
            e++;
        }
        return Math.max(e, MIN_EXPONENT);
    }

    /**
     * Rounds each group's value to the nearest code of its block's {@link #exponent}, in place: what the quantizer
     * stores.
     *
     * @param v {@code [rows, groups]} row-major, finite; scales {@code > 0} (they round to at least code 1)
     * @param rows rows
     * @param groups groups per row
     * @param scales true for scales (codes {@code 1..255}), false for zeros ({@code -127..127})
     */
    public static void round(float[] v, int rows, int groups, boolean scales) {
        int codes = scales ? SCALE_CODES : ZERO_CODES;
        for (int r = 0; r < rows; r++) {
            for (int b = 0; b < groups; b += GROUPS_PER_BLOCK) {
                int from = r * groups + b;
                int to = from + Math.min(GROUPS_PER_BLOCK, groups - b);
                int e = exponent(largest(v, from, to), codes);
                for (int i = from; i < to; i++) {
                    double c = Math.rint(Math.scalb((double) v[i], -e));
                    v[i] = (float) Math.scalb(Math.max(scales ? 1 : -codes, Math.min(codes, c)), e);
                }
            }
        }
    }

    /**
     * The codes and exponents of a weight's scales or zeros that follow the rule.
     *
     * @param codes {@code [rows, groups]} the codes (zeros' as signed bytes)
     * @param exponents {@code [rows, blocks]} each block's exponent, {@code blocks = ceil(groups / 8)}
     */
    public record Encoded(byte[] codes, byte[] exponents) {
    }

    /**
     * The codes of values that follow the rule.
     *
     * @param v {@code [rows, groups]} row-major
     * @param rows rows
     * @param groups groups per row
     * @param scales true for scales ({@code >= 0}), false for zeros
     * @param what what the values are, for the message
     * @return the codes and exponents
     * @throws IllegalArgumentException naming the first value that does not follow the rule
     */
    public static Encoded encode(float[] v, int rows, int groups, boolean scales, String what) {
        int codes = scales ? SCALE_CODES : ZERO_CODES;
        int blocks = blocks(groups);
        byte[] c = new byte[rows * groups];
        byte[] x = new byte[rows * blocks];
        for (int r = 0; r < rows; r++) {
            for (int b = 0; b < blocks; b++) {
                int from = r * groups + b * GROUPS_PER_BLOCK;
                int to = from + Math.min(GROUPS_PER_BLOCK, groups - b * GROUPS_PER_BLOCK);
                double max = largest(v, from, to);
                if (!Double.isFinite(max)) {
                    throw new IllegalArgumentException(what + ": row " + r + " holds a value that is not finite");
                }
                int e = exponent(max, codes);
                for (int i = from; i < to; i++) {
                    double q = Math.scalb((double) v[i], -e);
                    if (q != Math.rint(q) || q < (scales ? 0 : -codes) || q > codes) {
                        throw new IllegalArgumentException(what + ": row " + r + ", group " + (i - r * groups)
                                + " holds " + v[i] + ", not " + (scales ? "0.." : "-" + codes + "..") + codes
                                + " times 2^" + e + " (the groups " + (b * GROUPS_PER_BLOCK) + ".." + (to - 1 - r * groups)
                                + " of a row share one power of two; docs/model-loading.md): written by an earlier"
                                + " phi3v or another tool; quantize the model again with phi3v quantize");
                    }
                    c[i] = (byte) q;
                }
                x[r * blocks + b] = (byte) e;
            }
        }
        return new Encoded(c, x);
    }

    /** Blocks per row of {@code groups} groups. */
    public static int blocks(int groups) {
        return (groups + GROUPS_PER_BLOCK - 1) / GROUPS_PER_BLOCK;
    }

    private static double largest(float[] v, int from, int to) {
        double max = 0;
        for (int i = from; i < to; i++) {
            double a = Math.abs((double) v[i]);
            if (Double.isNaN(a)) {
                return a;                                    // the caller refuses it
            }
            max = Math.max(max, a);
        }
        return max;
    }
}
