package io.github.phi3v.testsupport;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * A golden {@code .safetensors} file read whole into the Java heap (golden files are small).
 * Supports the dtypes the golden data uses: F32, F64, I64, I32, BF16, F16. Values are widened on
 * request: {@link #floats}, {@link #doubles}, {@link #longs}.
 *
 * <p>Test-only and deliberately simple; the production loader (memory-mapped, bounds-checked) lives
 * in {@code phi3v-core}.
 */
public final class GoldenTensors {

    /** One stored tensor: its dtype name, shape and raw little-endian bytes. */
    public record Entry(String dtype, long[] shape, ByteBuffer data) {
        /** Number of elements. */
        public long numel() {
            long n = 1;
            for (long d : shape) {
                n *= d;
            }
            return n;
        }
    }

    private final Path file;
    private final Map<String, Entry> entries;
    private final Map<String, String> metadata;

    private GoldenTensors(Path file, Map<String, Entry> entries, Map<String, String> metadata) {
        this.file = file;
        this.entries = entries;
        this.metadata = metadata;
    }

    /** Reads a whole safetensors file. */
    public static GoldenTensors read(Path file) {
        try {
            byte[] all = Files.readAllBytes(file);
            ByteBuffer bb = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN);
            long headerLen = bb.getLong(0);
            if (headerLen < 2 || headerLen > all.length - 8) {
                throw new IllegalArgumentException(file + ": bad header length " + headerLen);
            }
            String json = new String(all, 8, (int) headerLen, StandardCharsets.UTF_8);
            JsonNode root = new ObjectMapper().readTree(json);
            int base = 8 + (int) headerLen;
            Map<String, Entry> entries = new LinkedHashMap<>();
            Map<String, String> meta = new LinkedHashMap<>();
            for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext();) {
                Map.Entry<String, JsonNode> e = it.next();
                if (e.getKey().equals("__metadata__")) {
                    e.getValue().fields().forEachRemaining(m -> meta.put(m.getKey(), m.getValue().asText()));
                    continue;
                }
                JsonNode n = e.getValue();
                JsonNode shapeNode = n.get("shape");
                long[] shape = new long[shapeNode.size()];
                for (int i = 0; i < shape.length; i++) {
                    shape[i] = shapeNode.get(i).asLong();
                }
                long start = n.get("data_offsets").get(0).asLong();
                long end = n.get("data_offsets").get(1).asLong();
                ByteBuffer slice = ByteBuffer.wrap(all, base + (int) start, (int) (end - start)).slice()
                        .order(ByteOrder.LITTLE_ENDIAN);
                entries.put(e.getKey(), new Entry(n.get("dtype").asText(), shape, slice));
            }
            return new GoldenTensors(file, Collections.unmodifiableMap(entries), Collections.unmodifiableMap(meta));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read golden file " + file, e);
        }
    }

    /** The file this was read from. */
    public Path file() {
        return file;
    }

    /** Tensor names in file order. */
    public Iterable<String> names() {
        return entries.keySet();
    }

    /** True if a tensor of this name exists. */
    public boolean has(String name) {
        return entries.containsKey(name);
    }

    /** The {@code __metadata__} map (empty if absent). */
    public Map<String, String> metadata() {
        return metadata;
    }

    /** The raw entry; fails with the list of names if absent. */
    public Entry entry(String name) {
        Entry e = entries.get(name);
        if (e == null) {
            throw new IllegalArgumentException(file + " has no tensor '" + name + "'; it has " + entries.keySet());
        }
        return e;
    }

    /** Shape of a tensor. */
    public long[] shape(String name) {
        return entry(name).shape().clone();
    }

    /** All values as float (F64 and I64 are narrowed). */
    public float[] floats(String name) {
        double[] d = doubles(name);
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) {
            f[i] = (float) d[i];
        }
        return f;
    }

    /** All values as double. */
    public double[] doubles(String name) {
        Entry e = entry(name);
        int n = Math.toIntExact(e.numel());
        double[] out = new double[n];
        ByteBuffer b = e.data();
        for (int i = 0; i < n; i++) {
            out[i] = switch (e.dtype()) {
                case "F32" -> b.getFloat(i * 4);
                case "F64" -> b.getDouble(i * 8);
                case "I64" -> b.getLong(i * 8);
                case "I32" -> b.getInt(i * 4);
                case "BF16" -> Float.intBitsToFloat((b.getShort(i * 2) & 0xffff) << 16);
                case "F16" -> halfToFloat(b.getShort(i * 2));
                default -> throw new IllegalArgumentException("unsupported dtype " + e.dtype() + " of " + name);
            };
        }
        return out;
    }

    /** All values as long (integer dtypes only). */
    public long[] longs(String name) {
        Entry e = entry(name);
        int n = Math.toIntExact(e.numel());
        long[] out = new long[n];
        ByteBuffer b = e.data();
        for (int i = 0; i < n; i++) {
            out[i] = switch (e.dtype()) {
                case "I64" -> b.getLong(i * 8);
                case "I32" -> b.getInt(i * 4);
                default -> throw new IllegalArgumentException(name + " is " + e.dtype() + ", not an integer tensor");
            };
        }
        return out;
    }

    /** All values as int (integer dtypes only, must fit). */
    public int[] ints(String name) {
        long[] l = longs(name);
        int[] out = new int[l.length];
        for (int i = 0; i < l.length; i++) {
            out[i] = Math.toIntExact(l[i]);
        }
        return out;
    }

    private static float halfToFloat(short h) {
        int bits = h & 0xffff;
        int sign = (bits & 0x8000) << 16;
        int exp = (bits >>> 10) & 0x1f;
        int mant = bits & 0x3ff;
        if (exp == 0x1f) {
            return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
        }
        if (exp == 0) {
            float v = mant * 0x1p-24f;
            return sign == 0 ? v : -v;
        }
        return Float.intBitsToFloat(sign | ((exp - 15 + 127) << 23) | (mant << 13));
    }
}
