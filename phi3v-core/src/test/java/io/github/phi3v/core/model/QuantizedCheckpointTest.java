package io.github.phi3v.core.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import io.github.phi3v.core.config.InvalidConfigException;
import io.github.phi3v.core.config.Phi3VConfig;
import io.github.phi3v.core.weights.Checkpoint;
import io.github.phi3v.core.weights.DType;
import io.github.phi3v.core.weights.InvalidCheckpointException;
import io.github.phi3v.core.weights.SafetensorsWriter;
import io.github.phi3v.core.weights.TensorInfo;
import io.github.phi3v.testsupport.GoldenTensors;

/**
 * Pre-quantized folders ({@link QuantizedCheckpoint}) of the golden tiny bf16 model: written, loaded without
 * quantizing again to the same greedy tokens and logits argmax as quantizing at load, and refused when a
 * quantized tensor is malformed.
 */
class QuantizedCheckpointTest {

    private static final String QKV0 = WeightNames.decoderLayer(0, WeightNames.QKV_PROJ);
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path dir;
    static Path int8;
    static Path int4;

    @BeforeAll
    static void write() throws IOException {
        int8 = dir.resolve("int8");
        int4 = dir.resolve("int4");
        QuantizedCheckpoint.write(GoldenCases.modelBf16(), int8, Quantization.INT8);
        QuantizedCheckpoint.write(GoldenCases.modelBf16(), int4, Quantization.INT4);
    }

    @Test
    void folderLayoutIsTheDocumentedOne() throws IOException {
        assertEquals(Quantization.INT8, QuantizedCheckpoint.of(int8));
        assertEquals(Quantization.INT4, QuantizedCheckpoint.of(int4));
        assertEquals(Quantization.NONE, QuantizedCheckpoint.of(GoldenCases.modelBf16()));
        assertTrue(Files.exists(int4.resolve("tokenizer.json")), "tokenizer files are copied");
        try (Checkpoint c = Checkpoint.open(int4)) {
            assertEquals(DType.U8, c.info(QKV0).dtype());
            assertArrayEquals(new long[] {192, 32}, c.info(QKV0).shape());             // [out, in/2]
            assertArrayEquals(new long[] {192, 2}, c.info(QKV0 + "_scale").shape());   // [out, in/32]
            assertEquals(DType.BF16, c.info(QKV0 + "_zero").dtype());
            assertEquals(DType.BF16, c.info(WeightNames.EMBED_TOKENS).dtype());        // unchanged
        }
        try (Checkpoint c = Checkpoint.open(int8)) {
            assertEquals(DType.I8, c.info(QKV0).dtype());
            assertArrayEquals(new long[] {192}, c.info(QKV0 + "_scale").shape());
        }
        assertEquals(4, JSON.readTree(int4.resolve("config.json").toFile()).get("quantization_config").size());
    }

    @Test
    void preQuantizedFoldersGiveTheSameTokensAsQuantizingAtLoad() {
        for (Quantization q : List.of(Quantization.INT8, Quantization.INT4)) {
            Path folder = q == Quantization.INT8 ? int8 : int4;
            try (Phi3VModel atLoad = Phi3VModel.load(GoldenCases.modelBf16(),
                         ModelOptions.defaults().withPrecision(Precision.BFLOAT16).withQuantization(q));
                 Phi3VModel stored = Phi3VModel.load(folder, ModelOptions.defaults().withPrecision(Precision.BFLOAT16))) {
                assertEquals(q, stored.options().quantization());
                int compared = 0;
                for (String c : List.of("c_text_long", "a_one_image")) {
                    GoldenTensors g = GoldenCases.generation(c);
                    int[] prompt = g.ints("prompt_input_ids");
                    int n = g.longs("nocache_pristine_new_ids").length;
                    List<ImagePixels> pixels = GoldenCases.images(c);
                    int[] a = Int8QuantizationTest.greedy(atLoad, prompt, pixels, n, null, null);
                    int[] b = Int8QuantizationTest.greedy(stored, prompt, pixels, n, null, null);
                    assertArrayEquals(a, b, q + " " + c + ": greedy ids of the pre-quantized folder");
                    int[] ids = GoldenCases.forward(c).ints("input_ids");
                    assertArrayEquals(atLoad.inspect(ids, pixels, 1).logitsArgmax(),
                            stored.inspect(ids, pixels, 1).logitsArgmax(), q + " " + c + ": prefill argmax");
                    compared += n;
                }
                assertTrue(compared >= 10, "compared " + compared + " greedy tokens");
            }
        }
    }

    @Test
    void malformedQuantizedTensorsAreRefusedNamingFileAndTensor() throws IOException {
        long[][] shapes = {{192, 3}, {192, 31}, {192}};
        String[] expected = {
            QKV0 + "_scale': shape [192, 3]: expected [192, 2] (one per output channel and group of 32 inputs, 2 groups)",
            QKV0 + "': packed shape [192, 31]: expected [192, 32] (two 4-bit weights per byte of a [192, 64] weight)",
            QKV0 + "_zero': shape [192]: expected [192, 2]"};
        String[] tensor = {QKV0 + "_scale", QKV0, QKV0 + "_zero"};
        for (int i = 0; i < shapes.length; i++) {
            long[] shape = shapes[i];
            Path bad = rewrite(int4, "bad4-" + i, tensor[i], t -> resized(t, shape));
            InvalidCheckpointException e = assertThrows(InvalidCheckpointException.class, () -> Phi3VModel.load(bad));
            assertTrue(e.getMessage().startsWith(bad.resolve("model.safetensors") + ": tensor '" + expected[i]),
                    e.getMessage());
        }
        Path missing = rewrite(int4, "bad4-missing", QKV0 + "_zero", t -> null);
        InvalidCheckpointException e = assertThrows(InvalidCheckpointException.class, () -> Phi3VModel.load(missing));
        assertTrue(e.getMessage().contains("'" + QKV0 + "_zero': missing"), e.getMessage());
        // Row 5's scales 2.0 and 1.0078125: bf16 holds both, but the second is no code of the first's power of two.
        Path offCodes = rewrite(int4, "bad4-codes", QKV0 + "_scale", t -> withRow(t, 5, (short) 0x4000, (short) 0x3F81));
        e = assertThrows(InvalidCheckpointException.class, () -> Phi3VModel.load(offCodes));
        assertTrue(e.getMessage().startsWith(offCodes.resolve("model.safetensors") + ": tensor '" + QKV0 + "': int4 "
                + "scales: row 5, group 1 holds 1.0078125, not 0..255 times 2^-6"), e.getMessage());
        Path int8Scale = rewrite(int8, "bad8", QKV0 + "_scale", t -> resized(t, new long[] {192, 1}));
        e = assertThrows(InvalidCheckpointException.class, () -> Phi3VModel.load(int8Scale));
        assertTrue(e.getMessage().contains("'" + QKV0 + "_scale': shape [192, 1]: expected [192]"), e.getMessage());
        Path int8AsBf16 = rewrite(int8, "bad8-dtype", QKV0, t -> SafetensorsWriter.Tensor.ofBytes(t.name(), DType.U8,
                t.shape(), ByteBuffer.allocate((int) (192 * 64))));
        e = assertThrows(InvalidCheckpointException.class, () -> Phi3VModel.load(int8AsBf16));
        assertTrue(e.getMessage().contains("'" + QKV0 + "': dtype U8: an int8 folder stores"), e.getMessage());
    }

    @Test
    void quantizedTensorsWithoutQuantizationConfigAreRefused() throws IOException {
        Path noConfig = rewrite(int8, "no-config", null, t -> t);
        ObjectNode cfg = (ObjectNode) JSON.readTree(noConfig.resolve("config.json").toFile());
        cfg.remove("quantization_config");
        JSON.writeValue(noConfig.resolve("config.json").toFile(), cfg);
        InvalidCheckpointException e = assertThrows(InvalidCheckpointException.class, () -> Phi3VModel.load(noConfig));
        assertTrue(e.getMessage().contains("dtype I8 belongs only in a pre-quantized folder"), e.getMessage());

        Path unknown = rewrite(int8, "unknown-method", null, t -> t);
        ObjectNode c2 = (ObjectNode) JSON.readTree(unknown.resolve("config.json").toFile());
        ((ObjectNode) c2.get("quantization_config")).put("quant_method", "gptq");
        JSON.writeValue(unknown.resolve("config.json").toFile(), c2);
        InvalidConfigException ce = assertThrows(InvalidConfigException.class, () -> Phi3VModel.load(unknown));
        assertTrue(ce.getMessage().contains("is not supported: expected quant_method \"phi3v\""), ce.getMessage());
    }

    @Test
    void wrongRequestsAreRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Phi3VModel.load(int4,
                ModelOptions.defaults().withPrecision(Precision.BFLOAT16).withQuantization(Quantization.INT8)));
        assertTrue(e.getMessage().endsWith("is pre-quantized int4: load it with quantization none or int4, not int8"),
                e.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> QuantizedCheckpoint.write(GoldenCases.modelBf16(), dir.resolve("none"), Quantization.NONE));
        e = assertThrows(IllegalArgumentException.class,
                () -> QuantizedCheckpoint.write(int4, dir.resolve("again"), Quantization.INT8));
        assertTrue(e.getMessage().endsWith("is already pre-quantized (int4); quantize the original model folder"),
                e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> QuantizedCheckpoint.write(GoldenCases.modelBf16(), int4, Quantization.INT4));
        assertTrue(e.getMessage().contains("already holds a model"), e.getMessage());
    }

    /** A tensor of the same name and dtype with another shape (zero bytes). */
    private static SafetensorsWriter.Tensor resized(SafetensorsWriter.Tensor t, long[] shape) {
        long n = t.type().byteSize();
        for (long d : shape) {
            n *= d;
        }
        return SafetensorsWriter.Tensor.ofBytes(t.name(), t.type(), shape, ByteBuffer.allocate((int) n));
    }

    /**
     * A bf16 {@code [rows, 2]} tensor of {@code t}'s name and shape holding 1.0 (valid codes), but for row
     * {@code row}, set to the two bf16 bit patterns.
     */
    private static SafetensorsWriter.Tensor withRow(SafetensorsWriter.Tensor t, int row, short first, short second) {
        int n = (int) (t.shape()[0] * t.shape()[1]);
        ByteBuffer b = ByteBuffer.allocate(n * 2).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < n; i++) {
            b.putShort(i * 2, (short) 0x3F80);
        }
        b.putShort(row * 4, first).putShort(row * 4 + 2, second);
        return SafetensorsWriter.Tensor.ofBytes(t.name(), DType.BF16, t.shape(), b);
    }

    /** A copy of {@code folder} whose tensor {@code name} is replaced by {@code change} (null: dropped). */
    private static Path rewrite(Path folder, String to, String name,
            Function<SafetensorsWriter.Tensor, SafetensorsWriter.Tensor> change) throws IOException {
        Path out = Files.createDirectories(dir.resolve(to));
        for (String f : List.of(Phi3VConfig.FILE_NAME, "tokenizer.json", "tokenizer_config.json")) {
            Files.copy(folder.resolve(f), out.resolve(f));
        }
        try (Checkpoint c = Checkpoint.open(folder)) {
            List<SafetensorsWriter.Tensor> tensors = new ArrayList<>();
            for (String n : c.names()) {
                TensorInfo i = c.info(n);
                SafetensorsWriter.Tensor t = SafetensorsWriter.Tensor.ofBytes(n, i.dtype(), i.shape(), c.bytes(n));
                SafetensorsWriter.Tensor changed = n.equals(name) ? change.apply(t) : t;
                if (changed != null) {
                    tensors.add(changed);
                }
            }
            SafetensorsWriter.write(out.resolve(Checkpoint.SINGLE_FILE), Map.of(), tensors);
        }
        return out;
    }
}
