package io.github.phi3v.tooling.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;

import io.github.phi3v.core.config.Phi3VConfig;
import io.github.phi3v.core.model.KvCache;
import io.github.phi3v.core.model.ModelOptions;
import io.github.phi3v.core.model.Phi3VModel;
import io.github.phi3v.core.model.Precision;
import io.github.phi3v.core.model.Quantization;
import io.github.phi3v.core.runtime.Logits;
import io.github.phi3v.testsupport.GoldenTensors;
import io.github.phi3v.testsupport.SharedData;

/**
 * {@link WindowedDecode}: the probe passes between the steps leave the decode as it is (the official greedy
 * tokens of a golden case), and every step and pass is counted.
 */
class WindowedDecodeTest {

    @Test
    void decodesTheGoldenGreedyTokensWithProbePassesBetweenTheSteps() {
        Path dir = SharedData.tinyA().resolve("model-f32");
        GoldenTensors g = GoldenTensors.read(SharedData.tinyA().resolve("generation/d_text_short.safetensors"));
        int[] prompt = g.ints("prompt_input_ids");
        int[] expected = g.ints("nocache_pristine_new_ids");
        assertTrue(expected.length >= 3, "golden case decodes " + expected.length + " tokens");
        Phi3VConfig config = Phi3VConfig.fromDirectory(dir);
        try (Phi3VModel model = Phi3VModel.load(dir, ModelOptions.defaults().withPrecision(Precision.FLOAT32));
                KvCache cache = model.newKvCache(prompt.length + expected.length);
                DecodeLinearProbe probe = DecodeLinearProbe.open(config, Precision.FLOAT32, Quantization.NONE, 2)) {
            int first = Logits.argmax(model.forward(prompt, List.of(), cache, 0));
            assertEquals(expected[0], first);
            int steps = expected.length - 1;
            WindowedDecode.Result r = WindowedDecode.run(model, cache, first, steps, probe);
            assertEquals(steps, r.tokens());
            assertEquals(expected[expected.length - 1], r.lastToken(), "last greedy token");
            assertEquals(prompt.length + steps, cache.length(), "one cache position per step");
            assertTrue(r.decodeSeconds() > 0, "decode time " + r.decodeSeconds());
            assertTrue(r.linearBytesPerSecond() > 0 && Double.isFinite(r.linearBytesPerSecond()),
                    "linears " + r.linearBytesPerSecond());
            // 2 sets of the tiny model's four linears, (192 + 64 + 256) x 64 + 64 x 128 float32 weights each.
            assertEquals(2L * 4 * (192 * 64 + 64 * 64 + 256 * 64 + 64 * 128), probe.bytes());
            assertThrows(IllegalArgumentException.class, () -> WindowedDecode.run(model, cache, first, 0, probe));
        }
    }
}
