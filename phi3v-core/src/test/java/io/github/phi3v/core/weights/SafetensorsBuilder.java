package io.github.phi3v.core.weights;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Writes safetensors files for tests, including deliberately broken ones: the header is given as raw
 * JSON text (so any malformation can be expressed) or built from well-formed entries.
 */
final class SafetensorsBuilder {

    private record Entry(String name, String dtype, long[] shape, byte[] data) {
    }

    private final List<Entry> entries = new ArrayList<>();

    /** Adds an F32 tensor with the given values. */
    SafetensorsBuilder f32(String name, long[] shape, float... values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            b.putFloat(v);
        }
        entries.add(new Entry(name, "F32", shape, b.array()));
        return this;
    }

    /** Adds a tensor of any dtype name with raw bytes. */
    SafetensorsBuilder raw(String name, String dtype, long[] shape, byte[] data) {
        entries.add(new Entry(name, dtype, shape, data));
        return this;
    }

    /** The well-formed header JSON for the entries added so far (data laid out in order). */
    String header() {
        StringBuilder sb = new StringBuilder("{\"__metadata__\":{\"format\":\"pt\"}");
        long offset = 0;
        for (Entry e : entries) {
            sb.append(",\"").append(e.name).append("\":{\"dtype\":\"").append(e.dtype).append("\",\"shape\":[");
            for (int i = 0; i < e.shape.length; i++) {
                sb.append(i > 0 ? "," : "").append(e.shape[i]);
            }
            sb.append("],\"data_offsets\":[").append(offset).append(',').append(offset + e.data.length).append("]}");
            offset += e.data.length;
        }
        return sb.append('}').toString();
    }

    /** The concatenated data section. */
    byte[] data() {
        int n = entries.stream().mapToInt(e -> e.data.length).sum();
        ByteBuffer b = ByteBuffer.allocate(n);
        entries.forEach(e -> b.put(e.data));
        return b.array();
    }

    /** Writes a well-formed file. */
    Path write(Path file) throws IOException {
        return write(file, header(), data());
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
