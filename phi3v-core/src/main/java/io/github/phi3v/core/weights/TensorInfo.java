package io.github.phi3v.core.weights;

import java.nio.file.Path;
import java.util.Arrays;

/**
 * Where one tensor lives: its dtype and shape and the absolute byte range in its file. Validated by the
 * reader (byte length = element count × element size). Immutable: the shape is copied in and out.
 *
 * @param name the checkpoint name, e.g. {@code model.layers.0.self_attn.qkv_proj.weight}
 * @param dtype the stored element type
 * @param shape the dimensions (empty for a scalar)
 * @param file the safetensors file holding it
 * @param fileOffset absolute offset of the first byte in {@code file}
 * @param byteLength number of bytes
 */
public record TensorInfo(String name, DType dtype, long[] shape, Path file, long fileOffset, long byteLength) {

    /**
     * Copies the shape.
     *
     * @param name the checkpoint name
     * @param dtype the stored element type
     * @param shape the dimensions (empty for a scalar); copied
     * @param file the safetensors file holding it
     * @param fileOffset absolute offset of the first byte in {@code file}
     * @param byteLength number of bytes of the data
     */
    public TensorInfo {
        shape = shape.clone();
    }

    /**
     * A copy of the dimensions.
     *
     * @return a new array (empty for a scalar)
     */
    @Override
    public long[] shape() {
        return shape.clone();
    }

    /**
     * Number of dimensions.
     *
     * @return the rank, 0 for a scalar
     */
    public int rank() {
        return shape.length;
    }

    /**
     * One dimension.
     *
     * @param i the dimension index, 0-based
     * @return its size
     */
    public long dim(int i) {
        return shape[i];
    }

    /**
     * Number of elements (1 for a scalar).
     *
     * @return the product of the dimensions
     */
    public long numel() {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return n;
    }

    /** Value equality including the shape's contents. */
    @Override
    public boolean equals(Object o) {
        return o instanceof TensorInfo t && name.equals(t.name) && dtype == t.dtype && Arrays.equals(shape, t.shape)
                && file.equals(t.file) && fileOffset == t.fileOffset && byteLength == t.byteLength;
    }

    /** Hash consistent with {@link #equals}. */
    @Override
    public int hashCode() {
        return (name.hashCode() * 31 + Arrays.hashCode(shape)) * 31 + Long.hashCode(fileOffset);
    }

    /** Name, dtype, shape and byte range. */
    @Override
    public String toString() {
        return name + " " + dtype + Arrays.toString(shape) + " @" + file.getFileName() + "[" + fileOffset + ", "
                + (fileOffset + byteLength) + ")";
    }
}
