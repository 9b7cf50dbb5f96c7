package io.github.phi3v.core;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.Consumer;

import io.github.phi3v.core.generate.Answer;
import io.github.phi3v.core.generate.GenerationConfig;
import io.github.phi3v.core.generate.SequenceDecoder;
import io.github.phi3v.core.model.KvCache;

/**
 * Continuous batching: requests {@linkplain #submit submitted} to one model are decoded together, one
 * {@link io.github.phi3v.core.model.Phi3VModel#decodeStep batched step} per token for all running sequences,
 * so B streams cost about one stream's weight reads per step.
 *
 * <p>A submitted request takes a slot ({@code maxConcurrentRequests}) at once, is planned on an intake
 * thread (image decoding and fetching never stall the batch), then waits in a queue. One scheduler thread
 * loops: at each step boundary it admits queued requests in order while fewer than {@code maxBatchSize}
 * run — KV lease, image embeddings and prefill, one request at a time, through the same {@link Admission}
 * as a single call — then decodes every running sequence in one step, and removes the finished ones (stop
 * id or string, {@code maxNewTokens}, cancellation: a cancelled request leaves at the next step boundary,
 * an {@code onText} that throws fails only its own request). A request whose KV cache does not fit waits
 * in the queue while others run (they give memory back as they finish) and is refused as a single call
 * would be once it has waited {@code kvCacheWait}. Each sequence keeps its own {@link SequenceDecoder}:
 * sampler, random state, stop strings and text stream, so its tokens are those it would get alone.
 */
final class BatchScheduler implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger(BatchScheduler.class.getName());

    private final Engine engine;
    private final int maxBatchSize;
    private final long kvWaitNanos;
    private final Deque<Job> waiting = new ArrayDeque<>();                  // guarded by this
    private final List<Running> running = new ArrayList<>();                // scheduler thread only
    private final ExecutorService intake;
    private final Thread thread;
    private boolean closed;                                                 // guarded by this
    /** Time the last {@link #admit()} took (prefills included): the running batch waited that long. */
    private long admitNanos;                                                // scheduler thread only
    private volatile int largestBatch;
    /** Decode steps by batch size: index b counts the steps that decoded b sequences. */
    private final AtomicLongArray stepsByBatchSize;

    BatchScheduler(Engine engine, int maxBatchSize) {
        this.engine = engine;
        this.maxBatchSize = maxBatchSize;
        this.kvWaitNanos = engine.limits().kvCacheWait().toNanos();
        this.stepsByBatchSize = new AtomicLongArray(maxBatchSize + 1);
        this.intake = Executors.newCachedThreadPool(r -> daemon(r, "phi3v-intake"));
        this.thread = daemon(this::loop, "phi3v-batch");
        thread.start();
    }

    private static Thread daemon(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
    }

    /** A submitted request until it is admitted. */
    private static final class Job {
        final ChatRequest request;
        final Consumer<String> onText;
        final Engine.Slot slot;
        final CompletableFuture<Answer> future = new CompletableFuture<>();
        PromptPlan plan;
        long deadline;

        Job(ChatRequest request, Consumer<String> onText, Engine.Slot slot) {
            this.request = request;
            this.onText = onText;
            this.slot = slot;
            // Cancelling the future cancels the request (the slot's token is the caller's token's child).
            future.whenComplete((a, t) -> {
                if (t instanceof CancellationException) {
                    slot.token.cancel();
                }
            });
        }

        boolean cancelled() {
            return slot.token.isCancelled();
        }

        GenerationConfig config() {
            return request.config();
        }
    }

    /** An admitted request in the batch. */
    private record Running(Job job, Admission admission, SequenceDecoder sequence) {
    }

    /**
     * Queues a request; see {@link Phi3Vision#submit(ChatRequest, Consumer,
     * io.github.phi3v.core.generate.CancellationToken)}.
     */
    CompletableFuture<Answer> submit(ChatRequest request, Consumer<String> onText, Engine.Slot slot) {
        Job job = new Job(request, onText, slot);
        try {
            intake.execute(() -> plan(job));
        } catch (RejectedExecutionException e) {
            fail(job, null, new IllegalStateException("this Phi3Vision is closed; load the model again to use it"));
        }
        return job.future;
    }

    private void plan(Job job) {
        try {
            job.plan = engine.plan(job.request);
        } catch (RuntimeException | Error e) {
            fail(job, null, e);
            return;
        }
        synchronized (this) {
            if (!closed) {
                job.deadline = System.nanoTime() + kvWaitNanos;
                waiting.addLast(job);
                notifyAll();
                return;
            }
        }
        fail(job, null, new IllegalStateException("this Phi3Vision was closed before the request started"));
    }

    private void loop() {
        while (true) {
            long admitStart = System.nanoTime();
            admit();
            admitNanos = System.nanoTime() - admitStart;
            if (running.isEmpty()) {
                synchronized (this) {
                    while (waiting.isEmpty() && !closed) {
                        try {
                            wait();
                        } catch (InterruptedException e) {
                            // only close() interrupts; it sets closed first
                        }
                    }
                    if (closed && waiting.isEmpty()) {
                        return;
                    }
                }
                continue;
            }
            step();
        }
    }

    /** Admits queued requests in order while the batch has room and their KV caches fit. */
    private void admit() {
        while (running.size() < maxBatchSize) {
            Job job;
            synchronized (this) {
                job = waiting.peekFirst();
            }
            if (job == null) {
                return;
            }
            KvPool.Lease lease;
            try {
                if (job.cancelled()) {
                    lease = null;
                } else if (running.isEmpty()) {
                    // Nothing here will give memory back: wait like a single call (for other callers' requests).
                    lease = engine.lease(job.plan, job.config(), job.slot.token,
                            Math.max(0, job.deadline - System.nanoTime()));
                } else {
                    lease = engine.tryLease(job.plan, job.config(), job.slot.token);
                    if (lease == null && System.nanoTime() - job.deadline < 0) {
                        return;                 // stays first in the queue: the running requests free memory
                    }
                    if (lease == null) {
                        lease = engine.lease(job.plan, job.config(), job.slot.token, 0);   // throws the refusal
                    }
                }
            } catch (RuntimeException | Error e) {
                dequeue(job);
                fail(job, null, e);
                continue;
            }
            dequeue(job);
            if (lease == null) {                                                   // cancelled while queued
                SequenceDecoder seq = new SequenceDecoder(job.plan.ids(), engine.textDecoder(), job.config(),
                        piece -> { });
                seq.cancel();
                complete(job, null, seq.answer());
                continue;
            }
            prefill(job, lease);
        }
    }

    private synchronized void dequeue(Job job) {
        waiting.remove(job);
    }

    /** Embeddings and prefill of one request (the single-call code path), then it joins the batch. */
    private void prefill(Job job, KvPool.Lease lease) {
        Admission admission;
        try {
            admission = engine.admit(job.plan, lease);
        } catch (RuntimeException | Error e) {
            fail(job, null, e);
            return;
        }
        try {
            SequenceDecoder seq = new SequenceDecoder(job.plan.ids(), engine.textDecoder(), job.config(), job.onText);
            if (job.cancelled()) {
                seq.cancel();
            } else {
                float[] logits = admission.source().next(job.plan.ids());
                admission.releaseImages();
                if (job.cancelled()) {
                    seq.cancel();
                } else {
                    seq.accept(logits);
                }
            }
            if (seq.isFinished()) {
                complete(job, admission, admission.withUsage(seq.answer()));
            } else {
                running.add(new Running(job, admission, seq));
            }
        } catch (RuntimeException | Error e) {
            fail(job, admission, e);
        }
    }

    /** One batched decode step of every running sequence; cancelled ones leave first. */
    private void step() {
        for (Iterator<Running> it = running.iterator(); it.hasNext(); ) {
            Running r = it.next();
            if (r.job().cancelled()) {
                it.remove();
                finishCancelled(r);
            }
        }
        if (running.isEmpty()) {
            return;
        }
        int b = running.size();
        largestBatch = Math.max(largestBatch, b);
        stepsByBatchSize.incrementAndGet(b);
        int[] tokens = new int[b];
        List<KvCache> caches = new ArrayList<>(b);
        for (int i = 0; i < b; i++) {
            Running r = running.get(i);
            tokens[i] = r.sequence().lastToken();
            caches.add(r.admission().cache());
            r.admission().beforeStep();
        }
        float[][] logits;
        long stepStart = System.nanoTime();
        try {
            logits = engine.model().decodeStep(tokens, caches);
        } catch (RuntimeException | Error e) {
            // The step is one native call for all: its failure (out of memory, the model closed) fails all.
            for (Running r : running) {
                fail(r.job(), r.admission(), e);
            }
            running.clear();
            return;
        }
        long stepEnd = System.nanoTime();
        List<Running> still = new ArrayList<>(b);
        for (int i = 0; i < b; i++) {
            Running r = running.get(i);
            r.admission().fed(tokens[i]);
            if (r.job().cancelled()) {
                finishCancelled(r);
                continue;
            }
            try {
                if (r.sequence().accept(logits[i])) {
                    complete(r.job(), r.admission(), r.admission().withUsage(r.sequence().answer()));
                } else {
                    still.add(r);
                }
            } catch (RuntimeException | Error e) {
                fail(r.job(), r.admission(), e);                                // e.g. its onText threw
            }
        }
        running.clear();
        running.addAll(still);
        logStep(b, stepStart, stepEnd);
    }

    /**
     * One DEBUG line per step: where the scheduler thread's time went, to tell the model's step from the
     * per-sequence work around it (sampling, stop strings, text, completion) and from admissions (prefills
     * the running batch waited for).
     */
    private void logStep(int b, long stepStart, long stepEnd) {
        if (LOG.isLoggable(System.Logger.Level.DEBUG)) {
            long hostEnd = System.nanoTime();
            LOG.log(System.Logger.Level.DEBUG, String.format(java.util.Locale.ROOT,
                    "batch step B=%d: decodeStep %.1f ms, sequences %.2f ms, admission before it %.1f ms", b,
                    (stepEnd - stepStart) / 1e6, (hostEnd - stepEnd) / 1e6, admitNanos / 1e6));
        }
    }

    private void finishCancelled(Running r) {
        try {
            r.sequence().cancel();
            complete(r.job(), r.admission(), r.admission().withUsage(r.sequence().answer()));
        } catch (RuntimeException | Error e) {
            fail(r.job(), r.admission(), e);
        }
    }

    /** Frees the request's memory and slot, then completes its future (a caller then sees memory back). */
    private static void complete(Job job, Admission admission, Answer answer) {
        release(job, admission);
        job.future.complete(answer);
    }

    private static void fail(Job job, Admission admission, Throwable e) {
        try {
            release(job, admission);
        } finally {
            job.future.completeExceptionally(e);
        }
    }

    private static void release(Job job, Admission admission) {
        try {
            if (admission != null) {
                admission.close();
            }
        } finally {
            job.slot.close();
        }
    }

    /** The most sequences one step has decoded so far (for tests and diagnostics). */
    int largestBatch() {
        return largestBatch;
    }

    /** A copy of the decode step counts by batch size (index b: steps that decoded b sequences). */
    long[] stepsByBatchSize() {
        long[] out = new long[stepsByBatchSize.length()];
        for (int i = 0; i < out.length; i++) {
            out[i] = stepsByBatchSize.get(i);
        }
        return out;
    }

    /**
     * Stops taking requests and waits for the intake and scheduler threads: the engine has cancelled every
     * slot's token already, so running and queued requests end as {@code CANCELLED} at the next step
     * boundary, and requests still being planned fail with {@link IllegalStateException}.
     */
    @Override
    public void close() {
        synchronized (this) {
            closed = true;
            notifyAll();
        }
        intake.shutdown();
        if (Thread.currentThread() != thread) {
            boolean interrupted = false;
            // A request still being planned on an intake thread (images decoded or fetched, bounded by the
            // image loader's limits) ends as "closed before it started" there; wait for it, so that every
            // future is complete when close() returns.
            while (!intake.isTerminated()) {
                try {
                    intake.awaitTermination(1, java.util.concurrent.TimeUnit.MINUTES);
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            while (thread.isAlive()) {
                try {
                    thread.join();
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
