package io.github.phi3v.core.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@link TaskBatch}: results in submission order, each adopted once on the caller's thread, also when a
 * task or the caller fails; every task ended before {@code join} or {@code close} returns or throws; inline
 * runs without a pool and under the fault-injection hook.
 */
class TaskBatchTest {

    private ExecutorService pool;

    @BeforeEach
    void startPool() {
        pool = TaskBatch.newPool("task-batch-test", 2);
    }

    @AfterEach
    void stopPool() throws InterruptedException {
        pool.shutdown();
        assertTrue(pool.awaitTermination(10, TimeUnit.SECONDS));
    }

    @Test
    void resultsComeBackInSubmissionOrderFromWorkerThreads() {
        Thread caller = Thread.currentThread();
        List<Integer> adopted = new ArrayList<>();
        List<String> adoptingThreads = new ArrayList<>();
        List<String> runningThreads = java.util.Collections.synchronizedList(new ArrayList<>());
        List<Integer> results;
        try (TaskBatch<Integer> batch = TaskBatch.on(pool, r -> {
            adopted.add(r);
            adoptingThreads.add(Thread.currentThread().getName());
        })) {
            for (int i = 0; i < 6; i++) {
                int n = i;
                batch.submit(() -> {
                    runningThreads.add(Thread.currentThread().getName());
                    sleep(5 * (6 - n));   // later tasks finish first
                    return n * n;
                });
            }
            results = batch.join();
        }
        assertEquals(List.of(0, 1, 4, 9, 16, 25), results);
        assertEquals(results, adopted, "each result adopted once, in submission order");
        assertEquals(6, adoptingThreads.size());
        assertTrue(adoptingThreads.stream().allMatch(caller.getName()::equals), adoptingThreads.toString());
        assertEquals(6, runningThreads.size());
        assertTrue(runningThreads.stream().allMatch(t -> t.startsWith("task-batch-test-")), runningThreads.toString());
    }

    @Test
    void theFirstFailureIsThrownAfterEveryTaskEndedAndTheOthersAreAdopted() {
        List<String> adopted = new ArrayList<>();
        AtomicBoolean slowTaskEnded = new AtomicBoolean();
        IllegalStateException first = new IllegalStateException("first");
        OutOfMemoryError second = new OutOfMemoryError("second");
        TaskBatch<String> batch = TaskBatch.on(pool, adopted::add);
        batch.submit(() -> "a");
        batch.submit(() -> {
            throw first;
        });
        batch.submit(() -> {
            sleep(200);
            slowTaskEnded.set(true);
            return "slow";
        });
        batch.submit(() -> {
            throw second;
        });
        batch.submit(() -> "b");
        IllegalStateException thrown = assertThrows(IllegalStateException.class, batch::join);
        assertSame(first, thrown, "the first failure by submission order, as it was thrown");
        assertArrayEquals(new Throwable[] {second}, thrown.getSuppressed());
        assertTrue(slowTaskEnded.get(), "join threw before a running task ended");
        assertEquals(List.of("a", "slow", "b"), adopted);
        batch.close();   // already thrown once: closing again is quiet
    }

    @Test
    void aFailingCallerStillWaitsForAndAdoptsWhatItSubmitted() {
        List<String> adopted = new ArrayList<>();
        CountDownLatch started = new CountDownLatch(1);
        IllegalArgumentException callerFailure = new IllegalArgumentException("caller");
        IllegalArgumentException caught = assertThrows(IllegalArgumentException.class, () -> {
            try (TaskBatch<String> batch = TaskBatch.on(pool, adopted::add)) {
                batch.submit(() -> {
                    started.countDown();
                    sleep(200);
                    return "packed";
                });
                batch.submit(() -> {
                    throw new IllegalStateException("task");
                });
                started.await();
                throw callerFailure;   // e.g. reading the next weight failed
            }
        });
        assertSame(callerFailure, caught);
        assertEquals(List.of("packed"), adopted, "a task's result is adopted even when the caller fails");
        assertEquals(1, caught.getSuppressed().length);
        assertEquals("task", caught.getSuppressed()[0].getMessage());
    }

    @Test
    void joinThenCloseInTryWithResourcesThrowsOnce() {
        IllegalStateException failure = new IllegalStateException("task");
        IllegalStateException caught = assertThrows(IllegalStateException.class, () -> {
            try (TaskBatch<String> batch = TaskBatch.on(pool, r -> { })) {
                batch.submit(() -> {
                    throw failure;
                });
                batch.join();
            }
        });
        assertSame(failure, caught);
        assertEquals(0, caught.getSuppressed().length, "close() rethrew what join() had thrown");
    }

    @Test
    void withoutAPoolTasksRunInlineInOrder() {
        Thread caller = Thread.currentThread();
        List<Integer> order = new ArrayList<>();
        IllegalStateException failure = new IllegalStateException("second");
        TaskBatch<Integer> batch = TaskBatch.on(null, r -> { });
        for (int i = 0; i < 4; i++) {
            int n = i;
            batch.submit(() -> {
                assertSame(caller, Thread.currentThread());
                order.add(n);
                if (n == 1) {
                    throw failure;
                }
                return n;
            });
        }
        assertSame(failure, assertThrows(IllegalStateException.class, batch::join));
        assertEquals(List.of(0, 1, 2, 3), order, "a failure does not stop later tasks: they may own their input");
    }

    @Test
    void aShutDownPoolRunsTheTaskInline() {
        pool.shutdown();
        try (TaskBatch<String> batch = TaskBatch.on(pool, r -> { })) {
            batch.submit(() -> Thread.currentThread().getName());
            assertEquals(List.of(Thread.currentThread().getName()), batch.join());
        }
    }

    @Test
    void underTheFaultInjectionHookTasksRunOnTheCallersThread() {
        Runnable allocate = () -> {
            try (InferenceScope scope = InferenceScope.open();
                 TensorOptions f32 = new TensorOptions(ScalarType.Float)) {
                torch.zeros(new long[] {4}, f32);
            }
        };
        int direct = AllocationFaults.count(allocate);
        assertTrue(direct >= 2, "options and tensor counted, got " + direct);
        int viaBatch = AllocationFaults.count(() -> {
            try (TaskBatch<Integer> batch = TaskBatch.on(pool, r -> { })) {
                batch.submit(() -> {
                    allocate.run();
                    return 0;
                });
                batch.join();
            }
        });
        assertEquals(direct, viaBatch, "the task's allocations were not counted on the caller's thread");
        AllocationFaults.Run failed = AllocationFaults.failAt(direct, () -> {
            try (TaskBatch<Integer> batch = TaskBatch.on(pool, r -> { })) {
                batch.submit(() -> {
                    allocate.run();
                    return 0;
                });
                batch.join();
            }
        });
        assertTrue(failed.failedWithInjectedFault(), "the fault in the task reaches the caller: " + failed);
    }

    @Test
    void poolsNeedAThread() {
        assertThrows(IllegalArgumentException.class, () -> TaskBatch.newPool("x", 0));
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
