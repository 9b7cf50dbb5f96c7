package io.github.phi3v.core.weights;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import io.github.phi3v.testsupport.GoldenTensors;
import io.github.phi3v.testsupport.SharedData;

/**
 * Every malformation the reader guards against gives an {@link InvalidCheckpointException} with a
 * specific message (file, tensor, expected vs found) at {@link Checkpoint#open}, before any byte is
 * mapped, so none of them can fault the JVM; a file that changes after {@code open} fails the mapping
 * or the read of the tensor concerned the same way, leaving nothing allocated.
 */
class MalformedCheckpointTest {

    private static final long[] S4 = {4};
    private static final float[] V4 = {1, 2, 3, 4};

    @TempDir
    Path dir;

    private InvalidCheckpointException rejected(Path file) {
        return assertThrows(InvalidCheckpointException.class, () -> Checkpoint.open(file).close());
    }

    private Path file(String header, int dataBytes) throws IOException {
        return SafetensorsBuilder.write(dir.resolve("model.safetensors"), header, new byte[dataBytes]);
    }

    @Test
    void truncatedGoldenModel() throws IOException {
        Path src = SharedData.tinyA().resolve("model-f32/model.safetensors");
        Path copy = Files.copy(src, dir.resolve("model.safetensors"));
        long size = Files.size(copy);
        try (RandomAccessFile raf = new RandomAccessFile(copy.toFile(), "rw")) {
            raf.setLength(size - 1000);
        }
        InvalidCheckpointException e = rejected(dir);
        assertEquals(copy + ": tensor 'model.vision_embed_tokens.sub_GN': data_offsets [17048192, "
                + "17048704] out of range: the data section has " + (size - 1000 - 8 - 10824) + " bytes (expected a "
                + "file of " + size + " bytes, found " + (size - 1000) + "; the file is truncated or the header is "
                + "wrong)", e.getMessage());
    }

    @Test
    void truncatedInsideTheHeader() throws IOException {
        Path src = SharedData.tinyA().resolve("model-f32/model.safetensors");
        Path copy = Files.copy(src, dir.resolve("model.safetensors"));
        try (RandomAccessFile raf = new RandomAccessFile(copy.toFile(), "rw")) {
            raf.setLength(5000);
        }
        assertEquals(copy + ": header length 10824 needs a file of at least 10832 bytes, found 5000 bytes: the file "
                + "is truncated", rejected(copy).getMessage());
        try (RandomAccessFile raf = new RandomAccessFile(copy.toFile(), "rw")) {
            raf.setLength(5);
        }
        assertEquals(copy + ": expected at least 8 bytes (the header length), found a file of 5 bytes: the file is "
                + "truncated", rejected(copy).getMessage());
    }

    @Test
    void offsetsOutOfRange() throws IOException {
        Path f = file("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[250],\"data_offsets\":[16,1016]}}", 32);
        InvalidCheckpointException e = rejected(f);
        assertTrue(e.getMessage().startsWith(f + ": tensor 'b': data_offsets [16, 1016] out of range: the data "
                + "section has 32 bytes"), e.getMessage());
    }

    @Test
    void beginAfterEnd() throws IOException {
        Path f = file("{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[16,0]}}", 16);
        assertEquals(f + ": tensor 'a': data_offsets: expected begin <= end, found [16, 0]", rejected(f).getMessage());
    }

    @Test
    void shapeDisagreesWithByteLength() throws IOException {
        Path f = file("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,16]}}", 16);
        assertEquals(f + ": tensor 'w': shape [2, 3] of F32 needs 24 bytes, found data_offsets [0, 16] = 16 bytes",
                rejected(f).getMessage());
        Path g = file("{\"w\":{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[0,16]}}", 16);
        assertEquals(g + ": tensor 'w': shape [4] of BF16 needs 8 bytes, found data_offsets [0, 16] = 16 bytes",
                rejected(g).getMessage());
    }

    @Test
    void negativeOrHugeDimensions() throws IOException {
        Path f = file("{\"w\":{\"dtype\":\"F32\",\"shape\":[-4],\"data_offsets\":[0,16]}}", 16);
        assertEquals(f + ": tensor 'w': shape[0]: expected a non-negative integer, found -4", rejected(f).getMessage());
        Path g = file("{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,16]}}", 16);
        assertEquals(g + ": tensor 'w': shape [4294967296, 4294967296]: expected a size that fits in 64 bits, found "
                + "an overflow", rejected(g).getMessage());
    }

    @Test
    void missingTensorLookupNamesTheClosest() throws IOException {
        Path f = new SafetensorsBuilder().f32("model.norm.weight", S4, V4).f32("lm_head.weight", S4, V4)
                .write(dir.resolve("model.safetensors"));
        try (Checkpoint c = Checkpoint.open(dir)) {
            InvalidCheckpointException e = assertThrows(InvalidCheckpointException.class,
                    () -> c.tensor("model.norm.bias"));
            assertEquals(f + ": tensor 'model.norm.bias': expected in the checkpoint, found no such tensor among its 2 "
                    + "tensors; closest: 'model.norm.weight', 'lm_head.weight'", e.getMessage());
            assertThrows(InvalidCheckpointException.class, () -> c.info("x"));
        }
    }

    @Test
    void unsupportedDtypesAreRejectedByName() throws IOException {
        for (String dtype : List.of("F64", "I64", "BOOL", "F8_E4M3", "Q4", "I16")) {
            Path f = file("{\"x\":{\"dtype\":\"" + dtype + "\",\"shape\":[4],\"data_offsets\":[0,4]}}", 4);
            assertEquals(f + ": tensor 'x': dtype " + dtype + " is not supported; expected F32, BF16, F16, I8 or U8",
                    rejected(f).getMessage());
        }
    }

    @Test
    void headerLengthOver100MbIsRejectedBeforeAllocating() throws IOException {
        Path f = SafetensorsBuilder.write(dir.resolve("big.safetensors"), 100_000_001L, "{}".getBytes(),
                new byte[0]);
        assertEquals(f + ": header length: expected 2..100000000 bytes (at most 100 MB), found 100000001; this is "
                + "not a safetensors file or it is corrupted", rejected(f).getMessage());
        Path g = SafetensorsBuilder.write(dir.resolve("neg.safetensors"), -1L, "{}".getBytes(), new byte[0]);
        assertTrue(rejected(g).getMessage().contains("found 18446744073709551615"));
    }

    @Test
    void badJson() throws IOException {
        Path f = file("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]", 4);
        InvalidCheckpointException e = rejected(f);
        assertTrue(e.getMessage().startsWith(f + ": header: expected a JSON object, found malformed JSON ("),
                e.getMessage());
        Path g = file("[1,2]", 0);
        assertEquals(g + ": header: expected a JSON object, found array", rejected(g).getMessage());
        Path h = file("{} trailing", 0);
        assertTrue(rejected(h).getMessage().contains("malformed JSON"));
        Path i = file("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8);
        assertEquals(i + ": header: expected unique tensor names, found Duplicate field 'x'", rejected(i).getMessage());
        Path j = file("{\"x\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4);
        assertEquals(j + ": tensor 'x': data_offsets: expected [begin, end], found no value", rejected(j).getMessage());
    }

    @Test
    void overlappingRanges() throws IOException {
        Path f = file("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}", 24);
        assertEquals(f + ": tensor 'b': data_offsets [8, 24] overlap tensor 'a', which ends at 16 (expected every "
                + "tensor to have its own bytes)", rejected(f).getMessage());
    }

    @Test
    void gapsAndTrailingBytes() throws IOException {
        Path f = file("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[4,20]}}", 20);
        assertEquals(f + ": tensor 'a': data_offsets [4, 20]: expected the data to continue at byte 0, found a gap "
                + "of 4 bytes that belongs to no tensor", rejected(f).getMessage());
        Path g = file("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 20);
        assertEquals(g + ": expected the tensors to cover the whole data section of 20 bytes, found 4 trailing bytes "
                + "after byte 16 that belong to no tensor", rejected(g).getMessage());
    }

    @Test
    void scalarsAndEmptyTensorsLoad() throws IOException {
        new SafetensorsBuilder().f32("scalar", new long[0], 7.5f).f32("empty", new long[] {0, 3})
                .f32("v", S4, V4).write(dir.resolve("model.safetensors"));
        try (Checkpoint c = Checkpoint.open(dir);
                Tensor s = c.tensor("scalar");
                Tensor e = c.tensor("empty");
                Tensor v = c.tensor("v")) {
            assertEquals(0, s.dim());
            assertEquals(7.5f, s.item_float());
            assertEquals(2, e.dim());
            assertEquals(0, e.numel());
            float[] out = new float[4];
            v.data_ptr_float().get(out);
            assertArrayEquals(V4, out);
        }
    }

    @Test
    void fileTruncatedAfterOpenIsCaughtBeforeMapping() throws IOException {
        Path f = new SafetensorsBuilder().f32("a", S4, V4).f32("b", S4, V4).write(dir.resolve("model.safetensors"));
        try (Checkpoint c = Checkpoint.open(dir)) {
            try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
                raf.setLength(Files.size(f) - 8);
            }
            InvalidCheckpointException e = assertThrows(InvalidCheckpointException.class, () -> c.tensor("b"));
            assertTrue(e.getMessage().startsWith(f + ": tensor 'b': expected the file to hold bytes up to "),
                    e.getMessage());
            assertTrue(e.getMessage().endsWith("it was truncated after the checkpoint was opened"), e.getMessage());
        }
    }

    @Test
    void tensorsOver2GiBAreRefusedClearly() throws IOException {
        // A sparse file: the 2 GiB data section takes no disk space.
        Path f = dir.resolve("model.safetensors");
        String header = "{\"small\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                + "\"huge\":{\"dtype\":\"F32\",\"shape\":[536870912],\"data_offsets\":[16,2147483664]}}";
        SafetensorsBuilder.write(f, header, new byte[16]);
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.setLength(8 + header.length() + 2147483664L);
        }
        try (Checkpoint c = Checkpoint.open(dir)) {
            assertEquals(2147483648L, c.info("huge").byteLength());
            // The same refusal on every path: the zero-copy mapping, the mapped bytes and the copying read
            // (which model loading uses on CPU), before anything is allocated or mapped.
            long count = Pointer.totalCount();
            for (Executable path : List.<Executable>of(() -> c.tensor("huge"), () -> c.bytes("huge"),
                    () -> c.read("huge"))) {
                InvalidCheckpointException e = assertThrows(InvalidCheckpointException.class, path);
                assertEquals(f + ": tensor 'huge': expected at most 2147483647 bytes per tensor (the JDK 17 mapping "
                        + "limit), found 2147483648 bytes", e.getMessage());
            }
            assertEquals(count, Pointer.totalCount(), "native objects left by the refusals");
            try (Tensor small = c.tensor("small"); Tensor read = c.read("small")) {
                assertEquals(4, small.numel());
                assertEquals(4, read.numel());
            }
        }
    }

    @Test
    void readCopiesTheTensorAndOutlivesTheCheckpoint() throws IOException {
        new SafetensorsBuilder().f32("v", S4, V4).f32("empty", new long[] {0, 3}).write(dir.resolve("model.safetensors"));
        Tensor v;
        Tensor empty;
        try (Checkpoint c = Checkpoint.open(dir)) {
            v = c.read("v");
            empty = c.read("empty");
        }
        try (v; empty) {
            float[] out = new float[4];
            v.data_ptr_float().get(out);
            assertArrayEquals(V4, out);
            assertEquals(0, empty.numel());
            assertEquals(2, empty.dim());
        }
    }

    @Test
    void fileTruncatedAfterOpenFailsTheReadNamingFileAndTensor() throws IOException {
        Path f = new SafetensorsBuilder().f32("a", S4, V4).f32("b", S4, V4).write(dir.resolve("model.safetensors"));
        try (Checkpoint c = Checkpoint.open(dir)) {
            try (Tensor a = c.read("a")) {    // the file is opened and read once before it shrinks
                assertEquals(4, a.numel());
            }
            try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
                raf.setLength(Files.size(f) - 8);
            }
            long count = Pointer.totalCount();
            InvalidCheckpointException e = assertThrows(InvalidCheckpointException.class, () -> c.read("b"));
            long offset = c.info("b").fileOffset();
            assertEquals(f + ": tensor 'b': expected 16 bytes at offset " + offset + ", found the end of the file "
                    + "after 8 of them: the file was truncated after the checkpoint was opened", e.getMessage());
            assertEquals(count, Pointer.totalCount(), "the half-read tensor is freed (no scope was open)");
        }
    }

    @Test
    void fileRemovedAfterOpenFailsTheReadNamingFileAndTensor() throws IOException {
        Path f = new SafetensorsBuilder().f32("a", S4, V4).write(dir.resolve("model.safetensors"));
        try (Checkpoint c = Checkpoint.open(dir)) {
            Files.delete(f);
            InvalidCheckpointException e = assertThrows(InvalidCheckpointException.class, () -> c.read("a"));
            assertTrue(e.getMessage().startsWith(f + ": tensor 'a': cannot open the file: "
                    + "java.nio.file.NoSuchFileException"), e.getMessage());
        }
    }

    @Test
    void emptyFolderAndMissingPath() {
        InvalidCheckpointException e = rejected(dir);
        assertEquals(dir + ": expected model.safetensors or model.safetensors.index.json in the model folder, found "
                + "neither", e.getMessage());
        Path nowhere = dir.resolve("nowhere");
        assertTrue(rejected(nowhere).getMessage().contains("found no such file or directory"));
    }

    // ---- sharded checkpoints -------------------------------------------------------------------

    /** Splits the golden f32 model into two shards + index; returns the index's weight map. */
    private Map<String, String> shardGolden() throws IOException {
        GoldenTensors g = GoldenTensors.read(SharedData.tinyA().resolve("model-f32/model.safetensors"));
        List<String> names = new ArrayList<>();
        g.names().forEach(names::add);
        SafetensorsBuilder first = new SafetensorsBuilder();
        SafetensorsBuilder second = new SafetensorsBuilder();
        Map<String, String> weightMap = new LinkedHashMap<>();
        for (int i = 0; i < names.size(); i++) {
            String n = names.get(i);
            GoldenTensors.Entry e = g.entry(n);
            byte[] bytes = new byte[e.data().remaining()];
            e.data().duplicate().get(bytes);
            boolean inFirst = i % 2 == 0;
            (inFirst ? first : second).raw(n, e.dtype(), e.shape(), bytes);
            weightMap.put(n, inFirst ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors");
        }
        first.write(dir.resolve("model-00001-of-00002.safetensors"));
        second.write(dir.resolve("model-00002-of-00002.safetensors"));
        writeIndex(weightMap);
        return weightMap;
    }

    private void writeIndex(Map<String, String> weightMap) throws IOException {
        ObjectMapper json = new ObjectMapper();
        ObjectNode root = json.createObjectNode();
        root.putObject("metadata").put("total_size", 17_048_704);
        ObjectNode wm = root.putObject("weight_map");
        weightMap.forEach(wm::put);
        Files.writeString(dir.resolve(Checkpoint.INDEX_FILE), json.writeValueAsString(root));
    }

    @Test
    void shardedCheckpointEqualsTheSingleFile() throws IOException {
        Map<String, String> weightMap = shardGolden();
        try (Checkpoint sharded = Checkpoint.open(dir);
                Checkpoint single = Checkpoint.open(SharedData.tinyA().resolve("model-f32"))) {
            assertEquals(single.names(), sharded.names());
            assertEquals(single.totalBytes(), sharded.totalBytes());
            for (String n : single.names()) {
                assertEquals(weightMap.get(n), sharded.info(n).file().getFileName().toString());
                assertEquals(single.bytes(n), sharded.bytes(n), n);
            }
        }
    }

    @Test
    void missingShard() throws IOException {
        shardGolden();
        Files.delete(dir.resolve("model-00002-of-00002.safetensors"));
        InvalidCheckpointException e = rejected(dir);
        assertTrue(e.getMessage().startsWith(dir.resolve(Checkpoint.INDEX_FILE) + ": shard "
                + "'model-00002-of-00002.safetensors' (listed for 38 tensors, e.g. "), e.getMessage());
        assertTrue(e.getMessage().endsWith("is missing: expected " + dir.resolve("model-00002-of-00002.safetensors")
                + " to exist; download it again"), e.getMessage());
    }

    @Test
    void indexDisagreesWithShards() throws IOException {
        Map<String, String> weightMap = shardGolden();
        String moved = "lm_head.weight"; // stored in shard 1
        weightMap.put(moved, "model-00002-of-00002.safetensors");
        writeIndex(weightMap);
        assertEquals(dir.resolve(Checkpoint.INDEX_FILE) + ": tensor 'lm_head.weight': expected in shard "
                + "'model-00002-of-00002.safetensors' as the index says, found it in shard "
                + "'model-00001-of-00002.safetensors'", rejected(dir).getMessage());

        weightMap = shardGolden();
        weightMap.put("model.extra.weight", "model-00001-of-00002.safetensors");
        writeIndex(weightMap);
        assertEquals(dir.resolve(Checkpoint.INDEX_FILE) + ": tensor 'model.extra.weight': expected in shard "
                + "'model-00001-of-00002.safetensors' as the index says, found it in no shard",
                rejected(dir).getMessage());

        weightMap = shardGolden();
        weightMap.remove("lm_head.weight");
        writeIndex(weightMap);
        assertEquals(dir.resolve(Checkpoint.INDEX_FILE) + ": tensor 'lm_head.weight': found in shard "
                + "'model-00001-of-00002.safetensors', expected it to be listed in weight_map",
                rejected(dir).getMessage());

        weightMap = shardGolden();
        weightMap.put("lm_head.weight", "../elsewhere.safetensors");
        writeIndex(weightMap);
        assertTrue(rejected(dir).getMessage().contains("shard '../elsewhere.safetensors': expected a file name inside "));
    }
}
