package io.github.phi3v.core.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.global.torch.DeviceType;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import io.github.phi3v.core.runtime.InferenceScope;
import io.github.phi3v.core.runtime.TorchRuntime;
import io.github.phi3v.core.weights.Checkpoint;
import io.github.phi3v.core.weights.InvalidCheckpointException;

/**
 * Weight-loading errors on the paths model loading takes on CPU: {@link WeightLoader#load} (read, then
 * converted to the compute dtype), {@link WeightLoader#loadTemporary} and {@link Int8Linear#loadAll} (the
 * float32 source of an int8 quantization). A tensor over 2 GiB and a file that shrank after the checkpoint
 * was opened are {@link InvalidCheckpointException}s naming the file and the tensor, and leave no native
 * object behind (the loader owns nothing more after a failed load).
 */
class WeightLoaderErrorsTest {

    @TempDir
    Path dir;

    /** Writes a safetensors file: 8-byte header length, the header, then a data section of {@code dataBytes}. */
    private Path file(String header, long dataBytes) throws IOException {
        Path f = dir.resolve("model.safetensors");
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, h.length);
        Files.write(f, len.array());
        Files.write(f, h, java.nio.file.StandardOpenOption.APPEND);
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.setLength(8 + h.length + dataBytes);   // zeros; sparse where the file system allows
        }
        return f;
    }

    /** Every CPU load path of {@code name}, each in its own scope as the model's modules call them. */
    private static List<Executable> loadPaths(WeightLoader w, String name) {
        return List.of(
                () -> w.load(name),
                () -> w.load(name, ScalarType.Float),
                () -> {
                    try (InferenceScope ignored = InferenceScope.open()) {
                        w.loadTemporary(name, ScalarType.Float);
                    }
                },
                () -> Int8Linear.loadAll(w, List.of(name)));
    }

    @Test
    void tensorsOver2GiBAreRefusedOnEveryLoadPath() throws IOException {
        // [32768, 32770] bf16 = 2 GiB + 128 KiB: over the limit by a little, in a sparse file.
        long huge = 32768L * 32770 * 2;
        Path f = file("{\"small\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
                + "\"huge\":{\"dtype\":\"BF16\",\"shape\":[32768,32770],\"data_offsets\":[16," + (16 + huge) + "]}}",
                16 + huge);
        TorchRuntime.ensureInitialized();
        long count = Pointer.totalCount();
        for (ScalarType dtype : new ScalarType[] {ScalarType.Float, ScalarType.BFloat16}) {
            try (Checkpoint c = Checkpoint.open(f);
                 WeightLoader w = new WeightLoader(c, dtype, DeviceType.CPU, Quantization.INT8, false, false)) {
                long owned = Pointer.totalCount();
                for (Executable path : loadPaths(w, "huge")) {
                    InvalidCheckpointException e = assertThrows(InvalidCheckpointException.class, path);
                    assertEquals(f + ": tensor 'huge': expected at most 2147483647 bytes per tensor (the JDK 17 "
                            + "mapping limit), found " + huge + " bytes", e.getMessage());
                    assertEquals(owned, Pointer.totalCount(), "native objects left by a refused load");
                }
                w.load("small");   // the loader still works
            }
        }
        assertEquals(count, Pointer.totalCount(), "native objects left once the loaders are closed");
    }

    /**
     * End to end: a model whose config.json asks for a 2 GiB token embedding ([8388608, 64] float32), with a
     * matching crafted header over a sparse file, is refused by {@link Phi3VModel#load} in float32, bf16 and
     * int8 alike, naming file and tensor, and leaves nothing allocated.
     */
    @Test
    void aModelWithATensorOver2GiBIsRefusedByLoad() throws IOException {
        long vocab = 1L << 23;
        Path model = GoldenCases.modelF32();   // its config.json and tensor names; the bytes are not used
        Path huge = Files.createDirectories(dir.resolve("huge"));
        ObjectMapper json = new ObjectMapper();
        ObjectNode config = (ObjectNode) json.readTree(model.resolve("config.json").toFile());
        config.put("vocab_size", vocab);
        json.writeValue(huge.resolve("config.json").toFile(), config);
        ObjectNode header = json.createObjectNode();
        long offset = 0;
        try (Checkpoint c = Checkpoint.open(model)) {
            for (String name : c.names()) {
                long[] shape = c.info(name).shape();
                if (name.equals(WeightNames.EMBED_TOKENS) || name.equals(WeightNames.LM_HEAD)) {
                    shape[0] = vocab;
                }
                long bytes = 4;
                for (long d : shape) {
                    bytes *= d;
                }
                ObjectNode t = header.putObject(name);
                t.put("dtype", "F32");
                shape(t.putArray("shape"), shape);
                shape(t.putArray("data_offsets"), new long[] {offset, offset + bytes});
                offset += bytes;
            }
        }
        Files.move(file(json.writeValueAsString(header), offset), huge.resolve("model.safetensors"));
        Path f = huge.resolve("model.safetensors");
        TorchRuntime.ensureInitialized();
        long count = Pointer.totalCount();
        for (ModelOptions options : List.of(ModelOptions.defaults().withPrecision(Precision.FLOAT32),
                ModelOptions.defaults().withPrecision(Precision.BFLOAT16),
                ModelOptions.defaults().withPrecision(Precision.BFLOAT16).withQuantization(Quantization.INT8))) {
            InvalidCheckpointException e = assertThrows(InvalidCheckpointException.class,
                    () -> Phi3VModel.load(huge, options));
            assertEquals(f + ": tensor '" + WeightNames.EMBED_TOKENS + "': expected at most 2147483647 bytes per "
                    + "tensor (the JDK 17 mapping limit), found 2147483648 bytes", e.getMessage(), options.toString());
            assertEquals(count, Pointer.totalCount(), "native objects left by the refused load " + options);
        }
    }

    private static void shape(ArrayNode array, long[] values) {
        for (long v : values) {
            array.add(v);
        }
    }

    @Test
    void aFileShrunkAfterOpenIsAnInvalidCheckpointNamingFileAndTensor() throws IOException {
        Path f = file("{\"a\":{\"dtype\":\"F32\",\"shape\":[4,4],\"data_offsets\":[0,64]},"
                + "\"b\":{\"dtype\":\"BF16\",\"shape\":[4,4],\"data_offsets\":[64,96]}}", 96);
        TorchRuntime.ensureInitialized();
        long count = Pointer.totalCount();
        try (Checkpoint c = Checkpoint.open(f);
             WeightLoader w = new WeightLoader(c, ScalarType.BFloat16, DeviceType.CPU, Quantization.INT8, false, false)) {
            w.load("a");
            try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
                raf.setLength(Files.size(f) - 20);   // 12 of b's 32 bytes are left
            }
            long owned = Pointer.totalCount();
            for (Executable path : loadPaths(w, "b")) {
                InvalidCheckpointException e = assertThrows(InvalidCheckpointException.class, path);
                assertEquals(f + ": tensor 'b': expected 32 bytes at offset " + c.info("b").fileOffset() + ", found "
                        + "the end of the file after 12 of them: the file was truncated after the checkpoint was "
                        + "opened", e.getMessage());
                assertEquals(owned, Pointer.totalCount(), "native objects left by a failed read");
            }
        }
        assertEquals(count, Pointer.totalCount(), "native objects left once the loader is closed");
    }
}
