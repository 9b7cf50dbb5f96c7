package io.github.phi3v.server;

import java.util.function.Consumer;

import io.github.phi3v.core.ChatRequest;
import io.github.phi3v.core.Phi3Vision;
import io.github.phi3v.core.generate.Answer;
import io.github.phi3v.core.generate.CancellationToken;

/**
 * The one place where the server hands a request to the model. Everything above it (HTTP, JSON, admission,
 * metrics) is backend-agnostic: switching to continuous batched decoding means one new implementation of
 * this interface, the rest of the server stays as it is.
 */
interface ChatBackend {

    /**
     * Runs one request to its end on the calling thread (the request's HTTP thread).
     *
     * @param request the whole conversation, already validated
     * @param onText receives the answer's text pieces in order, on the calling thread
     * @param cancel ends the generation within one token (a client that went away)
     * @return the answer with its usage
     */
    Answer generate(ChatRequest request, Consumer<String> onText, CancellationToken cancel);

    /**
     * The backend of today: one {@link Phi3Vision#chatStream} call per request; concurrent requests each
     * decode on their own thread (batch size 1 each).
     *
     * @param model the loaded model
     * @return the backend
     */
    static ChatBackend streaming(Phi3Vision model) {
        return model::chatStream;
    }
}
