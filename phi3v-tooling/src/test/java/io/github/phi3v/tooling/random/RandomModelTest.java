package io.github.phi3v.tooling.random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.github.phi3v.core.config.Phi3VConfig;
import io.github.phi3v.core.model.ImageEmbeddings;
import io.github.phi3v.core.model.ImagePixels;
import io.github.phi3v.core.model.KvCache;
import io.github.phi3v.core.model.ModelOptions;
import io.github.phi3v.core.model.Phi3VModel;
import io.github.phi3v.core.model.Precision;
import io.github.phi3v.core.model.WeightNames;
import io.github.phi3v.core.weights.Checkpoint;
import io.github.phi3v.core.weights.DType;
import io.github.phi3v.core.weights.SafetensorsWriter;
import io.github.phi3v.image.Phi3ImageProcessor;
import io.github.phi3v.image.ProcessedImage;
import io.github.phi3v.testsupport.SharedData;
import io.github.phi3v.tokenizer.ChatTemplate;
import io.github.phi3v.tokenizer.Message;
import io.github.phi3v.tokenizer.Phi3Tokenizer;

/** The tiny random model folder is complete: config, preprocessor, tokenizer and weights all load and run. */
class RandomModelTest {

    @TempDir
    static Path tmp;
    static Path tiny;

    @BeforeAll
    static void buildTiny() throws IOException {
        tiny = RandomModel.builder(RandomModel.tinyConfig()).build(tmp.resolve("tiny"));
    }

    @Test
    void folderHasEveryFileOfAnHfModel() throws IOException {
        for (String f : List.of("config.json", "preprocessor_config.json", "tokenizer.json", "tokenizer_config.json",
                "special_tokens_map.json", "model.safetensors")) {
            assertTrue(Files.isRegularFile(tiny.resolve(f)), f);
        }
        try (java.util.stream.Stream<Path> s = Files.list(tmp)) {
            assertTrue(s.noneMatch(p -> p.getFileName().toString().startsWith(".")), "no temporary folder left");
        }
        // the weights get the same (umask) permissions as the JSON files, not a temp file's owner-only ones
        assertEquals(Files.getPosixFilePermissions(tiny.resolve("config.json")),
                Files.getPosixFilePermissions(tiny.resolve("model.safetensors")));
    }

    @Test
    void configRoundTrips() {
        Phi3VConfig written = Phi3VConfig.fromDirectory(tiny);
        assertEquals(RandomModel.builder(RandomModel.tinyConfig()).create().config(), written);
        assertEquals(64, written.originalMaxPositionEmbeddings());
        assertEquals(32, written.imageEmbedding().clip().hiddenSize());
    }

    @Test
    void namesAndShapesComeFromTheNameTableAndMatchTheGoldenTinyModel() {
        Map<String, long[]> expected = WeightNames.stored(RandomModel.tinyConfig());
        try (Checkpoint ours = Checkpoint.open(tiny)) {
            assertEquals(expected.keySet(), ours.names());
            for (String n : ours.names()) {
                assertArrayEquals(expected.get(n), ours.info(n).shape(), n);
            }
            Path golden = SharedData.tinyA().resolve("model-f32");
            try (Checkpoint gold = Checkpoint.open(golden)) {
                assertEquals(new TreeMap<>(shapes(gold)).keySet(), new TreeMap<>(shapes(ours)).keySet());
                shapes(gold).forEach((n, s) -> assertArrayEquals(s, ours.info(n).shape(), n));
            }
        }
    }

    private static Map<String, long[]> shapes(Checkpoint c) {
        Map<String, long[]> m = new TreeMap<>();
        for (String n : c.names()) {
            m.put(n, c.info(n).shape());
        }
        return m;
    }

    @Test
    void syntheticTokenizerHasTheRealSpecialTokensAndIds() {
        Phi3Tokenizer tok = Phi3Tokenizer.fromDirectory(tiny);
        assertEquals(32045, tok.vocabSize());
        assertEquals(0, tok.tokenToId("<unk>"));
        assertEquals(1, tok.bosId());
        assertEquals(2, tok.tokenToId("</s>"));
        assertEquals(3, tok.tokenToId("<0x00>"));
        assertEquals(13, tok.tokenToId("<0x0A>"));
        assertEquals(258, tok.tokenToId("<0xFF>"));
        assertEquals(29871, tok.tokenToId("\u2581"));
        assertEquals(32000, tok.eosTokenId());
        assertEquals(32001, tok.tokenToId("<|assistant|>"));
        assertEquals(32006, tok.tokenToId("<|system|>"));
        assertEquals(32007, tok.tokenToId("<|end|>"));
        assertEquals(32010, tok.tokenToId("<|user|>"));
        assertEquals(32044, tok.tokenToId("<|image|>"));
        assertEquals(32043, tok.tokenToId("<|placeholder39|>"));
        assertArrayEquals(new int[] {32000, 32007, 2}, tok.eosIds());
        assertTrue(ChatTemplate.isPhi3Template(tok.chatTemplateSource()));

        String prompt = ChatTemplate.render(List.of(new Message("user", "What is the stock price?")), true);
        int[] ids = tok.encode(prompt);
        assertEquals(1, ids[0]);
        assertEquals(32010, ids[1]);
        assertEquals(32001, ids[ids.length - 1]);     // <|assistant|> strips the "\n" after it (rstrip)
        assertEquals(13, ids[ids.length - 2]);        // "\n" after <|end|>: byte fallback <0x0A>
        String text = "Hello world, 42 ünïcödé ✓ and the image!";
        assertEquals(text, tok.decode(tok.encode(text), true));
        assertTrue(tok.encode("the image").length <= 3, Arrays.toString(tok.encode("the image")));
    }

    @Test
    void loadsWithTheImageProcessorAndModelAndRunsAForward() {
        Phi3ImageProcessor proc = Phi3ImageProcessor.fromConfig(tiny);
        assertEquals(16, proc.numCrops());
        Phi3Tokenizer tok = Phi3Tokenizer.fromDirectory(tiny);
        ProcessedImage img = proc.process(SharedData.tinyA().resolve("images/a01_rgb_500x300.png"), 1);
        String prompt = ChatTemplate.render(List.of(new Message("user", "<|image_1|>\nWhat is this?")), true);
        int[] ids = tok.encodeMultimodal(prompt, new int[] {img.numImageTokens()});
        ModelOptions opts = ModelOptions.defaults().withPrecision(Precision.FLOAT32);
        try (Phi3VModel model = Phi3VModel.load(tiny, opts);
             ImageEmbeddings emb = model.encodeImage(new ImagePixels(img.pixelValues(), img.numCrops(),
                     img.hdHeight(), img.hdWidth()));
             KvCache cache = model.newKvCache(ids.length + 1)) {
            float[] logits = model.forward(ids, List.of(emb), cache, 0);
            assertEquals(32064, logits.length);
            double sumSq = 0;
            for (float v : logits) {
                assertTrue(Float.isFinite(v));
                sumSq += v * v;
            }
            assertTrue(sumSq > 0);
        }
    }

    @Test
    void sameSeedSameBytesOtherSeedOtherBytesAndBf16Loads() throws Exception {
        Path a = RandomModel.builder(RandomModel.tinyConfig()).dtype(DType.BF16).seed(5).build(tmp.resolve("a"));
        Path b = RandomModel.builder(RandomModel.tinyConfig()).dtype(DType.BF16).seed(5).build(tmp.resolve("b"));
        Path c = RandomModel.builder(RandomModel.tinyConfig()).dtype(DType.BF16).seed(6).build(tmp.resolve("c"));
        assertEquals(sha(a.resolve("model.safetensors")), sha(b.resolve("model.safetensors")));
        assertFalse(sha(a.resolve("model.safetensors")).equals(sha(c.resolve("model.safetensors"))));
        assertEquals("bfloat16", Phi3VConfig.fromDirectory(a).torchDtype());
        try (Phi3VModel model = Phi3VModel.load(a, ModelOptions.defaults().withPrecision(Precision.FLOAT32));
             KvCache cache = model.newKvCache(8)) {
            float[] logits = model.forward(new int[] {1, 32010, 13, 300}, List.of(), cache, 0);
            assertTrue(Float.isFinite(logits[0]));
        }
    }

    @Test
    void shardedCheckpointWithIndexLoads() throws IOException {
        Path d = RandomModel.builder(RandomModel.tinyConfig()).maxShardBytes(6_000_000).build(tmp.resolve("sharded"));
        assertFalse(Files.exists(d.resolve("model.safetensors")));
        assertTrue(Files.isRegularFile(d.resolve("model.safetensors.index.json")));
        assertTrue(Files.isRegularFile(d.resolve("model-00001-of-00004.safetensors")),
                "17 MB of float32 weights in 6 MB shards (the 8 MB embedding and lm_head alone)");
        try (Checkpoint c = Checkpoint.open(d)) {
            assertEquals(WeightNames.stored(RandomModel.tinyConfig()).keySet(), c.names());
        }
        try (Phi3VModel model = Phi3VModel.load(d, ModelOptions.defaults().withPrecision(Precision.FLOAT32));
             KvCache cache = model.newKvCache(4)) {
            assertTrue(Float.isFinite(model.forward(new int[] {1, 2, 3}, List.of(), cache, 0)[5]));
        }
    }

    @Test
    void refusesANonEmptyFolder() throws IOException {
        Path d = Files.createDirectories(tmp.resolve("full"));
        Files.writeString(d.resolve("x"), "x");
        IOException e = assertThrows(IOException.class,
                () -> RandomModel.builder(RandomModel.tinyConfig()).build(d));
        assertTrue(e.getMessage().contains("non-empty"), e.getMessage());
    }

    @Test
    void fullSizePresetFromTheRealConfigHasTheRealParameterCount() {
        Phi3VConfig real = Phi3VConfig.fromFile(SharedData.golden().resolve("phi3v-128k-config/config.json"));
        RandomModel m = RandomModel.builder(real).dtype(DType.BF16).create();
        long params = m.tensors().stream().mapToLong(SafetensorsWriter.Tensor::numel).sum();
        // Phi-3-vision-128k-instruct: 4.15 B parameters (embedding and lm_head 2 x 98.5 M, CLIP ViT-L 303 M)
        assertTrue(params > 4_140_000_000L && params < 4_160_000_000L, "params " + params);
        long bytes = m.checkpointBytes();
        assertTrue(bytes > 2 * params && bytes < 2 * params + 200_000, "bytes " + bytes);
        assertEquals(WeightNames.stored(real).size(), m.tensors().size());
        assertEquals("bfloat16", m.config().torchDtype());
    }

    private static String sha(Path p) throws Exception {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        return HexFormat.of().formatHex(md.digest(Files.readAllBytes(p)));
    }
}
