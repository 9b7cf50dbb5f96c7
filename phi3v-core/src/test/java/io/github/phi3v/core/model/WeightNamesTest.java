package io.github.phi3v.core.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import org.junit.jupiter.api.Test;

import io.github.phi3v.core.config.Phi3VConfig;
import io.github.phi3v.core.weights.Checkpoint;

class WeightNamesTest {

    private static Phi3VConfig tinyConfig() {
        return Phi3VConfig.fromDirectory(GoldenCases.modelF32());
    }

    @Test
    void tinyCheckpointMatchesTheTable() {
        Phi3VConfig cfg = tinyConfig();
        try (Checkpoint ck = Checkpoint.open(GoldenCases.modelF32())) {
            WeightNames.validate(cfg, ck.names(), n -> ck.info(n).shape(), ck.source().toString());
            // the last CLIP layer and post_layernorm are stored but never loaded
            Set<String> unused = new TreeSet<>();
            for (String n : ck.names()) {
                if (!WeightNames.computed(cfg).containsKey(n)) {
                    unused.add(n);
                    assertTrue(WeightNames.isStoredButUnused(cfg, n), n);
                }
            }
            assertTrue(unused.contains(WeightNames.clipLayer(2, "mlp.fc1.weight")), unused.toString());
            assertTrue(unused.contains(WeightNames.CLIP + "post_layernorm.weight"), unused.toString());
            assertEquals(2, WeightNames.computedClipLayers(cfg.imageEmbedding()));
            assertFalse(WeightNames.computed(cfg).containsKey(WeightNames.VISION + "wte.weight"));
        }
    }

    @Test
    void storedTableIsExactlyTheTinyCheckpoint() {
        Phi3VConfig cfg = tinyConfig();
        try (Checkpoint ck = Checkpoint.open(GoldenCases.modelF32())) {
            Map<String, long[]> stored = WeightNames.stored(cfg);
            assertEquals(new TreeSet<>(ck.names()), new TreeSet<>(stored.keySet()));
            for (String n : ck.names()) {
                assertArrayEquals(ck.info(n).shape(), stored.get(n), n);
            }
        }
    }

    @Test
    void missingUnexpectedAndWrongShapesAreReportedTogether() {
        Phi3VConfig cfg = tinyConfig();
        Map<String, long[]> names = new HashMap<>(WeightNames.computed(cfg));
        names.remove(WeightNames.decoderLayer(1, WeightNames.QKV_PROJ));
        names.remove(WeightNames.SUB_GN);
        names.put("model.layers.7.self_attn.rotary_emb.inv_freq", new long[] {8});
        names.put(WeightNames.LM_HEAD, new long[] {32000, 64});
        WeightMismatchException e = assertThrows(WeightMismatchException.class,
                () -> WeightNames.validate(cfg, names.keySet(), names::get, "test"));
        assertEquals(List.of(WeightNames.decoderLayer(1, WeightNames.QKV_PROJ), WeightNames.SUB_GN), e.missing());
        assertEquals(List.of("model.layers.7.self_attn.rotary_emb.inv_freq"), e.unexpected());
        assertEquals(1, e.wrongShape().size());
        assertTrue(e.getMessage().contains("lm_head.weight: expected [32064, 64], found [32000, 64]"), e.getMessage());
        assertTrue(e.getMessage().contains("2 missing") && e.getMessage().contains("1 unexpected"), e.getMessage());
    }

    @Test
    void realCheckpointNamesAreKnown() {
        Phi3VConfig cfg = tinyConfig();
        assertEquals("model.layers.3.mlp.gate_up_proj.weight", WeightNames.decoderLayer(3, WeightNames.GATE_UP_PROJ));
        assertEquals("model.vision_embed_tokens.img_processor.vision_model.encoder.layers.0.self_attn.q_proj.weight",
                WeightNames.clipLayer(0, "self_attn.q_proj.weight"));
        assertTrue(WeightNames.isStoredButUnused(cfg, WeightNames.VISION + "wte.weight"));
        assertTrue(WeightNames.isStoredButUnused(cfg, WeightNames.CLIP + "embeddings.position_ids"));
        assertFalse(WeightNames.isStoredButUnused(cfg, WeightNames.clipLayer(3, "mlp.fc1.weight")));  // no layer 3
        assertFalse(WeightNames.isStoredButUnused(cfg, WeightNames.clipLayer(1, "mlp.fc1.weight")));  // computed
    }
}
