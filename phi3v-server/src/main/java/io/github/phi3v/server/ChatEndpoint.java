package io.github.phi3v.server;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.UUID;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;

import io.github.phi3v.core.generate.Answer;
import io.github.phi3v.core.generate.FinishReason;

/**
 * {@code POST /v1/chat/completions}: parse, admit, generate through the {@link ChatBackend}, answer as
 * one JSON object or as server-sent events. A streamed answer commits its 200 status only with its first
 * text piece, so a request refused while its images load or its prompt is planned still gets a proper
 * error status; a client that closes the connection mid-stream makes the next write fail, which cancels
 * the generation at its next token.
 */
final class ChatEndpoint {

    /** Status recorded in the metrics for a client that left before the answer was complete (as nginx). */
    static final int CLIENT_CLOSED = 499;

    private final ChatCompletionParser parser;
    private final ChatBackend backend;
    private final Admission admission;
    private final ServerMetrics metrics;
    private final String modelName;

    ChatEndpoint(ChatCompletionParser parser, ChatBackend backend, Admission admission, ServerMetrics metrics,
            String modelName) {
        this.parser = parser;
        this.backend = backend;
        this.admission = admission;
        this.metrics = metrics;
        this.modelName = modelName;
    }

    /**
     * Answers one request.
     *
     * @return the HTTP status sent
     * @throws ApiException for a refusal before anything was sent
     */
    int handle(JsonNode body, Response response, Callback callback) {
        ChatCompletionParser.ChatCall call = parser.parse(body);
        OpenAiJson.Head head = new OpenAiJson.Head("chatcmpl-" + UUID.randomUUID().toString().replace("-", ""),
                System.currentTimeMillis() / 1000, modelName);
        try (Admission.Slot slot = admission.enter()) {
            return call.stream() ? stream(call, head, slot, response, callback)
                    : complete(call, head, slot, response, callback);
        }
    }

    private int complete(ChatCompletionParser.ChatCall call, OpenAiJson.Head head, Admission.Slot slot,
            Response response, Callback callback) {
        Answer answer = run(call, slot, piece -> { });
        metrics.generation(answer.usage(), answer.finishReason() == FinishReason.CANCELLED);
        ApiHandler.writeJson(response, callback, 200, OpenAiJson.completion(head, answer));
        return 200;
    }

    private Answer run(ChatCompletionParser.ChatCall call, Admission.Slot slot,
            java.util.function.Consumer<String> onText) {
        try {
            return backend.generate(call.request(), onText, slot.cancel());
        } catch (RuntimeException e) {
            ApiException api = ErrorMapper.map(e, call.imageParams());
            if (api == null) {
                throw e;
            }
            throw api;
        }
    }

    private int stream(ChatCompletionParser.ChatCall call, OpenAiJson.Head head, Admission.Slot slot,
            Response response, Callback callback) {
        SseStream sse = new SseStream(response, head, call.includeUsage(), slot);
        Answer answer;
        try {
            answer = run(call, slot, sse::text);
        } catch (ApiException e) {
            if (!sse.started) {
                throw e;   // nothing sent yet: a normal error response
            }
            sse.event(OpenAiJson.error(e));   // OpenAI's in-stream error event
            return sse.finish(callback, e.status());
        } catch (RuntimeException e) {
            if (!sse.started) {
                throw e;
            }
            sse.event(OpenAiJson.error(new ApiException(500, "server_error", null, null, "generation failed: "
                    + e.getClass().getSimpleName())));
            return sse.finish(callback, 500);
        }
        metrics.generation(answer.usage(), sse.disconnected || answer.finishReason() == FinishReason.CANCELLED);
        if (sse.disconnected) {
            callback.failed(new IOException("client closed the connection"));
            return CLIENT_CLOSED;
        }
        sse.start();
        sse.event(OpenAiJson.chunk(head, OpenAiJson.MAPPER.createObjectNode(),
                OpenAiJson.finishReason(answer.finishReason()), call.includeUsage()));
        if (call.includeUsage()) {
            sse.event(OpenAiJson.usageChunk(head, answer.usage()));
        }
        return sse.finish(callback, 200);
    }

    /** The event stream of one answer; used on the request's thread only. */
    private static final class SseStream {
        private final Response response;
        private final OpenAiJson.Head head;
        private final boolean includeUsage;
        private final Admission.Slot slot;
        private OutputStream out;
        boolean started;
        boolean disconnected;

        SseStream(Response response, OpenAiJson.Head head, boolean includeUsage, Admission.Slot slot) {
            this.response = response;
            this.head = head;
            this.includeUsage = includeUsage;
            this.slot = slot;
        }

        void text(String piece) {
            if (piece.isEmpty()) {
                return;
            }
            start();
            event(OpenAiJson.chunk(head, OpenAiJson.contentDelta(piece), null, includeUsage));
        }

        /** Commits 200 and sends the first chunk (the role), once. */
        void start() {
            if (started) {
                return;
            }
            started = true;
            response.setStatus(200);
            response.getHeaders().put(HttpHeader.CONTENT_TYPE, "text/event-stream; charset=utf-8");
            response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-cache");
            out = Content.Sink.asOutputStream(response);
            event(OpenAiJson.chunk(head, OpenAiJson.roleDelta(), null, includeUsage));
        }

        void event(ObjectNode json) {
            send("data: " + json + "\n\n");
        }

        private void send(String s) {
            if (disconnected) {
                return;
            }
            try {
                out.write(s.getBytes(StandardCharsets.UTF_8));
                out.flush();
            } catch (IOException e) {
                // The client is gone: stop generating for nobody (at the next token).
                disconnected = true;
                slot.cancel().cancel();
            }
        }

        int finish(Callback callback, int status) {
            send("data: [DONE]\n\n");
            try {
                out.close();
            } catch (IOException e) {
                disconnected = true;
            }
            if (disconnected) {
                callback.failed(new IOException("client closed the connection"));
                return CLIENT_CLOSED;
            }
            callback.succeeded();
            return status;
        }
    }
}
