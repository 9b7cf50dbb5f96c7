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
    INT8;

    /**
     * Parses {@code none} or {@code int8} (case-insensitive).
     *
     * @param name the name
     * @return the quantization
     * @throws IllegalArgumentException for any other name
     */
    public static Quantization parse(String name) {
        return switch (name.trim().toLowerCase(Locale.ROOT)) {
            case "none", "off", "no" -> NONE;
            case "int8", "q8", "i8" -> INT8;
            default -> throw new IllegalArgumentException("unknown quantization '" + name + "': expected none or int8");
        };
    }
}
