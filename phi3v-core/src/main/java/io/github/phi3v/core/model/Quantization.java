package io.github.phi3v.core.model;

import java.util.Locale;

/** Optional weight quantization applied at load ({@link ModelOptions#quantization()}). */
public enum Quantization {
    /** Weights stay in the model's {@link Precision}. */
    NONE,
    /**
     * Weight-only int8 for the decoder layers' linear weights ({@code qkv_proj}, {@code o_proj},
     * {@code gate_up_proj}, {@code down_proj}): symmetric, one float32 scale per output channel. CLIP, the
     * image projection, the embeddings and {@code lm_head} keep the model precision. Decode reads about
     * half the bytes of bf16; CPU only (fbgemm kernels).
     */
    INT8,
    /**
     * Weight-only int4 for the same decoder linears: groups of 32 input columns share a scale and a zero
     * (asymmetric; 8-bit codes of a power of two per 8 groups, exact in bf16:
     * {@link io.github.phi3v.core.runtime.Int4ScaleCodes}), activations stay in the model precision; the project's
     * native kernel where it runs, else ATen's {@code _weight_int4pack_mm_for_cpu}. Decode reads about 0.29x the
     * linears' bytes of bf16 (4.56 bits per weight); CPU only.
     */
    INT4;

    /** Input columns per scale/zero group of {@link #INT4} weights (the kernel's smallest group, lowest error). */
    public static final int INT4_GROUP_SIZE = 32;

    /**
     * Parses {@code none}, {@code int8} or {@code int4} (case-insensitive).
     *
     * @param name the name
     * @return the quantization
     * @throws IllegalArgumentException for any other name
     */
    public static Quantization parse(String name) {
        return switch (name.trim().toLowerCase(Locale.ROOT)) {
            case "none", "off", "no" -> NONE;
            case "int8", "q8", "i8" -> INT8;
            case "int4", "q4", "i4" -> INT4;
            default -> throw new IllegalArgumentException("unknown quantization '" + name
                    + "': expected none, int8 or int4");
        };
    }
}
