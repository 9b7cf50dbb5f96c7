package io.github.phi3v.core.weights;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * Writes safetensors files, streaming: each tensor's bytes are produced by a {@link TensorData} into a
 * fixed 1 MiB buffer and written out, so a file of any size (a full-size random model is 8 GB) is
 * written with constant heap. The header is computed from the declared shapes before any data, the data
 * section is laid out in the given order without gaps (what {@code Checkpoint} requires), and the file
 * appears atomically: it is written to a temporary sibling and moved into place, so an interrupted write
 * never leaves a file that looks complete.
 *
 * <pre>{@code
 * SafetensorsWriter.write(Path.of("out.safetensors"), Map.of("format", "pt"), List.of(
 *         SafetensorsWriter.Tensor.ofFloats("logits", new long[] {2, 3}, new float[6]),
 *         SafetensorsWriter.Tensor.ofLongs("input_ids", new long[] {1, 4}, new long[] {1, 2, 3, 4})));
 * }</pre>
 *
 * <p>Stateless and thread-safe (every call writes its own file).
 */
public final class SafetensorsWriter {

    private static final int BUFFER_BYTES = 1 << 20;
    private static final ObjectMapper JSON = new ObjectMapper();

    private SafetensorsWriter() {
    }

    /**
     * Produces one tensor's elements, in row-major order, into a {@link Sink}. It must put exactly
     * {@code numel} elements; the writer checks the count.
     */
    @FunctionalInterface
    public interface TensorData {

        /**
         * Writes all elements.
         *
         * @param out the destination; converts each value to the tensor's element type
         * @throws IOException if writing fails
         */
        void writeTo(Sink out) throws IOException;
    }

    /**
     * One tensor to write: name, element type, shape and where its values come from.
     *
     * @param name the tensor name (unique in the file, not {@code __metadata__})
     * @param type the element type stored in the file
     * @param shape the shape (non-negative dimensions; {@code []} is a scalar)
     * @param data produces exactly {@code numel} values
     */
    public record Tensor(String name, DType type, long[] shape, TensorData data) {

        /**
         * Validates and copies the shape.
         *
         * @param name the tensor name; not null, non-empty, not {@code __metadata__}
         * @param type the element type stored in the file; not null
         * @param shape the dimensions, all ≥ 0; not null, copied
         * @param data produces exactly {@code numel} values; not null
         * @throws NullPointerException if an argument is null
         * @throws IllegalArgumentException for a bad name or a negative dimension
         */
        public Tensor {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(type, "type");
            Objects.requireNonNull(shape, "shape");
            Objects.requireNonNull(data, "data");
            if (name.isEmpty() || name.equals("__metadata__")) {
                throw new IllegalArgumentException("tensor name must be non-empty and not __metadata__, got '"
                        + name + "'");
            }
            shape = shape.clone();
            for (long d : shape) {
                if (d < 0) {
                    throw new IllegalArgumentException("tensor " + name + ": expected non-negative dimensions, found "
                            + Arrays.toString(shape));
                }
            }
        }

        /**
         * A copy of the shape.
         *
         * @return a new array of the dimensions
         */
        @Override
        public long[] shape() {
            return shape.clone();
        }

        /**
         * Number of elements, the product of the shape.
         *
         * @return the element count (1 for a scalar)
         * @throws ArithmeticException if it overflows a long
         */
        public long numel() {
            long n = 1;
            for (long d : shape) {
                n = Math.multiplyExact(n, d);
            }
            return n;
        }

        /**
         * Bytes in the data section.
         *
         * @return {@code numel() × type().byteSize()}
         * @throws ArithmeticException if it overflows a long
         */
        public long byteSize() {
            return Math.multiplyExact(numel(), type.byteSize());
        }

        /**
         * A float32 tensor holding {@code values} (row-major).
         *
         * @param name the tensor name
         * @param shape its shape; the product must equal {@code values.length}
         * @param values the values (not copied: do not modify them until written)
         * @return the tensor
         */
        public static Tensor ofFloats(String name, long[] shape, float[] values) {
            return ofFloats(name, DType.F32, shape, values);
        }

        /**
         * A floating-point tensor holding {@code values} converted to {@code type}.
         *
         * @param name the tensor name
         * @param type F32, BF16, F16 or F64
         * @param shape its shape; the product must equal {@code values.length}
         * @param values the values (not copied)
         * @return the tensor
         */
        public static Tensor ofFloats(String name, DType type, long[] shape, float[] values) {
            if (!type.isFloating()) {
                throw new IllegalArgumentException("tensor " + name + ": float values need a floating type, got "
                        + type);
            }
            checkCount(name, shape, values.length);
            return new Tensor(name, type, shape, out -> {
                for (float v : values) {
                    out.put(v);
                }
            });
        }

        /**
         * A float64 tensor holding {@code values}.
         *
         * @param name the tensor name
         * @param shape its shape; the product must equal {@code values.length}
         * @param values the values (not copied)
         * @return the tensor
         */
        public static Tensor ofDoubles(String name, long[] shape, double[] values) {
            checkCount(name, shape, values.length);
            return new Tensor(name, DType.F64, shape, out -> {
                for (double v : values) {
                    out.putDouble(v);
                }
            });
        }

        /**
         * An int64 tensor holding {@code values}.
         *
         * @param name the tensor name
         * @param shape its shape; the product must equal {@code values.length}
         * @param values the values (not copied)
         * @return the tensor
         */
        public static Tensor ofLongs(String name, long[] shape, long[] values) {
            checkCount(name, shape, values.length);
            return new Tensor(name, DType.I64, shape, out -> {
                for (long v : values) {
                    out.putLong(v);
                }
            });
        }

        /**
         * A tensor of any type from its stored bytes, as they stand in a safetensors data section
         * (little-endian, row-major), e.g. to copy a tensor from one file into another unchanged.
         *
         * @param name the tensor name
         * @param type the stored element type
         * @param shape its shape; the product times {@code type.byteSize()} must equal {@code data.remaining()}
         * @param data the bytes from its position to its limit (not copied, and its position is not moved:
         *     do not modify them until written)
         * @return the tensor
         * @throws IllegalArgumentException if the byte count does not match the shape
         */
        public static Tensor ofBytes(String name, DType type, long[] shape, ByteBuffer data) {
            long n = 1;
            for (long d : shape) {
                n = Math.multiplyExact(n, d);
            }
            if (Math.multiplyExact(n, type.byteSize()) != data.remaining()) {
                throw new IllegalArgumentException("tensor " + name + ": shape " + Arrays.toString(shape) + " of "
                        + type + " needs " + n * type.byteSize() + " bytes, but " + data.remaining() + " were given");
            }
            ByteBuffer view = data.duplicate();
            return new Tensor(name, type, shape, out -> out.putBytes(view.duplicate()));
        }

        private static void checkCount(String name, long[] shape, long count) {
            long n = 1;
            for (long d : shape) {
                n = Math.multiplyExact(n, d);
            }
            if (n != count) {
                throw new IllegalArgumentException("tensor " + name + ": shape " + Arrays.toString(shape) + " has " + n
                        + " elements, but " + count + " values were given");
            }
        }
    }

    /**
     * Receives the elements of the tensor being written and converts them to its element type. Not
     * thread-safe; valid only inside {@link TensorData#writeTo}.
     */
    public static final class Sink {

        private final FileChannel channel;
        private final ByteBuffer buffer;
        private DType type;
        private String name;
        private long remaining;

        private Sink(FileChannel channel) {
            this.channel = channel;
            this.buffer = ByteBuffer.allocateDirect(BUFFER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        }

        /**
         * Writes a floating-point element (F32, BF16, F16 or F64 tensors).
         *
         * @param v the value; rounded to nearest even for 16-bit types
         * @throws IOException if the file cannot be written
         */
        public void put(float v) throws IOException {
            element();
            switch (type) {
                case F32 -> buffer.putFloat(v);
                case BF16 -> buffer.putShort(toBf16(v));
                case F16 -> buffer.putShort(toF16(v));
                case F64 -> buffer.putDouble(v);
                default -> throw new IllegalStateException("tensor " + name + " is " + type
                        + ": write its elements with putLong");
            }
        }

        /**
         * Writes a double element (F64 tensors; other floating types are rounded through float32).
         *
         * @param v the value
         * @throws IOException if the file cannot be written
         */
        public void putDouble(double v) throws IOException {
            if (type == DType.F64) {
                element();
                buffer.putDouble(v);
            } else {
                put((float) v);
            }
        }

        /**
         * Writes an integer element (I64 or I32 tensors).
         *
         * @param v the value; must fit an I32 tensor's range
         * @throws IOException if the file cannot be written
         */
        public void putLong(long v) throws IOException {
            element();
            switch (type) {
                case I64 -> buffer.putLong(v);
                case I32 -> {
                    if (v != (int) v) {
                        throw new IllegalArgumentException("tensor " + name + " is I32, value " + v + " does not fit");
                    }
                    buffer.putInt((int) v);
                }
                default -> throw new IllegalStateException("tensor " + name + " is " + type
                        + ": write its elements with put(float)");
            }
        }

        /**
         * Writes whole elements given as their stored bytes (little-endian), in any tensor type.
         *
         * @param bytes from its position to its limit: a whole number of elements, no more than remain
         * @throws IOException if the file cannot be written
         */
        public void putBytes(ByteBuffer bytes) throws IOException {
            long count = bytes.remaining() / type.byteSize();
            if (bytes.remaining() % type.byteSize() != 0) {
                throw new IllegalArgumentException("tensor " + name + " is " + type + ": " + bytes.remaining()
                        + " bytes are not a whole number of " + type.byteSize() + "-byte elements");
            }
            if (count > remaining) {
                throw new IllegalStateException("tensor " + name + ": more elements written than its shape holds");
            }
            remaining -= count;
            while (bytes.hasRemaining()) {
                if (!buffer.hasRemaining()) {
                    flush();
                }
                int n = Math.min(buffer.remaining(), bytes.remaining());
                ByteBuffer slice = bytes.duplicate();
                slice.limit(slice.position() + n);
                buffer.put(slice);
                bytes.position(bytes.position() + n);
            }
        }

        private void element() throws IOException {
            if (remaining == 0) {
                throw new IllegalStateException("tensor " + name + ": more elements written than its shape holds");
            }
            remaining--;
            if (buffer.remaining() < 8) {
                flush();
            }
        }

        private void begin(Tensor t) {
            this.type = t.type();
            this.name = t.name();
            this.remaining = t.numel();
        }

        private void flush() throws IOException {
            buffer.flip();
            while (buffer.hasRemaining()) {
                channel.write(buffer);
            }
            buffer.clear();
        }
    }

    /**
     * The header this writer puts in front of {@code tensors}: JSON with {@code __metadata__} first, then
     * every tensor in order with consecutive {@code data_offsets}, padded with spaces to a multiple of 8
     * bytes (so the data section is 8-byte aligned).
     *
     * @param metadata string metadata (e.g. {@code format: pt}); may be empty
     * @param tensors the tensors in file order
     * @return the UTF-8 header bytes, without the 8-byte length prefix
     */
    public static byte[] header(Map<String, String> metadata, List<Tensor> tensors) {
        Map<String, Object> root = new LinkedHashMap<>();
        if (!metadata.isEmpty()) {
            root.put("__metadata__", new LinkedHashMap<>(metadata));
        }
        Set<String> seen = new HashSet<>();
        long offset = 0;
        for (Tensor t : tensors) {
            if (!seen.add(t.name())) {
                throw new IllegalArgumentException("duplicate tensor name '" + t.name() + "': names must be unique");
            }
            Map<String, Object> e = new LinkedHashMap<>();
            e.put("dtype", t.type().safetensorsName());
            e.put("shape", t.shape());
            long end = Math.addExact(offset, t.byteSize());
            e.put("data_offsets", new long[] {offset, end});
            root.put(t.name(), e);
            offset = end;
        }
        byte[] json;
        try {
            json = JSON.writeValueAsBytes(root);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialize a safetensors header: " + e.getOriginalMessage(), e);
        }
        int padded = (json.length + 7) / 8 * 8;
        byte[] out = Arrays.copyOf(json, padded);
        Arrays.fill(out, json.length, padded, (byte) ' ');
        return out;
    }

    /**
     * Total file size for these tensors: 8 + header + data.
     *
     * @param metadata the metadata that will be written
     * @param tensors the tensors
     * @return bytes
     */
    public static long fileSize(Map<String, String> metadata, List<Tensor> tensors) {
        long data = 0;
        for (Tensor t : tensors) {
            data = Math.addExact(data, t.byteSize());
        }
        return 8L + header(metadata, tensors).length + data;
    }

    /**
     * Writes a safetensors file atomically (temporary sibling, then a move over {@code file}).
     *
     * @param file the destination; its parent folder must exist
     * @param metadata string metadata for {@code __metadata__} (e.g. {@code format: pt}); may be empty
     * @param tensors the tensors, in file order
     * @throws IOException if writing fails (the temporary file is removed)
     * @throws IllegalArgumentException for duplicate names or a tensor whose data has the wrong count
     */
    public static void write(Path file, Map<String, String> metadata, List<Tensor> tensors) throws IOException {
        Objects.requireNonNull(file, "file");
        List<Tensor> list = new ArrayList<>(tensors);
        byte[] header = header(metadata, list);
        Path dir = file.toAbsolutePath().getParent();
        // Not Files.createTempFile: its owner-only permissions would stick to the final file.
        Path tmp = dir.resolve("." + file.getFileName() + "." + Long.toUnsignedString(System.nanoTime(), 36)
                + Thread.currentThread().getId() + ".part");
        boolean done = false;
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.CREATE_NEW)) {
                ByteBuffer prefix = ByteBuffer.allocate(8 + header.length).order(ByteOrder.LITTLE_ENDIAN);
                prefix.putLong(header.length).put(header).flip();
                while (prefix.hasRemaining()) {
                    ch.write(prefix);
                }
                Sink sink = new Sink(ch);
                for (Tensor t : list) {
                    sink.begin(t);
                    t.data().writeTo(sink);
                    if (sink.remaining != 0) {
                        throw new IllegalArgumentException("tensor " + t.name() + ": shape " + Arrays.toString(t.shape())
                                + " needs " + t.numel() + " elements, but its data wrote " + (t.numel() - sink.remaining));
                    }
                }
                sink.flush();
            }
            try {
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
            }
            done = true;
        } finally {
            if (!done) {
                Files.deleteIfExists(tmp);
            }
        }
    }

    /**
     * float32 to bfloat16 bits, round to nearest even; NaN stays a quiet NaN.
     *
     * @param v the value
     * @return the bfloat16 bit pattern
     */
    public static short toBf16(float v) {
        int bits = Float.floatToRawIntBits(v);
        if ((bits & 0x7fffffff) > 0x7f800000) {
            return (short) ((bits >>> 16) | 0x0040);
        }
        return (short) ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16);
    }

    /**
     * float32 to IEEE binary16 bits, round to nearest even, overflow to infinity, subnormals kept.
     *
     * @param v the value
     * @return the binary16 bit pattern
     */
    public static short toF16(float v) {
        int bits = Float.floatToRawIntBits(v);
        int sign = (bits >>> 16) & 0x8000;
        int abs = bits & 0x7fffffff;
        if (abs > 0x7f800000) {
            return (short) (sign | 0x7e00);                       // NaN
        }
        if (abs >= 0x477ff000) {                                  // >= 65520 rounds to infinity
            return (short) (sign | 0x7c00);
        }
        if (abs >= 0x38800000) {                                  // normal half (>= 2^-14)
            int mant = abs + 0xfff + ((abs >>> 13) & 1);          // round to nearest even at bit 13
            return (short) (sign | ((mant - 0x38000000) >>> 13));
        }
        if (abs < 0x33000000) {                                   // < 2^-25: rounds to zero
            return (short) sign;
        }
        // subnormal half: value = m * 2^-24 with m = round(abs_value * 2^24)
        int exp = abs >>> 23;
        int mant = (abs & 0x7fffff) | 0x800000;
        int shift = 126 - exp;                                    // 113 - exp + 13
        int half = mant >>> shift;
        int rem = mant & ((1 << shift) - 1);
        int mid = 1 << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1) != 0)) {
            half++;
        }
        return (short) (sign | half);
    }
}
