package io.github.phi3v.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import io.github.phi3v.core.generate.Answer;
import io.github.phi3v.core.generate.CancellationToken;
import io.github.phi3v.core.generate.ContextLengthExceededException;
import io.github.phi3v.core.generate.FinishReason;
import io.github.phi3v.core.generate.GenerationConfig;
import io.github.phi3v.core.generate.TextIterator;
import io.github.phi3v.core.generate.TextPublisher;
import io.github.phi3v.core.hub.HubConfig;
import io.github.phi3v.core.model.GoldenCases;
import io.github.phi3v.core.model.ImagePixels;
import io.github.phi3v.core.model.Precision;
import io.github.phi3v.core.model.Quantization;
import io.github.phi3v.core.runtime.CpuFeatures;
import io.github.phi3v.tokenizer.Message;

/**
 * Sessions on the tiny-a model (float32, real Phi-3 tokenizer): multi-turn equivalence with a fresh
 * session, vision tower runs, prefix reuse across the LongRoPE threshold, sampling, stops, streaming,
 * cancellation, closing and concurrent-use detection. Images use numCrops 1 to keep prompts short.
 */
class SessionTest {

    /** Greedy, stop ids off so the random tiny model always produces the requested number of tokens. */
    private static final GenerationConfig RUN_ON = GenerationConfig.builder().maxNewTokens(12).stopTokenIds().build();

    @RegisterExtension
    static final GoldenCases.Loaded<Phi3Vision> PHI = TinyModel.perClass();

    @Test
    void secondAnswerEqualsFreshSessionGivenTheWholeConversationAndVisionRunsOnce() throws Exception {
        String q1 = "What is shown in this image?";
        String q2 = "Describe the colours in more detail, please.";
        Answer a1;
        Answer a2;
        List<Message> historyA;
        int reusedA;
        // A model of its own: its prefix and embedding caches hold nothing from other tests.
        try (Phi3Vision own = TinyModel.load();
             Session a = own.session().numCrops(1).config(RUN_ON)) {
            long visionBefore = own.visionEncodings();
            a1 = a.image(TinyModel.image("a01_rgb_500x300.png")).ask(q1);
            assertEquals(1, a.visionEncodings());
            assertEquals(0, a.reusedPromptTokens());
            a2 = a.ask(q2);
            assertEquals(1, a.visionEncodings(), "the second turn must reuse the cached image embeddings");
            assertEquals(1, own.visionEncodings() - visionBefore);
            assertEquals(0, a2.usage().visionMillis());
            // 313 image tokens at numCrops 1 plus the first question are not recomputed
            assertTrue(a.reusedPromptTokens() > 313, "prefix reuse: " + a.reusedPromptTokens());
            historyA = a.history();
            reusedA = a.reusedPromptTokens();
        }
        assertEquals("<|image_1|>\n" + q1, historyA.get(0).content(), "tag inserted in front of the question");
        assertEquals(a1.text(), historyA.get(1).content());

        try (Phi3Vision fresh = TinyModel.load();   // empty caches: the whole prompt is computed
             Session b = fresh.session().numCrops(1).config(RUN_ON)) {
            // same image, given as bytes this time: same content, same result
            b.image(Files.readAllBytes(TinyModel.image("a01_rgb_500x300.png")))
                    .addUser(q1).addAssistant(a1.text());
            Answer b2 = b.ask(q2);
            assertEquals(0, b.reusedPromptTokens());
            assertEquals(historyA, b.history());
            System.out.println("[SessionTest] turn 2 (reused " + reusedA + " prompt tokens) " + a2.usage()
                    + "\n[SessionTest] fresh " + b2.usage());
            assertArrayEquals(b2.tokenIds(), a2.tokenIds(), "second answer differs from a fresh session's");
            assertEquals(b2.text(), a2.text());
            assertEquals(b2.usage().promptTokens(), a2.usage().promptTokens());
        }
    }

    /**
     * Text only: the first turn stays below original_max_position_embeddings (64, short factors), the
     * second crosses it while reusing the cached prefix; the model must then give what a full
     * recomputation gives (the fresh session).
     */
    @Test
    void prefixReuseAcrossTheLongRopeThresholdEqualsFreshSession() {
        GenerationConfig cfg = RUN_ON.withMaxNewTokens(8);
        String q1 = "Hi";
        String q2 = "Please tell me a much longer story about the sea, the wind, an old lighthouse keeper and the"
                + " waves he counts every night until the morning light comes back over the grey harbour, and then"
                + " explain why the keeper never leaves his tower, even in the coldest and darkest winter nights.";
        Answer first;
        Answer second;
        int reused;
        try (Session a = PHI.get().session().config(cfg)) {
            first = a.ask(q1);
            assertTrue(first.usage().promptTokens() + first.tokenIds().length < 64,
                    "turn 1 must stay below the threshold: " + first.usage());
            second = a.ask(q2);
            reused = a.reusedPromptTokens();
            assertTrue(second.usage().promptTokens() > 64, "turn 2 must cross the threshold: " + second.usage());
        }
        assertTrue(reused > 5, "some prefix must be reused, was " + reused);
        try (Session b = PHI.get().session().config(cfg)) {
            b.addUser(q1).addAssistant(first.text());
            Answer fresh = b.ask(q2);
            assertArrayEquals(fresh.tokenIds(), second.tokenIds());
        }
    }

    /** And back: a long conversation cleared to a short one reuses the system prefix below the threshold. */
    @Test
    void prefixReuseBackBelowTheLongRopeThresholdEqualsFreshSession() {
        GenerationConfig cfg = RUN_ON.withMaxNewTokens(6);
        String system = "Be brief.";
        Answer afterClear;
        try (Session a = PHI.get().session().system(system).config(cfg)) {
            Answer longTurn = a.ask("Tell me everything about the sea, the wind, the lighthouse keeper, the waves, the"
                    + " harbour, the boats, the fishermen and the morning light over the grey water. ".repeat(2));
            assertTrue(longTurn.usage().promptTokens() > 64, longTurn.usage().toString());
            afterClear = a.clear().ask("Hi");
            assertTrue(a.reusedPromptTokens() > 3, "the system prompt is reused: " + a.reusedPromptTokens());
            assertTrue(afterClear.usage().promptTokens() + 6 < 64, afterClear.usage().toString());
        }
        try (Session b = PHI.get().session().system(system).config(cfg)) {
            assertArrayEquals(b.ask("Hi").tokenIds(), afterClear.tokenIds());
        }
    }

    /**
     * A turn that needs more KV cache than the pooled one holds gets a bigger cache with the prefix copied
     * into it: the prefix is not recomputed, and the answer equals a computation from scratch.
     */
    @Test
    void growingTheKvCacheKeepsThePrefixAndTheAnswer() {
        // turn 1 needs ~20 positions (a cache of 256); turn 2's long question needs more than that
        String q2 = "Now read this carefully: " + "the quick brown fox jumps over the lazy dog. ".repeat(30);
        Answer first;
        Answer second;
        try (Session a = PHI.get().session().config(RUN_ON.withMaxNewTokens(4))) {
            first = a.ask("Short.");
            second = a.maxNewTokens(8).ask(q2);
            assertTrue(second.usage().promptTokens() > 256, "turn 2 must outgrow the first cache: " + second.usage());
            assertTrue(a.reusedPromptTokens() > 5, "the grown cache keeps the prefix: " + a.reusedPromptTokens());
        }
        // From scratch: a separate model, so nothing comes from a cache.
        try (Phi3Vision fresh = TinyModel.builder().build();
             Session b = fresh.session().config(RUN_ON.withMaxNewTokens(8))) {
            Answer recomputed = b.addUser("Short.").addAssistant(first.text()).ask(q2);
            assertEquals(0, recomputed.usage().cachedPromptTokens());
            assertArrayEquals(recomputed.tokenIds(), second.tokenIds());
        }
    }

    @Test
    void sameImageAddedAgainIsNotReencodedButOtherCropsAre() {
        try (Session s = PHI.get().session().numCrops(1).config(RUN_ON.withMaxNewTokens(2))) {
            s.image(TinyModel.image("a02_rgb_336x336.png")).ask("One?");
            s.image(TinyModel.image("a02_rgb_336x336.png")).ask("And this one?");
            assertEquals(1, s.visionEncodings());
            assertTrue(s.history().get(2).content().startsWith("<|image_2|>\n"));
            s.numCrops(4).image(TinyModel.image("a02_rgb_336x336.png")).ask("Same picture, more crops?");
            assertEquals(2, s.visionEncodings(), "another numCrops is another encoding");
        }
    }

    @Test
    void userWrittenTagsAreKept() {
        // A model of its own: its embedding cache holds no image from other tests.
        try (Phi3Vision own = TinyModel.load();
             Session s = own.session().numCrops(1).config(RUN_ON.withMaxNewTokens(2))) {
            s.image(TinyModel.image("a02_rgb_336x336.png")).image(TinyModel.image("a06_tiny_40x30.png"));
            s.ask("Compare <|image_2|> with <|image_1|>.");
            assertEquals("Compare <|image_2|> with <|image_1|>.", s.history().get(0).content());
            assertEquals(2, s.visionEncodings());
            s.image(TinyModel.image("a06_tiny_40x30.png"));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> s.ask("Only <|image_1|> again"));
            assertTrue(e.getMessage().contains("image tags"), e.getMessage());
            assertEquals(2, s.history().size(), "a failed question leaves the conversation unchanged");
        }
    }

    @Test
    void seededSamplingIsReproducible() {
        GenerationConfig sample = GenerationConfig.builder().doSample(true).temperature(1.5f).topK(0)
                .maxNewTokens(16).stopTokenIds().seed(1234).build();
        int[] prompt = goldenPrompt("c_text_long");
        Answer x = PHI.get().rawPrompts().generate(prompt, List.of(), sample);
        Answer y = PHI.get().rawPrompts().generate(prompt, List.of(), sample);
        Answer z = PHI.get().rawPrompts().generate(prompt, List.of(), sample.withSeed(99));
        assertArrayEquals(x.tokenIds(), y.tokenIds());
        assertFalse(java.util.Arrays.equals(x.tokenIds(), z.tokenIds()), "another seed should sample differently");
        try (Session s1 = PHI.get().session().config(sample); Session s2 = PHI.get().session().config(sample)) {
            assertArrayEquals(s1.ask("Tell me a story.").tokenIds(), s2.ask("Tell me a story.").tokenIds());
        }
    }

    @Test
    void stopIdsAndStopStringsEndGeneration() {
        int[] prompt = goldenPrompt("c_text_long");
        int[] full = PHI.get().rawPrompts().generate(prompt, List.of(), RUN_ON.withMaxNewTokens(24)).tokenIds();
        int stopAt = firstNewIdFrom(full, 3);
        Answer stopped = PHI.get().rawPrompts().generate(prompt, List.of(),
                RUN_ON.withMaxNewTokens(24).withStopTokenIds(full[stopAt]));
        assertEquals(FinishReason.STOP, stopped.finishReason());
        assertArrayEquals(java.util.Arrays.copyOf(full, stopAt + 1), stopped.tokenIds());

        String text = PHI.get().rawPrompts().generate(prompt, List.of(), RUN_ON.withMaxNewTokens(24)).text();
        int at = text.length() / 2;
        String stop = text.substring(at, Math.min(text.length(), at + 3));
        int first = text.indexOf(stop);
        Answer cut = PHI.get().rawPrompts().generate(prompt, List.of(), RUN_ON.withMaxNewTokens(24).withStopStrings(stop));
        assertEquals(FinishReason.STOP, cut.finishReason());
        assertEquals(text.substring(0, first), cut.text());
        assertTrue(cut.tokenIds().length < 24);
    }

    @Test
    void streamedPiecesConcatenateToTheAnswer() {
        try (Session s = PHI.get().session().config(RUN_ON.withMaxNewTokens(16))) {
            StringBuilder pieces = new StringBuilder();
            List<String> list = new ArrayList<>();
            Answer a = s.stream("Write something.", p -> {
                pieces.append(p);
                list.add(p);
            });
            assertEquals(a.text(), pieces.toString());
            assertTrue(list.size() > 1, "expected several pieces, got " + list);

            StringBuilder iterated = new StringBuilder();
            try (TextIterator it = s.iterator("More.")) {
                it.forEachRemaining(iterated::append);
            }
            assertEquals(s.lastAnswer().orElseThrow().text(), iterated.toString());
            assertEquals(4, s.history().size());

            // closing the iterator early cancels; the next call waits for the worker instead of failing
            try (TextIterator it = s.iterator("Stop me.")) {
                assertTrue(it.hasNext());
                it.next();
            }
            assertEquals(2, s.maxNewTokens(2).ask("Next.").tokenIds().length);
            assertEquals(8, s.history().size(), "the cancelled turn and the next one are both recorded");
            s.maxNewTokens(16);

            TextPublisher pub = s.publisher("Even more.");
            StringBuilder published = new StringBuilder();
            CompletableFuture<Void> done = new CompletableFuture<>();
            pub.subscribe(new Flow.Subscriber<>() {
                @Override
                public void onSubscribe(Flow.Subscription sub) {
                    sub.request(Long.MAX_VALUE);
                }

                @Override
                public void onNext(String item) {
                    published.append(item);
                }

                @Override
                public void onError(Throwable t) {
                    done.completeExceptionally(t);
                }

                @Override
                public void onComplete() {
                    done.complete(null);
                }
            });
            done.join();
            assertEquals(pub.answer().join().text(), published.toString());
            assertEquals(10, s.history().size());
        }
    }

    @Test
    void cancellationFromAnotherThreadEndsWithCancelled() throws Exception {
        try (Session s = PHI.get().session().config(RUN_ON.withMaxNewTokens(200))) {
            CountDownLatch firstPiece = new CountDownLatch(1);
            CountDownLatch cancelled = new CountDownLatch(1);
            CompletableFuture<Answer> answer = CompletableFuture.supplyAsync(() -> s.stream("Talk.", p -> {
                firstPiece.countDown();
                await(cancelled);
            }));
            assertTrue(firstPiece.await(60, TimeUnit.SECONDS), "no text piece arrived");
            assertTrue(s.cancel(), "a call was running");
            cancelled.countDown();
            Answer a = answer.get(60, TimeUnit.SECONDS);
            assertEquals(FinishReason.CANCELLED, a.finishReason());
            assertTrue(a.tokenIds().length < 200);
            assertFalse(s.cancel(), "nothing runs any more");
            // the session stays usable, the partial answer is in the history
            assertEquals(2, s.history().size());
            assertEquals(FinishReason.LENGTH, s.maxNewTokens(2).ask("Again.").finishReason());
        }
        // a caller-supplied token
        CancellationToken token = new CancellationToken();
        Answer a = PHI.get().rawPrompts().generate(goldenPrompt("d_text_short"), List.of(), RUN_ON.withMaxNewTokens(24),
                p -> token.cancel(), token);
        assertEquals(FinishReason.CANCELLED, a.finishReason());
    }

    /** The model is shared: sessions on different threads at the same time give the sequential answers. */
    @Test
    void sessionsOnDifferentThreadsRunConcurrently() throws Exception {
        String[] questions = {"Tell me about the sea.", "What is a lighthouse?", "Count the waves."};
        GenerationConfig cfg = RUN_ON.withMaxNewTokens(10);
        List<int[]> sequential = new ArrayList<>();
        for (String q : questions) {
            try (Session s = PHI.get().session().config(cfg)) {
                sequential.add(s.ask(q).tokenIds());
            }
        }
        List<CompletableFuture<int[]>> parallel = new ArrayList<>();
        for (String q : questions) {
            parallel.add(CompletableFuture.supplyAsync(() -> {
                try (Session s = PHI.get().session().config(cfg)) {
                    return s.ask(q).tokenIds();
                }
            }, runnable -> new Thread(runnable).start()));
        }
        for (int i = 0; i < questions.length; i++) {
            assertArrayEquals(sequential.get(i), parallel.get(i).get(120, TimeUnit.SECONDS), questions[i]);
        }
    }

    @Test
    void concurrentUseFromTwoThreadsFailsFast() throws Exception {
        try (Session s = PHI.get().session().config(RUN_ON.withMaxNewTokens(6))) {
            CountDownLatch inside = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            AtomicReference<Throwable> reentrant = new AtomicReference<>();
            CompletableFuture<Answer> running = CompletableFuture.supplyAsync(() -> s.stream("First.", p -> {
                if (inside.getCount() == 1) {
                    try {
                        s.ask("re-entrant");
                    } catch (Throwable t) {
                        reentrant.set(t);
                    }
                    inside.countDown();
                    await(release);
                }
            }));
            assertTrue(inside.await(60, TimeUnit.SECONDS));
            ConcurrentSessionUseException e = assertThrows(ConcurrentSessionUseException.class, () -> s.ask("Second."));
            assertTrue(e.getMessage().contains("not thread-safe"), e.getMessage());
            assertThrows(ConcurrentSessionUseException.class, () -> s.system("x"));
            assertThrows(ConcurrentSessionUseException.class, () -> s.image(TinyModel.image("a06_tiny_40x30.png")));
            release.countDown();
            Answer a = running.get(60, TimeUnit.SECONDS);
            assertEquals(FinishReason.LENGTH, a.finishReason(), "the running call is not disturbed");
            assertTrue(reentrant.get() instanceof ConcurrentSessionUseException, String.valueOf(reentrant.get()));
            assertEquals(2, s.history().size());
            assertNotNull(s.ask("Now it is free."));
        }
    }

    @Test
    void closedSessionAndClosedModelThrowIllegalState() {
        Session s = PHI.get().session();
        s.close();
        s.close(); // idempotent
        assertTrue(s.isClosed());
        assertThrows(IllegalStateException.class, () -> s.ask("hello"));
        assertThrows(IllegalStateException.class, () -> s.image(TinyModel.image("a06_tiny_40x30.png")));

        Phi3Vision other = TinyModel.load();
        Session open = other.session().config(RUN_ON.withMaxNewTokens(2));
        open.ask("warm up");
        other.close();
        assertTrue(other.isClosed());
        assertTrue(open.isClosed(), "closing the model closes its sessions");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> open.ask("hello"));
        assertTrue(e.getMessage().contains("Phi3Vision was closed"), e.getMessage());
        assertThrows(IllegalStateException.class, other::session);
        assertThrows(IllegalStateException.class, () -> other.rawPrompts().generate(new int[] {1, 2}, List.of(), RUN_ON));
        assertThrows(IllegalStateException.class, other::model);

        // closing the model while another thread is generating: that call ends, nothing crashes
        Phi3Vision third = TinyModel.load();
        Session busy = third.session().config(RUN_ON.withMaxNewTokens(200));
        CountDownLatch firstPiece = new CountDownLatch(1);
        CountDownLatch closed = new CountDownLatch(1);
        CompletableFuture<Answer> running = CompletableFuture.supplyAsync(() -> busy.stream("Talk.", p -> {
            firstPiece.countDown();
            await(closed);
        }));
        await(firstPiece);
        third.close();
        closed.countDown();
        Answer a = running.join();
        assertEquals(FinishReason.CANCELLED, a.finishReason());
        assertTrue(busy.isClosed());
    }

    @Test
    void idsLevelGenerateValidatesPlaceholders() {
        ImagePixels px = PHI.get().rawPrompts().preprocess(TinyModel.image("a06_tiny_40x30.png"), 1);
        assertEquals(313, PHI.get().rawPrompts().imageTokenCount(px));
        int[] ids = new int[20];
        java.util.Arrays.fill(ids, -1);
        ids[0] = 1;
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> PHI.get().rawPrompts().generate(ids, List.of(px), RUN_ON));
        assertTrue(e.getMessage().contains("313"), e.getMessage());
        ids[5] = -2;
        e = assertThrows(IllegalArgumentException.class, () -> PHI.get().rawPrompts().generate(ids, List.of(px), RUN_ON));
        assertTrue(e.getMessage().contains("refers to image 2"), e.getMessage());
    }

    @Test
    void tokenBudgetIsCheckedBeforeTheVisionTowerRuns() {
        try (Phi3Vision small = TinyModel.builder().maxContext(1000).build();
             Session s = small.session().numCrops(16)) {
            s.image(TinyModel.image("a01_rgb_500x300.png"));
            ContextLengthExceededException e = assertThrows(ContextLengthExceededException.class,
                    () -> s.ask("What is shown?"));
            System.out.println("[SessionTest] " + e.getMessage());
            assertTrue(e.getMessage().contains("2353 tokens at numCrops 16"), e.getMessage());
            assertTrue(e.getMessage().contains("Use numCrops("), e.getMessage());
            assertEquals(0, s.visionEncodings());
            assertEquals(0, small.visionEncodings());
            // with fewer crops it fits, and the pending image is still there
            assertEquals(FinishReason.LENGTH, s.numCrops(1).config(RUN_ON.withMaxNewTokens(2)).ask("What is shown?")
                    .finishReason());
            assertEquals(1, s.visionEncodings());
        }
    }

    @Test
    void memoryEstimateIsCheckedBeforeLoading() {
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> TinyModel.builder().availableMemory(1 << 20).build());
        System.out.println("[SessionTest] " + e.getMessage());
        assertTrue(e.getMessage().contains("needs about"), e.getMessage());
        assertTrue(PHI.get().memoryEstimate().weightBytes() >= 4_262_176L * 4);
        assertEquals(Phi3Vision.DEFAULT_MAX_CONTEXT, PHI.get().memoryEstimate().maxContext());
        // 2 layers x 2 x 4 kv heads x 16 dims x 4 bytes
        assertEquals(1024, PHI.get().memoryEstimate().kvBytesPerToken());

        // int8: the decoder linears (2 layers x (64x192 qkv + 64x64 o + 64x256 gate_up + 128x64 down)) drop
        // from 4 bytes to 1 byte per weight plus a float32 scale per output row
        var f32 = Phi3Vision.estimateMemory(TinyModel.dir(), Precision.FLOAT32, Quantization.NONE, 8192, 16);
        var int8 = Phi3Vision.estimateMemory(TinyModel.dir(), Precision.FLOAT32, Quantization.INT8, 8192, 16);
        long linear = 2L * (192 * 64 + 64 * 64 + 256 * 64 + 64 * 128);
        long rows = 2L * (192 + 64 + 256 + 64);
        assertEquals(f32.weightBytes() - 3 * linear + 4 * rows, int8.weightBytes());
        try (Phi3Vision q = TinyModel.builder().quantization("int8").build()) {
            assertEquals(int8.weightBytes(), q.memoryEstimate().weightBytes());
            assertEquals(3, q.rawPrompts().generate(goldenPrompt("d_text_short"), List.of(), RUN_ON.withMaxNewTokens(3))
                    .tokenIds().length);
        }

        // packed decode weights: the decoder linears and lm_head (32064 x 64) are held twice
        var bf16 = Phi3Vision.estimateMemory(TinyModel.dir(), Precision.BFLOAT16, Quantization.NONE, 8192, 16);
        if (CpuFeatures.oneDnnBf16Packing()) {
            try (Phi3Vision p = TinyModel.builder().dtype(Precision.BFLOAT16).packedDecodeWeights(true).build()) {
                assertEquals(bf16.weightBytes() + 2 * (linear + 32064L * 64), p.memoryEstimate().weightBytes());
                assertEquals(3, p.rawPrompts().generate(goldenPrompt("d_text_short"), List.of(),
                        RUN_ON.withMaxNewTokens(3)).tokenIds().length);
            }
        } else {
            // oneDNN cannot pack bf16 weights on this CPU: refused with the reason, not failing in libtorch.
            IllegalStateException cpu = assertThrows(IllegalStateException.class,
                    () -> TinyModel.builder().dtype(Precision.BFLOAT16).packedDecodeWeights(true).build());
            assertTrue(cpu.getMessage().contains("packed decode weights need oneDNN's bf16 weight packing"),
                    cpu.getMessage());
        }
        // refused before anything is loaded (float32 here)
        IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
                () -> TinyModel.builder().packedDecodeWeights(true).build());
        assertTrue(refused.getMessage().contains("packed decode weights need bf16"), refused.getMessage());
    }

    @Test
    void loadByPathStringAndClearErrors() {
        try (Phi3Vision p = Phi3Vision.load(TinyModel.dir().toString())) {
            assertEquals(TinyModel.dir(), p.modelDir());
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Phi3Vision.load("/no/such/model/folder"));
        assertTrue(e.getMessage().contains("does not exist"), e.getMessage());
        assertThrows(IllegalStateException.class, () -> Phi3Vision.builder().build());
    }

    /** A hub id resolves through the hub cache (offline here: a prepared cache of links to the tiny model). */
    @Test
    void loadsAHubIdFromTheCache(@TempDir Path cacheDir) throws Exception {
        String commit = "0123456789abcdef0123456789abcdef01234567";
        Path repo = cacheDir.resolve("models--acme--tiny-vision");
        Files.createDirectories(repo.resolve("refs"));
        Files.writeString(repo.resolve("refs/main"), commit);
        Path snapshot = Files.createDirectories(repo.resolve("snapshots/" + commit));
        try (var files = Files.list(TinyModel.dir())) {
            for (Path f : (Iterable<Path>) files::iterator) {
                Files.createSymbolicLink(snapshot.resolve(f.getFileName()), f.toAbsolutePath());
            }
        }
        HubConfig hub = HubConfig.fromEnvironment(Map.of()).withCacheDir(cacheDir).withOffline(true);
        try (Phi3Vision p = TinyModel.builder().modelId("acme/tiny-vision").hubConfig(hub).build()) {
            assertEquals(snapshot, p.modelDir());
            int[] prompt = goldenPrompt("c_text_long");
            assertArrayEquals(PHI.get().rawPrompts().generate(prompt, List.of(), RUN_ON).tokenIds(),
                    p.rawPrompts().generate(prompt, List.of(), RUN_ON).tokenIds());
        }
    }

    private static int[] goldenPrompt(String c) {
        return GoldenCases.generation(c).ints("prompt_input_ids");
    }

    private static int firstNewIdFrom(int[] ids, int from) {
        for (int i = from; i < ids.length; i++) {
            boolean seen = false;
            for (int j = 0; j < i; j++) {
                seen |= ids[j] == ids[i];
            }
            if (!seen) {
                return i;
            }
        }
        throw new AssertionError("no fresh id in " + java.util.Arrays.toString(ids));
    }

    private static void await(CountDownLatch latch) {
        try {
            if (!latch.await(60, TimeUnit.SECONDS)) {
                throw new AssertionError("timed out");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }
}
