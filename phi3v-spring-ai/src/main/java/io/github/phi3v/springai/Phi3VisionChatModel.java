package io.github.phi3v.springai;

import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.function.Consumer;

import org.springframework.ai.chat.messages.AssistantMessage;
import org.springframework.ai.chat.metadata.ChatGenerationMetadata;
import org.springframework.ai.chat.metadata.ChatResponseMetadata;
import org.springframework.ai.chat.metadata.DefaultUsage;
import org.springframework.ai.chat.model.ChatModel;
import org.springframework.ai.chat.model.ChatResponse;
import org.springframework.ai.chat.model.Generation;
import org.springframework.ai.chat.prompt.ChatOptions;
import org.springframework.ai.chat.prompt.Prompt;

import io.github.phi3v.core.ChatRequest;
import io.github.phi3v.core.Phi3Vision;
import io.github.phi3v.core.generate.Answer;
import io.github.phi3v.core.generate.TextPublisher;
import reactor.adapter.JdkFlowAdapter;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * A Spring AI {@link ChatModel} answering with a local Phi-3-Vision: text and image {@code Media} in, text out,
 * blocking ({@link #call(Prompt)}) or streamed ({@link #stream(Prompt)}).
 *
 * <pre>{@code
 * ChatClient chat = ChatClient.create(new Phi3VisionChatModel(phi));
 * String answer = chat.prompt()
 *         .user(u -> u.text("What does the chart show?").media(MimeTypeUtils.IMAGE_PNG, new FileSystemResource("chart.png")))
 *         .call()
 *         .content();
 * }</pre>
 *
 * <p>Each call is stateless and passes the whole conversation; the model's prefix cache makes the next turn of
 * a conversation prefill only its new tokens. Messages: system, user (text, then its images as Phi-3-Vision
 * expects them: images first) and assistant. Images: {@code Media} with an {@code image/*} mime type whose data
 * is bytes (a {@code Resource}), a {@code data:} URI or an http(s) URL (fetched through the model's image loader
 * and its limits). Options ({@link Phi3VisionChatOptions}, or any {@link ChatOptions}): temperature &gt; 0
 * samples (null or 0 decodes greedily), topP, topK, maxTokens, stopSequences, seed, numCrops; the request's
 * values win over the defaults, value by value. Tools, tool messages, other media types and penalties throw
 * {@link UnsupportedOperationException} naming them; values out of range, images that cannot be loaded and
 * prompts over a limit throw the core's {@link IllegalArgumentException} or
 * {@link io.github.phi3v.image.ImageProcessingException}, whose messages name the option or limit.
 *
 * <p>Streaming: each element carries one text piece (whole characters); a last element with empty text carries
 * the finish reason and the usage. Errors arrive as the {@code Flux}'s error signal. Cancelling the subscription
 * (disposing it, {@code take(n)}, a closed HTTP response) cancels the generation within one token.
 *
 * <p>Thread-safe. The {@link Phi3Vision} is not closed here: its owner closes it (the auto-configuration's
 * context does).
 */
public final class Phi3VisionChatModel implements ChatModel {

    private final Phi3Vision phi;
    private final Phi3VisionChatOptions defaults;
    private final boolean literalText;
    private final Executor executor;
    private final String modelName;
    /** Sees each stream's final answer, cancelled ones included (package-private: for tests and diagnostics). */
    private volatile Consumer<CompletableFuture<Answer>> streamAnswers = f -> { };

    /**
     * A chat model with no default options, literal text and streams on a new thread per request.
     *
     * @param phi the model to answer with
     */
    public Phi3VisionChatModel(Phi3Vision phi) {
        this(phi, new Phi3VisionChatOptions(), true, null);
    }

    /**
     * A chat model.
     *
     * @param phi the model to answer with
     * @param defaults options used where a request leaves a value unset (copied)
     * @param literalText whether message text is encoded literally, so special tokens and {@code <|image_N|>}
     *     tags typed in it stay text (true is the safe choice for text from users; see
     *     {@link io.github.phi3v.core.ChatRequest.Builder#literalText(boolean)})
     * @param executor where streamed generations run (each blocks a thread), or null for a new daemon thread
     *     per request
     */
    public Phi3VisionChatModel(Phi3Vision phi, ChatOptions defaults, boolean literalText, Executor executor) {
        this.phi = Objects.requireNonNull(phi, "phi");
        this.defaults = Phi3VisionChatOptions.from(Objects.requireNonNull(defaults, "defaults"));
        this.literalText = literalText;
        this.executor = executor;
        java.nio.file.Path name = phi.modelDir().getFileName();
        this.modelName = name == null ? phi.modelDir().toString() : name.toString();
    }

    @Override
    public ChatResponse call(Prompt prompt) {
        Objects.requireNonNull(prompt, "prompt");
        Answer answer = phi.chat(PromptMapper.toCore(prompt, defaults, literalText));
        return response(answer.text(), answer);
    }

    @Override
    public Flux<ChatResponse> stream(Prompt prompt) {
        Objects.requireNonNull(prompt, "prompt");
        return Flux.defer(() -> {
            ChatRequest request = PromptMapper.toCore(prompt, defaults, literalText);
            TextPublisher publisher = executor == null ? phi.chatPublisher(request)
                    : TextPublisher.of((onText, cancel) -> phi.chatStream(request, onText, cancel), executor);
            streamAnswers.accept(publisher.answer());
            // The answer future completes before the publisher's onComplete, so the last element is ready.
            return JdkFlowAdapter.flowPublisherToFlux(publisher)
                    .filter(piece -> !piece.isEmpty())
                    .map(piece -> response(piece, null))
                    .concatWith(Mono.defer(() -> Mono.fromFuture(publisher.answer())).map(a -> response("", a)));
        });
    }

    /** Lets a test see the final answer of every stream, including one that ends CANCELLED. */
    void onStreamAnswer(Consumer<CompletableFuture<Answer>> observer) {
        this.streamAnswers = Objects.requireNonNull(observer, "observer");
    }

    /**
     * The defaults: a copy of the options given at construction.
     *
     * @return a new {@link Phi3VisionChatOptions}
     */
    @Override
    public ChatOptions getDefaultOptions() {
        return defaults.copy();
    }

    /**
     * The model this adapter answers with.
     *
     * @return the model
     */
    public Phi3Vision model() {
        return phi;
    }

    /** A response with {@code text}; with the finish reason and usage of {@code answer} when it is the end. */
    private ChatResponse response(String text, Answer answer) {
        ChatGenerationMetadata.Builder gen = ChatGenerationMetadata.builder();
        ChatResponseMetadata.Builder meta = ChatResponseMetadata.builder().model(modelName);
        if (answer != null) {
            gen.finishReason(answer.finishReason().name());
            var u = answer.usage();
            meta.usage(new DefaultUsage(u.promptTokens(), u.generatedTokens(), u.promptTokens() + u.generatedTokens(),
                    u));
        }
        return new ChatResponse(List.of(new Generation(new AssistantMessage(text), gen.build())), meta.build());
    }

    @Override
    public String toString() {
        return "Phi3VisionChatModel[" + modelName + "]";
    }
}
