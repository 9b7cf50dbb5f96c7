package io.github.phi3v.core.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Consumer;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import io.github.phi3v.testsupport.SharedData;

class Phi3VConfigTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void readsTheRealPhi3VisionConfig() {
        Phi3VConfig c = Phi3VConfig.fromDirectory(SharedData.resolve("golden/phi3v-128k-config"));
        assertEquals(32064, c.vocabSize());
        assertEquals(3072, c.hiddenSize());
        assertEquals(8192, c.intermediateSize());
        assertEquals(32, c.numHiddenLayers());
        assertEquals(32, c.numAttentionHeads());
        assertEquals(32, c.numKeyValueHeads());
        assertEquals(96, c.headDim());
        assertEquals(1e-5, c.rmsNormEps());
        assertEquals(10000.0, c.ropeTheta());
        assertEquals(131072, c.maxPositionEmbeddings());
        assertEquals(4096, c.originalMaxPositionEmbeddings());
        assertEquals("su", c.ropeScaling().type());
        assertEquals(48, c.ropeScaling().shortFactor().length);
        assertEquals(1.05, c.ropeScaling().shortFactor()[0]);
        assertEquals(64.81001281738281, c.ropeScaling().longFactor()[47]);
        assertEquals(131072, c.slidingWindow());
        assertEquals(1, c.bosTokenId());
        assertEquals(2, c.eosTokenId());
        assertEquals(List.of(2), c.eosTokenIds());
        assertEquals(32000, c.padTokenId(), "absent pad_token_id defaults to 32000");
        assertFalse(c.tieWordEmbeddings());
        assertEquals("bfloat16", c.torchDtype());
        ImageEmbeddingConfig img = c.imageEmbedding();
        assertTrue(c.hasVision());
        assertEquals(1024, img.imageDimOut());
        assertEquals(144, img.numImgTokens());
        assertEquals(ClipVisionConfig.vitL14_336(), img.clip(), "no clip_vision_config: ViT-L/14-336");
        assertEquals(-2, img.layerIdx());
        assertEquals("patch", img.typeFeature());
        assertEquals("sub_glb", img.hdTransformOrder());
        assertEquals("mlp", img.projectionCls());
        assertEquals(4096, img.mergedDim());
        assertEquals(12, img.tokensPerSide());
        assertEquals(64, img.clip().headDim());
        assertEquals(24, img.clip().patchesPerSide());
    }

    @Test
    void readsTheTinyGoldenConfigWithItsClipOverride() {
        Phi3VConfig c = Phi3VConfig.fromDirectory(SharedData.tinyA().resolve("model-f32"));
        assertEquals(64, c.hiddenSize());
        assertEquals(2, c.numHiddenLayers());
        assertEquals(4, c.numAttentionHeads());
        assertEquals(16, c.headDim());
        assertEquals(64, c.originalMaxPositionEmbeddings());
        assertEquals(8, c.ropeScaling().size());
        assertEquals("float32", c.torchDtype());
        assertEquals(new ClipVisionConfig(32, 64, 3, 4, 336, 14, 3, "quick_gelu", 1e-5), c.imageEmbedding().clip());
        assertEquals(32, c.imageEmbedding().imageDimOut());
        Phi3VConfig bf16 = Phi3VConfig.fromDirectory(SharedData.tinyA().resolve("model-bf16"));
        assertEquals("bfloat16", bf16.torchDtype());
        assertEquals(c.imageEmbedding(), bf16.imageEmbedding());
        assertEquals(c.ropeScaling(), bf16.ropeScaling());
    }

    @Test
    void eosTokenIdMayBeAList() throws IOException {
        Phi3VConfig c = Phi3VConfig.fromJson(tinyWith(o -> o.putArray("eos_token_id").add(32007).add(32000).add(2)));
        assertEquals(32007, c.eosTokenId());
        assertEquals(List.of(32007, 32000, 2), c.eosTokenIds());
    }

    @Test
    void textOnlyConfigHasNoImageEmbedding() throws IOException {
        Phi3VConfig c = Phi3VConfig.fromJson(tinyWith(o -> {
            o.remove("embd_layer");
            o.remove("img_processor");
        }));
        assertNull(c.imageEmbedding());
        assertFalse(c.hasVision());
    }

    @Test
    void longropeIsTheSameAlgorithm() throws IOException {
        Phi3VConfig c = Phi3VConfig.fromJson(tinyWith(o -> ((ObjectNode) o.get("rope_scaling")).put("type",
                "longrope")));
        assertEquals("longrope", c.ropeScaling().type());
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
        "rope type yarn|rope_scaling.type: expected \"su\" or \"longrope\", found \"yarn\"",
        "short factors 7|rope_scaling.short_factor: expected 8 values (head_dim / 2 = 64 / 4 / 2), found 7 values",
        "long factors 9|rope_scaling.long_factor: expected 8 values (head_dim / 2 = 64 / 4 / 2), found 9 values",
        "negative factor|rope_scaling.short_factor[3]: expected a positive finite number, found -1.0",
        "heads 5|hidden_size: expected a multiple of num_attention_heads (5), found 64",
        "kv heads 3|num_key_value_heads: expected a divisor of num_attention_heads (4), found 3",
        "hidden as string|hidden_size: expected an integer, found string \"64\"",
        "projection linear|embd_layer.projection_cls: expected \"mlp\" (the only projection implemented), found \"linear\"",
        "no hd transform|embd_layer.use_hd_transform: expected true (the only image layout implemented), found false",
        "no img_processor|img_processor: expected an object describing the CLIP image processor (embd_layer is set), found no value",
        "image_dim_out 64|img_processor.image_dim_out: expected the CLIP hidden size 32, found 64",
        "clip heads 5|img_processor.clip_vision_config.hidden_size: expected a multiple of num_attention_heads (5), found 32",
        "clip act relu|img_processor.clip_vision_config.hidden_act: expected \"quick_gelu\" or \"gelu\", found \"relu\"",
        "num_img_tokens 100|img_processor.num_img_tokens: expected 144 ((24/2)^2 merged patches per crop), found 100",
        "layer_idx 9|img_processor.layer_idx: expected an index into the 4 CLIP hidden states (-4..3), found 9",
        "model_name other|img_processor.model_name: expected \"openai/clip-vit-large-patch14-336\", found \"other\"",
        "eos out of vocab|eos_token_id: expected a token id in [0, vocab_size = 32064), found 40000",
        "eos empty list|eos_token_id: expected an integer or a non-empty list of integers, found []",
        "model type llama|model_type: expected one of \"phi3_v\", found \"llama\"",
        "orig max too big|original_max_position_embeddings: expected at most max_position_embeddings (131072), found 200000",
        "dtype int8|torch_dtype: expected \"float32\", \"bfloat16\" or \"float16\", found \"int8\"",
    })
    void rejectsBadConfigsWithFieldExpectedAndFound(String mutation, String expectedMessage) throws IOException {
        String json = tinyWith(o -> mutate(o, mutation));
        InvalidConfigException e = assertThrows(InvalidConfigException.class, () -> Phi3VConfig.fromJson(json));
        assertEquals("config.json: " + expectedMessage, e.getMessage());
    }

    @Test
    void fileErrorsNameTheFile(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("config.json");
        Files.writeString(file, tinyWith(o -> o.put("num_key_value_heads", 3)));
        InvalidConfigException e = assertThrows(InvalidConfigException.class, () -> Phi3VConfig.fromFile(file));
        assertEquals(file + ": num_key_value_heads: expected a divisor of num_attention_heads (4), found 3",
                e.getMessage());
        Files.writeString(file, "{\"hidden_size\": 64,");
        e = assertThrows(InvalidConfigException.class, () -> Phi3VConfig.fromDirectory(dir));
        assertTrue(e.getMessage().startsWith(file + ": expected a JSON object, found malformed JSON"), e.getMessage());
        Path missing = dir.resolve("nope");
        e = assertThrows(InvalidConfigException.class, () -> Phi3VConfig.fromDirectory(missing));
        assertTrue(e.getMessage().contains("found no such file"), e.getMessage());
        Files.writeString(file, tinyWith(o -> ((ObjectNode) o.get("img_processor").get("clip_vision_config"))
                .put("patch_size", 15)));
        e = assertThrows(InvalidConfigException.class, () -> Phi3VConfig.fromFile(file));
        assertEquals(file + ": img_processor.clip_vision_config.image_size: expected a multiple of patch_size (15), "
                + "found 336", e.getMessage());
    }

    @Test
    void rejectsDuplicateKeys() {
        InvalidConfigException e = assertThrows(InvalidConfigException.class,
                () -> Phi3VConfig.fromJson("{\"hidden_size\": 64, \"hidden_size\": 32}"));
        assertTrue(e.getMessage().contains("Duplicate field 'hidden_size'"), e.getMessage());
    }

    @Test
    void recordsAreImmutable() throws IOException {
        Phi3VConfig c = Phi3VConfig.fromJson(tinyWith(o -> { }));
        c.ropeScaling().shortFactor()[0] = 99;
        assertEquals(1.0, c.ropeScaling().shortFactor()[0]);
        assertThrows(UnsupportedOperationException.class, () -> c.eosTokenIds().add(5));
    }

    private static void mutate(ObjectNode o, String mutation) {
        ObjectNode rope = (ObjectNode) o.get("rope_scaling");
        ObjectNode img = (ObjectNode) o.get("img_processor");
        ObjectNode embd = (ObjectNode) o.get("embd_layer");
        ObjectNode clip = (ObjectNode) img.get("clip_vision_config");
        switch (mutation) {
            case "rope type yarn" -> rope.put("type", "yarn");
            case "short factors 7" -> ((ArrayNode) rope.get("short_factor")).remove(7);
            case "long factors 9" -> ((ArrayNode) rope.get("long_factor")).add(2.0);
            case "negative factor" -> ((ArrayNode) rope.get("short_factor")).set(3, -1.0);
            case "heads 5" -> o.put("num_attention_heads", 5).put("num_key_value_heads", 5);
            case "kv heads 3" -> o.put("num_key_value_heads", 3);
            case "hidden as string" -> o.put("hidden_size", "64");
            case "projection linear" -> embd.put("projection_cls", "linear");
            case "no hd transform" -> embd.remove("use_hd_transform");
            case "no img_processor" -> o.remove("img_processor");
            case "image_dim_out 64" -> img.put("image_dim_out", 64);
            case "clip heads 5" -> clip.put("num_attention_heads", 5);
            case "clip act relu" -> clip.put("hidden_act", "relu");
            case "num_img_tokens 100" -> img.put("num_img_tokens", 100);
            case "layer_idx 9" -> img.put("layer_idx", 9);
            case "model_name other" -> img.put("model_name", "other");
            case "eos out of vocab" -> o.put("eos_token_id", 40000);
            case "eos empty list" -> o.putArray("eos_token_id");
            case "model type llama" -> o.put("model_type", "llama");
            case "orig max too big" -> o.put("original_max_position_embeddings", 200000);
            case "dtype int8" -> o.put("torch_dtype", "int8");
            default -> throw new IllegalArgumentException(mutation);
        }
    }

    private static String tinyWith(Consumer<ObjectNode> change) throws IOException {
        ObjectNode o = (ObjectNode) JSON.readTree(SharedData.tinyA().resolve("model-f32/config.json").toFile());
        change.accept(o);
        return JSON.writeValueAsString(o);
    }
}
