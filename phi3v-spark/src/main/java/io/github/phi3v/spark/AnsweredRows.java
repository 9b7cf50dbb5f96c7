package io.github.phi3v.spark;

import java.util.Deque;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import org.apache.spark.TaskContext;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.util.TaskCompletionListener;

import io.github.phi3v.core.ChatRequest;
import io.github.phi3v.core.LimitExceededException;
import io.github.phi3v.core.Phi3Vision;
import io.github.phi3v.core.generate.Answer;

/**
 * One partition's rows with their answers, in input order. Keeps up to {@code maxBatchSize} rows
 * {@linkplain Phi3Vision#submit submitted} at a time, so they are decoded together in batched steps, and
 * yields each row when its answer is done; so a partition of millions of rows holds only that window in
 * memory. A row that fails (corrupt image, prompt too long, ...) gets the failure in the {@code error}
 * column and no answer; the other rows go on. Not thread-safe: Spark reads it from the task's thread.
 */
final class AnsweredRows implements Iterator<Row> {

    /** How long a row waits for the model to accept it while other tasks fill its request limit. */
    private static final long ADMISSION_WAIT_MILLIS = TimeUnit.MINUTES.toMillis(10);

    private final PartitionAnswerer settings;
    private final Phi3Vision model;
    private final Iterator<Row> input;
    private final int window;
    /** Rows in input order with their answers in progress (concurrent: a task kill cancels them from another thread). */
    private final Deque<Pending> pending = new ConcurrentLinkedDeque<>();

    private record Pending(Row row, CompletableFuture<Answer> answer) {
    }

    AnsweredRows(PartitionAnswerer settings, Phi3Vision model, Iterator<Row> input) {
        this.settings = settings;
        this.model = model;
        this.input = input;
        this.window = settings.spec().maxBatchSize();
        TaskContext task = TaskContext.get();
        if (task != null) {
            // A killed task (or one whose consumer stopped early, e.g. limit()) cancels its rows' decoding.
            task.addTaskCompletionListener((TaskCompletionListener) context -> cancelPending());
        }
    }

    @Override
    public boolean hasNext() {
        fill();
        return !pending.isEmpty();
    }

    @Override
    public Row next() {
        fill();
        Pending p = pending.poll();
        if (p == null) {
            throw new NoSuchElementException();
        }
        return withAnswer(p.row(), p.answer());
    }

    private void fill() {
        while (pending.size() < window && input.hasNext()) {
            Row row = input.next();
            pending.add(new Pending(row, submit(row)));
        }
    }

    /** Submits one row; a row the model refuses gets a failed future, which becomes its error. */
    private CompletableFuture<Answer> submit(Row row) {
        ChatRequest request;
        try {
            request = request(row);
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
        long deadline = System.currentTimeMillis() + ADMISSION_WAIT_MILLIS;
        while (true) {
            try {
                return model.submit(request);
            } catch (LimitExceededException e) {
                // Other tasks of this executor fill the model's request limit: wait for a place.
                if (!"maxConcurrentRequests".equals(e.limit()) || System.currentTimeMillis() > deadline) {
                    return CompletableFuture.failedFuture(e);
                }
                awaitPlace();
            } catch (RuntimeException e) {
                return CompletableFuture.failedFuture(e);
            }
        }
    }

    private void awaitPlace() {
        Pending oldest = pending.peek();
        try {
            if (oldest != null) {
                oldest.answer().get(100, TimeUnit.MILLISECONDS);
            } else {
                Thread.sleep(100);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for the model to accept a row", e);
        } catch (ExecutionException | TimeoutException | CancellationException e) {
            // the oldest row's own outcome is read when it is emitted; here it only meant waiting
        }
    }

    private ChatRequest request(Row row) {
        Object image = row.get(settings.imageIndex());
        if (image == null) {
            throw new IllegalArgumentException("the image column is null in this row");
        }
        String prompt = settings.promptIndex() < 0 ? settings.prompt() : row.getString(settings.promptIndex());
        if (prompt == null) {
            throw new IllegalArgumentException("the prompt column is null in this row");
        }
        ChatRequest.Builder b = ChatRequest.builder().user(prompt, settings.imageColumn().input(image))
                .maxNewTokens(settings.maxNewTokens());
        if (settings.numCrops() > 0) {
            b.numCrops(settings.numCrops());
        }
        return b.build();
    }

    /** The input row followed by answer, prompt_tokens, completion_tokens, finish_reason, error. */
    private static Row withAnswer(Row row, CompletableFuture<Answer> future) {
        int n = row.size();
        Object[] values = new Object[n + AnswerColumns.COUNT];
        for (int i = 0; i < n; i++) {
            values[i] = row.get(i);
        }
        try {
            Answer a = future.join();
            values[n] = a.text();
            values[n + 1] = a.usage().promptTokens();
            values[n + 2] = a.usage().generatedTokens();
            values[n + 3] = a.finishReason().name();
        } catch (CompletionException | CancellationException e) {
            values[n + 4] = describe(e instanceof CompletionException && e.getCause() != null ? e.getCause() : e);
        }
        return RowFactory.create(values);
    }

    private static String describe(Throwable t) {
        String message = t.getMessage();
        return t.getClass().getSimpleName() + (message == null ? "" : ": " + message);
    }

    private void cancelPending() {
        for (Pending p : pending) {
            p.answer().cancel(true);
        }
    }
}
