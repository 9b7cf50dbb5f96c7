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
 * {@link InterleavedDecodeProbe#run}: models decoding in turns, each on its own cache, decode exactly what each
 * decodes alone (the official greedy tokens of a golden case), every window is timed, and the ratios are taken
 * round by round.
 */
class InterleavedDecodeProbeTest {

    @Test
    void twoModelsDecodingInTurnsEachDecodeTheGoldenGreedyTokens() {
        Path dir = SharedData.tinyA().resolve("model-f32");
        GoldenTensors g = GoldenTensors.read(SharedData.tinyA().resolve("generation/d_text_short.safetensors"));
        int[] prompt = g.ints("prompt_input_ids");
        int[] expected = g.ints("nocache_pristine_new_ids");
        int rounds = 3;
        int window = 4;
        int decoded = 1 + (rounds + 1) * window;                   // the prompt's token, warm-up and rounds
        assertTrue(expected.length >= decoded, "golden case decodes " + expected.length + " tokens");
        ModelOptions f32 = ModelOptions.defaults().withPrecision(Precision.FLOAT32);
        try (Phi3VModel a = Phi3VModel.load(dir, f32);
                Phi3VModel b = Phi3VModel.load(dir, f32);
                KvCache ca = a.newKvCache(prompt.length + decoded);
                KvCache cb = b.newKvCache(prompt.length + decoded)) {
            InterleavedDecodeProbe.Result r = InterleavedDecodeProbe.run(List.of(a, b), List.of(ca, cb), prompt,
                    rounds, window);
            int[] golden = Arrays.copyOf(expected, decoded);
            assertArrayEquals(golden, r.tokens()[0], "first model's greedy tokens");
            assertArrayEquals(golden, r.tokens()[1], "second model's greedy tokens");
            // Each cache holds the prompt and every decoded token but the last (not fed back).
            assertEquals(prompt.length + decoded - 1, ca.length());
            assertEquals(prompt.length + decoded - 1, cb.length());
            assertEquals(rounds, r.roundSeconds().length);
            for (double[] round : r.roundSeconds()) {
                assertEquals(2, round.length);
                assertTrue(round[0] > 0 && round[1] > 0, Arrays.toString(round));
            }
            double[] ratios = r.roundRatios(1, 0);
            assertEquals(rounds, ratios.length);
            assertEquals(r.roundSeconds()[2][0] / r.roundSeconds()[2][1], ratios[2], 1e-12);
            double total0 = Arrays.stream(r.roundSeconds()).mapToDouble(x -> x[0]).sum();
            assertEquals(rounds * window / total0, r.tokensPerSecond(0, window), 1e-9);

            assertThrows(IllegalArgumentException.class,
                    () -> InterleavedDecodeProbe.run(List.of(a, b), List.of(ca), prompt, rounds, window));
            assertThrows(IllegalArgumentException.class,
                    () -> InterleavedDecodeProbe.run(List.of(a), List.of(ca), prompt, 0, window));
        }
    }
}
