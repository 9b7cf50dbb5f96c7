package io.github.phi3v.core.generate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.OptionalLong;
import java.util.Set;
import org.junit.jupiter.api.Test;

class GenerationConfigTest {

    @Test
    void defaultsAreGreedyWithPhi3StopIds() {
        GenerationConfig c = GenerationConfig.defaults();
        assertTrue(c.isGreedy());
        assertFalse(c.doSample());
        assertEquals(GenerationConfig.DEFAULT_MAX_NEW_TOKENS, c.maxNewTokens());
        assertEquals(List.of(32007, 32000, 2), List.copyOf(c.stopTokenIds()));
        assertTrue(c.isStopToken(32007) && c.isStopToken(32000) && c.isStopToken(2));
        assertFalse(c.isStopToken(32001));
        assertEquals(1f, c.temperature());
        assertEquals(50, c.topK());
        assertEquals(1f, c.topP());
        assertEquals(0f, c.minP());
        assertEquals(1f, c.repetitionPenalty());
        assertEquals(OptionalLong.empty(), c.seed());
        assertEquals(List.of(), c.stopStrings());
    }

    @Test
    void withCopiesAndBuilderRoundTrip() {
        GenerationConfig c = GenerationConfig.builder().doSample(true).temperature(0.7f).topK(0).topP(0.9f)
                .minP(0.05f).repetitionPenalty(1.1f).seed(42).stopTokenIds(5, 6).stopStrings("\n\n").build();
        assertEquals(c, c.toBuilder().build());
        assertEquals(7, c.withMaxNewTokens(7).maxNewTokens());
        assertTrue(c.withGreedy().isGreedy());
        assertEquals(OptionalLong.of(3), c.withSeed(3).seed());
        assertEquals(Set.of(), c.withStopTokenIds().stopTokenIds());
        assertEquals(List.of("x", "y"), c.withStopStrings("x", "y").stopStrings());
        // the original is untouched
        assertEquals(OptionalLong.of(42), c.seed());
        assertTrue(c.toString().contains("temperature=0.7"), c.toString());
        assertTrue(c.toString().contains("\"\\n\\n\""), c.toString());
    }

    @Test
    void collectionsAreImmutable() {
        GenerationConfig c = GenerationConfig.defaults();
        assertThrows(UnsupportedOperationException.class, () -> c.stopTokenIds().add(1));
        assertThrows(UnsupportedOperationException.class, () -> c.stopStrings().add("x"));
    }

    @Test
    void invalidValuesAreRejectedWithTheValueInTheMessage() {
        assertMessage("maxNewTokens must be >= 1, got 0", () -> GenerationConfig.builder().maxNewTokens(0).build());
        assertMessage("got 0.0; for deterministic output use greedy",
                () -> GenerationConfig.builder().temperature(0f).build());
        assertMessage("temperature must be a finite value > 0, got NaN",
                () -> GenerationConfig.builder().temperature(Float.NaN).build());
        assertMessage("topK must be >= 0", () -> GenerationConfig.builder().topK(-1).build());
        assertMessage("topP must be in [0, 1] (1 disables top-p), got 1.5",
                () -> GenerationConfig.builder().topP(1.5f).build());
        assertMessage("minP must be in [0, 1]", () -> GenerationConfig.builder().minP(-0.1f).build());
        assertMessage("repetitionPenalty must be a finite value > 0",
                () -> GenerationConfig.builder().repetitionPenalty(0f).build());
        assertMessage("stop token ids must be >= 0, got -1", () -> GenerationConfig.builder().stopTokenIds(-1).build());
        assertMessage("stop strings must not be empty", () -> GenerationConfig.builder().stopStrings("").build());
        assertMessage("unpaired surrogate", () -> GenerationConfig.builder().stopStrings("a\uD83D").build());
    }

    private static void assertMessage(String expected, org.junit.jupiter.api.function.Executable call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(e.getMessage().contains(expected), () -> "message \"" + e.getMessage() + "\" lacks \"" + expected + "\"");
    }
}
