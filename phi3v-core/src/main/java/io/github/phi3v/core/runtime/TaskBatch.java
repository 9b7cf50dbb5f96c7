package io.github.phi3v.core.runtime;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * Independent tasks of one caller, run on worker threads, whose results come back to the caller in
 * submission order; for the steps of loading that libtorch runs on one thread (fbgemm's packing of an int8
 * weight matrix), so that they use every core.
 *
 * <pre>{@code
 * try (TaskBatch<Layer> batch = TaskBatch.on(pool, layer -> owner.own(layer))) {
 *     for (String name : names) {
 *         Stored s = read(name);                 // the caller's thread
 *         batch.submit(() -> pack(s));           // a worker thread
 *     }
 *     return batch.join();                       // in submission order, each adopted once
 * }
 * }</pre>
 *
 * <p>Ownership, also on failure: every task that completes has its result passed to {@code adopt} on the
 * caller's thread, exactly once, whether or not another task or the caller failed; so the owner frees it.
 * {@link #join} and {@link #close} wait for every submitted task before they return or throw, so no task
 * still runs when the caller cleans up. A task's {@link RuntimeException} or {@link Error} is rethrown
 * as is (the first one by submission order; later ones are added to it as suppressed).
 *
 * <p>Tasks run inline on the caller's thread, in order, when there is no pool, and when the calling
 * thread has the fault-injection hook of the tests installed ({@link InferenceScope}): the hook is
 * thread-confined, so the allocations a task makes are only counted and failed on the caller's thread.
 *
 * <p>A batch belongs to the thread that made it; the pool may be shared.
 *
 * @param <T> the result type
 */
public final class TaskBatch<T> implements AutoCloseable {

    private final ExecutorService pool;
    private final Consumer<? super T> adopt;
    private final List<Future<T>> pending = new ArrayList<>();
    private final List<T> results = new ArrayList<>();
    /** The first failure not yet thrown (a RuntimeException or an Error). */
    private Throwable failure;

    private TaskBatch(ExecutorService pool, Consumer<? super T> adopt) {
        this.pool = pool;
        this.adopt = adopt;
    }

    /**
     * A new batch.
     *
     * @param <T> the result type
     * @param pool the worker threads, or null to run every task inline
     * @param adopt takes ownership of one completed task's result (runs on the caller's thread)
     * @return the batch; close it (try-with-resources)
     */
    public static <T> TaskBatch<T> on(ExecutorService pool, Consumer<? super T> adopt) {
        return new TaskBatch<>(pool, Objects.requireNonNull(adopt, "adopt"));
    }

    /**
     * A pool of daemon worker threads (an abandoned pool never keeps the JVM alive); shut it down when done.
     *
     * @param name prefix of the threads' names
     * @param threads number of threads, at least 1
     * @return the pool
     * @throws IllegalArgumentException if {@code threads < 1}
     */
    public static ExecutorService newPool(String name, int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        }
        AtomicInteger count = new AtomicInteger();
        ThreadFactory factory = r -> {
            Thread t = new Thread(r, name + "-" + count.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
        return Executors.newFixedThreadPool(threads, factory);
    }

    /**
     * Starts one task (or runs it now, see the class comment). When it runs inline and fails, the failure
     * is kept and thrown by {@link #join} or {@link #close}, like a worker's.
     *
     * @param task the work; whatever it makes that is not its result it frees itself
     */
    public void submit(Supplier<T> task) {
        Objects.requireNonNull(task, "task");
        if (pool == null || InferenceScope.SCOPES_FOR_TESTS.get() != null) {
            submitInline(task);
            return;
        }
        try {
            pending.add(pool.submit(task::get));
        } catch (RejectedExecutionException e) {
            submitInline(task);   // a pool shut down under us: the task must still run (it may own its input)
        }
    }

    /**
     * Waits for every submitted task and returns the results in submission order (each already adopted).
     *
     * @return the results
     * @throws RuntimeException or {@link Error}: the first failure of a task, after all of them have ended
     */
    public List<T> join() {
        close();
        return List.copyOf(results);
    }

    /**
     * Waits for every task not yet waited for and adopts the results of those that completed; then throws
     * the first failure, if any (which try-with-resources adds as suppressed to the caller's own).
     */
    @Override
    public void close() {
        boolean interrupted = false;
        for (Future<T> f : pending) {
            while (true) {
                try {
                    take(f.get());
                    break;
                } catch (InterruptedException e) {
                    interrupted = true;   // keep waiting: a task still running may hold results to free
                } catch (ExecutionException e) {
                    record(e.getCause());
                    break;
                }
            }
        }
        pending.clear();
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        Throwable t = failure;
        failure = null;   // thrown once: join() then close() must not throw it again (self-suppression)
        if (t instanceof Error e) {
            throw e;
        }
        if (t != null) {
            throw (RuntimeException) t;
        }
    }

    private void submitInline(Supplier<T> task) {
        try {
            take(task.get());
        } catch (RuntimeException | Error e) {
            record(e);
        }
    }

    private void take(T result) {
        results.add(result);
        adopt.accept(result);
    }

    /** Keeps the first failure in submission order; later ones become suppressed in it. */
    private void record(Throwable t) {
        if (failure == null) {
            // Tasks are Suppliers, so a checked throwable cannot arrive here; wrap one anyway rather than lose it.
            failure = t instanceof RuntimeException || t instanceof Error ? t
                    : new IllegalStateException("a task failed", t);
        } else if (failure != t) {
            failure.addSuppressed(t);
        }
    }
}
