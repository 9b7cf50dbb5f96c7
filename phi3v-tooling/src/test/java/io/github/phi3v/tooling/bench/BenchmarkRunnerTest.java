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

import io.github.phi3v.core.config.Phi3VConfig;
import io.github.phi3v.core.model.Precision;
import io.github.phi3v.core.model.Quantization;
import io.github.phi3v.core.runtime.NativeKernels;
import io.github.phi3v.testsupport.SharedData;
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
    void fullSizeFiguresFollowTheArchitecture() {
        Phi3VConfig c = RandomModel.tinyConfig();
        long bf16 = BenchmarkRunner.weightBytesPerToken(c, Precision.BFLOAT16, Quantization.NONE);
        long int8 = BenchmarkRunner.weightBytesPerToken(c, Precision.BFLOAT16, Quantization.INT8);
        // tiny: 2 layers of (192*64 + 64*64 + 256*64 + 64*128) params; lm_head 32064*64, read in bf16 by the
        // native kernel, else a float32 copy
        long params = 2L * (192 * 64 + 64 * 64 + 256 * 64 + 64 * 128);
        long lmHead = (NativeKernels.available() ? 2L : 4L) * 32064 * 64;
        long rest = 2L * 2 * 64 * 2 + 2 * 64 * 2 + lmHead;
        assertEquals(params * 2 + rest, bf16);
        assertEquals(params + 4L * 2 * (192 + 64 + 256 + 64) + rest, int8);
        // float16 and float32 models keep a float32 lm_head on CPU
        assertEquals(params * 2 + 2L * 2 * 64 * 2 + 2 * 64 * 2 + 4L * 32064 * 64,
                BenchmarkRunner.weightBytesPerToken(c, Precision.FLOAT16, Quantization.NONE));
        assertEquals(params * 4 + 2L * 2 * 64 * 4 + 2 * 64 * 4 + 4L * 32064 * 64,
                BenchmarkRunner.weightBytesPerToken(c, Precision.FLOAT32, Quantization.NONE));
        double flops = BenchmarkRunner.prefillFlopCount(c, 10);
        assertEquals(2.0 * params * 10 + 2.0 * 4 * 16 * 10 * 11 * 2 + 2.0 * 32064 * 64, flops, 1e-6);
    }

    @Test
    void visionFlopsOfTheRealModelAtNumCropsFour() throws IOException {
        Phi3VConfig real = Phi3VConfig.fromFile(SharedData.golden().resolve("phi3v-128k-config/config.json"));
        // CLIP ViT-L/14 at 336 px, layer_idx -2: 23 of 24 layers on 5 crops of 576 patches + the class token,
        // then img_projection (4096 -> 3072 -> 3072) on the 757 image tokens of a 1344x1008 picture.
        double conv = 2.0 * 576 * 3 * 14 * 14 * 1024;
        double linears = 2.0 * 577 * (4.0 * 1024 * 1024 + 2.0 * 1024 * 4096);
        double attention = 4.0 * 577 * 577 * 1024;
        double projection = 2.0 * 757 * (4096.0 * 3072 + 3072.0 * 3072);
        double expected = 5 * (conv + 23 * (linears + attention)) + projection;
        assertEquals(1.8635e12, expected, 0.0001e12);              // the hand count above, as a number
        assertEquals(expected, BenchmarkRunner.visionFlopCount(real, 5, 757), 1.0);
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
