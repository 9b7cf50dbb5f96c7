package io.github.phi3v.langchain4j;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;

import dev.langchain4j.exception.InvalidRequestException;
import dev.langchain4j.model.chat.Capability;
import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.listener.ChatModelListener;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.response.ChatResponse;

import io.github.phi3v.core.Phi3Vision;
import io.github.phi3v.core.generate.Answer;
import io.github.phi3v.image.ImageProcessingException;

/**
 * A LangChain4j {@link ChatModel} answering with a local Phi-3-Vision: text and images in, text out.
 *
 * <pre>{@code
 * try (Phi3VisionChatModel model = Phi3VisionChatModel.builder()
 *         .modelIdOrPath("microsoft/Phi-3-vision-128k-instruct")   // loaded here, closed by close()
 *         .maxContext(4096)
 *         .defaultRequestParameters(Phi3VisionChatRequestParameters.builder().maxOutputTokens(300).build())
 *         .build()) {
 *     ChatResponse r = model.chat(UserMessage.from(
 *             ImageContent.from(Path.of("chart.png").toUri()), TextContent.from("What does the chart show?")));
 *     System.out.println(r.aiMessage().text() + " " + r.tokenUsage());
 * }
 * }</pre>
 *
 * <p>Each call is stateless and passes the whole conversation (system, user and AI messages); the model's
 * prefix cache reuses the KV cache of an earlier call whose prompt this one extends, so a conversation's next
 * turn prefills only its new tokens. Parameters: {@code temperature} &gt; 0 samples (null or 0 decodes
 * greedily), {@code topP}, {@code topK}, {@code maxOutputTokens}, {@code stopSequences}, and
 * {@link Phi3VisionChatRequestParameters#seed()} / {@link Phi3VisionChatRequestParameters#numCrops()}.
 * {@code modelName} is ignored (one model). Tools, JSON response formats, frequency and presence penalties and
 * audio, video and PDF content throw {@link dev.langchain4j.exception.UnsupportedFeatureException}; bad values,
 * images that cannot be loaded and prompts that exceed a limit throw {@link InvalidRequestException} naming the
 * parameter or limit (the core's exception is the cause).
 *
 * <p>Thread-safe: any number of threads may call it at once (up to the model's concurrent-request limit).
 */
public final class Phi3VisionChatModel implements ChatModel, AutoCloseable {

    private final Phi3Vision phi;
    private final boolean owned;
    private final String modelName;
    private final boolean literalText;
    private final ChatRequestParameters defaultParameters;
    private final List<ChatModelListener> listeners;

    private Phi3VisionChatModel(Builder b) {
        this.defaultParameters = b.defaultParameters == null ? Phi3VisionChatRequestParameters.EMPTY
                : Phi3VisionChatRequestParameters.EMPTY.overrideWith(b.defaultParameters);
        this.listeners = List.copyOf(b.listeners);
        this.literalText = b.literalText;
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
    public ChatResponse doChat(ChatRequest chatRequest) {
        io.github.phi3v.core.ChatRequest request = RequestMapper.toCore(chatRequest, literalText);
        Answer answer;
        try {
            answer = phi.chat(request);
        } catch (IllegalArgumentException | ImageProcessingException e) {
            throw invalidRequest(e);
        }
        return ResponseMapper.toChatResponse(answer, modelName);
    }

    /**
     * Core refusals of the request (a limit, the context length, an image that cannot be loaded) as
     * LangChain4j's non-retriable request error; the core's exception stays the cause.
     */
    static InvalidRequestException invalidRequest(RuntimeException e) {
        return new InvalidRequestException(e.getMessage(), e);
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

    /** Closes the model if this adapter loaded it ({@link Builder#modelIdOrPath}); a given model stays open. */
    @Override
    public void close() {
        if (owned) {
            phi.close();
        }
    }

    @Override
    public String toString() {
        return "Phi3VisionChatModel[" + modelName + (owned ? ", owned" : "") + "]";
    }

    /** Builds a {@link Phi3VisionChatModel}; not thread-safe. */
    public static final class Builder {
        private final ModelSource source = new ModelSource();
        private ChatRequestParameters defaultParameters;
        private final List<ChatModelListener> listeners = new ArrayList<>();
        private boolean literalText = true;

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
         * The maximum context of a model loaded by {@link #modelIdOrPath} (default
         * {@link Phi3Vision#DEFAULT_MAX_CONTEXT}).
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
         * Whether message text is encoded literally, so that special tokens and {@code <|image_N|>} tags typed
         * in it stay text (default true: text from users cannot inject turns or refer to images; images come
         * only from {@code ImageContent}). False gives Hugging Face's behaviour (see
         * {@link io.github.phi3v.core.ChatRequest.Builder#literalText(boolean)}).
         *
         * @param literal whether to encode text literally
         * @return this builder
         */
        public Builder literalText(boolean literal) {
            this.literalText = literal;
            return this;
        }

        /**
         * Builds the adapter, loading the model first if {@link #modelIdOrPath} was given.
         *
         * @return the chat model
         * @throws IllegalStateException if no model was given
         */
        public Phi3VisionChatModel build() {
            return new Phi3VisionChatModel(this);
        }
    }
}
