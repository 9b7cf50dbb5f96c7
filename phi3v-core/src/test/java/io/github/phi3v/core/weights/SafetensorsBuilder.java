package io.github.phi3v.core.weights;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Writes safetensors files for tests: well-formed ones through the library's {@link SafetensorsWriter}
 * (so the reader is tested against the writer the project ships), and deliberately broken ones from raw
 * header text and bytes (which no real writer can produce).
 */
final class SafetensorsBuilder {

    private final List<SafetensorsWriter.Tensor> tensors = new ArrayList<>();

    /** Adds an F32 tensor with the given values. */
    SafetensorsBuilder f32(String name, long[] shape, float... values) {
        tensors.add(SafetensorsWriter.Tensor.ofFloats(name, shape, values));
        return this;
    }

    /** Adds a tensor of a safetensors dtype name with its stored (little-endian) bytes. */
    SafetensorsBuilder raw(String name, String dtype, long[] shape, byte[] data) {
        DType type = DType.fromSafetensorsName(dtype)
                .orElseThrow(() -> new IllegalArgumentException("no DType for '" + dtype + "'"));
        tensors.add(SafetensorsWriter.Tensor.ofBytes(name, type, shape, ByteBuffer.wrap(data)));
        return this;
    }

    /** Writes a well-formed file (with {@code format: pt} metadata, as PyTorch's writer). */
    Path write(Path file) throws IOException {
        SafetensorsWriter.write(file, Map.of("format", "pt"), tensors);
        return file;
    }

    /** Writes a file from a raw header text and data, with the true header length. */
    static Path write(Path file, String header, byte[] data) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        return write(file, h.length, h, data);
    }

    /** Writes a file whose 8-byte length field says {@code declaredHeaderLength}, whatever follows. */
    static Path write(Path file, long declaredHeaderLength, byte[] header, byte[] data) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(8 + header.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(declaredHeaderLength).put(header).put(data);
        Files.write(file, b.array());
        return file;
    }
}
