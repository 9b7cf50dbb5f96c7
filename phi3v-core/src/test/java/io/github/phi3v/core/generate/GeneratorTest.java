package io.github.phi3v.core.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.phi3v.core.generate.Fakes.ScriptedSource;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class GeneratorTest {

    private static final GenerationConfig NO_STOPS = GenerationConfig.builder().stopTokenIds().maxNewTokens(5).build();

    @Test
    void lengthLimitAndFeedProtocol() {
        ScriptedSource model = new ScriptedSource(10, 3, 4, 5, 6, 7, 8);
        int[] prompt = {1, -1, -1, -1, 2};
        Answer a = Generator.generate(prompt, model, Fakes.ids(), NO_STOPS);
        assertEquals(FinishReason.LENGTH, a.finishReason());
        assertArrayEquals(new int[] {3, 4, 5, 6, 7}, a.tokenIds());
        assertEquals("<3><4><5><6><7>", a.text());
        // prefill with the whole prompt, then one token per step; the last token is never fed back
        assertEquals(5, model.calls.size());
        assertArrayEquals(prompt, model.calls.get(0));
        for (int i = 1; i < 5; i++) {
            assertArrayEquals(new int[] {a.tokenIds()[i - 1]}, model.calls.get(i));
        }
        Usage u = a.usage();
        assertEquals(5, u.promptTokens());
        assertEquals(3, u.imageTokens());
        assertEquals(2, u.textTokens());
        assertEquals(5, u.generatedTokens());
        assertEquals(0, u.preprocessMillis());
        assertEquals(0, u.visionMillis());
        assertTrue(u.prefillMillis() >= 0 && u.decodeMillis() >= 0);
    }

    @Test
    void stopIdEndsGenerationIsKeptAndNotRendered() {
        ScriptedSource model = new ScriptedSource(10, 3, 4, 9, 5);
        GenerationConfig c = GenerationConfig.builder().stopTokenIds(9).maxNewTokens(50).build();
        Answer a = Generator.generate(new int[] {1}, model, Fakes.ids(), c);
        assertEquals(FinishReason.STOP, a.finishReason());
        assertArrayEquals(new int[] {3, 4, 9}, a.tokenIds());
        assertEquals("<3><4>", a.text());
        assertEquals(3, model.calls.size());
    }

    @Test
    void defaultStopIdsEndPhi3Output() {
        for (int stop : new int[] {32007, 32000, 2}) {
            ScriptedSource model = new ScriptedSource(32064, 100, stop, 101);
            Answer a = Generator.generate(new int[] {1}, model, Fakes.ids(), GenerationConfig.defaults());
            assertEquals(FinishReason.STOP, a.finishReason(), "stop id " + stop);
            assertArrayEquals(new int[] {100, stop}, a.tokenIds());
        }
    }

    @Test
    void stopStringSpanningPiecesIsCutFromTheStream() {
        // pieces: "The", " answer", " is 4", ".\n", "\nUs", "er: more"
        TextDecoder dec = Fakes.table("The", " answer", " is 4", ".\n", "\nUs", "er: more", "never");
        ScriptedSource model = new ScriptedSource(7, 0, 1, 2, 3, 4, 5, 6);
        GenerationConfig c = GenerationConfig.builder().stopTokenIds().stopStrings("\n\nUser:").maxNewTokens(50).build();
        List<String> pieces = new ArrayList<>();
        Answer a = Generator.generate(new int[] {1}, model, dec, c, pieces::add, CancellationToken.none());
        assertEquals(FinishReason.STOP, a.finishReason());
        assertEquals("The answer is 4.", a.text());
        assertEquals(String.join("", pieces), a.text());
        assertFalse(pieces.contains(""), "empty pieces must not be emitted: " + pieces);
        assertArrayEquals(new int[] {0, 1, 2, 3, 4, 5}, a.tokenIds());
    }

    @Test
    void heldBackTextIsReleasedAtTheEnd() {
        TextDecoder dec = Fakes.table("a", "\n");
        GenerationConfig c = NO_STOPS.toBuilder().stopStrings("\n\n").maxNewTokens(2).build();
        List<String> pieces = new ArrayList<>();
        Answer a = Generator.generate(new int[] {1}, new ScriptedSource(2, 0, 1), dec, c, pieces::add,
                CancellationToken.none());
        assertEquals(FinishReason.LENGTH, a.finishReason());
        assertEquals("a\n", a.text());
        assertEquals(List.of("a", "\n"), pieces);
    }

    @Test
    void decoderTailIsFlushed() {
        // token 1 is half a character: the decoder holds it until finish() turns it into U+FFFD
        TextDecoder dec = TextDecoder.of(id -> id == 0 ? "x" : "", () -> "\uFFFD");
        List<String> pieces = new ArrayList<>();
        GenerationConfig c = NO_STOPS.withMaxNewTokens(2);
        Answer a = Generator.generate(new int[] {1}, new ScriptedSource(2, 0, 1), dec, c, pieces::add,
                CancellationToken.none());
        assertEquals("x\uFFFD", a.text());
        assertEquals(List.of("x", "\uFFFD"), pieces);
    }

    @Test
    void cancellationFromTheCallbackEndsWithCancelled() {
        CancellationToken cancel = new CancellationToken();
        List<String> pieces = new ArrayList<>();
        ScriptedSource model = new ScriptedSource(10, 1, 2, 3, 4, 5, 6, 7);
        Answer a = Generator.generate(new int[] {0}, model, Fakes.ids(), NO_STOPS.withMaxNewTokens(100), piece -> {
            pieces.add(piece);
            if (pieces.size() == 2) {
                cancel.cancel();
            }
        }, cancel);
        assertEquals(FinishReason.CANCELLED, a.finishReason());
        assertArrayEquals(new int[] {1, 2}, a.tokenIds());
        assertEquals(2, model.calls.size(), "no forward pass after the cancel");
        assertEquals("<1><2>", a.text());
    }

    @Test
    void cancellationBeforeStartRunsNothing() {
        CancellationToken cancel = new CancellationToken();
        cancel.cancel();
        ScriptedSource model = new ScriptedSource(10, 1);
        Answer a = Generator.generate(new int[] {0}, model, Fakes.ids(), NO_STOPS, s -> { }, cancel);
        assertEquals(FinishReason.CANCELLED, a.finishReason());
        assertEquals(0, a.tokenIds().length);
        assertEquals(0, model.calls.size());
        assertEquals(0, a.usage().prefillMillis());
    }

    @Test
    void cancellationFromAnotherThread() throws Exception {
        CancellationToken cancel = new CancellationToken();
        CountDownLatch fivePieces = new CountDownLatch(5);
        LogitsSource slow = ids -> {
            try {
                Thread.sleep(1);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return Fakes.peak(4, 2);
        };
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try {
            Future<Answer> f = pool.submit(() -> Generator.generate(new int[] {0}, slow, Fakes.ids(),
                    NO_STOPS.withMaxNewTokens(100_000), piece -> fivePieces.countDown(), cancel));
            assertTrue(fivePieces.await(10, TimeUnit.SECONDS));
            cancel.cancel();
            Answer a = f.get(10, TimeUnit.SECONDS);
            assertEquals(FinishReason.CANCELLED, a.finishReason());
            assertTrue(a.tokenIds().length >= 5 && a.tokenIds().length < 100_000, "generated " + a.tokenIds().length);
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void hugeMaxNewTokensDoesNotPreallocate() {
        // runs 600 steps (past the initial context capacity) and stops on id 9
        int[] script = new int[601];
        Arrays.fill(script, 3);
        script[600] = 9;
        GenerationConfig c = GenerationConfig.builder().maxNewTokens(Integer.MAX_VALUE).stopTokenIds(9)
                .repetitionPenalty(1.01f).build();
        Answer a = Generator.generate(new int[] {1}, new ScriptedSource(10, script), id -> "", c);
        assertEquals(FinishReason.STOP, a.finishReason());
        assertEquals(601, a.tokenIds().length);
        assertEquals(9, a.tokenIds()[600]);
    }

    @Test
    void noneTokenCannotBeCancelled() {
        assertThrows(UnsupportedOperationException.class, () -> CancellationToken.none().cancel());
        assertFalse(CancellationToken.none().isCancelled());
    }

    @Test
    void seededSamplingIsReproducibleThroughTheLoop() {
        float[] flat = new float[64];
        GenerationConfig c = GenerationConfig.builder().doSample(true).topK(0).seed(1234).stopTokenIds()
                .maxNewTokens(30).build();
        Answer a = Generator.generate(new int[] {1}, Fakes.constant(flat), Fakes.ids(), c);
        Answer b = Generator.generate(new int[] {1}, Fakes.constant(flat), Fakes.ids(), c);
        Answer other = Generator.generate(new int[] {1}, Fakes.constant(flat), Fakes.ids(), c.withSeed(4321));
        assertArrayEquals(a.tokenIds(), b.tokenIds());
        assertEquals(a.text(), b.text());
        assertFalse(Arrays.equals(a.tokenIds(), other.tokenIds()));
    }

    @Test
    void repetitionPenaltySeesThePromptAndGeneratedTokens() {
        // logits favour 0 > 1 > 2 > 3; with penalty 100 every id already in the context loses
        float[] logits = {4f, 3f, 2f, 1f};
        GenerationConfig c = NO_STOPS.toBuilder().repetitionPenalty(100f).maxNewTokens(3).build();
        Answer a = Generator.generate(new int[] {0, -1}, Fakes.constant(logits), Fakes.ids(), c);
        assertArrayEquals(new int[] {1, 2, 3}, a.tokenIds());
    }

    @Test
    void streamedPiecesConcatenateToTheText() {
        TextDecoder dec = Fakes.table("", "h", "é", "\uD83D", "\uDE00", " ", "END", "x");
        int[] script = {1, 2, 0, 5, 1, 5, 6, 7, 7};
        GenerationConfig c = NO_STOPS.toBuilder().stopStrings("END").maxNewTokens(20).build();
        StringBuilder streamed = new StringBuilder();
        Answer a = Generator.generate(new int[] {3}, new ScriptedSource(8, script), dec, c, streamed::append,
                CancellationToken.none());
        assertEquals("hé h ", a.text());
        assertEquals(a.text(), streamed.toString());
        assertEquals(FinishReason.STOP, a.finishReason());
    }

    @Test
    void badInputsAreRejected() {
        assertThrows(IllegalArgumentException.class,
                () -> Generator.generate(new int[0], new ScriptedSource(2, 0), Fakes.ids(), NO_STOPS));
        IllegalArgumentException nan = assertThrows(IllegalArgumentException.class,
                () -> Generator.generate(new int[] {1}, ids -> new float[] {Float.NaN}, Fakes.ids(), NO_STOPS));
        assertTrue(nan.getMessage().contains("NaN"));
        IllegalArgumentException empty = assertThrows(IllegalArgumentException.class,
                () -> Generator.generate(new int[] {1}, ids -> new float[0], Fakes.ids(), NO_STOPS));
        assertTrue(empty.getMessage().contains("returned 0 logits"), empty.getMessage());
    }

    @Test
    void usageDerivedNumbers() {
        Usage u = new Usage(100, 60, 11, 5, 10, 100, 2000);
        assertEquals(5.0, u.tokensPerSecond(), 1e-12);
        assertEquals(115.0, u.timeToFirstTokenMillis(), 1e-12);
        assertEquals(2115.0, u.totalMillis(), 1e-12);
        assertEquals(40, u.textTokens());
        assertEquals(0, new Usage(1, 0, 1, 0, 0, 1, 0).tokensPerSecond());
        Usage w = u.withPreprocessMillis(1).withVisionMillis(2);
        assertEquals(1, w.preprocessMillis());
        assertEquals(2, w.visionMillis());
        assertThrows(IllegalArgumentException.class, () -> new Usage(1, 2, 0, 0, 0, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> new Usage(1, 0, 0, -1, 0, 0, 0));
    }

    @Test
    void answerCopiesItsIds() {
        int[] ids = {1, 2};
        Answer a = new Answer("t", ids, FinishReason.STOP, Usage.EMPTY);
        ids[0] = 9;
        assertArrayEquals(new int[] {1, 2}, a.tokenIds());
        a.tokenIds()[1] = 9;
        assertArrayEquals(new int[] {1, 2}, a.tokenIds());
        assertEquals(a, new Answer("t", new int[] {1, 2}, FinishReason.STOP, Usage.EMPTY));
        assertEquals(a.hashCode(), new Answer("t", new int[] {1, 2}, FinishReason.STOP, Usage.EMPTY).hashCode());
    }
}
