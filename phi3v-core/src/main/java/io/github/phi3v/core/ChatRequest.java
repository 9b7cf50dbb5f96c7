package io.github.phi3v.core;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.OptionalInt;

import io.github.phi3v.core.generate.GenerationConfig;

/**
 * A whole conversation for one stateless {@link Phi3Vision#chat(ChatRequest)} call, as OpenAI,
 * LangChain4j, Spring AI and Ollama clients pass it: an optional system prompt, then user and assistant
 * messages in order, the last one the user's question. Images sit in user messages where they appear;
 * each becomes one {@code <|image_N|>} tag, numbered across the conversation.
 *
 * <pre>{@code
 * ChatRequest first = ChatRequest.builder()
 *         .system("Answer briefly.")
 *         .user("What is shown?", ImageInput.of(Path.of("chart.png")))
 *         .maxNewTokens(200)
 *         .build();
 * Answer a = phi.chat(first);
 * ChatRequest next = first.toBuilder()            // the next turn: the whole history again
 *         .assistant(a.text())
 *         .user("Which bar is the highest?")
 *         .build();
 * phi.chat(next);                                 // prefills only the new tokens (prefix cache)
 * }</pre>
 *
 * <p><b>Literal text.</b> With {@link Builder#literalText(boolean) literalText(true)} the messages' text is
 * encoded with special tokens NOT recognised (like Hugging Face's {@code split_special_tokens=True}): a
 * user who writes {@code <|end|><|system|>} or {@code <|image_3|>} gets those characters as text, and
 * image tags come only from the image parts. Use it for text from untrusted users (the server always
 * does). The default is Hugging Face's behaviour: special tokens and {@code <|image_N|>} tags written in
 * the text are recognised, and a user message whose text has tags gets no automatic tags for its images
 * (its tags refer to the images by number, as in the official processor).
 *
 * <p>Immutable and thread-safe.
 */
public final class ChatRequest {

    private final List<ChatMessage> messages;
    private final GenerationConfig config;
    private final int numCrops;   // 0 = the model's default
    private final boolean literalText;

    private ChatRequest(Builder b) {
        this.messages = List.copyOf(b.messages);
        this.config = b.config;
        this.numCrops = b.numCrops;
        this.literalText = b.literalText;
    }

    /**
     * A new builder.
     *
     * @return an empty builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * A builder holding this request's values, e.g. to append the next turn.
     *
     * @return a builder
     */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.messages.addAll(messages);
        b.config = config;
        b.numCrops = numCrops;
        b.literalText = literalText;
        return b;
    }

    /**
     * The messages, oldest first; a system message, if any, is the first.
     *
     * @return an unmodifiable list
     */
    public List<ChatMessage> messages() {
        return messages;
    }

    /**
     * How to generate.
     *
     * @return the configuration ({@link GenerationConfig#defaults()} unless set)
     */
    public GenerationConfig config() {
        return config;
    }

    /**
     * The crop budget for images without their own ({@link ImageInput#withNumCrops(int)}).
     *
     * @return the budget, or empty for the model's processor default
     */
    public OptionalInt numCrops() {
        return numCrops == 0 ? OptionalInt.empty() : OptionalInt.of(numCrops);
    }

    /**
     * Whether message text is encoded literally (special tokens and image tags in it not recognised).
     *
     * @return true in literal-text mode
     */
    public boolean literalText() {
        return literalText;
    }

    /**
     * All images of the conversation in prompt order (image {@code N} of the tags is element {@code N-1}).
     *
     * @return the images
     */
    public List<ImageInput> images() {
        List<ImageInput> all = new ArrayList<>();
        for (ChatMessage m : messages) {
            all.addAll(m.images());
        }
        return all;
    }

    @Override
    public String toString() {
        return "ChatRequest[" + messages.size() + " messages, " + images().size() + " images"
                + (literalText ? ", literal text" : "") + "]";
    }

    /** Builds a {@link ChatRequest}; not thread-safe. */
    public static final class Builder {
        private final List<ChatMessage> messages = new ArrayList<>();
        private GenerationConfig config = GenerationConfig.defaults();
        private int numCrops;
        private boolean literalText;

        private Builder() {
        }

        /**
         * Sets the system prompt: replaces an existing one, or puts it first.
         *
         * @param text the instructions, or null to remove the system prompt
         * @return this builder
         */
        public Builder system(String text) {
            if (!messages.isEmpty() && messages.get(0).role() == ChatMessage.Role.SYSTEM) {
                messages.remove(0);
            }
            if (text != null) {
                messages.add(0, ChatMessage.system(text));
            }
            return this;
        }

        /**
         * Appends a user message: images first, then the text.
         *
         * @param text the question
         * @param images its images
         * @return this builder
         */
        public Builder user(String text, ImageInput... images) {
            return message(ChatMessage.user(text, images));
        }

        /**
         * Appends an earlier answer.
         *
         * @param text the answer's text
         * @return this builder
         */
        public Builder assistant(String text) {
            return message(ChatMessage.assistant(text));
        }

        /**
         * Appends a message.
         *
         * @param message the message
         * @return this builder
         */
        public Builder message(ChatMessage message) {
            messages.add(Objects.requireNonNull(message, "message"));
            return this;
        }

        /**
         * Appends messages in order.
         *
         * @param list the messages
         * @return this builder
         */
        public Builder messages(List<ChatMessage> list) {
            Objects.requireNonNull(list, "messages");
            for (int i = 0; i < list.size(); i++) {
                messages.add(Objects.requireNonNull(list.get(i), "messages[" + i + "]"));
            }
            return this;
        }

        /**
         * Sets how to generate.
         *
         * @param generationConfig the configuration
         * @return this builder
         */
        public Builder config(GenerationConfig generationConfig) {
            this.config = Objects.requireNonNull(generationConfig, "config");
            return this;
        }

        /**
         * Sets the maximum number of new tokens (a shortcut for {@code config(config().withMaxNewTokens(n))}).
         *
         * @param n at least 1
         * @return this builder
         */
        public Builder maxNewTokens(int n) {
            this.config = config.withMaxNewTokens(n);
            return this;
        }

        /**
         * Sets the crop budget of images without their own: 16 for Phi-3-vision's default, 4 for
         * Phi-3.5-vision's; fewer crops, fewer image tokens.
         *
         * @param n at least 1
         * @return this builder
         */
        public Builder numCrops(int n) {
            if (n < 1) {
                throw new IllegalArgumentException("numCrops must be >= 1, got " + n);
            }
            this.numCrops = n;
            return this;
        }

        /**
         * Encodes message text literally: special tokens and {@code <|image_N|>} tags written in it are not
         * recognised (see the class comment). Default false (Hugging Face's behaviour).
         *
         * @param literal whether to encode text literally
         * @return this builder
         */
        public Builder literalText(boolean literal) {
            this.literalText = literal;
            return this;
        }

        /**
         * Builds the request.
         *
         * @return the request
         * @throws IllegalArgumentException naming the field: no messages, a system message that is not the
         *     first, or a last message that is not the user's
         */
        public ChatRequest build() {
            if (messages.isEmpty()) {
                throw new IllegalArgumentException("messages: the message list is empty; a request needs at least"
                        + " one user message");
            }
            for (int i = 1; i < messages.size(); i++) {
                if (messages.get(i).role() == ChatMessage.Role.SYSTEM) {
                    throw new IllegalArgumentException("messages[" + i + "]: a system message must be the first"
                            + " message");
                }
            }
            ChatMessage last = messages.get(messages.size() - 1);
            if (last.role() != ChatMessage.Role.USER) {
                throw new IllegalArgumentException("messages[" + (messages.size() - 1) + "]: the last message must"
                        + " be the user's (the question to answer), got " + last.role().templateName());
            }
            return new ChatRequest(this);
        }
    }
}
