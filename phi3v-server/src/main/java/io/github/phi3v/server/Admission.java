package io.github.phi3v.server;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

import io.github.phi3v.core.generate.CancellationToken;

/**
 * Decides whether a request runs now, waits, or is refused: at most {@code maxRunning} requests generate,
 * at most {@code maxQueue} wait in arrival order, one more gets 429; once closing, new and waiting requests
 * get 503 while running ones finish. Each admitted request holds a {@link Slot} whose cancellation token
 * {@link #cancelRunning()} can end at shutdown. Thread-safe.
 */
final class Admission {

    private final int maxRunning;
    private final int maxQueue;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    /** Waiting requests in arrival order; the head is the next to run. */
    private final Deque<Object> waiting = new ArrayDeque<>();
    private final Set<Slot> running = ConcurrentHashMap.newKeySet();
    private int runningCount;
    private boolean closing;

    Admission(int maxRunning, int maxQueue) {
        this.maxRunning = maxRunning;
        this.maxQueue = maxQueue;
    }

    /** A running request's place; release it exactly once (try-with-resources). */
    final class Slot implements AutoCloseable {
        private final CancellationToken cancel = new CancellationToken();
        private boolean released;

        CancellationToken cancel() {
            return cancel;
        }

        @Override
        public void close() {
            lock.lock();
            try {
                if (!released) {
                    released = true;
                    running.remove(this);
                    runningCount--;
                    changed.signalAll();
                }
            } finally {
                lock.unlock();
            }
        }
    }

    /**
     * Admits a request, waiting for a slot if the queue has room.
     *
     * @return the slot to close when the request ends
     * @throws ApiException 429 if the queue is full, 503 if the server is closing (also while waiting)
     */
    Slot enter() {
        lock.lock();
        try {
            if (closing) {
                throw shuttingDown();
            }
            if (runningCount < maxRunning && waiting.isEmpty()) {
                return take();
            }
            if (waiting.size() >= maxQueue) {
                throw ApiException.retryLater(429, "rate_limit_exceeded", "queue_full", "the server is busy: "
                        + runningCount + " requests are running and " + waiting.size() + " are waiting (maxQueue "
                        + maxQueue + "); retry later", ErrorMapper.RETRY_AFTER_SECONDS);
            }
            Object me = new Object();
            waiting.addLast(me);
            try {
                while (!closing && (waiting.peekFirst() != me || runningCount >= maxRunning)) {
                    changed.awaitUninterruptibly();
                }
                if (closing) {
                    throw shuttingDown();
                }
                return take();
            } finally {
                waiting.remove(me);
                changed.signalAll();   // the next in line may run too
            }
        } finally {
            lock.unlock();
        }
    }

    private Slot take() {
        runningCount++;
        Slot s = new Slot();
        running.add(s);
        return s;
    }

    private static ApiException shuttingDown() {
        return new ApiException(503, "server_error", null, "shutting_down",
                "the server is shutting down and takes no new requests; retry on another instance");
    }

    /** Refuses new and waiting requests from now on; running ones go on. */
    void close() {
        lock.lock();
        try {
            closing = true;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    boolean isClosing() {
        lock.lock();
        try {
            return closing;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Waits until no request runs.
     *
     * @param timeoutNanos the longest wait
     * @return true if none runs any more
     */
    boolean awaitIdle(long timeoutNanos) {
        lock.lock();
        try {
            long left = timeoutNanos;
            while (runningCount > 0 || !waiting.isEmpty()) {
                if (left <= 0) {
                    return false;
                }
                try {
                    left = changed.awaitNanos(left);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return runningCount == 0;
                }
            }
            return true;
        } finally {
            lock.unlock();
        }
    }

    /** Cancels every running request at its next token (the end of a shutdown grace period). */
    void cancelRunning() {
        for (Slot s : running) {
            s.cancel.cancel();
        }
    }

    int running() {
        lock.lock();
        try {
            return runningCount;
        } finally {
            lock.unlock();
        }
    }

    int queued() {
        lock.lock();
        try {
            return waiting.size();
        } finally {
            lock.unlock();
        }
    }

    static long nanos(java.time.Duration d) {
        return TimeUnit.NANOSECONDS.convert(d);
    }
}
