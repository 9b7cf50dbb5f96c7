package io.github.phi3v.server;

import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.function.Consumer;

import io.github.phi3v.core.ChatRequest;
import io.github.phi3v.core.Phi3Vision;
import io.github.phi3v.core.generate.Answer;
import io.github.phi3v.core.generate.CancellationToken;

/**
 * The one place where the server hands a request to the model. Everything above it (HTTP, JSON, admission,
 * metrics) is backend-agnostic.
 */
interface ChatBackend {

    /**
     * Runs one request to its end; returns on the calling thread (the request's HTTP thread).
     *
     * @param request the whole conversation, already validated
     * @param onText receives the answer's text pieces in order, on the calling thread
     * @param cancel ends the generation within one token (a client that went away)
     * @return the answer with its usage
     */
    Answer generate(ChatRequest request, Consumer<String> onText, CancellationToken cancel);

    /**
     * One {@link Phi3Vision#chatStream} call per request: concurrent requests each decode on their own
     * thread with batch size 1 (kept for comparison; the server runs {@link #batched}).
     *
     * @param model the loaded model
     * @return the backend
     */
    static ChatBackend streaming(Phi3Vision model) {
        return model::chatStream;
    }

    /**
     * Continuous batching: each request is {@linkplain Phi3Vision#submit submitted}, so all running requests
     * share one batched decode step per token. The model calls {@code onText} on its scheduler thread, where
     * a slow client's socket write would stall the whole batch; so the pieces are handed over through a queue
     * and written by the request's own HTTP thread: a slow reader delays only its own stream.
     *
     * @param model the loaded model
     * @return the backend
     */
    static ChatBackend batched(Phi3Vision model) {
        return (request, onText, cancel) -> {
            BlockingQueue<Object> handoff = new LinkedBlockingQueue<>();
            Object end = new Object();
            CompletableFuture<Answer> answer = model.submit(request, handoff::add, cancel);
            // Completion happens after the last piece was queued, so `end` is queued last.
            answer.whenComplete((a, t) -> handoff.add(end));
            RuntimeException fromOnText = null;
            boolean interrupted = false;
            while (true) {
                Object next;
                try {
                    next = handoff.take();
                } catch (InterruptedException e) {
                    interrupted = true;
                    cancel.cancel();
                    continue;
                }
                if (next == end) {
                    break;
                }
                if (fromOnText == null) {
                    try {
                        onText.accept((String) next);
                    } catch (RuntimeException e) {
                        fromOnText = e;
                        cancel.cancel();   // the rest of the answer has nowhere to go
                    }
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
            if (fromOnText != null) {
                throw fromOnText;
            }
            try {
                return answer.get();
            } catch (ExecutionException | CompletionException e) {
                Throwable cause = e.getCause();
                if (cause instanceof RuntimeException r) {
                    throw r;
                }
                if (cause instanceof Error err) {
                    throw err;
                }
                throw new IllegalStateException("generation failed: " + cause, cause);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();   // unreachable: the future is complete
                throw new IllegalStateException(e);
            }
        };
    }
}
