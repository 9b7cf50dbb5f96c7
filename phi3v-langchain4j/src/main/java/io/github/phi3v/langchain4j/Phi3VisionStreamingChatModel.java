package io.github.phi3v.langchain4j;

import java.util.Objects;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;

import dev.langchain4j.model.chat.StreamingChatModel;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;


/**
 * A LangChain4j {@link StreamingChatModel} answering with a local Phi-3-Vision, streaming the answer's text.
 *
 * <pre>{@code
 * Phi3VisionStreamingChatModel model = Phi3VisionStreamingChatModel.builder().model(phi).build();
 * model.chat(ChatRequest.builder().messages(UserMessage.from(
 *                 ImageContent.from(imageUrl), TextContent.from("Describe the picture."))).build(),
 *         new StreamingChatResponseHandler() {
 *             public void onPartialResponse(PartialResponse piece, PartialResponseContext ctx) {
 *                 System.out.print(piece.text());          // ctx.streamingHandle().cancel() stops it
 *             }
 *             public void onCompleteResponse(ChatResponse r) { System.out.println(r.tokenUsage()); }
 *             public void onError(Throwable error) { error.printStackTrace(); }
 *         });
 * }</pre>
 *
 * <p>{@code chat} returns at once; the generation runs on the {@link Builder#executor(Executor) executor} (by
 * default a new daemon thread per request) and calls the handler there: text pieces (whole characters; they
 * concatenate to the final {@code AiMessage} text), then exactly one {@code onCompleteResponse} or
 * {@code onError}. Every failure, including an unsupported feature or a bad parameter found before generation
 * starts, arrives through {@code onError}; {@code chat} itself does not throw for them. Cancelling through the
 * {@link dev.langchain4j.model.chat.response.StreamingHandle} of a partial response's context stops the
 * generation within one token, and the handler receives no further callbacks. Requests map as for
 * {@link Phi3VisionChatModel}.
 *
 * <p>Thread-safe.
 */
public final class Phi3VisionStreamingChatModel extends Phi3VisionAdapter implements StreamingChatModel {

    private static final Executor NEW_THREAD = task -> {
        Thread t = new Thread(task, "phi3v-langchain4j-stream");
        t.setDaemon(true);
        t.start();
    };

    private final Executor executor;

    private Phi3VisionStreamingChatModel(Builder b) {
        super(b);
        this.executor = b.executor;
    }

    /**
     * A new builder.
     *
     * @return a builder; {@link Builder#model} or {@link Builder#modelIdOrPath} must be set
     */
    public static Builder builder() {
        return new Builder();
    }

    @Override
    public void doChat(ChatRequest chatRequest, StreamingChatResponseHandler handler) {
        Objects.requireNonNull(handler, "handler");
        io.github.phi3v.core.ChatRequest request;
        try {
            request = RequestMapper.toCore(chatRequest, literalText);
        } catch (RuntimeException e) {
            handler.onError(e);
            return;
        }
        StreamingRun run = new StreamingRun(phi, request, modelName, handler);
        try {
            executor.execute(run);
        } catch (RejectedExecutionException e) {
            run.fail(e);
        }
    }

    /** Builds a {@link Phi3VisionStreamingChatModel}; not thread-safe. */
    public static final class Builder extends Phi3VisionAdapter.AdapterBuilder<Builder> {
        private Executor executor = NEW_THREAD;

        private Builder() {
        }

        @Override
        Builder self() {
            return this;
        }

        /**
         * Where generations run (default: a new daemon thread per request). The task blocks its thread for the
         * whole generation.
         *
         * @param executor the executor
         * @return this builder
         */
        public Builder executor(Executor executor) {
            this.executor = Objects.requireNonNull(executor, "executor");
            return this;
        }

        /**
         * Builds the adapter, loading the model first if {@link #modelIdOrPath} was given.
         *
         * @return the streaming chat model
         * @throws IllegalStateException if no model was given
         */
        public Phi3VisionStreamingChatModel build() {
            return new Phi3VisionStreamingChatModel(this);
        }
    }
}
