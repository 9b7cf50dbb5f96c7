package io.github.phi3v.langchain4j;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;

import dev.langchain4j.model.chat.Capability;
import dev.langchain4j.model.chat.StreamingChatModel;
import dev.langchain4j.model.chat.listener.ChatModelListener;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;

import io.github.phi3v.core.Phi3Vision;

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
public final class Phi3VisionStreamingChatModel implements StreamingChatModel, AutoCloseable {

    private static final Executor NEW_THREAD = task -> {
        Thread t = new Thread(task, "phi3v-langchain4j-stream");
        t.setDaemon(true);
        t.start();
    };

    private final Phi3Vision phi;
    private final boolean owned;
    private final String modelName;
    private final boolean literalText;
    private final Executor executor;
    private final ChatRequestParameters defaultParameters;
    private final List<ChatModelListener> listeners;

    private Phi3VisionStreamingChatModel(Builder b) {
        this.defaultParameters = b.defaultParameters == null ? Phi3VisionChatRequestParameters.EMPTY
                : Phi3VisionChatRequestParameters.EMPTY.overrideWith(b.defaultParameters);
        this.listeners = List.copyOf(b.listeners);
        this.literalText = b.literalText;
        this.executor = b.executor;
        this.owned = b.source.owned();
        this.phi = b.source.open();
        this.modelName = b.source.modelName(phi);
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

    @Override
    public ChatRequestParameters defaultRequestParameters() {
        return defaultParameters;
    }

    @Override
    public List<ChatModelListener> listeners() {
        return listeners;
    }

    /**
     * None: Phi-3-Vision has no constrained decoding, so AI services ask for JSON in the prompt.
     *
     * @return an empty set
     */
    @Override
    public Set<Capability> supportedCapabilities() {
        return Set.of();
    }

    /**
     * The model this adapter answers with.
     *
     * @return the model
     */
    public Phi3Vision model() {
        return phi;
    }

    /**
     * Closes the model if this adapter loaded it ({@link Builder#modelIdOrPath}), which cancels its running
     * generations; a given model stays open.
     */
    @Override
    public void close() {
        if (owned) {
            phi.close();
        }
    }

    @Override
    public String toString() {
        return "Phi3VisionStreamingChatModel[" + modelName + (owned ? ", owned" : "") + "]";
    }

    /** Builds a {@link Phi3VisionStreamingChatModel}; not thread-safe. */
    public static final class Builder {
        private final ModelSource source = new ModelSource();
        private ChatRequestParameters defaultParameters;
        private final List<ChatModelListener> listeners = new ArrayList<>();
        private boolean literalText = true;
        private Executor executor = NEW_THREAD;

        private Builder() {
        }

        /**
         * Answers with a loaded model, which the caller keeps and closes (it may be shared with other adapters).
         *
         * @param model the model
         * @return this builder
         */
        public Builder model(Phi3Vision model) {
            source.model(model);
            return this;
        }

        /**
         * Loads a model when {@link #build()} runs and closes it with {@link #close()}.
         *
         * @param modelIdOrPath a model folder, or a hub id such as {@code microsoft/Phi-3-vision-128k-instruct}
         * @return this builder
         */
        public Builder modelIdOrPath(String modelIdOrPath) {
            source.modelIdOrPath(modelIdOrPath);
            return this;
        }

        /**
         * The dtype of a model loaded by {@link #modelIdOrPath}.
         *
         * @param dtype "float32", "bfloat16" or "float16"
         * @return this builder
         */
        public Builder dtype(String dtype) {
            source.dtype(dtype);
            return this;
        }

        /**
         * The maximum context of a model loaded by {@link #modelIdOrPath}.
         *
         * @param tokens prompt + image + generated tokens
         * @return this builder
         */
        public Builder maxContext(int tokens) {
            source.maxContext(tokens);
            return this;
        }

        /**
         * The default image crop budget of a model loaded by {@link #modelIdOrPath}.
         *
         * @param n at least 1
         * @return this builder
         */
        public Builder numCrops(int n) {
            source.numCrops(n);
            return this;
        }

        /**
         * Parameters used where a request leaves a value unset.
         *
         * @param parameters plain or {@link Phi3VisionChatRequestParameters}
         * @return this builder
         */
        public Builder defaultRequestParameters(ChatRequestParameters parameters) {
            this.defaultParameters = Objects.requireNonNull(parameters, "parameters");
            return this;
        }

        /**
         * Listeners told about every request, response and error.
         *
         * @param list the listeners
         * @return this builder
         */
        public Builder listeners(List<ChatModelListener> list) {
            this.listeners.clear();
            this.listeners.addAll(Objects.requireNonNull(list, "listeners"));
            return this;
        }

        /**
         * Whether message text is encoded literally (default true); see
         * {@link Phi3VisionChatModel.Builder#literalText(boolean)}.
         *
         * @param literal whether to encode text literally
         * @return this builder
         */
        public Builder literalText(boolean literal) {
            this.literalText = literal;
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
