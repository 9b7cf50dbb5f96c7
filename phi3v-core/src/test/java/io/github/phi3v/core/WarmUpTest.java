package io.github.phi3v.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import org.junit.jupiter.api.Test;

import io.github.phi3v.core.generate.Answer;
import io.github.phi3v.core.generate.GenerationConfig;
import io.github.phi3v.core.runtime.RecordingLoggerFinder;
import io.github.phi3v.testsupport.GoldenTensors;
import io.github.phi3v.testsupport.SharedData;

/**
 * {@link Phi3VisionBuilder#warmUp(boolean)}: the load runs one whole short request (prompt and
 * {@value Engine#WARM_UP_STEPS} steps, logged), leaves nothing behind (KV memory, prefix cache, counters), and
 * later requests still give the official code's tokens. Without the option nothing runs.
 */
class WarmUpTest {

    @Test
    void aWarmedUpLoadRunsOneShortRequestAndLeavesNothingBehind() {
        GoldenTensors g = GoldenTensors.read(SharedData.tinyA().resolve("generation/d_text_short.safetensors"));
        int[] prompt = g.ints("prompt_input_ids");
        int[] expected = g.ints("nocache_pristine_new_ids");
        List<String> log = new CopyOnWriteArrayList<>();
        try (Phi3Vision phi = withLoaderLog(log, () -> TinyModel.builder().warmUp(true).build())) {
            List<String> warm = log.stream().filter(m -> m.startsWith("warm-up: ")).toList();
            assertEquals(1, warm.size(), "one warm-up logged: " + log);
            // The same question through chat(): the warm-up plans it as a request does, and pools nothing.
            Answer a = phi.chat(ChatRequest.builder().user("Hello").literalText(true).maxNewTokens(1).build());
            assertTrue(warm.get(0).contains("promptTokens=" + a.usage().promptTokens() + " (cached 0), imageTokens=0,"
                    + " generatedTokens=" + Engine.WARM_UP_STEPS + ","), warm.get(0));
            assertEquals(0, a.usage().cachedPromptTokens(), "the warm-up's cache is not pooled for reuse");
            assertEquals(0, phi.visionEncodings());
            assertEquals(0, Arrays.stream(phi.decodeStepsByBatchSize()).sum(), "no batched step counted");
            phi.close();   // the chat's pooled cache goes; reopen below to check a fresh warmed-up model holds none
        }
        try (Phi3Vision phi = TinyModel.builder().warmUp(true).build()) {
            assertEquals(0, phi.kvCacheBytesInUse(), "the warm-up frees its own cache");
            int n = Math.min(expected.length, 6);
            Answer golden = phi.rawPrompts().generate(prompt, List.of(),
                    GenerationConfig.builder().greedy().maxNewTokens(n).stopTokenIds().build());
            assertArrayEquals(Arrays.copyOf(expected, n), golden.tokenIds(), "greedy tokens after the warm-up");
        }
    }

    @Test
    void limitsTooSmallForTheWarmUpFailTheBuildSayingSo() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> TinyModel.builder().maxPromptTokens(5).warmUp(true).build());
        assertTrue(e.getMessage().startsWith("warmUp(true): the warm-up request") && e.getMessage().contains(
                "maxPromptTokens"), e.getMessage());
        assertInstanceOf(LimitExceededException.class, e.getCause());
        // The same limit without the warm-up loads.
        try (Phi3Vision phi = TinyModel.builder().maxPromptTokens(5).build()) {
            assertEquals(5, phi.limits().maxPromptTokens());
        }
    }

    @Test
    void withoutTheOptionNothingRuns() {
        List<String> log = new CopyOnWriteArrayList<>();
        try (Phi3Vision phi = withLoaderLog(log, TinyModel::load)) {
            assertTrue(log.stream().anyMatch(m -> m.startsWith("loaded ")), "the loader's log is captured: " + log);
            assertTrue(log.stream().noneMatch(m -> m.startsWith("warm-up")), log.toString());
        }
    }

    /** Runs {@code load} and collects {@link ModelLoader}'s log messages (the tests' {@link RecordingLoggerFinder}). */
    private static Phi3Vision withLoaderLog(List<String> messages, java.util.function.Supplier<Phi3Vision> load) {
        assertTrue(System.LoggerFinder.getLoggerFinder() instanceof RecordingLoggerFinder,
                "the test double is the JVM's LoggerFinder");
        RecordingLoggerFinder.clear();
        Phi3Vision phi = load.get();
        RecordingLoggerFinder.records().stream().filter(e -> e.logger().equals(ModelLoader.class.getName()))
                .forEach(e -> messages.add(e.message()));
        return phi;
    }
}
