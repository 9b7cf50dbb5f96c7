package io.github.phi3v.core.config;

import java.util.Arrays;

/**
 * Phi-3 "su" / LongRoPE rotary scaling: one factor per rotary frequency (head_dim / 2 of each), the
 * short set used while the sequence fits {@code original_max_position_embeddings}, the long set beyond.
 * Immutable: the arrays are copied in and out.
 *
 * @param type {@code "su"} or its newer spelling {@code "longrope"} (same algorithm)
 * @param shortFactor per-frequency divisors for short sequences; all positive and finite
 * @param longFactor per-frequency divisors for long sequences; same length as {@code shortFactor}
 */
public record RopeScaling(String type, double[] shortFactor, double[] longFactor) {

    /**
     * Validates the type and the factor values and copies the arrays.
     *
     * @param type {@code "su"} or {@code "longrope"}
     * @param shortFactor per-frequency divisors for short sequences; non-empty, all positive and finite
     * @param longFactor per-frequency divisors for long sequences; same length as {@code shortFactor},
     *     all positive and finite
     * @throws InvalidConfigException if a rule is broken
     */
    public RopeScaling {
        if (!"su".equals(type) && !"longrope".equals(type)) {
            throw new InvalidConfigException("config.json: rope_scaling.type: expected \"su\" or \"longrope\", found "
                    + (type == null ? "no value" : "\"" + type + "\""));
        }
        shortFactor = checked("short_factor", shortFactor);
        longFactor = checked("long_factor", longFactor);
        if (shortFactor.length != longFactor.length) {
            throw new InvalidConfigException("config.json: rope_scaling.long_factor: expected " + shortFactor.length
                    + " values (as many as short_factor), found " + longFactor.length);
        }
    }

    private static double[] checked(String field, double[] factors) {
        if (factors == null || factors.length == 0) {
            throw new InvalidConfigException("config.json: rope_scaling." + field
                    + ": expected a non-empty list of numbers, found " + (factors == null ? "no value" : "[]"));
        }
        for (int i = 0; i < factors.length; i++) {
            if (!(factors[i] > 0) || Double.isInfinite(factors[i])) {
                throw new InvalidConfigException("config.json: rope_scaling." + field + "[" + i
                        + "]: expected a positive finite number, found " + factors[i]);
            }
        }
        return factors.clone();
    }

    /**
     * A copy of the short factors.
     *
     * @return a new array of {@link #size()} values
     */
    @Override
    public double[] shortFactor() {
        return shortFactor.clone();
    }

    /**
     * A copy of the long factors.
     *
     * @return a new array of {@link #size()} values
     */
    @Override
    public double[] longFactor() {
        return longFactor.clone();
    }

    /**
     * Number of factors per set (= head_dim / 2 in a valid config).
     *
     * @return the length of each factor set
     */
    public int size() {
        return shortFactor.length;
    }

    /** Value equality over the type and both factor arrays. */
    @Override
    public boolean equals(Object o) {
        return o instanceof RopeScaling r && type.equals(r.type) && Arrays.equals(shortFactor, r.shortFactor)
                && Arrays.equals(longFactor, r.longFactor);
    }

    /** Hash over the type and both factor arrays. */
    @Override
    public int hashCode() {
        return 31 * (31 * type.hashCode() + Arrays.hashCode(shortFactor)) + Arrays.hashCode(longFactor);
    }

    /** The type and the factor lists. */
    @Override
    public String toString() {
        return "RopeScaling[type=" + type + ", shortFactor=" + Arrays.toString(shortFactor) + ", longFactor="
                + Arrays.toString(longFactor) + "]";
    }

    /**
     * Reads the {@code rope_scaling} object; null when it is absent or JSON null (plain RoPE). Each factor
     * list must have head_dim / 2 entries (checked here so the message names the list that is wrong).
     */
    static RopeScaling from(JsonFields f, int hiddenSize, int numAttentionHeads) {
        if (f == null) {
            return null;
        }
        try {
            String type = f.optionalString("type", f.optionalString("rope_type", null));
            double[] shortFactor = doubles(f, "short_factor");
            double[] longFactor = doubles(f, "long_factor");
            if (numAttentionHeads > 0 && hiddenSize % numAttentionHeads == 0) {
                int expected = hiddenSize / numAttentionHeads / 2;
                for (String field : new String[] {"short_factor", "long_factor"}) {
                    int found = (field.equals("short_factor") ? shortFactor : longFactor).length;
                    if (found != expected) {
                        throw f.error(field, expected + " values (head_dim / 2 = " + hiddenSize + " / "
                                + numAttentionHeads + " / 2)", found + " values");
                    }
                }
            }
            return new RopeScaling(type, shortFactor, longFactor);
        } catch (InvalidConfigException e) {
            throw Phi3VConfig.resourced(e, f.source());
        }
    }

    private static double[] doubles(JsonFields f, String field) {
        if (!f.has(field)) {
            throw f.error(field, "a list of numbers", "no value");
        }
        var node = f.raw(field);
        if (!node.isArray()) {
            throw f.error(field, "a list of numbers", JsonFields.describe(node));
        }
        double[] out = new double[node.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = f.toDouble(field + "[" + i + "]", node.get(i));
        }
        return out;
    }
}
