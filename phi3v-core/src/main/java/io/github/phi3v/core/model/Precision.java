package io.github.phi3v.core.model;

import java.util.Locale;

import org.bytedeco.pytorch.global.torch.ScalarType;

import io.github.phi3v.core.runtime.CpuFeatures;

/** The dtype weights are converted to at load and activations are computed in. */
public enum Precision {
    /** IEEE float32: reference accuracy, twice the memory of the 16-bit types. */
    FLOAT32("float32"),
    /** bfloat16: the CPU default where the CPU has bf16 instructions. */
    BFLOAT16("bfloat16"),
    /** IEEE float16: mainly for CUDA. */
    FLOAT16("float16");

    private final String label;

    Precision(String label) {
        this.label = label;
    }

    /**
     * The PyTorch name ("float32", "bfloat16", "float16").
     *
     * @return {@code "float32"}, {@code "bfloat16"} or {@code "float16"}
     */
    public String label() {
        return label;
    }

    /**
     * Parses a PyTorch-style name ("float32"/"fp32"/"f32", "bfloat16"/"bf16", "float16"/"fp16"/"half").
     *
     * @param name the name, case-insensitive, surrounding spaces ignored
     * @return the precision
     * @throws IllegalArgumentException for an unknown name
     */
    public static Precision parse(String name) {
        String n = name.trim().toLowerCase(Locale.ROOT);
        return switch (n) {
            case "float32", "fp32", "f32", "float" -> FLOAT32;
            case "bfloat16", "bf16" -> BFLOAT16;
            case "float16", "fp16", "f16", "half" -> FLOAT16;
            default -> throw new IllegalArgumentException("unknown dtype '" + name
                    + "': expected float32, bfloat16 or float16");
        };
    }

    /**
     * The CPU default: {@link #BFLOAT16} when the CPU has native bf16 arithmetic (x86 AVX512-BF16 or
     * AMX, or ARM's bf16 extension), {@link #FLOAT32} otherwise (bf16 emulated is slower than f32).
     *
     * @return {@link #BFLOAT16} or {@link #FLOAT32}
     */
    public static Precision cpuDefault() {
        return cpuHasBf16() ? BFLOAT16 : FLOAT32;
    }

    /**
     * True when /proc/cpuinfo lists avx512_bf16, amx_bf16 or (ARM) bf16. False when unknown.
     *
     * @return whether the CPU has native bf16 arithmetic (false if /proc/cpuinfo cannot be read)
     */
    public static boolean cpuHasBf16() {
        return CpuFeatures.has("avx512_bf16") || CpuFeatures.has("amx_bf16") || CpuFeatures.has("bf16");
    }

    ScalarType scalarType() {
        return switch (this) {
            case FLOAT32 -> ScalarType.Float;
            case BFLOAT16 -> ScalarType.BFloat16;
            case FLOAT16 -> ScalarType.Half;
        };
    }
}
