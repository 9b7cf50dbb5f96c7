package io.github.phi3v.core.weights;

import java.util.Optional;

/** The tensor element types the loader accepts, with their safetensors names and sizes. */
public enum DType {
    /** IEEE 754 binary32, safetensors {@code F32}. */
    F32("F32", 4),
    /** bfloat16 (the upper half of a binary32), safetensors {@code BF16}. */
    BF16("BF16", 2),
    /** IEEE 754 binary16, safetensors {@code F16}. */
    F16("F16", 2);

    private final String safetensorsName;
    private final int byteSize;

    DType(String safetensorsName, int byteSize) {
        this.safetensorsName = safetensorsName;
        this.byteSize = byteSize;
    }

    /**
     * Bytes per element.
     *
     * @return 4 for F32, 2 for BF16 and F16
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
     * Looks up a safetensors dtype name.
     *
     * @param name a header's {@code dtype} value, e.g. {@code "F32"}
     * @return the dtype, or empty if the name is not one of the accepted ones
     */
    public static Optional<DType> fromSafetensorsName(String name) {
        for (DType d : values()) {
            if (d.safetensorsName.equals(name)) {
                return Optional.of(d);
            }
        }
        return Optional.empty();
    }
}
