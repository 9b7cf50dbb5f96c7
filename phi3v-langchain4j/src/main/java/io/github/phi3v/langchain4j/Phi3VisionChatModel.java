package io.github.phi3v.langchain4j;

import dev.langchain4j.exception.InvalidRequestException;
import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.response.ChatResponse;

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
public final class Phi3VisionChatModel extends Phi3VisionAdapter implements ChatModel {

    private Phi3VisionChatModel(Builder b) {
        super(b);
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

    /** Builds a {@link Phi3VisionChatModel}; not thread-safe. */
    public static final class Builder extends Phi3VisionAdapter.AdapterBuilder<Builder> {

        private Builder() {
        }

        @Override
        Builder self() {
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
