package io.github.phi3v.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.Test;

import io.github.phi3v.core.generate.Answer;
import io.github.phi3v.core.generate.GenerationConfig;
import io.github.phi3v.core.generate.Usage;
import io.github.phi3v.testsupport.GoldenTensors;
import io.github.phi3v.testsupport.SharedData;

/**
 * {@link Phi3Vision#warmUp()}: it runs a whole short request (prompt and {@value Phi3Vision#WARM_UP_STEPS}
 * steps), leaves nothing behind (KV memory, prefix cache, counters), and later requests still give the
 * official code's tokens.
 */
class WarmUpTest {

    @Test
    void warmUpRunsOneShortRequestAndLeavesNothingBehind() {
        GoldenTensors g = GoldenTensors.read(SharedData.tinyA().resolve("generation/d_text_short.safetensors"));
        int[] prompt = g.ints("prompt_input_ids");
        int[] expected = g.ints("nocache_pristine_new_ids");
        try (Phi3Vision phi = TinyModel.load()) {
            Usage u = phi.warmUp();
            assertEquals(Phi3Vision.WARM_UP_STEPS, u.generatedTokens(), "decode steps (stop tokens are off)");
            // The same question through chat(): the warm-up plans it as a request does.
            ChatRequest hello = ChatRequest.builder().user("Hello").literalText(true).maxNewTokens(1).build();
            Answer a = phi.chat(hello);
            assertEquals(a.usage().promptTokens(), u.promptTokens(), "prompt tokens");
            assertEquals(0, u.imageTokens());
            assertEquals(0, a.usage().cachedPromptTokens(), "the warm-up's cache is not pooled for reuse");
            assertTrue(u.prefillMillis() > 0 && u.decodeMillis() > 0, u.toString());
            assertEquals(0, phi.visionEncodings());
            assertEquals(0, Arrays.stream(phi.decodeStepsByBatchSize()).sum(), "no batched step counted");

            // A second warm-up is allowed, holds no memory afterwards, and the official tokens still come out.
            assertEquals(Phi3Vision.WARM_UP_STEPS, phi.warmUp().generatedTokens());
            long pooled = phi.kvCacheBytesInUse();       // chat()'s cache, kept for its prefix
            phi.warmUp();
            assertEquals(pooled, phi.kvCacheBytesInUse(), "the warm-up frees its own cache");
            int n = Math.min(expected.length, 6);
            Answer golden = phi.rawPrompts().generate(prompt, List.of(),
                    GenerationConfig.builder().greedy().maxNewTokens(n).stopTokenIds().build());
            assertArrayEquals(Arrays.copyOf(expected, n), golden.tokenIds(), "greedy tokens after warm-ups");
        }
    }

    @Test
    void aClosedModelRefusesTheWarmUp() {
        Phi3Vision phi = TinyModel.load();
        phi.close();
        assertThrows(IllegalStateException.class, phi::warmUp);
    }
}
