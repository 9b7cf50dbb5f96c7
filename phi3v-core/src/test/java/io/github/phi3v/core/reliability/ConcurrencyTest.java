package io.github.phi3v.core.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import io.github.phi3v.core.ConcurrentSessionUseException;
import io.github.phi3v.core.Phi3Vision;
import io.github.phi3v.core.Session;
import io.github.phi3v.core.generate.Answer;
import io.github.phi3v.core.generate.GenerationConfig;
import io.github.phi3v.core.model.Precision;
import io.github.phi3v.testsupport.SharedData;
import io.github.phi3v.tokenizer.Message;

/**
 * Concurrency: one {@link Phi3Vision} shared by 8 threads, each running its own multi-turn sessions
 * (images, crops, greedy and seeded sampling), gives exactly the serial answers; one {@link Session}
 * hammered from two threads lets one call through at a time, fails the other fast with
 * {@link ConcurrentSessionUseException}, and keeps a conversation whose next answer equals a fresh
 * session's for the same history (no KV-cache corruption).
 */
class ConcurrencyTest {

    private static final int THREADS = 8;
    private static final int ROUNDS = 3;
    private static Phi3Vision phi;
    /** The bf16 tiny model computed in bf16: its decode steps switch libtorch's CPU kernels (CpuMatmulBackend). */
    private static Phi3Vision phiBf16;

    @BeforeAll
    static void load() {
        phi = NativeMemoryTest.load();
        phiBf16 = Phi3Vision.builder().modelDir(SharedData.tinyA().resolve("model-bf16")).dtype(Precision.BFLOAT16)
                .maxContext(4096).build();
    }

    @AfterAll
    static void close() {
        if (phi != null) {
            phi.close();
        }
        if (phiBf16 != null) {
            phiBf16.close();
        }
    }

    private static List<Answer> script(int t) {
        return script(phi, t);
    }

    /** One conversation per thread: a distinct image/crops/sampling mix and two questions. */
    private static List<Answer> script(Phi3Vision phi, int t) {
        GenerationConfig cfg = t % 3 == 2
                ? GenerationConfig.builder().maxNewTokens(8).doSample(true).temperature(0.9f).topK(40).seed(100 + t)
                        .stopTokenIds().build()
                : NativeMemoryTest.EIGHT_TOKENS;
        try (Session s = phi.session()) {
            s.config(cfg).numCrops(1 + t % 2);
            if (t % 4 != 3) {
                s.image(NativeMemoryTest.image(t % 2 == 0 ? "a06_tiny_40x30.png" : "a10_rgb_42x19.png"));
            }
            if (t % 2 == 1) {
                s.system("You are thread " + t + ".");
            }
            List<Answer> out = new ArrayList<>();
            out.add(s.ask("Question one from thread " + t + "?"));
            out.add(s.ask("And a follow-up, number " + (t * 7) + "."));
            return out;
        }
    }

    @Test
    void eightThreadsSharingOneModelGiveTheSerialAnswers() {
        assertTimeoutPreemptively(Duration.ofMinutes(2), () -> {
            List<List<Answer>> serial = new ArrayList<>();
            long t0 = System.nanoTime();
            for (int t = 0; t < THREADS; t++) {
                serial.add(script(t));
            }
            double serialMs = (System.nanoTime() - t0) / 1e6;
            ExecutorService pool = Executors.newFixedThreadPool(THREADS);
            try {
                CyclicBarrier start = new CyclicBarrier(THREADS);
                List<Future<List<List<Answer>>>> futures = new ArrayList<>();
                long t1 = System.nanoTime();
                for (int t = 0; t < THREADS; t++) {
                    final int id = t;
                    futures.add(pool.submit(() -> {
                        start.await();
                        List<List<Answer>> mine = new ArrayList<>();
                        for (int r = 0; r < ROUNDS; r++) {
                            mine.add(script(id));
                        }
                        return mine;
                    }));
                }
                int compared = 0;
                for (int t = 0; t < THREADS; t++) {
                    List<List<Answer>> rounds = futures.get(t).get(90, TimeUnit.SECONDS);
                    for (List<Answer> round : rounds) {
                        for (int q = 0; q < round.size(); q++) {
                            NativeMemoryTest.assertSame(serial.get(t).get(q), round.get(q), "thread " + t + " question " + q);
                            compared++;
                        }
                    }
                }
                System.out.printf("[reliability] concurrency: %d threads x %d rounds x 2 questions = %d answers equal to"
                        + " the serial run (serial %.0f ms for one round of all threads, concurrent %.0f ms for %d rounds)%n",
                        THREADS, ROUNDS, compared, serialMs, (System.nanoTime() - t1) / 1e6, ROUNDS);
            } finally {
                pool.shutdownNow();
            }
        });
    }

    /**
     * A bf16 model (whose decode linears run with oneDNN switched off, process-wide) and a float32 model
     * (whose CLIP convolution uses oneDNN when it is on) used by interleaved threads at once: every answer
     * equals the serial one and nothing deadlocks while the threads keep switching modes. (On these tiny
     * shapes both kernel families happen to give identical results, so the exclusion itself is proven by
     * {@code CpuMatmulBackendTest}, not here.)
     */
    @Test
    void bf16AndFloat32ModelsOnInterleavedThreadsGiveTheSerialAnswers() {
        assertTimeoutPreemptively(Duration.ofMinutes(2), () -> {
            List<List<Answer>> serial = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                serial.add(script(t % 2 == 0 ? phi : phiBf16, t));
            }
            ExecutorService pool = Executors.newFixedThreadPool(THREADS);
            try {
                CyclicBarrier start = new CyclicBarrier(THREADS);
                List<Future<List<List<Answer>>>> futures = new ArrayList<>();
                for (int t = 0; t < THREADS; t++) {
                    final int id = t;
                    futures.add(pool.submit(() -> {
                        start.await();
                        List<List<Answer>> mine = new ArrayList<>();
                        for (int r = 0; r < 2; r++) {
                            mine.add(script(id % 2 == 0 ? phi : phiBf16, id));
                        }
                        return mine;
                    }));
                }
                int compared = 0;
                for (int t = 0; t < THREADS; t++) {
                    for (List<Answer> round : futures.get(t).get(90, TimeUnit.SECONDS)) {
                        for (int q = 0; q < round.size(); q++) {
                            NativeMemoryTest.assertSame(serial.get(t).get(q), round.get(q),
                                    (t % 2 == 0 ? "float32" : "bf16") + " thread " + t + " question " + q);
                            compared++;
                        }
                    }
                }
                System.out.printf("[reliability] concurrency, bf16 and float32 models on interleaved threads: %d answers "
                        + "equal to the serial run%n", compared);
            } finally {
                pool.shutdownNow();
            }
        });
    }

    @Test
    void oneSessionFromTwoThreadsFailsFastAndStaysConsistent() {
        assertTimeoutPreemptively(Duration.ofMinutes(2), () -> {
            try (Session s = phi.session()) {
                s.config(NativeMemoryTest.EIGHT_TOKENS).numCrops(1).image(NativeMemoryTest.image("a06_tiny_40x30.png"));

                // Deterministic overlap: thread A is inside ask() (held in its streaming callback).
                CountDownLatch inside = new CountDownLatch(1);
                CountDownLatch release = new CountDownLatch(1);
                ExecutorService one = Executors.newSingleThreadExecutor();
                CompletableFuture<Answer> a = CompletableFuture.supplyAsync(() -> s.stream("Hold on.", p -> {
                    inside.countDown();
                    await(release);
                }), one);
                one.shutdown();
                assertTrue(inside.await(60, TimeUnit.SECONDS));
                long t0 = System.nanoTime();
                ConcurrentSessionUseException e = org.junit.jupiter.api.Assertions.assertThrows(
                        ConcurrentSessionUseException.class, () -> s.ask("Me too?"));
                long failMs = (System.nanoTime() - t0) / 1_000_000;
                assertTrue(failMs < 1000, "the second call must fail fast, took " + failMs + " ms");
                assertTrue(e.getMessage().contains("thread"), e.getMessage());
                release.countDown();
                a.get(60, TimeUnit.SECONDS);

                // Free-for-all: two threads asking in loops; each call either runs or fails fast.
                int perThread = 15;
                AtomicInteger ok = new AtomicInteger();
                AtomicInteger refused = new AtomicInteger();
                AtomicLong slowestRefusalNanos = new AtomicLong();
                CyclicBarrier start = new CyclicBarrier(2);
                // Own threads: the common pool has a single thread on a 2-core machine.
                ExecutorService two = Executors.newFixedThreadPool(2);
                List<CompletableFuture<Void>> workers = new ArrayList<>();
                for (int w = 0; w < 2; w++) {
                    final int id = w;
                    workers.add(CompletableFuture.runAsync(() -> {
                        await(start);
                        for (int i = 0; i < perThread; i++) {
                            long t = System.nanoTime();
                            try {
                                s.ask("Worker " + id + " asks question " + i + ".");
                                ok.incrementAndGet();
                            } catch (ConcurrentSessionUseException refusedCall) {
                                refused.incrementAndGet();
                                slowestRefusalNanos.accumulateAndGet(System.nanoTime() - t, Math::max);
                                Thread.yield();
                            }
                        }
                    }, two));
                }
                try {
                    for (CompletableFuture<Void> w : workers) {
                        w.get(90, TimeUnit.SECONDS);
                    }
                } finally {
                    two.shutdownNow();
                }
                System.out.printf("[reliability] one session, two threads: %d calls ran, %d refused with "
                        + "ConcurrentSessionUseException (slowest refusal %.2f ms)%n", ok.get(), refused.get(),
                        slowestRefusalNanos.get() / 1e6);
                assertEquals(2 * perThread, ok.get() + refused.get());
                assertTrue(slowestRefusalNanos.get() < 1_000_000_000L, "refusals must be immediate");

                // The conversation holds exactly the calls that ran, and the KV cache is intact: the next
                // answer equals that of a fresh session given the same history.
                List<Message> history = s.history();
                assertEquals(2 * (1 + ok.get()), history.size(), "two messages per completed call");
                Answer next = s.ask("Summarise.");
                try (Session fresh = phi.session()) {
                    fresh.config(NativeMemoryTest.EIGHT_TOKENS).numCrops(1)
                            .image(NativeMemoryTest.image("a06_tiny_40x30.png"));
                    for (Message m : history) {
                        if (m.role().equals("user")) {
                            fresh.addUser(m.content());
                        } else {
                            fresh.addAssistant(m.content());
                        }
                    }
                    NativeMemoryTest.assertSame(fresh.ask("Summarise."), next, "hammered session vs fresh session");
                }
            }
        });
    }

    private static void await(CountDownLatch latch) {
        try {
            latch.await(60, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void await(CyclicBarrier barrier) {
        try {
            barrier.await(60, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
