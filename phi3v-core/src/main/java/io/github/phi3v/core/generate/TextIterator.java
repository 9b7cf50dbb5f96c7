package io.github.phi3v.core.generate;

import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Flow;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * A blocking {@link java.util.Iterator} over generated text pieces, for callers that prefer a plain
 * loop to callbacks. It subscribes to a {@link Flow.Publisher} and requests one piece at a time, so the
 * decode loop never runs more than one piece ahead of the reader. {@link #close()} (or
 * try-with-resources) cancels the generation if it is still running.
 *
 * <pre>{@code
 * TextPublisher pub = TextPublisher.of(task);
 * try (TextIterator pieces = TextIterator.of(pub)) {
 *     while (pieces.hasNext()) {
 *         System.out.print(pieces.next());
 *     }
 * }
 * Answer answer = pub.answer().join();
 * }</pre>
 *
 * <p>An error in the generation is rethrown from {@link #hasNext()}: unchecked exceptions as they are,
 * others wrapped in a {@link CompletionException}. An interrupt while waiting cancels the generation
 * and ends the iteration with the thread's interrupt flag set. Use from one thread.
 */
public final class TextIterator implements java.util.Iterator<String>, AutoCloseable {

    private static final Object COMPLETE = new Object();

    private final LinkedBlockingQueue<Object> signals = new LinkedBlockingQueue<>();
    private volatile Flow.Subscription subscription;
    private Object next;
    private boolean done;

    private TextIterator() {
    }

    /**
     * Subscribes to {@code publisher} and returns the iterator over its pieces.
     *
     * @param publisher a publisher of text pieces, typically a {@link TextPublisher}
     * @return the iterator
     */
    public static TextIterator of(Flow.Publisher<String> publisher) {
        Objects.requireNonNull(publisher, "publisher");
        TextIterator it = new TextIterator();
        publisher.subscribe(new Flow.Subscriber<String>() {
            @Override
            public void onSubscribe(Flow.Subscription s) {
                it.subscription = s;
                s.request(1);
            }

            @Override
            public void onNext(String item) {
                it.signals.add(item);
            }

            @Override
            public void onError(Throwable throwable) {
                it.signals.add(new Failure(throwable));
            }

            @Override
            public void onComplete() {
                it.signals.add(COMPLETE);
            }
        });
        return it;
    }

    /**
     * Waits for the next piece or the end of the generation.
     *
     * @return true if {@link #next()} has a piece
     * @throws RuntimeException the generation's failure
     */
    @Override
    public boolean hasNext() {
        if (next != null) {
            return true;
        }
        if (done) {
            return false;
        }
        Object signal;
        try {
            signal = signals.take();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            close();
            return false;
        }
        if (signal == COMPLETE) {
            done = true;
            return false;
        }
        if (signal instanceof Failure f) {
            done = true;
            if (f.cause instanceof RuntimeException re) {
                throw re;
            }
            if (f.cause instanceof Error err) {
                throw err;
            }
            throw new CompletionException(f.cause);
        }
        next = signal;
        return true;
    }

    /**
     * Returns the next piece and asks the generation for one more.
     *
     * @return the next text piece
     * @throws NoSuchElementException when the generation has ended
     */
    @Override
    public String next() {
        if (!hasNext()) {
            throw new NoSuchElementException("the generation has ended; check hasNext() first");
        }
        String piece = (String) next;
        next = null;
        subscription.request(1);
        return piece;
    }

    /** Cancels the generation if it is still running; idempotent. */
    @Override
    public void close() {
        done = true;
        next = null;
        Flow.Subscription s = subscription;
        if (s != null) {
            s.cancel();
        }
    }

    private record Failure(Throwable cause) {
    }
}
