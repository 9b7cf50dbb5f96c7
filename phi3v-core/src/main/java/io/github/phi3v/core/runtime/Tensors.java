package io.github.phi3v.core.runtime;

import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * New CPU tensors, and copies between Java arrays and CPU tensors. The returned tensors belong to the
 * caller's current {@link InferenceScope} (or to nobody, outside a scope: then the caller closes them).
 */
public final class Tensors {

    private Tensors() {
    }

    /**
     * The tensor's dtype as the canonical enum constant. JavaCPP returns a fresh {@code ScalarType}
     * object from {@code Tensor.scalar_type()} that prints as, but is not {@code ==} to,
     * {@code ScalarType.Float}; every dtype comparison must go through this method (or {@code intern()}).
     *
     * @param t the tensor
     * @return its dtype, comparable with {@code ==}
     */
    public static ScalarType dtype(Tensor t) {
        return t.scalar_type().intern();
    }

    /**
     * A new uninitialised CPU tensor, contiguous: the output buffer of a kernel that writes every element.
     *
     * @param dtype its dtype
     * @param shape the dimensions, all >= 0
     * @return a new tensor owned by the current scope, if any
     */
    public static Tensor empty(ScalarType dtype, long... shape) {
        try (TensorOptions opts = new TensorOptions(dtype);
             MemoryFormatOptional fmt = new MemoryFormatOptional()) {
            return torch.empty(shape, opts, fmt);
        }
    }

    /**
     * A new float32 CPU tensor of the given shape holding a copy of {@code data}.
     *
     * @param data the values, row-major; length must equal the product of {@code shape}
     * @param shape the dimensions, all ≥ 0
     * @return a new tensor owned by the current scope, if any
     */
    public static Tensor fromFloats(float[] data, long... shape) {
        checkCount(data.length, shape);
        Tensor t = empty(ScalarType.Float, shape);
        if (data.length > 0) {
            t.data_ptr_float().put(data);
        }
        return t;
    }

    /**
     * A new float32 CPU tensor of the given shape holding a copy of {@code data[offset .. offset+length)}
     * (e.g. the real crops at the front of a padded pixel array).
     *
     * @param data the source array
     * @param offset index of the first value copied
     * @param length number of values copied; must equal the product of {@code shape}
     * @param shape the dimensions, all ≥ 0
     * @return a new tensor owned by the current scope, if any
     * @throws IllegalArgumentException if the range lies outside {@code data} or does not match the shape
     */
    public static Tensor fromFloats(float[] data, int offset, int length, long... shape) {
        if (offset < 0 || length < 0 || offset > data.length - length) {
            throw new IllegalArgumentException("range [" + offset + ", " + offset + " + " + length
                    + ") is outside an array of " + data.length);
        }
        checkCount(length, shape);
        Tensor t = empty(ScalarType.Float, shape);
        if (length > 0) {
            t.data_ptr_float().put(data, offset, length);
        }
        return t;
    }

    /**
     * A new int64 CPU tensor of the given shape holding a copy of {@code data}.
     *
     * @param data the values, row-major; length must equal the product of {@code shape}
     * @param shape the dimensions, all ≥ 0
     * @return a new tensor owned by the current scope, if any
     */
    public static Tensor fromLongs(long[] data, long... shape) {
        checkCount(data.length, shape);
        Tensor t = empty(ScalarType.Long, shape);
        if (data.length > 0) {
            t.data_ptr_long().put(data);
        }
        return t;
    }

    /**
     * The values of {@code t} (any float dtype, any device) as float32, in C order.
     *
     * @param t the tensor; not modified
     * @return a new array of {@code t.numel()} values
     */
    public static float[] toFloats(Tensor t) {
        try (InferenceScope ignored = InferenceScope.open()) {
            Tensor f = t.to(ScalarType.Float);
            if (f.is_cuda()) {
                f = f.cpu();
            }
            f = f.contiguous();
            float[] out = new float[Math.toIntExact(f.numel())];
            if (out.length > 0) {
                f.data_ptr_float().get(out);
            }
            return out;
        }
    }

    /**
     * The values of an integer tensor as int64, in C order.
     *
     * @param t the tensor; not modified
     * @return a new array of {@code t.numel()} values
     */
    public static long[] toLongs(Tensor t) {
        try (InferenceScope ignored = InferenceScope.open()) {
            Tensor f = t.to(ScalarType.Long);
            if (f.is_cuda()) {
                f = f.cpu();
            }
            f = f.contiguous();
            long[] out = new long[Math.toIntExact(f.numel())];
            if (out.length > 0) {
                f.data_ptr_long().get(out);
            }
            return out;
        }
    }

    /**
     * The shape of {@code t}.
     *
     * @param t the tensor
     * @return a new array of its dimensions (empty for a scalar)
     */
    public static long[] shape(Tensor t) {
        long[] s = new long[(int) t.dim()];
        for (int i = 0; i < s.length; i++) {
            s[i] = t.size(i);
        }
        return s;
    }

    private static void checkCount(int length, long[] shape) {
        long n = 1;
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension in shape " + java.util.Arrays.toString(shape));
            }
            n *= d;
        }
        if (n != length) {
            throw new IllegalArgumentException("shape " + java.util.Arrays.toString(shape) + " holds " + n
                    + " elements, but the array has " + length);
        }
    }
}
