package io.github.phi3v.tooling.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.Test;

import io.github.phi3v.core.model.KvCache;
import io.github.phi3v.core.model.ModelOptions;
import io.github.phi3v.core.model.Phi3VModel;
import io.github.phi3v.core.model.Precision;
import io.github.phi3v.testsupport.GoldenTensors;
import io.github.phi3v.testsupport.SharedData;

/**
 * {@link FirstRequestProbe#run}: requests one after the other on one cache each decode what the official code
 * decodes (the cache is cleared in between), and every window and request is timed.
 */
class FirstRequestProbeTest {

    @Test
    void everyRequestDecodesTheGoldenGreedyTokensWindowByWindow() {
        Path dir = SharedData.tinyA().resolve("model-f32");
        GoldenTensors g = GoldenTensors.read(SharedData.tinyA().resolve("generation/d_text_short.safetensors"));
        int[] prompt = g.ints("prompt_input_ids");
        int[] expected = g.ints("nocache_pristine_new_ids");
        int windows = 3;
        int window = 2;
        int decoded = 1 + windows * window;
        assertTrue(expected.length >= decoded, "golden case decodes " + expected.length + " tokens");
        ModelOptions f32 = ModelOptions.defaults().withPrecision(Precision.FLOAT32);
        try (Phi3VModel model = Phi3VModel.load(dir, f32);
                KvCache cache = model.newKvCache(prompt.length + decoded)) {
            FirstRequestProbe.Result r = FirstRequestProbe.run(model, cache, List.of(prompt, prompt, prompt), windows,
                    window);
            int[] golden = Arrays.copyOf(expected, decoded);
            for (int q = 0; q < 3; q++) {
                assertArrayEquals(golden, r.tokens()[q], "request " + (q + 1) + "'s greedy tokens");
                assertEquals(windows, r.windowSeconds()[q].length);
                for (double s : r.windowSeconds()[q]) {
                    assertTrue(s > 0, "window time " + s);
                }
                assertTrue(r.prefillSeconds()[q] > 0, "prefill time " + r.prefillSeconds()[q]);
                assertTrue(Double.isNaN(r.compileSeconds()[q]) || r.compileSeconds()[q] >= 0,
                        "compile time " + r.compileSeconds()[q]);
                // Linux reports them (CI runs there); elsewhere -1, never a made-up count.
                assertTrue(java.nio.file.Files.isReadable(Path.of("/proc/self/stat")) ? r.minorFaults()[q] >= 0
                        : r.minorFaults()[q] == -1, "minor faults " + r.minorFaults()[q]);
            }
            // The last request's cache: the prompt and every decoded token but the last (not fed back).
            assertEquals(prompt.length + decoded - 1, cache.length());

            assertThrows(IllegalArgumentException.class,
                    () -> FirstRequestProbe.run(model, cache, List.of(), windows, window));
            assertThrows(IllegalArgumentException.class,
                    () -> FirstRequestProbe.run(model, cache, List.of(prompt), 0, window));
        }
    }
}
