package io.github.phi3v.core.weights;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;

/**
 * The parsed, fully validated header of one safetensors file. Format: 8-byte little-endian header
 * length N, N bytes of UTF-8 JSON ({@code name -> {dtype, shape, data_offsets: [begin, end]}} plus an
 * optional {@code __metadata__} string map), then the data section; offsets are relative to its start.
 *
 * <p>Nothing is trusted: the header length is bounded before allocating, the JSON must be one object
 * with unique keys and no trailing bytes, and the tensors' byte ranges must tile the data section
 * exactly (no gap, no overlap, nothing past the end) with {@code numel × dtype size == end - begin}.
 * Only after all of that can a range be memory-mapped without risking a read past the file.
 */
final class SafetensorsFile {

    /** Largest accepted header, as in the reference implementation (100 MB). */
    static final long MAX_HEADER_BYTES = 100_000_000L;

    private static final ObjectMapper JSON = JsonMapper.builder()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    private final Path file;
    private final long fileSize;
    private final long dataStart;
    private final Map<String, TensorInfo> tensors;
    private final Map<String, String> metadata;

    private SafetensorsFile(Path file, long fileSize, long dataStart, Map<String, TensorInfo> tensors,
            Map<String, String> metadata) {
        this.file = file;
        this.fileSize = fileSize;
        this.dataStart = dataStart;
        this.tensors = tensors;
        this.metadata = metadata;
    }

    Path file() {
        return file;
    }

    long fileSize() {
        return fileSize;
    }

    long dataStart() {
        return dataStart;
    }

    /** Tensors in header order. */
    Map<String, TensorInfo> tensors() {
        return tensors;
    }

    Map<String, String> metadata() {
        return metadata;
    }

    /** Reads and validates the header of {@code file}; never maps or reads the data section. */
    static SafetensorsFile read(Path file) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 8) {
                throw new InvalidCheckpointException(file, null, "expected at least 8 bytes (the header length), "
                        + "found a file of " + size + " bytes: the file is truncated");
            }
            ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, lenBuf, 0);
            long headerLen = lenBuf.getLong(0);
            if (headerLen < 2 || headerLen > MAX_HEADER_BYTES) {
                throw new InvalidCheckpointException(file, null, "header length: expected 2.." + MAX_HEADER_BYTES
                        + " bytes (at most 100 MB), found " + Long.toUnsignedString(headerLen)
                        + "; this is not a safetensors file or it is corrupted");
            }
            if (8 + headerLen > size) {
                throw new InvalidCheckpointException(file, null, "header length " + headerLen
                        + " needs a file of at least " + (8 + headerLen) + " bytes, found " + size
                        + " bytes: the file is truncated");
            }
            ByteBuffer header = ByteBuffer.allocate((int) headerLen);
            readFully(ch, header, 8);
            long dataStart = 8 + headerLen;
            return parseHeader(file, size, dataStart, header.array());
        } catch (NoSuchFileException e) {
            throw new InvalidCheckpointException(file, null, "expected a safetensors file, found no such file");
        } catch (IOException e) {
            throw new InvalidCheckpointException(file + ": cannot read: " + e, e);
        }
    }

    private static void readFully(FileChannel ch, ByteBuffer dst, long position) throws IOException {
        long pos = position;
        while (dst.hasRemaining()) {
            int n = ch.read(dst, pos);
            if (n < 0) {
                throw new IOException("unexpected end of file at byte " + pos);
            }
            pos += n;
        }
    }

    private static SafetensorsFile parseHeader(Path file, long size, long dataStart, byte[] headerBytes) {
        JsonNode root;
        try {
            root = JSON.readTree(headerBytes);
        } catch (JsonProcessingException e) {
            if (e.getOriginalMessage() != null && e.getOriginalMessage().startsWith("Duplicate field")) {
                throw new InvalidCheckpointException(file + ": header: expected unique tensor names, found "
                        + e.getOriginalMessage(), e);
            }
            throw new InvalidCheckpointException(file + ": header: expected a JSON object, found malformed JSON ("
                    + e.getOriginalMessage() + (e.getLocation() == null ? "" // none for Jackson's nesting limit
                            : " at byte " + e.getLocation().getByteOffset() + " of the header") + ")", e);
        } catch (IOException e) {
            throw new InvalidCheckpointException(file + ": header: cannot parse: " + e, e);
        }
        if (root == null || !root.isObject()) {
            throw new InvalidCheckpointException(file, null, "header: expected a JSON object, found "
                    + (root == null ? "nothing" : root.getNodeType().toString().toLowerCase()));
        }
        long dataSize = size - dataStart;
        Map<String, TensorInfo> tensors = new LinkedHashMap<>();
        Map<String, String> metadata = new LinkedHashMap<>();
        List<long[]> ranges = new ArrayList<>(); // {begin, end, index into names}
        List<String> names = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext();) {
            Map.Entry<String, JsonNode> e = it.next();
            String name = e.getKey();
            JsonNode n = e.getValue();
            if (name.equals("__metadata__")) {
                readMetadata(file, n, metadata);
                continue;
            }
            if (!n.isObject()) {
                throw new InvalidCheckpointException(file, name, "expected an object {dtype, shape, data_offsets}, "
                        + "found " + n.getNodeType().toString().toLowerCase());
            }
            JsonNode dtypeNode = n.get("dtype");
            if (dtypeNode == null || !dtypeNode.isTextual()) {
                throw new InvalidCheckpointException(file, name, "dtype: expected a string, found "
                        + (dtypeNode == null ? "no value" : dtypeNode.toString()));
            }
            String dtypeName = dtypeNode.textValue();
            DType dtype = DType.fromSafetensorsName(dtypeName).filter(DType::isWeightType).orElseThrow(() -> new InvalidCheckpointException(
                    file, name, "dtype " + dtypeName + " is not supported; expected F32, BF16, F16, I8 or U8"));
            long[] shape = shape(file, name, n.get("shape"));
            long[] offsets = offsets(file, name, n.get("data_offsets"));
            long begin = offsets[0];
            long end = offsets[1];
            if (begin > end) {
                throw new InvalidCheckpointException(file, name, "data_offsets: expected begin <= end, found ["
                        + begin + ", " + end + "]");
            }
            long numel = 1;
            try {
                for (long d : shape) {
                    numel = Math.multiplyExact(numel, d);
                }
                long bytes = Math.multiplyExact(numel, (long) dtype.byteSize());
                if (bytes != end - begin) {
                    throw new InvalidCheckpointException(file, name, "shape " + java.util.Arrays.toString(shape)
                            + " of " + dtypeName + " needs " + bytes + " bytes, found data_offsets [" + begin + ", "
                            + end + "] = " + (end - begin) + " bytes");
                }
            } catch (ArithmeticException overflow) {
                throw new InvalidCheckpointException(file, name, "shape " + java.util.Arrays.toString(shape)
                        + ": expected a size that fits in 64 bits, found an overflow");
            }
            ranges.add(new long[] {begin, end, names.size()});
            names.add(name);
            tensors.put(name, new TensorInfo(name, dtype, shape, file, dataStart + begin, end - begin));
        }
        checkInRange(file, size, dataStart, ranges, names);
        checkTiling(file, dataSize, ranges, names);
        return new SafetensorsFile(file, size, dataStart, Collections.unmodifiableMap(tensors),
                Collections.unmodifiableMap(metadata));
    }

    /**
     * Every range must end inside the data section. Reported for the range that ends last, so a
     * truncated file's message states the size the header needs.
     */
    private static void checkInRange(Path file, long size, long dataStart, List<long[]> ranges, List<String> names) {
        long dataSize = size - dataStart;
        long[] last = null;
        for (long[] r : ranges) {
            if (last == null || r[1] > last[1]) {
                last = r;
            }
        }
        if (last != null && last[1] > dataSize) {
            throw new InvalidCheckpointException(file, names.get((int) last[2]), "data_offsets [" + last[0] + ", "
                    + last[1] + "] out of range: the data section has " + dataSize + " bytes (expected a file of "
                    + (dataStart + last[1]) + " bytes, found " + size + "; the file is truncated or the header is "
                    + "wrong)");
        }
    }

    /** The byte ranges must cover {@code [0, dataSize)} exactly once: no overlap, no gap, no tail. */
    private static void checkTiling(Path file, long dataSize, List<long[]> ranges, List<String> names) {
        ranges.sort(Comparator.<long[]>comparingLong(r -> r[0]).thenComparingLong(r -> r[1]));
        long covered = 0;
        String previous = null;
        for (long[] r : ranges) {
            String name = names.get((int) r[2]);
            if (r[0] < covered) {
                throw new InvalidCheckpointException(file, name, "data_offsets [" + r[0] + ", " + r[1]
                        + "] overlap tensor '" + previous + "', which ends at " + covered
                        + " (expected every tensor to have its own bytes)");
            }
            if (r[0] > covered) {
                throw new InvalidCheckpointException(file, name, "data_offsets [" + r[0] + ", " + r[1]
                        + "]: expected the data to continue at byte " + covered + ", found a gap of "
                        + (r[0] - covered) + " bytes that belongs to no tensor");
            }
            covered = r[1];
            previous = name;
        }
        if (covered != dataSize) {
            throw new InvalidCheckpointException(file, null, "expected the tensors to cover the whole data section of "
                    + dataSize + " bytes, found " + (dataSize - covered) + " trailing bytes after byte " + covered
                    + " that belong to no tensor");
        }
    }

    private static long[] shape(Path file, String name, JsonNode node) {
        if (node == null || !node.isArray()) {
            throw new InvalidCheckpointException(file, name, "shape: expected a list of integers, found "
                    + (node == null ? "no value" : node.toString()));
        }
        long[] shape = new long[node.size()];
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = node.get(i);
            if (!d.isIntegralNumber() || !d.canConvertToLong() || d.longValue() < 0) {
                throw new InvalidCheckpointException(file, name, "shape[" + i
                        + "]: expected a non-negative integer, found " + d);
            }
            shape[i] = d.longValue();
        }
        return shape;
    }

    private static long[] offsets(Path file, String name, JsonNode node) {
        if (node == null || !node.isArray() || node.size() != 2) {
            throw new InvalidCheckpointException(file, name, "data_offsets: expected [begin, end], found "
                    + (node == null ? "no value" : node.toString()));
        }
        long[] out = new long[2];
        for (int i = 0; i < 2; i++) {
            JsonNode d = node.get(i);
            if (!d.isIntegralNumber() || !d.canConvertToLong() || d.longValue() < 0) {
                throw new InvalidCheckpointException(file, name, "data_offsets: expected two non-negative integers, "
                        + "found " + node);
            }
            out[i] = d.longValue();
        }
        return out;
    }

    private static void readMetadata(Path file, JsonNode n, Map<String, String> out) {
        if (!n.isObject()) {
            throw new InvalidCheckpointException(file, null, "__metadata__: expected an object of strings, found "
                    + n.getNodeType().toString().toLowerCase());
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = n.fields(); it.hasNext();) {
            Map.Entry<String, JsonNode> m = it.next();
            if (!m.getValue().isTextual()) {
                throw new InvalidCheckpointException(file, null, "__metadata__." + m.getKey()
                        + ": expected a string, found " + m.getValue());
            }
            out.put(m.getKey(), m.getValue().textValue());
        }
    }
}
