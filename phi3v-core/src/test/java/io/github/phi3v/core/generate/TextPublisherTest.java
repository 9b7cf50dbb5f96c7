package io.github.phi3v.core.generate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.phi3v.core.generate.Fakes.ScriptedSource;
import java.util.ArrayList;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class TextPublisherTest {

    private static final GenerationConfig TEN = GenerationConfig.builder().stopTokenIds().maxNewTokens(10).build();

    private static final class Recorder implements Flow.Subscriber<String> {
        final List<String> items = new ArrayList<>();
        final CountDownLatch done = new CountDownLatch(1);
        final long initialRequest;
        volatile Flow.Subscription subscription;
        volatile Throwable error;
        volatile boolean completed;
        final AtomicInteger terminalSignals = new AtomicInteger();

        Recorder(long initialRequest) {
            this.initialRequest = initialRequest;
        }

        @Override
        public void onSubscribe(Flow.Subscription s) {
            subscription = s;
            if (initialRequest != 0) {
                s.request(initialRequest);
            }
        }

        @Override
        public synchronized void onNext(String item) {
            items.add(item);
            notifyAll();
        }

        @Override
        public void onError(Throwable t) {
            answerDoneAtTerminal = publisher != null && publisher.answer().isDone();
            error = t;
            terminalSignals.incrementAndGet();
            done.countDown();
        }

        volatile boolean answerDoneAtTerminal;
        volatile TextPublisher publisher;

        @Override
        public void onComplete() {
            answerDoneAtTerminal = publisher != null && publisher.answer().isDone();
            completed = true;
            terminalSignals.incrementAndGet();
            done.countDown();
        }

        synchronized void awaitItems(int n) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (items.size() < n && System.nanoTime() < deadline) {
                wait(100);
            }
            assertTrue(items.size() >= n, "expected " + n + " items, got " + items);
        }

        synchronized int count() {
            return items.size();
        }
    }

    @Test
    void honoursDemandAndCompletesWithTheAnswerText() throws Exception {
        ScriptedSource model = new ScriptedSource(10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0);
        TextPublisher pub = TextPublisher.of((onText, cancel) ->
                Generator.generate(new int[] {0}, model, Fakes.ids(), TEN, onText, cancel));
        Recorder r = new Recorder(1);
        r.publisher = pub;
        pub.subscribe(r);
        r.awaitItems(1);
        Thread.sleep(200);
        assertEquals(1, r.count(), "only one piece was requested");
        // the decode loop is parked on the 2nd piece: it has run 2 forward passes, not 10
        assertEquals(2, model.callCount());
        r.subscription.request(2);
        r.awaitItems(3);
        Thread.sleep(100);
        assertEquals(3, r.count());
        assertFalse(r.completed);
        r.subscription.request(Long.MAX_VALUE);
        r.subscription.request(Long.MAX_VALUE); // saturates instead of overflowing
        assertTrue(r.done.await(10, TimeUnit.SECONDS));
        Answer a = pub.answer().get(10, TimeUnit.SECONDS);
        assertTrue(r.completed);
        assertNull(r.error);
        assertEquals(10, r.count());
        assertEquals(a.text(), String.join("", r.items));
        assertEquals(FinishReason.LENGTH, a.finishReason());
        assertEquals(1, r.terminalSignals.get());
        assertTrue(r.answerDoneAtTerminal, "answer() must be complete before onComplete");
    }

    @Test
    void cancelEndsTheGenerationWithCancelled() throws Exception {
        ScriptedSource model = new ScriptedSource(10, 1, 2, 3);
        TextPublisher pub = TextPublisher.of((onText, cancel) ->
                Generator.generate(new int[] {0}, model, Fakes.ids(), TEN.withMaxNewTokens(1000), onText, cancel));
        Recorder r = new Recorder(2);
        pub.subscribe(r);
        r.awaitItems(2);
        r.subscription.cancel();
        Answer a = pub.answer().get(10, TimeUnit.SECONDS);
        assertEquals(FinishReason.CANCELLED, a.finishReason());
        assertTrue(a.tokenIds().length <= 3, "ran on after cancel: " + a.tokenIds().length);
        assertEquals(0, r.terminalSignals.get(), "no signal after cancel");
        assertEquals(2, r.count());
    }

    @Test
    void nonPositiveRequestSignalsOnError() throws Exception {
        TextPublisher pub = TextPublisher.of((onText, cancel) ->
                Generator.generate(new int[] {0}, new ScriptedSource(5, 1), Fakes.ids(), TEN, onText, cancel));
        Recorder r = new Recorder(0);
        pub.subscribe(r);
        r.subscription.request(0);
        assertTrue(r.done.await(10, TimeUnit.SECONDS));
        assertInstanceOf(IllegalArgumentException.class, r.error);
        assertTrue(r.error.getMessage().contains("rule 3.9"), r.error.getMessage());
        assertEquals(FinishReason.CANCELLED, pub.answer().get(10, TimeUnit.SECONDS).finishReason());
        assertEquals(1, r.terminalSignals.get());
    }

    @Test
    void secondSubscriberIsRejected() throws Exception {
        TextPublisher pub = TextPublisher.of((onText, cancel) ->
                Generator.generate(new int[] {0}, new ScriptedSource(5, 1), Fakes.ids(), TEN, onText, cancel));
        Recorder first = new Recorder(Long.MAX_VALUE);
        pub.subscribe(first);
        Recorder second = new Recorder(1);
        pub.subscribe(second);
        assertInstanceOf(IllegalStateException.class, second.error);
        assertTrue(first.done.await(10, TimeUnit.SECONDS));
        assertTrue(first.completed);
    }

    @Test
    void taskFailureSignalsOnErrorAndFailsTheAnswer() throws Exception {
        TextPublisher pub = TextPublisher.of((onText, cancel) -> {
            onText.accept("partial");
            throw new IllegalStateException("model exploded");
        });
        Recorder r = new Recorder(5);
        r.publisher = pub;
        pub.subscribe(r);
        assertTrue(r.done.await(10, TimeUnit.SECONDS));
        assertTrue(r.answerDoneAtTerminal, "answer() must be complete before onError");
        assertEquals("model exploded", r.error.getMessage());
        assertEquals(List.of("partial"), r.items);
        assertTrue(pub.answer().isCompletedExceptionally());
    }

    @Test
    void iteratorYieldsAllPiecesInOrder() {
        ScriptedSource model = new ScriptedSource(10, 1, 2, 3, 4, 5);
        TextPublisher pub = TextPublisher.of((onText, cancel) ->
                Generator.generate(new int[] {0}, model, Fakes.ids(), TEN.withMaxNewTokens(5), onText, cancel));
        StringBuilder sb = new StringBuilder();
        try (TextIterator it = TextIterator.of(pub)) {
            while (it.hasNext()) {
                sb.append(it.next());
            }
            assertThrows(NoSuchElementException.class, it::next);
        }
        Answer a = pub.answer().join();
        assertEquals("<1><2><3><4><5>", sb.toString());
        assertEquals(a.text(), sb.toString());
    }

    @Test
    void closingTheIteratorCancels() throws Exception {
        ScriptedSource model = new ScriptedSource(10, 1, 2, 3);
        TextPublisher pub = TextPublisher.of((onText, cancel) ->
                Generator.generate(new int[] {0}, model, Fakes.ids(), TEN.withMaxNewTokens(1000), onText, cancel));
        try (TextIterator it = TextIterator.of(pub)) {
            assertEquals("<1>", it.next());
        }
        Answer a = pub.answer().get(10, TimeUnit.SECONDS);
        assertEquals(FinishReason.CANCELLED, a.finishReason());
        assertTrue(a.tokenIds().length <= 3, "ran on after close: " + a.tokenIds().length);
    }

    @Test
    void iteratorRethrowsTheFailure() {
        TextPublisher pub = TextPublisher.of((onText, cancel) -> {
            throw new IllegalStateException("boom");
        });
        TextIterator it = TextIterator.of(pub);
        IllegalStateException e = assertThrows(IllegalStateException.class, it::hasNext);
        assertEquals("boom", e.getMessage());
        assertFalse(it.hasNext());
        assertThrows(CompletionException.class, () -> pub.answer().join());
    }
}
