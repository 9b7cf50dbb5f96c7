package io.github.phi3v.tooling.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.github.phi3v.core.model.Quantization;
import io.github.phi3v.tooling.random.RandomModel;

/**
 * The benchmark harness end to end on the tiny random configuration (fast): folder build and reuse,
 * both variants, an image and a text-only scenario, the report's consistency. No timing assertions.
 */
class BenchmarkRunnerTest {

    @TempDir
    Path tmp;

    @Test
    void runsTinyModelAndReusesTheFolder() throws IOException {
        Path tinyDir = RandomModel.builder(RandomModel.tinyConfig()).build(tmp.resolve("tiny"));
        Path cache = tmp.resolve("cache");
        BenchmarkOptions o = BenchmarkOptions.defaults(tinyDir.resolve("config.json")).withCacheDir(cache)
                .withScenarios(List.of(Scenario.image(4), Scenario.textPrefill(40))).withDecodeTokens(3)
                .withMaxContext(1024).withVariants(List.of(Quantization.NONE, Quantization.INT8, Quantization.INT4));
        List<String> log = new ArrayList<>();
        BenchmarkReport r = new BenchmarkRunner(o, log::add, true).run();
        assertTrue(r.buildSeconds() > 0, "first run writes the folder");
        assertEquals(3, r.variants().size());
        assertEquals("bfloat16", r.variants().get(0).name());
        assertEquals("bfloat16+int8", r.variants().get(1).name());
        assertEquals("bfloat16+int4", r.variants().get(2).name());
        assertEquals(0.0, r.variants().get(0).quantizeSeconds());
        assertTrue(r.variants().get(1).quantizeSeconds() > 0, "int8 writes its pre-quantized folder");
        assertTrue(r.variants().get(2).quantizeSeconds() > 0, "int4 writes its pre-quantized folder");
        for (BenchmarkReport.VariantResult v : r.variants()) {
            assertEquals(2, v.scenarios().size());
            BenchmarkReport.ScenarioResult img = v.scenarios().get(0);
            assertEquals("nc4", img.name());
            // 1344x1008 at num_crops 4: 2x2 crops of 336 -> (4 + 1) * 144 + 1 + 3 * 12 = 757 image tokens
            assertEquals(757, img.imageTokens());
            assertTrue(img.promptTokens() > img.imageTokens());
            assertTrue(img.timeToFirstTokenMs() >= img.prefillMs() + img.visionMs());
            assertEquals(3, img.decodeTokens());
            assertTrue(img.decodeTokensPerSecond() > 0);
            assertTrue(v.decodeLinearBytesPerSecond() > 0, "linear probe of " + v.name());
            assertTrue(img.decodeLinearBytesPerSecond() > 0, "linears between the steps of " + v.name());
            assertEquals(v.weightBytesPerToken() * img.decodeTokensPerSecond(), img.decodeWeightBytesPerSecond(),
                    1e-9 * img.decodeWeightBytesPerSecond(), "weight stream of " + v.name());
            assertEquals(img.decodeWeightBytesPerSecond() / img.decodeLinearBytesPerSecond(),
                    img.decodeKernelEfficiency(), 1e-12, "kernel efficiency of " + v.name());
            assertTrue(img.decodeKernelEfficiencyCeiling() > 0 && img.decodeKernelEfficiencyCeiling() < 1,
                    "ceiling of " + v.name() + ": " + img.decodeKernelEfficiencyCeiling());
            assertTrue(img.visionEfficiency() > 0 && Double.isFinite(img.visionEfficiency()),
                    "vision efficiency of " + v.name() + ": " + img.visionEfficiency());
            BenchmarkReport.ScenarioResult text = v.scenarios().get(1);
            assertEquals(40, text.promptTokens());
            assertTrue(Double.isNaN(text.visionMs()));
            assertTrue(Double.isNaN(text.visionEfficiency()), "no image, no vision efficiency");
            assertTrue(v.peakRssBytes() > 0 || v.peakRssBytes() == -1);
        }
        assertTrue(r.variants().get(1).weightBytesPerToken() < r.variants().get(0).weightBytesPerToken());
        assertTrue(r.variants().get(2).weightBytesPerToken() < r.variants().get(1).weightBytesPerToken());
        String table = r.toTable();
        assertTrue(table.contains("nc4") && table.contains("prefill40") && table.contains("bfloat16+int8"), table);
        String json = r.toJson();
        assertTrue(table.contains("ceiling") && table.contains("linears") && table.contains("(before loading)"), table);
        assertTrue(json.contains("\"decodeEfficiency\"") && json.contains("\"decodeKernelEfficiency\"")
                && json.contains("\"decodeKernelEfficiencyCeiling\"")
                && json.contains("\"ompWaitPolicy\""), json);

        BenchmarkReport again = new BenchmarkRunner(o.withVariants(List.of(Quantization.NONE))
                .withScenarios(List.of(Scenario.textPrefill(8))).withDecodeTokens(0), log::add, true).run();
        assertEquals(0.0, again.buildSeconds(), "second run reuses the cached folder");
        BenchmarkReport int4Again = new BenchmarkRunner(o.withVariants(List.of(Quantization.INT4))
                .withScenarios(List.of(Scenario.textPrefill(8))).withDecodeTokens(0), log::add, true).run();
        assertEquals(0.0, int4Again.variants().get(0).quantizeSeconds(), "the pre-quantized folder is reused");
        assertTrue(int4Again.toTable().contains("(pre-quantized folder, reused)"), int4Again.toTable());
        assertTrue(Double.isNaN(again.variants().get(0).scenarios().get(0).decodeTokensPerSecond()));
        assertFalse(log.isEmpty());
    }

    @Test
    void theKvCachesShareOfAStepBoundsTheKernelEfficiency() {
        // Issue #20's quiet run, int8 after a 2000-token prompt: 4.02 GB of weights at 32.7 GB/s and
        // 32 layers x 2 x 3072 bf16 x 2016 positions of KV cache at the 33.3 GB/s read bandwidth.
        long kv = 32L * 2 * 3072 * 2 * 2016;
        assertEquals(0.838, BenchmarkReport.kernelEfficiencyCeiling(4.02e9, 32.7e9, kv, 33.3e9), 0.001);
        // The same step without a cache to read runs entirely at the kernels' speed.
        assertEquals(1.0, BenchmarkReport.kernelEfficiencyCeiling(4.02e9, 32.7e9, 0, 33.3e9));
        // Cache read as fast as the weights and as large: half the step.
        assertEquals(0.5, BenchmarkReport.kernelEfficiencyCeiling(1e9, 20e9, 1e9, 20e9), 1e-12);
    }

    @Test
    void parsesScenariosAndRejectsNonsense() {
        assertEquals(Scenario.image(16), Scenario.parse("nc16", 2000));
        assertEquals(Scenario.textPrefill(2000), Scenario.parse("prefill", 2000));
        assertEquals(Scenario.textPrefill(512), Scenario.parse("PREFILL512", 2000));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Scenario.parse("fast", 1));
        assertTrue(e.getMessage().contains("nc<N>"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new Scenario("x", 4, 10));
    }

    @Test
    void missingConfigSaysWhereItLooked() {
        BenchmarkOptions o = BenchmarkOptions.defaults(tmp.resolve("nope/config.json"));
        IOException e = assertThrows(IOException.class, () -> new BenchmarkRunner(o, s -> { }, true).run());
        assertTrue(e.getMessage().contains("--config"), e.getMessage());
        assertFalse(Files.exists(tmp.resolve("nope")));
    }
}
