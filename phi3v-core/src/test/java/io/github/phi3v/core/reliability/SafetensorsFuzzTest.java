package io.github.phi3v.core.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;

import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.github.phi3v.core.config.InvalidConfigException;
import io.github.phi3v.core.model.ModelOptions;
import io.github.phi3v.core.model.Phi3VModel;
import io.github.phi3v.core.model.Precision;
import io.github.phi3v.core.model.WeightMismatchException;
import io.github.phi3v.core.weights.Checkpoint;
import io.github.phi3v.core.weights.InvalidCheckpointException;
import io.github.phi3v.core.weights.TensorInfo;
import io.github.phi3v.testsupport.SharedData;

/**
 * Reliability fuzzing of the safetensors reader ({@link Checkpoint#open}) with random JSON headers,
 * structurally plausible headers with bad dtypes/shapes/offsets, random header-length fields, huge
 * declared sizes, truncations of the golden tiny checkpoint, byte mutations of its header and data,
 * random shard indexes, and a few mutated checkpoints through the full {@link Phi3VModel#load}. Each case
 * must open (and then every tensor must be readable through libtorch with its declared size) or throw
 * {@link InvalidCheckpointException} with a message (plus, for whole-model loads, the documented
 * {@link WeightMismatchException} / {@link InvalidConfigException}); no other throwable, no crash, no hang.
 */
class SafetensorsFuzzTest {

    private static final long SEED = 0xC0FFEE_1234L;
    private static final Duration BATCH_TIMEOUT = Duration.ofSeconds(90);
    private static final String[] DTYPES = {"F32", "BF16", "F16", "F64", "I8", "U8", "BOOL", "I64", "f32", "", "F8_E4M3",
        "F32 ", "\u0000"};
    private static final Map<String, Integer> COUNTS = new TreeMap<>();

    @TempDir
    static Path dir;

    @AfterAll
    static void report() {
        int total = COUNTS.values().stream().mapToInt(Integer::intValue).sum();
        System.out.println("[reliability] safetensors: " + total + " cases " + COUNTS);
    }

    private static synchronized void count(String outcome) {
        COUNTS.merge(outcome, 1, Integer::sum);
    }

    // ------------------------------------------------------------------------------------ oracle

    /** Opens {@code file}; on success reads every tensor through libtorch. Returns the outcome label. */
    static String open(Path file, String what) {
        try (Checkpoint c = Checkpoint.open(file)) {
            int read = 0;
            for (String name : c.names()) {
                TensorInfo info = c.info(name);
                assertEquals(info.byteLength(), c.bytes(name).remaining(), what + ": " + name);
                if (read++ < 8) {  // libtorch view of the first few: cheap, and proves the bounds
                    try (Tensor t = c.tensor(name)) {
                        assertEquals(info.numel(), t.numel(), what + ": numel of " + name);
                    }
                }
            }
            return "ok";
        } catch (InvalidCheckpointException e) {
            assertNotNull(e.getMessage(), what + ": InvalidCheckpointException without a message");
            assertFalse(e.getMessage().isBlank(), what);
            return "ICE";
        }
    }

    @FunctionalInterface
    private interface CaseBody {
        String run(SplittableRandom r, int i) throws IOException;
    }

    /** Runs {@code cases} cases; returns how often each outcome label was seen. */
    private static Map<String, Integer> batch(String name, long seed, int cases, CaseBody body) {
        Map<String, Integer> seen = new TreeMap<>();
        assertTimeoutPreemptively(BATCH_TIMEOUT, () -> {
            SplittableRandom root = new SplittableRandom(seed);
            for (int i = 0; i < cases; i++) {
                SplittableRandom r = root.split();
                String what = name + " case " + i + " (seed " + seed + ")";
                try {
                    String outcome = body.run(r, i);
                    seen.merge(outcome, 1, Integer::sum);
                    count(name + ":" + outcome);
                } catch (AssertionError e) {
                    throw new AssertionError(what + ": " + e.getMessage(), e);
                } catch (Throwable t) {
                    throw new AssertionError(what + ": undocumented " + t, t);
                }
            }
        }, name + ": " + cases + " cases exceeded " + BATCH_TIMEOUT);
        return seen;
    }

    /**
     * Fails unless {@code outcome} was seen at least {@code min} times: a generator that stopped producing
     * one kind of input (or a constant one) fails here instead of passing with nothing tested. The counts
     * are fixed by the seeds; each minimum is about half of what the generator's design gives.
     */
    private static void requireAtLeast(String batch, Map<String, Integer> seen, String outcome, int min, String why) {
        int n = seen.getOrDefault(outcome, 0);
        assertTrue(n >= min, batch + ": outcome '" + outcome + "' seen " + n + " times, expected at least " + min
                + " (" + why + "); all outcomes " + seen);
    }

    // ------------------------------------------------------------------------------------ writers

    static Path write(String name, byte[] header, long dataBytes, SplittableRandom r) throws IOException {
        return write(name, header.length, header, dataBytes, r);
    }

    /** Writes {@code declaredLength} (LE) + header + {@code dataBytes} random bytes. */
    static Path write(String name, long declaredLength, byte[] header, long dataBytes, SplittableRandom r)
            throws IOException {
        Path f = dir.resolve(name);
        byte[] data = new byte[(int) dataBytes];
        for (int i = 0; i < data.length; i += 7) {
            data[i] = (byte) r.nextInt(256);
        }
        ByteBuffer b = ByteBuffer.allocate(8 + header.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(declaredLength).put(header).put(data);
        Files.write(f, b.array());
        return f;
    }

    static String randomJson(SplittableRandom r, int depth) {
        switch (depth > 6 ? r.nextInt(5) : r.nextInt(8)) {
            case 0:
                return Long.toString(r.nextLong());
            case 1:
                return r.nextBoolean() ? "1e309" : Double.toString(r.nextDouble() * 1e20);
            case 2:
                return "\"" + randomString(r) + "\"";
            case 3:
                return r.nextBoolean() ? "null" : "true";
            case 4:
                return "99999999999999999999999999999";
            case 5: {
                StringBuilder sb = new StringBuilder("[");
                int n = r.nextInt(4);
                for (int i = 0; i < n; i++) {
                    sb.append(i > 0 ? "," : "").append(randomJson(r, depth + 1));
                }
                return sb.append(']').toString();
            }
            default: {
                StringBuilder sb = new StringBuilder("{");
                int n = r.nextInt(4);
                for (int i = 0; i < n; i++) {
                    String key = r.nextInt(4) == 0 ? "__metadata__" : r.nextInt(3) == 0
                            ? new String[] {"dtype", "shape", "data_offsets"}[r.nextInt(3)] : randomString(r);
                    sb.append(i > 0 ? "," : "").append('"').append(key).append("\":").append(randomJson(r, depth + 1));
                }
                return sb.append('}').toString();
            }
        }
    }

    static String randomString(SplittableRandom r) {
        StringBuilder sb = new StringBuilder();
        int n = r.nextInt(8);
        for (int i = 0; i < n; i++) {
            int c = r.nextInt(10) == 0 ? r.nextInt(0x10000) : r.nextInt(0x20, 0x7F);
            if (c == '"' || c == '\\' || (c >= 0xD800 && c < 0xE000)) {
                c = 'x';
            }
            sb.append(c < 0x20 ? 'y' : (char) c);
        }
        return sb.toString();
    }

    static long wildLong(SplittableRandom r, long plausible) {
        return switch (r.nextInt(8)) {
            case 0 -> -1 - r.nextInt(1000);
            case 1 -> Long.MAX_VALUE - r.nextInt(3);
            case 2 -> 1L << r.nextInt(31, 63);
            case 3 -> r.nextLong(Math.max(1, plausible * 2 + 1));
            default -> plausible;
        };
    }

    // ------------------------------------------------------------------------------------ targets

    @Test
    void randomJsonHeaders() {
        Map<String, Integer> seen = batch("random-json", SEED, 2500, (r, i) -> {
            String json = randomJson(r, 0);
            byte[] header = json.getBytes(StandardCharsets.UTF_8);
            String shape = json.startsWith("{") ? "object" : json.startsWith("[") ? "array" : "scalar";
            return open(write("rj.safetensors", header, r.nextInt(0, 256), r), "random json") + "-" + shape;
        });
        // The top level is a scalar with p 5/8 (~1560), an array 1/8 (~310), an object 2/8 (~625); no random
        // object is a valid header (random keys, values of the wrong type), so all are refused.
        requireAtLeast("random-json", seen, "ICE-scalar", 700, "5/8 of headers are a scalar");
        requireAtLeast("random-json", seen, "ICE-array", 150, "1/8 are an array");
        requireAtLeast("random-json", seen, "ICE-object", 300, "2/8 are an object");
    }

    /** Plausible headers: 1-4 tensors, mostly right, with one field wrong in a random way. */
    @Test
    void plausibleHeadersWithBadFields() {
        Map<String, Integer> seen = batch("fields", SEED + 1, 3500, (r, i) -> {
            int n = r.nextInt(1, 5);
            StringBuilder sb = new StringBuilder("{");
            if (r.nextInt(4) == 0) {
                sb.append(r.nextBoolean() ? "\"__metadata__\":{\"format\":\"pt\"}," : "\"__metadata__\":{\"a\":1},");
            }
            long offset = 0;
            for (int t = 0; t < n; t++) {
                boolean bad = r.nextInt(3) == 0;
                String dtype = bad && r.nextInt(4) == 0 ? DTYPES[r.nextInt(DTYPES.length)] : new String[] {"F32", "BF16",
                    "F16"}[r.nextInt(3)];
                int size = dtype.equals("F32") ? 4 : 2;
                long[] shape = new long[r.nextInt(0, 4)];
                long numel = 1;
                for (int d = 0; d < shape.length; d++) {
                    shape[d] = r.nextInt(0, 5);
                    numel *= shape[d];
                }
                String shapeJson = Arrays.toString(shape).replace(" ", "");
                long begin = offset;
                long end = offset + numel * size;
                if (bad) {
                    switch (r.nextInt(6)) {
                        case 0 -> begin = wildLong(r, begin);
                        case 1 -> end = wildLong(r, end);
                        case 2 -> shapeJson = new String[] {"[-1]", "[1.5]", "[\"2\"]", "null", "{}", "[4294967296,"
                            + "4294967296,4294967296]", "[9223372036854775807,2]", "[99999999999999999999]"}[r.nextInt(8)];
                        case 3 -> {
                            long tmp = begin;
                            begin = end;
                            end = tmp;
                        }
                        case 4 -> end = begin + r.nextInt(0, 64);
                        default -> { } // only the dtype (maybe) is wrong
                    }
                }
                String offsets = r.nextInt(40) == 0 ? "[" + begin + "]" : "[" + begin + "," + end + "]";
                sb.append(t > 0 ? "," : "").append("\"t").append(r.nextInt(3)).append(t).append("\":{\"dtype\":\"")
                        .append(dtype).append("\",\"shape\":").append(shapeJson).append(",\"data_offsets\":")
                        .append(offsets).append('}');
                offset = Math.max(offset, end >= 0 && end < 1 << 20 ? end : offset);
            }
            sb.append('}');
            long data = r.nextInt(5) == 0 ? r.nextLong(0, offset + 16) : offset;  // sometimes truncated or padded
            return open(write("f.safetensors", sb.toString().getBytes(StandardCharsets.UTF_8), data, r), "fields");
        });
        // Each of 1-4 tensors is bad with p 1/3 and 1/5 of data sections are cut or padded, so ~40 % of the
        // headers are fully valid (ok, ~1300) and the rest refused (~2200).
        requireAtLeast("fields", seen, "ok", 600, "~40 % of headers have no bad field and the right data size");
        requireAtLeast("fields", seen, "ICE", 1000, "~60 % have a bad field or data size");
    }

    @Test
    void headerLengthField() {
        byte[] good = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}".getBytes(StandardCharsets.UTF_8);
        Map<String, Integer> seen = batch("header-length", SEED + 2, 1500, (r, i) -> {
            long declared = switch (r.nextInt(6)) {
                case 0 -> r.nextLong();
                case 1 -> r.nextInt(0, 3);
                case 2 -> good.length + r.nextInt(-5, 6);
                case 3 -> 100_000_000L + r.nextInt(-2, 3);
                case 4 -> -r.nextInt(1, 100);
                default -> good.length + 8 + r.nextInt(0, 64);
            };
            return open(write("hl.safetensors", declared, good, 8, r), "header length " + declared);
        });
        // Only case 2 (1/6) can hit the exact length, 1 in 11 of its draws: ~23 of 1500 open; all others
        // declare a length that runs into the data, past the file or below zero.
        requireAtLeast("header-length", seen, "ok", 8, "~1/66 declare the exact header length");
        requireAtLeast("header-length", seen, "ICE", 1000, "every other declared length is refused");
        // Files shorter than the 8-byte length field.
        for (int len = 0; len < 8; len++) {
            try {
                Path f = dir.resolve("short.safetensors");
                Files.write(f, new byte[len]);
                count("header-length:" + open(f, "file of " + len + " bytes"));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    /** A sparse 3 GiB data section: the header is valid, the tensor exceeds one mapping. */
    @Test
    void hugeDeclaredSizes() throws IOException {
        long big = 3L << 30;
        String header = "{\"big\":{\"dtype\":\"F32\",\"shape\":[" + big / 4 + "],\"data_offsets\":[0," + big + "]}}";
        Path f = write("huge.safetensors", header.getBytes(StandardCharsets.UTF_8), 0, new SplittableRandom(1));
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(new byte[1]), 8 + header.length() + big - 1);   // sparse
        }
        try {
            assertTimeoutPreemptively(Duration.ofSeconds(30), () -> {
                try (Checkpoint c = Checkpoint.open(f)) {
                    InvalidCheckpointException e = assertThrows(InvalidCheckpointException.class, () -> c.tensor("big"));
                    assertTrue(e.getMessage().contains("big"), e.getMessage());
                    count("huge:tensor-ICE");
                }
            });
        } finally {
            Files.delete(f);
        }
        // The same header over a small file: refused at open, without reading the missing bytes.
        count("huge:" + open(write("huge2.safetensors", header.getBytes(StandardCharsets.UTF_8), 64,
                new SplittableRandom(2)), "huge over small file"));
        // 200 000 tiny tensors: the checks are n log n, not quadratic.
        StringBuilder sb = new StringBuilder("{");
        for (int i = 0; i < 200_000; i++) {
            sb.append(i > 0 ? "," : "").append("\"w").append(i).append("\":{\"dtype\":\"F16\",\"shape\":[1],"
                    + "\"data_offsets\":[").append(2 * i).append(',').append(2 * i + 2).append("]}");
        }
        Path many = write("many.safetensors", sb.append('}').toString().getBytes(StandardCharsets.UTF_8), 400_000,
                new SplittableRandom(3));
        assertTimeoutPreemptively(Duration.ofSeconds(30), () -> {
            try (Checkpoint c = Checkpoint.open(many)) {
                assertEquals(200_000, c.names().size());
            }
        });
        count("huge:200k-tensors-ok");
        // Nesting deeper than Jackson's limit (1000) must still be an InvalidCheckpointException.
        String deep = "{\"a\":" + "[".repeat(5000) + "]".repeat(5000) + "}";
        count("huge:" + open(write("deep.safetensors", deep.getBytes(StandardCharsets.UTF_8), 0, new SplittableRandom(4)),
                "deep nesting"));
        // A 20 MB number literal: Jackson's number-length constraint, still ours.
        String longNumber = "{\"a\":{\"dtype\":\"F32\",\"shape\":[" + "9".repeat(2_000_000) + "],\"data_offsets\":[0,4]}}";
        count("huge:" + open(write("num.safetensors", longNumber.getBytes(StandardCharsets.UTF_8), 4,
                new SplittableRandom(5)), "long number"));
    }

    /** Truncations of the golden checkpoint, shrinking one copy in place (no 17 MB rewrite per case). */
    @Test
    void truncatedGoldenCheckpoint() throws IOException {
        Path golden = SharedData.tinyA().resolve("model-f32/model.safetensors");
        Path copy = dir.resolve("trunc.safetensors");
        Files.copy(golden, copy, StandardCopyOption.REPLACE_EXISTING);
        copy.toFile().setWritable(true);
        long size = Files.size(copy);
        SplittableRandom r = new SplittableRandom(SEED + 3);
        long headerEnd = 8 + headerLength(copy);
        long[] lengths = new long[300];
        for (int i = 0; i < lengths.length; i++) {
            // Half inside the header (most interesting), half anywhere.
            lengths[i] = r.nextBoolean() ? r.nextLong(0, 8 + 10_824 + 64) : r.nextLong(0, size);
        }
        Arrays.sort(lengths);
        Map<String, Integer> seen = batch("truncated", SEED + 3, lengths.length, (rr, i) -> {
            long len = lengths[lengths.length - 1 - i];
            try (FileChannel ch = FileChannel.open(copy, StandardOpenOption.WRITE)) {
                ch.truncate(len);
            }
            String outcome = open(copy, "truncated to " + len);
            assertEquals("ICE", outcome, "a truncated checkpoint must not open (" + len + " of " + size + " bytes)");
            return outcome + (len < headerEnd ? "-in-header" : "-in-data");
        });
        // Half the lengths are drawn inside the ~10.8 KB header (plus 64 bytes), half anywhere in the 17 MB
        // file (nearly all in the data section): ~150 each.
        requireAtLeast("truncated", seen, "ICE-in-header", 70, "half the cuts are drawn inside the header");
        requireAtLeast("truncated", seen, "ICE-in-data", 70, "the other half almost always land in the data");
    }

    private static long headerLength(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            ch.read(len, 0);
            return len.getLong(0);
        }
    }

    /** Byte mutations of the golden checkpoint's header and data, applied and reverted in place. */
    @Test
    void mutatedGoldenCheckpoint() throws IOException {
        Path golden = SharedData.tinyA().resolve("model-f32/model.safetensors");
        Path copy = dir.resolve("mut.safetensors");
        Files.copy(golden, copy, StandardCopyOption.REPLACE_EXISTING);
        copy.toFile().setWritable(true);
        long size = Files.size(copy);
        int headerEnd;
        try (FileChannel ch = FileChannel.open(copy, StandardOpenOption.READ)) {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            ch.read(len, 0);
            headerEnd = (int) (8 + len.getLong(0));
        }
        try (FileChannel ch = FileChannel.open(copy, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            Map<String, Integer> seen = batch("mutated", SEED + 4, 3000, (r, i) -> {
                int k = r.nextInt(1, 5);
                long[] at = new long[k];
                byte[] old = new byte[k];
                boolean dataOnly = r.nextInt(10) == 0;
                for (int j = 0; j < k; j++) {
                    at[j] = dataOnly ? r.nextLong(headerEnd, size) : r.nextInt(0, headerEnd);
                    ByteBuffer one = ByteBuffer.allocate(1);
                    ch.read(one, at[j]);
                    old[j] = one.get(0);
                    byte nb = switch (r.nextInt(4)) {
                        case 0 -> (byte) (old[j] ^ (1 << r.nextInt(8)));
                        case 1 -> (byte) "0123456789".charAt(r.nextInt(10));   // digits: offsets and shapes change
                        case 2 -> (byte) "{}[],:\"".charAt(r.nextInt(7));      // JSON structure
                        default -> (byte) r.nextInt(256);
                    };
                    ch.write(ByteBuffer.wrap(new byte[] {nb}), at[j]);
                }
                try {
                    String outcome = open(copy, "mutation at " + Arrays.toString(at));
                    if (dataOnly) {
                        assertEquals("ok", outcome, "data-only mutations must still open");
                    }
                    return (dataOnly ? "data-" : "header-") + outcome;
                } finally {
                    for (int j = k - 1; j >= 0; j--) {
                        ch.write(ByteBuffer.wrap(new byte[] {old[j]}), at[j]);
                    }
                }
            });
            // 1 in 10 mutate only data bytes (~300, must open); the others 1-4 header bytes: most break the
            // JSON, a dtype, a shape or an offset (~5/6 refused), some only a tensor's name or a metadata
            // value, or set a digit to itself (~1/6 still open).
            requireAtLeast("mutated", seen, "data-ok", 150, "1 in 10 cases mutate only data bytes");
            requireAtLeast("mutated", seen, "header-ICE", 1100, "~5/6 of header mutations are refused");
            requireAtLeast("mutated", seen, "header-ok", 200, "~1/6 change only a name or a metadata value");
        }
        assertEquals("ok", open(copy, "restored copy"), "the restored copy opens");
    }

    /** Random shard indexes: paths outside the folder, missing shards, wrong types, tensors in two shards. */
    @Test
    void randomShardIndexes() throws IOException {
        Path shards = Files.createDirectories(dir.resolve("sharded"));
        String h1 = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
        String h2 = "{\"b\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}";
        Files.move(write("s1.safetensors", h1.getBytes(StandardCharsets.UTF_8), 4, new SplittableRandom(1)),
                shards.resolve("s1.safetensors"), StandardCopyOption.REPLACE_EXISTING);
        Files.move(write("s2.safetensors", h2.getBytes(StandardCharsets.UTF_8), 4, new SplittableRandom(2)),
                shards.resolve("s2.safetensors"), StandardCopyOption.REPLACE_EXISTING);
        String[] files = {"s1.safetensors", "s2.safetensors", "../s1.safetensors", "/etc/passwd", "", ".", "missing",
            "s1.safetensors/..", "./s2.safetensors"};
        String[] names = {"a", "b", "c"};
        Map<String, Integer> seen = batch("index", SEED + 5, 800, (r, i) -> {
            StringBuilder sb = new StringBuilder("{\"metadata\":{},\"weight_map\":");
            if (r.nextInt(10) == 0) {
                sb.append(randomJson(r, 3));
            } else {
                sb.append('{');
                int n = r.nextInt(0, 4);
                for (int j = 0; j < n; j++) {
                    sb.append(j > 0 ? "," : "").append('"').append(names[r.nextInt(names.length)]).append("\":");
                    sb.append(r.nextInt(12) == 0 ? "1" : "\"" + files[r.nextInt(files.length)] + "\"");
                }
                sb.append('}');
            }
            sb.append('}');
            Path index = shards.resolve(Checkpoint.INDEX_FILE);
            Files.writeString(index, r.nextInt(20) == 0 ? sb.substring(0, r.nextInt(sb.length())) : sb.toString());
            return open(shards, "index " + sb);
        });
        // A valid index needs 1-3 names, each mapped to the shard that holds it (s1 for a, s2 for b; c is in
        // none), written whole: a few % (~20 of 800); every other index is refused.
        requireAtLeast("index", seen, "ok", 8, "a few % of indexes map only existing names to their shard");
        requireAtLeast("index", seen, "ICE", 400, "the rest name a missing shard or tensor, or are malformed");
    }

    /**
     * Mutated headers through the whole model loader: the documented exception types only. Each case
     * loads the 17 MB checkpoint, so only a few dozen run.
     */
    @Test
    void mutatedCheckpointsThroughTheModelLoader() throws IOException {
        Path src = SharedData.tinyA().resolve("model-f32");
        Path model = Files.createDirectories(dir.resolve("model"));
        for (String f : List.of("config.json", "model.safetensors")) {
            Files.copy(src.resolve(f), model.resolve(f), StandardCopyOption.REPLACE_EXISTING);
            model.resolve(f).toFile().setWritable(true);
        }
        Path weights = model.resolve("model.safetensors");
        byte[] header;
        try (FileChannel ch = FileChannel.open(weights, StandardOpenOption.READ)) {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            ch.read(len, 0);
            header = new byte[(int) len.getLong(0)];
            ch.read(ByteBuffer.wrap(header), 8);
        }
        String text = new String(header, StandardCharsets.UTF_8);
        ModelOptions f32 = new ModelOptions(Precision.FLOAT32, ModelOptions.Device.CPU, 0);
        Map<String, Integer> seen = batch("model-load", SEED + 6, 40, (r, i) -> {
            // Same-length edits keep the data section in place: rename a tensor, change a dimension digit.
            String mutated = text;
            int kind = r.nextInt(3);
            if (kind == 0) {
                int at = mutated.indexOf("\"model.", r.nextInt(mutated.length() - 10));
                if (at >= 0) {
                    mutated = mutated.substring(0, at + 1) + "mode1." + mutated.substring(at + 7);
                }
            } else if (kind == 1) {
                int at = mutated.indexOf("\"shape\":[", r.nextInt(mutated.length() - 10));
                if (at >= 0) {
                    int d = at + 9;
                    char c = mutated.charAt(d);
                    char nc = c == '1' ? '2' : '1';
                    mutated = mutated.substring(0, d) + nc + mutated.substring(d + 1);
                }
            } else {
                int at = mutated.indexOf("\"F32\"", r.nextInt(mutated.length() - 10));
                if (at >= 0) {
                    mutated = mutated.substring(0, at) + "\"F16\"" + mutated.substring(at + 5);
                }
            }
            byte[] bytes = mutated.getBytes(StandardCharsets.UTF_8);
            assertEquals(header.length, bytes.length);
            try (FileChannel ch = FileChannel.open(weights, StandardOpenOption.WRITE)) {
                ch.write(ByteBuffer.wrap(bytes), 8);
            }
            try {
                Phi3VModel.load(model, f32).close();
                return "ok";
            } catch (WeightMismatchException | InvalidCheckpointException | InvalidConfigException e) {
                assertNotNull(e.getMessage());
                assertFalse(e.getMessage().isBlank());
                return e.getClass().getSimpleName();
            } finally {
                try (FileChannel ch = FileChannel.open(weights, StandardOpenOption.WRITE)) {
                    ch.write(ByteBuffer.wrap(header), 8);
                }
            }
        });
        // Each kind is 1/3 of the 40 cases (~13): a renamed tensor is a weight mismatch (one missing, one
        // unexpected name); a changed shape digit or an F16 dtype no longer matches the tensor's byte range.
        requireAtLeast("model-load", seen, "WeightMismatchException", 5, "1/3 of cases rename a tensor");
        requireAtLeast("model-load", seen, "InvalidCheckpointException", 10, "2/3 change a shape or dtype");
    }
}
