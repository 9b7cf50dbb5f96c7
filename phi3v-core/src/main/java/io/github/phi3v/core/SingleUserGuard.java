package io.github.phi3v.core;

import java.util.function.Supplier;

import io.github.phi3v.core.generate.CancellationToken;

/**
 * One-call-at-a-time protection for an object that is not thread-safe but must detect misuse: a call made
 * while another thread is inside a call (or from a streaming callback of the running call) fails at once
 * with {@link ConcurrentSessionUseException} and changes nothing. {@link #cancel()} and {@link #close()}
 * work from any thread; a call made while a cancelled call is still ending on another thread waits for it.
 */
final class SingleUserGuard {

    private final String owner;
    private final Supplier<IllegalStateException> closedError;
    private Thread busyThread;
    private String busyOperation;
    private CancellationToken running;
    private boolean closed;

    SingleUserGuard(String owner, Supplier<IllegalStateException> closedError) {
        this.owner = owner;
        this.closedError = closedError;
    }

    /** Marks the object busy for the current thread, or fails fast if another call is running. */
    synchronized void enter(String operation, CancellationToken token) {
        Thread me = Thread.currentThread();
        // A cancelled call on another thread is winding down (e.g. a closed TextIterator's worker): that is
        // not concurrent use, so wait for it instead of failing.
        while (!closed && busyThread != null && busyThread != me && running != null && running.isCancelled()) {
            try {
                wait();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while " + owner + "." + operation + " waited for the"
                        + " cancelled " + owner + "." + busyOperation + " to end", e);
            }
        }
        if (closed) {
            throw closedError.get();
        }
        if (busyThread != null) {
            if (busyThread == me) {
                throw new ConcurrentSessionUseException(owner + "." + operation + " was called while this thread"
                        + " is still inside " + owner + "." + busyOperation + " (from a streaming callback?); a "
                        + owner + " runs one call at a time: call it after " + busyOperation + " returns");
            }
            throw new ConcurrentSessionUseException(owner + "." + operation + " was called on thread '"
                    + me.getName() + "' while thread '" + busyThread.getName() + "' is running " + owner + "."
                    + busyOperation + ": a " + owner + " holds one conversation and is not thread-safe; use one "
                    + owner + " per thread or wait for the running call to return");
        }
        busyThread = me;
        busyOperation = operation;
        running = token;
    }

    synchronized void exit() {
        busyThread = null;
        busyOperation = null;
        running = null;
        notifyAll();
    }

    /** Cancels the running call, if any. */
    synchronized boolean cancel() {
        if (running != null) {
            running.cancel();
            return true;
        }
        return false;
    }

    /** Refuses further calls and cancels the running one. */
    synchronized void close() {
        closed = true;
        if (running != null) {
            running.cancel();
        }
        notifyAll();
    }

    synchronized boolean isClosed() {
        return closed;
    }

    synchronized void checkOpen() {
        if (closed) {
            throw closedError.get();
        }
    }
}
