package io.github.phi3v.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.bytedeco.javacpp.Pointer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import io.github.phi3v.core.generate.Answer;
import io.github.phi3v.core.generate.CancellationToken;
import io.github.phi3v.core.generate.FinishReason;
import io.github.phi3v.core.generate.GenerationConfig;
import io.github.phi3v.core.model.GoldenCases;
import io.github.phi3v.core.runtime.RecordingLoggerFinder;

/**
 * Continuous batching ({@link Phi3Vision#submit}) on the golden tiny model: concurrent requests with
 * different prompts, images and lengths give exactly their one-by-one answers (greedy and seeded
 * sampling), a cancelled or failing request leaves the others untouched, late requests join a running
 * batch, and native memory returns to its baseline.
 */
class BatchSchedulerTest {

    private static final String[] IMAGES = {"a01_rgb_500x300.png", "a02_rgb_336x336.png", "a06_tiny_40x30.png",
        "a10_rgb_42x19.png"};

    /** One-by-one reference answers come from this model; the batches run on fresh ones. */
    @RegisterExtension
    static final GoldenCases.Loaded<Phi3Vision> REF = TinyModel.perClass();

    /** Request i: its own question, image (or none), crop count and length; sampling when {@code seeded}. */
    static ChatRequest request(int i, boolean seeded) {
        GenerationConfig.Builder config = GenerationConfig.builder().maxNewTokens(6 + 2 * i).stopTokenIds();
        if (seeded) {
            config.doSample(true).temperature(0.9f).topK(50).seed(1000 + i);
        }
        ChatRequest.Builder b = ChatRequest.builder().config(config.build()).numCrops(1 + i % 2);
        String q = "Question " + i + ": what do you see" + ",".repeat(i) + "?";
        return i % 4 == 3 ? b.user(q).build() : b.user(q, ImageInput.of(TinyModel.image(IMAGES[i % IMAGES.length])))
                .build();
    }

    static List<Answer> oneByOne(List<ChatRequest> requests) {
        List<Answer> out = new ArrayList<>();
        for (ChatRequest r : requests) {
            out.add(REF.get().chat(r));
        }
        return out;
    }

    static void assertSameAnswer(Answer expected, Answer actual, String what) {
        assertArrayEquals(expected.tokenIds(), actual.tokenIds(), what + ": token ids");
        assertEquals(expected.text(), actual.text(), what + ": text");
        assertEquals(expected.finishReason(), actual.finishReason(), what + ": finish reason");
        assertEquals(expected.usage().promptTokens(), actual.usage().promptTokens(), what + ": prompt tokens");
        assertEquals(expected.usage().generatedTokens(), actual.usage().generatedTokens(), what + ": generated");
    }

    /** Submits all at once (streams collected) and checks each against its one-by-one answer. */
    static void submitAllAndCompare(Phi3Vision phi, List<ChatRequest> requests, List<Answer> expected)
            throws Exception {
        List<StringBuilder> streamed = new ArrayList<>();
        List<CompletableFuture<Answer>> futures = new ArrayList<>();
        for (ChatRequest r : requests) {
            StringBuilder sb = new StringBuilder();
            streamed.add(sb);
            futures.add(phi.submit(r, sb::append, CancellationToken.none()));
        }
        for (int i = 0; i < requests.size(); i++) {
            Answer a = futures.get(i).get(2, TimeUnit.MINUTES);
            assertSameAnswer(expected.get(i), a, "request " + i);
            assertEquals(a.text(), streamed.get(i).toString(), "request " + i + ": streamed pieces");
        }
    }

    @Test
    void eightConcurrentRequestsGiveTheirOneByOneAnswersGreedyAndSeeded() throws Exception {
        List<ChatRequest> greedy = new ArrayList<>();
        List<ChatRequest> seeded = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            greedy.add(request(i, false));
            seeded.add(request(i, true));
        }
        List<Answer> greedyRef = oneByOne(greedy);
        List<Answer> seededRef = oneByOne(seeded);
        try (Phi3Vision phi = TinyModel.builder().maxBatchSize(8).build()) {
            submitAllAndCompare(phi, greedy, greedyRef);
            assertTrue(phi.largestBatch() >= 2, "requests were decoded together: largest batch "
                    + phi.largestBatch());
            assertTrue(phi.largestBatch() <= 8, "maxBatchSize 8: largest batch " + phi.largestBatch());
            submitAllAndCompare(phi, seeded, seededRef);
            System.out.println("[BatchSchedulerTest] largest batch " + phi.largestBatch());
        }
    }

    @Test
    void aBatchNeverExceedsMaxBatchSize() throws Exception {
        List<ChatRequest> requests = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            requests.add(request(i, false));
        }
        try (Phi3Vision phi = TinyModel.builder().maxBatchSize(2).build()) {
            submitAllAndCompare(phi, requests, oneByOne(requests));
            assertEquals(2, phi.largestBatch());
            assertEquals(2, phi.limits().maxBatchSize());
            long[] steps = phi.decodeStepsByBatchSize();
            assertEquals(3, steps.length, "counts for batch sizes 0..maxBatchSize");
            assertEquals(0, steps[0]);
            assertTrue(steps[2] > 0, "steps of two sequences: " + java.util.Arrays.toString(steps));
            // 6 requests of 6..16 new tokens: every token after a request's first comes from a decode step
            long decoded = 0;
            for (int b = 1; b < steps.length; b++) {
                decoded += b * steps[b];
            }
            long generated = 0;
            for (ChatRequest r : requests) {
                generated += r.config().maxNewTokens() - 1;
            }
            assertEquals(generated, decoded, "sequences decoded by the counted steps");
        }
    }

    @Test
    void eachBatchedStepLogsOneDebugLineWithItsBatchSizeAndTimes() throws Exception {
        List<ChatRequest> requests = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            requests.add(request(i, false));
        }
        List<Answer> expected = oneByOne(requests);
        long[] steps;
        try (Phi3Vision phi = TinyModel.builder().maxBatchSize(2).build()) {
            RecordingLoggerFinder.clear();
            submitAllAndCompare(phi, requests, expected);
            steps = phi.decodeStepsByBatchSize();
        }   // closing joins the scheduler thread: a step's line is written after its requests complete
        java.util.regex.Pattern line = java.util.regex.Pattern.compile("batch step B=(\\d+): decodeStep "
                + "\\d+\\.\\d ms, sequences \\d+\\.\\d\\d ms, admission before it \\d+\\.\\d ms");
        long[] logged = new long[steps.length];
        for (RecordingLoggerFinder.Entry e : RecordingLoggerFinder.records()) {
            if (e.logger().equals(BatchScheduler.class.getName())) {
                assertEquals(System.Logger.Level.DEBUG, e.level(), e.message());
                java.util.regex.Matcher m = line.matcher(e.message());
                assertTrue(m.matches(), "step line: " + e.message());
                logged[Integer.parseInt(m.group(1))]++;
            }
        }
        assertTrue(steps[1] + steps[2] > 0, "steps ran: " + java.util.Arrays.toString(steps));
        assertArrayEquals(steps, logged, "one DEBUG line per step, by batch size");
    }

    @Test
    void aCancelledRequestEndsAndTheOthersFinish() throws Exception {
        List<ChatRequest> requests = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            requests.add(request(i + 4, false));                        // 14..20 new tokens
        }
        List<Answer> expected = oneByOne(requests);
        try (Phi3Vision phi = TinyModel.builder().build()) {
            CancellationToken cancel = new CancellationToken();
            AtomicInteger pieces = new AtomicInteger();
            List<CompletableFuture<Answer>> futures = new ArrayList<>();
            for (int i = 0; i < requests.size(); i++) {
                futures.add(i == 1
                        ? phi.submit(requests.get(i), p -> {
                            if (pieces.incrementAndGet() == 3) {
                                cancel.cancel();
                            }
                        }, cancel)
                        : phi.submit(requests.get(i)));
            }
            // The future of another request cancelled by its caller: that request is cancelled too.
            futures.get(3).cancel(true);
            for (int i = 0; i < requests.size(); i++) {
                if (i == 1) {
                    Answer a = futures.get(i).get(2, TimeUnit.MINUTES);
                    assertEquals(FinishReason.CANCELLED, a.finishReason());
                    assertTrue(a.tokenIds().length < expected.get(i).tokenIds().length, "cancelled early: "
                            + a.tokenIds().length + " tokens");
                    int[] prefix = java.util.Arrays.copyOf(expected.get(i).tokenIds(), a.tokenIds().length);
                    assertArrayEquals(prefix, a.tokenIds(), "the tokens before the cancellation are the reference's");
                } else if (i == 3) {
                    assertTrue(futures.get(i).isCancelled());
                } else {
                    assertSameAnswer(expected.get(i), futures.get(i).get(2, TimeUnit.MINUTES), "request " + i);
                }
            }
            // Every slot is back: maxConcurrentRequests (16) requests can be submitted again.
            assertSameAnswer(expected.get(0), phi.submit(requests.get(0)).get(2, TimeUnit.MINUTES), "after");
        }
    }

    @Test
    void lateRequestsJoinARunningBatchAndFailingRequestsDoNotDisturbIt() throws Exception {
        List<ChatRequest> early = List.of(request(6, false), request(7, false));       // 18 and 20 tokens
        List<ChatRequest> late = List.of(request(0, false), request(3, false));
        List<Answer> earlyRef = oneByOne(early);
        List<Answer> lateRef = oneByOne(late);
        ChatRequest tooBig = ChatRequest.builder().config(GenerationConfig.builder().maxNewTokens(3000).build())
                .user("A long story, please.").build();
        try (Phi3Vision probe = TinyModel.load()) {
            // Room for the four requests' caches (256 positions each, rounded up) but not for 3000 new tokens.
            long budget = 6 * probe.model().kvCacheBytes(256);
            try (Phi3Vision phi = TinyModel.builder().kvCacheBytes(budget).build()) {
                List<CompletableFuture<Answer>> lateFutures = new ArrayList<>();
                List<CompletableFuture<Answer>> failing = new ArrayList<>();
                AtomicInteger seen = new AtomicInteger();
                CompletableFuture<Answer> first = phi.submit(early.get(0), p -> {
                    if (seen.incrementAndGet() == 4) {   // the batch is running: more requests arrive now
                        for (ChatRequest r : late) {
                            lateFutures.add(phi.submit(r));
                        }
                        failing.add(phi.submit(tooBig));
                        failing.add(phi.submit(request(2, false), piece -> {
                            throw new IllegalStateException("client went away");
                        }, CancellationToken.none()));
                    }
                }, CancellationToken.none());
                CompletableFuture<Answer> second = phi.submit(early.get(1));
                assertSameAnswer(earlyRef.get(0), first.get(2, TimeUnit.MINUTES), "early 0");
                assertSameAnswer(earlyRef.get(1), second.get(2, TimeUnit.MINUTES), "early 1");
                assertEquals(2, lateFutures.size(), "late requests were submitted while the batch ran");
                for (int i = 0; i < late.size(); i++) {
                    assertSameAnswer(lateRef.get(i), lateFutures.get(i).get(2, TimeUnit.MINUTES), "late " + i);
                }
                ExecutionException big = assertThrows(ExecutionException.class, () -> failing.get(0).get(1,
                        TimeUnit.MINUTES));
                LimitExceededException limit = assertInstanceOf(LimitExceededException.class, big.getCause());
                assertEquals("kvCacheBytes", limit.limit());
                assertFalse(limit.retryable(), "too big on its own: the request must change");
                ExecutionException client = assertThrows(ExecutionException.class, () -> failing.get(1).get(1,
                        TimeUnit.MINUTES));
                assertEquals("client went away", client.getCause().getMessage());
                assertTrue(phi.largestBatch() >= 3, "late requests joined the running ones: largest batch "
                        + phi.largestBatch());
                assertTrue(phi.kvCacheBytesInUse() <= budget);
            }
        }
    }

    @Test
    void aRequestThatFitsAloneButWaitsPastKvCacheWaitIsRefusedAsRetryable() throws Exception {
        ChatRequest longOne = ChatRequest.builder().config(GenerationConfig.builder().maxNewTokens(300)
                .stopTokenIds().build()).user("A long story, please.").build();
        ChatRequest other = ChatRequest.builder().config(GenerationConfig.builder().maxNewTokens(300)
                .stopTokenIds().build()).user("Another long story.").build();
        try (Phi3Vision probe = TinyModel.load()) {
            // Room for one of the two caches (512 positions each: prompt + 300 tokens with headroom), not for both.
            long budget = probe.model().kvCacheBytes(800);
            try (Phi3Vision phi = TinyModel.builder().kvCacheBytes(budget).kvCacheWait(java.time.Duration.ofMillis(50))
                    .build()) {
                // The first decodes slowly (its onText runs on the scheduler thread), so it surely still holds
                // its memory when the second's wait runs out. The second is submitted only once the first is
                // decoding: requests are planned on intake threads, so two submitted together may queue in
                // either order (the second first, and then it is the first that is refused).
                CountDownLatch decoding = new CountDownLatch(1);
                CompletableFuture<Answer> first = phi.submit(longOne, piece -> {
                    decoding.countDown();
                    sleep(5);
                }, CancellationToken.none());
                assertTrue(decoding.await(2, TimeUnit.MINUTES), "the first request produced no text");
                CompletableFuture<Answer> second = phi.submit(other);
                ExecutionException e = assertThrows(ExecutionException.class, () -> second.get(2, TimeUnit.MINUTES));
                LimitExceededException limit = assertInstanceOf(LimitExceededException.class, e.getCause());
                assertEquals("kvCacheBytes", limit.limit());
                assertTrue(limit.retryable(), "others held the memory: " + limit.getMessage());
                assertEquals(300, first.get(2, TimeUnit.MINUTES).tokenIds().length, "the running one finishes");
                assertEquals(300, phi.submit(other).get(2, TimeUnit.MINUTES).tokenIds().length,
                        "the same request fits once the memory is back");
            }
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Test
    void aFailedPlanFailsOnlyItsFutureAndClosingEndsQueuedRequests() throws Exception {
        try (Phi3Vision phi = TinyModel.builder().build()) {
            CompletableFuture<Answer> bad = phi.submit(ChatRequest.builder()
                    .user("Look", ImageInput.of(TinyModel.image("does-not-exist.png"))).build());
            ExecutionException e = assertThrows(ExecutionException.class, () -> bad.get(1, TimeUnit.MINUTES));
            assertTrue(e.getCause() instanceof RuntimeException, String.valueOf(e.getCause()));
            assertSameAnswer(REF.get().chat(request(1, false)), phi.submit(request(1, false)).get(2,
                    TimeUnit.MINUTES), "after a failed plan");
            List<CompletableFuture<Answer>> open = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                open.add(phi.submit(ChatRequest.builder().config(GenerationConfig.builder().maxNewTokens(2000)
                        .stopTokenIds().build()).user("Tell me everything, " + i + ".").build()));
            }
            phi.close();
            for (CompletableFuture<Answer> f : open) {
                assertTrue(f.isDone(), "close() waits for the scheduler to end every request");
                try {
                    assertEquals(FinishReason.CANCELLED, f.get().finishReason());
                } catch (ExecutionException closed) {
                    assertInstanceOf(IllegalStateException.class, closed.getCause());   // closed before it started
                }
            }
            assertThrows(IllegalStateException.class, () -> phi.submit(request(0, false)));
        }
    }

    @Test
    void nativeMemoryReturnsToItsBaseline() throws Exception {
        List<ChatRequest> requests = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            requests.add(request(i, i % 2 == 1));
        }
        List<Answer> expected = oneByOne(requests);
        try (Phi3Vision warm = TinyModel.load()) {
            submitAllAndCompare(warm, requests, expected);   // loads whatever libtorch keeps for good
        }
        System.gc();
        long baseTotal = Pointer.totalBytes();
        long baseCount = Pointer.totalCount();
        try (Phi3Vision phi = TinyModel.load()) {
            submitAllAndCompare(phi, requests, expected);
            long roundTotal = Pointer.totalBytes();
            long roundCount = Pointer.totalCount();
            long kv = phi.kvCacheBytesInUse();
            for (int round = 0; round < 2; round++) {   // same requests: the pools are in a steady state
                submitAllAndCompare(phi, requests, expected);
                assertEquals(roundTotal, Pointer.totalBytes(), "Pointer.totalBytes() after round " + (round + 2));
                assertEquals(roundCount, Pointer.totalCount(), "Pointer.totalCount() after round " + (round + 2));
                assertEquals(kv, phi.kvCacheBytesInUse(), "pooled KV bytes after round " + (round + 2));
            }
        }
        assertEquals(baseTotal, Pointer.totalBytes(), "JavaCPP allocations left behind after close");
        assertEquals(baseCount, Pointer.totalCount(), "JavaCPP pointers left behind after close");
    }
}
