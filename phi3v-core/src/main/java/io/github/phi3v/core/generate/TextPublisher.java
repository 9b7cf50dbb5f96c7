package io.github.phi3v.core.generate;

import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.Flow;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A {@link Flow.Publisher} of generated text pieces. The generation starts when the (single) subscriber
 * subscribes and runs on a worker thread; it honours back-pressure by blocking the decode loop until
 * the subscriber has {@linkplain Flow.Subscription#request requested} more pieces, and
 * {@link Flow.Subscription#cancel()} cancels the generation (it ends with
 * {@link FinishReason#CANCELLED} within one token). The final {@link Answer} is available from
 * {@link #answer()}.
 *
 * <pre>{@code
 * TextPublisher pub = TextPublisher.of((onText, cancel) ->
 *         Generator.generate(ids, model, decoder, config, onText, cancel));
 * pub.subscribe(mySubscriber);                   // e.g. a SubmissionPublisher-style consumer
 * Answer answer = pub.answer().join();
 * }</pre>
 *
 * <p>Signals follow the Reactive Streams rules: {@code onSubscribe} first, then at most as many
 * {@code onNext} as requested, then {@code onComplete} or {@code onError} (never both), all from one
 * thread at a time. {@code request(n)} with {@code n <= 0} signals {@code onError} with an
 * {@link IllegalArgumentException} and cancels. A second subscriber receives {@code onError} with an
 * {@link IllegalStateException}: a generation runs once.
 */
public final class TextPublisher implements Flow.Publisher<String> {

    private final StreamingTask task;
    private final Executor executor;
    private final AtomicBoolean subscribed = new AtomicBoolean();
    private final CompletableFuture<Answer> answer = new CompletableFuture<>();

    private TextPublisher(StreamingTask task, Executor executor) {
        this.task = Objects.requireNonNull(task, "task");
        this.executor = Objects.requireNonNull(executor, "executor");
    }

    /**
     * A publisher that runs {@code task} on a new daemon thread named {@code phi3v-generate}.
     *
     * @param task the generation
     * @return the publisher
     */
    public static TextPublisher of(StreamingTask task) {
        return new TextPublisher(task, runnable -> {
            Thread t = new Thread(runnable, "phi3v-generate");
            t.setDaemon(true);
            t.start();
        });
    }

    /**
     * A publisher that runs {@code task} on {@code executor}.
     *
     * @param task the generation
     * @param executor where the decode loop runs (it blocks while the subscriber has no demand)
     * @return the publisher
     */
    public static TextPublisher of(StreamingTask task, Executor executor) {
        return new TextPublisher(task, executor);
    }

    /**
     * The final answer: completes when the generation ends (normally, cancelled or exceptionally),
     * before the subscriber receives {@code onComplete} or {@code onError}.
     * Its text is the concatenation of all pieces, including any not delivered because the subscriber
     * cancelled.
     *
     * @return the future answer
     */
    public CompletableFuture<Answer> answer() {
        return answer;
    }

    @Override
    public void subscribe(Flow.Subscriber<? super String> subscriber) {
        Objects.requireNonNull(subscriber, "subscriber");
        if (!subscribed.compareAndSet(false, true)) {
            subscriber.onSubscribe(new Flow.Subscription() {
                @Override
                public void request(long n) {
                }

                @Override
                public void cancel() {
                }
            });
            subscriber.onError(new IllegalStateException(
                    "this TextPublisher already has a subscriber; a generation can be streamed only once"));
            return;
        }
        Run run = new Run(subscriber);
        subscriber.onSubscribe(run);
        try {
            executor.execute(run);
        } catch (RejectedExecutionException e) {
            run.failBeforeStart(e);
        }
    }

    /** One subscription: demand bookkeeping plus the worker that runs the task. */
    private final class Run implements Flow.Subscription, Runnable {
        private final Flow.Subscriber<? super String> subscriber;
        private final CancellationToken cancel = new CancellationToken();
        private final ReentrantLock lock = new ReentrantLock();
        private final Condition demandChanged = lock.newCondition();
        private long demand;
        private boolean cancelled;
        private Throwable protocolError;
        private Throwable subscriberFailure;

        Run(Flow.Subscriber<? super String> subscriber) {
            this.subscriber = subscriber;
        }

        @Override
        public void request(long n) {
            lock.lock();
            try {
                if (cancelled) {
                    return;
                }
                if (n <= 0) {
                    // Rule 3.9: signal onError; the worker delivers it so signals stay serial.
                    protocolError = new IllegalArgumentException(
                            "Subscription.request(n) needs n > 0 (Reactive Streams rule 3.9), got " + n);
                    cancelled = true;
                    cancel.cancel();
                } else {
                    demand = demand + n < 0 ? Long.MAX_VALUE : demand + n; // saturate: "effectively unbounded"
                }
                demandChanged.signalAll();
            } finally {
                lock.unlock();
            }
        }

        @Override
        public void cancel() {
            lock.lock();
            try {
                cancelled = true;
                cancel.cancel();
                demandChanged.signalAll();
            } finally {
                lock.unlock();
            }
        }

        @Override
        public void run() {
            Answer result;
            try {
                result = task.run(this::deliver, cancel);
            } catch (Throwable t) {
                finish(null, subscriberFailure != null ? subscriberFailure : t);
                return;
            }
            finish(result, subscriberFailure);
        }

        void failBeforeStart(Throwable t) {
            finish(null, t);
        }

        private void finish(Answer result, Throwable failure) {
            boolean signal;
            Throwable error;
            lock.lock();
            try {
                signal = !cancelled || protocolError != null;
                error = protocolError != null ? protocolError : failure;
            } finally {
                lock.unlock();
            }
            // Complete the future first, so a subscriber may read answer() from onComplete/onError.
            if (failure != null) {
                answer.completeExceptionally(failure);
            } else if (result != null) {
                answer.complete(result);
            } else {
                answer.completeExceptionally(new CancellationException("generation did not produce an answer"));
            }
            if (signal) {
                if (error != null) {
                    subscriber.onError(error);
                } else {
                    subscriber.onComplete();
                }
            }
        }

        /** Called by the decode loop for every piece: blocks until there is demand or a cancel. */
        private void deliver(String piece) {
            lock.lock();
            try {
                while (demand == 0 && !cancelled) {
                    try {
                        demandChanged.await();
                    } catch (InterruptedException e) {
                        // The worker is being shut down: stop the generation instead of hanging.
                        Thread.currentThread().interrupt();
                        cancelled = true;
                        cancel.cancel();
                    }
                }
                if (cancelled) {
                    return; // the loop sees the cancelled token before its next forward pass
                }
                if (demand != Long.MAX_VALUE) {
                    demand--;
                }
            } finally {
                lock.unlock();
            }
            try {
                subscriber.onNext(piece);
            } catch (Throwable t) {
                // Rule 2.13 violated by the subscriber: treat the subscription as cancelled.
                subscriberFailure = t;
                cancel();
            }
        }
    }
}
