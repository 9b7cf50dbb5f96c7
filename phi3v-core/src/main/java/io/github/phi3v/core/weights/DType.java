package io.github.phi3v.core.weights;

import java.util.Locale;
import java.util.Optional;

import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * The element types of safetensors checkpoints, with their header names and sizes: the one list shared by
 * the reader ({@link SafetensorsFile}, which accepts the {@linkplain #isWeightType() weight types}) and the
 * writer ({@link SafetensorsWriter}, which writes all of them).
 */
public enum DType {
    /** IEEE 754 binary64, safetensors {@code F64}. Written (e.g. golden statistics), not loaded as weights. */
    F64("F64", 8, true, false, ScalarType.Double),
    /** IEEE 754 binary32, safetensors {@code F32}. */
    F32("F32", 4, true, true, ScalarType.Float),
    /** bfloat16 (the upper half of a binary32), safetensors {@code BF16}. */
    BF16("BF16", 2, true, true, ScalarType.BFloat16),
    /** IEEE 754 binary16, safetensors {@code F16}. */
    F16("F16", 2, true, true, ScalarType.Half),
    /** Signed 64-bit integer, safetensors {@code I64} (e.g. {@code input_ids}). Not loaded as weights. */
    I64("I64", 8, false, false, ScalarType.Long),
    /** Signed 32-bit integer, safetensors {@code I32}. Not loaded as weights. */
    I32("I32", 4, false, false, ScalarType.Int),
    /** Signed 8-bit integer, safetensors {@code I8}: int8 weights of a pre-quantized checkpoint. */
    I8("I8", 1, false, true, ScalarType.Char),
    /** Unsigned 8-bit integer, safetensors {@code U8}: packed int4 weights (two per byte) of a pre-quantized checkpoint. */
    U8("U8", 1, false, true, ScalarType.Byte);

    private final String safetensorsName;
    private final int byteSize;
    private final boolean floating;
    private final boolean weightType;
    private final ScalarType scalarType;

    DType(String safetensorsName, int byteSize, boolean floating, boolean weightType, ScalarType scalarType) {
        this.safetensorsName = safetensorsName;
        this.byteSize = byteSize;
        this.floating = floating;
        this.weightType = weightType;
        this.scalarType = scalarType;
    }

    /**
     * Bytes per element.
     *
     * @return 8 for F64 and I64, 4 for F32 and I32, 2 for BF16 and F16, 1 for I8 and U8
     */
    public int byteSize() {
        return byteSize;
    }

    /**
     * The dtype's name in a safetensors header.
     *
     * @return e.g. {@code "BF16"}
     */
    public String safetensorsName() {
        return safetensorsName;
    }

    /**
     * The libtorch element type of the same name.
     *
     * @return e.g. {@code ScalarType.BFloat16} for BF16
     */
    public ScalarType scalarType() {
        return scalarType;
    }

    /**
     * Whether elements are floating-point numbers (written with {@link SafetensorsWriter.Sink#put(float)}).
     *
     * @return false for I64, I32, I8 and U8, true otherwise
     */
    public boolean isFloating() {
        return floating;
    }

    /**
     * Whether model weights may be stored in this type: the checkpoint reader accepts exactly these
     * (F32, BF16, F16, and I8/U8 for the quantized weights of a pre-quantized checkpoint) and reports any
     * other dtype in a header as an invalid checkpoint. The model loader accepts I8/U8 tensors only where a
     * pre-quantized checkpoint's {@code quantization_config} puts them.
     *
     * @return true for F32, BF16, F16, I8 and U8
     */
    public boolean isWeightType() {
        return weightType;
    }

    /**
     * Looks up a safetensors dtype name, exactly as a header spells it.
     *
     * @param name a header's {@code dtype} value, e.g. {@code "F32"}
     * @return the dtype, or empty if the name is none of this enum's
     */
    public static Optional<DType> fromSafetensorsName(String name) {
        for (DType d : values()) {
            if (d.safetensorsName.equals(name)) {
                return Optional.of(d);
            }
        }
        return Optional.empty();
    }

    /**
     * Parses a safetensors dtype name or a PyTorch-style name ({@code "F32"}, {@code "float32"},
     * {@code "bf16"}, ...), for command-line options.
     *
     * @param name the name, case-insensitive
     * @return the dtype
     * @throws IllegalArgumentException naming the accepted values
     */
    public static DType parse(String name) {
        String n = name.trim().toLowerCase(Locale.ROOT);
        return switch (n) {
            case "f64", "float64", "double" -> F64;
            case "f32", "float32", "fp32", "float" -> F32;
            case "bf16", "bfloat16" -> BF16;
            case "f16", "float16", "fp16", "half" -> F16;
            case "i64", "int64", "long" -> I64;
            case "i32", "int32", "int" -> I32;
            case "i8", "int8" -> I8;
            case "u8", "uint8" -> U8;
            default -> throw new IllegalArgumentException("unknown dtype '" + name
                    + "': expected one of F32, BF16, F16, F64, I64, I32, I8, U8 (or float32, bfloat16, float16, ...)");
        };
    }
}
