package io.github.phi3v.core;

import java.awt.image.BufferedImage;
import java.io.InputStream;
import java.net.URI;
import java.net.URL;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.function.Supplier;

import io.github.phi3v.core.generate.Answer;
import io.github.phi3v.core.generate.CancellationToken;
import io.github.phi3v.core.generate.GenerationConfig;
import io.github.phi3v.core.generate.TextIterator;
import io.github.phi3v.core.generate.TextPublisher;
import io.github.phi3v.image.ImageLoader;
import io.github.phi3v.image.RgbImage;
import io.github.phi3v.tokenizer.Message;

/**
 * One conversation with a {@link Phi3Vision} model, fluently: a system prompt, images, questions and
 * answers. Each question sends the whole conversation through the model's stateless pipeline
 * ({@link Phi3Vision#chat(ChatRequest)}), whose prefix cache keeps the KV cache of the previous turn, so a
 * follow-up prefills only its new tokens and an image is encoded once.
 *
 * <pre>{@code
 * try (Phi3Vision phi = Phi3Vision.load(Path.of("Phi-3-vision-128k-instruct"));
 *      Session chat = phi.session()) {
 *     chat.system("Answer briefly.")
 *         .image(Path.of("chart.png"))          // becomes <|image_1|> in the next question
 *         .numCrops(4)
 *         .maxNewTokens(200);
 *     Answer first = chat.ask("What does this chart show?");
 *     chat.stream("Which bar is the highest?", System.out::print);   // the image is not re-encoded
 * }
 * }</pre>
 *
 * <p><b>Prompts.</b> Every question renders the whole conversation with the Phi-3 chat template, exactly as
 * Hugging Face's {@code apply_chat_template(messages, add_generation_prompt=True)} would, so an answer equals
 * what the Python model gives. Images are numbered in order over the conversation; the next question gets
 * their {@code <|image_N|>\n} tags in front unless it already contains tags (in {@link #literalText(boolean)
 * literal-text} mode, tags written in text are plain text and images are always tagged).
 *
 * <p><b>Limits.</b> {@link Limits#maxImagesPerPrompt()} is checked when an image is added (before it is
 * decoded; the image loader's limits apply while decoding); the context and prompt budgets before any image
 * is preprocessed, with {@link io.github.phi3v.core.generate.ContextLengthExceededException} or
 * {@link LimitExceededException}.
 *
 * <p><b>Threads.</b> A session is not thread-safe, but detects misuse: a call made while another thread is
 * inside a call (or from the streaming callback of a running call) fails at once with
 * {@link ConcurrentSessionUseException} and leaves the conversation intact. {@link #cancel()} and
 * {@link #close()} may be called from any thread; a running generation then ends within one token with
 * {@link io.github.phi3v.core.generate.FinishReason#CANCELLED}.
 *
 * <p><b>History.</b> A finished question and its answer (also a cancelled, partial answer: what the user saw)
 * become part of the conversation; a call that fails with an exception leaves it unchanged. A session holds
 * Java memory only (the messages and the decoded images); closing it is still good manners.
 */
public final class Session implements AutoCloseable {

    private final Engine engine;
    private final ImageLoader loader;
    private final SingleUserGuard guard;
    /** Touched only between the guard's enter and exit (plain reads of settings excepted). */
    private final Conversation conversation;

    Session(Engine engine) {
        this.engine = engine;
        this.loader = engine.processor().loader();
        this.conversation = new Conversation(engine.limits(), engine.processor().numCrops());
        this.guard = new SingleUserGuard("Session", this::closedError);
    }

    /**
     * Sets the system message, rendered first ({@code <|system|>\n...<|end|>\n}); may change between questions.
     *
     * @param text the system prompt, or null to remove it
     */
    public Session system(String text) {
        return update("system", () -> conversation.system = text);
    }

    /**
     * Adds an image file to the next question.
     *
     * @param file a PNG, JPEG, GIF, BMP or WebP file
     * @throws LimitExceededException if the conversation would exceed {@link Limits#maxImagesPerPrompt()}
     *     images (checked before reading)
     * @throws io.github.phi3v.image.ImageProcessingException if it cannot be read or decoded
     */
    public Session image(Path file) {
        Objects.requireNonNull(file, "file");
        return addImage(() -> loader.load(file));
    }

    /** Adds an image from a URL to the next question (the loader's scheme and address rules apply). */
    public Session image(URL url) {
        Objects.requireNonNull(url, "url");
        return addImage(() -> loader.load(url));
    }

    /** Adds an image from a URI to the next question (the loader's scheme and address rules apply). */
    public Session image(URI uri) {
        Objects.requireNonNull(uri, "uri");
        return addImage(() -> loader.load(uri));
    }

    /** Adds an encoded image (file content) to the next question. */
    public Session image(byte[] encoded) {
        Objects.requireNonNull(encoded, "encoded");
        return addImage(() -> loader.load(encoded));
    }

    /** Adds an image read from a stream (read to its end, not closed) to the next question. */
    public Session image(InputStream in) {
        Objects.requireNonNull(in, "in");
        return addImage(() -> loader.load(in));
    }

    /**
     * Adds a decoded image to the next question (converted like PIL {@code convert("RGB")}).
     *
     * @param image the image
     */
    public Session image(BufferedImage image) {
        Objects.requireNonNull(image, "image");
        return addImage(() -> loader.fromBufferedImage(image));
    }

    /** Adds an RGB image to the next question. */
    public Session image(RgbImage image) {
        Objects.requireNonNull(image, "image");
        return addImage(() -> image);
    }

    /**
     * Sets the crop budget ({@code num_crops}) for images not yet asked about: 16 gives up to 2653 tokens per
     * image, 4 up to 781, 1 up to 313. Images already in the conversation keep theirs.
     *
     * @param n at least 1
     */
    public Session numCrops(int n) {
        if (n < 1) {
            throw new IllegalArgumentException("numCrops must be >= 1, got " + n);
        }
        return update("numCrops", () -> conversation.numCrops = n);
    }

    /**
     * Encodes the conversation's text literally: special tokens and {@code <|image_N|>} tags written in it are
     * not recognised (see {@link ChatRequest}); for text from untrusted users. Default false.
     *
     * @param literal whether to encode text literally
     */
    public Session literalText(boolean literal) {
        return update("literalText", () -> conversation.literalText = literal);
    }

    /** Sets how the following questions are answered. */
    public Session config(GenerationConfig generationConfig) {
        Objects.requireNonNull(generationConfig, "generationConfig");
        return update("config", () -> conversation.config = generationConfig);
    }

    /**
     * Sets the answer length limit, keeping the rest of the {@link #config()}.
     *
     * @param n at least 1
     */
    public Session maxNewTokens(int n) {
        return config(conversation.config.withMaxNewTokens(n));
    }

    /**
     * Appends a user message without generating an answer (e.g. to restore a saved conversation); pending
     * images go with it.
     *
     * @param text the message
     */
    public Session addUser(String text) {
        Objects.requireNonNull(text, "text");
        return update("addUser", () -> conversation.addUser(text));
    }

    /** Appends an assistant message without generating it (e.g. to restore a saved conversation). */
    public Session addAssistant(String text) {
        Objects.requireNonNull(text, "text");
        return update("addAssistant", () -> conversation.addAssistant(text));
    }

    /**
     * Forgets the conversation (messages and images) but keeps the system message and the settings. What
     * the model cached for it stays in its caches for other conversations that share a prefix.
     */
    public Session clear() {
        return update("clear", conversation::clear);
    }

    /**
     * Asks a question and waits for the whole answer.
     *
     * @param question the user message; pending images' tags are put in front unless it has tags
     * @return the answer (its usage counts the cached prompt tokens and the images encoded for it)
     * @throws io.github.phi3v.core.generate.ContextLengthExceededException if it does not fit the context
     * @throws LimitExceededException if it exceeds a limit of the model
     * @throws IllegalArgumentException if the image tags do not match the images
     * @throws ConcurrentSessionUseException if another call on this session is running
     * @throws IllegalStateException if the session or its model is closed
     */
    public Answer ask(String question) {
        return stream(question, piece -> { }, CancellationToken.none());
    }

    /**
     * Asks a question, streaming the answer's text pieces to {@code onText} on the calling thread.
     *
     * @param question the user message
     * @param onText receives each piece; the pieces concatenate to {@link Answer#text()}
     * @return the answer
     */
    public Answer stream(String question, Consumer<String> onText) {
        return stream(question, onText, CancellationToken.none());
    }

    /**
     * Like {@link #stream(String, Consumer)} with a token another thread can cancel (as can {@link #cancel()}).
     *
     * @param question the user message
     * @param onText receives each piece
     * @param cancel cancels the generation ({@link io.github.phi3v.core.generate.FinishReason#CANCELLED})
     * @return the answer
     */
    public Answer stream(String question, Consumer<String> onText, CancellationToken cancel) {
        Objects.requireNonNull(question, "question");
        Objects.requireNonNull(onText, "onText");
        Objects.requireNonNull(cancel, "cancel");
        CancellationToken token = cancel.child();
        guard.enter("ask", token);
        try {
            checkModelOpen();
            ChatMessage user = conversation.userMessage(question);
            Answer answer = engine.chat(conversation.request(user), onText, token);
            conversation.answered(user, answer);   // only now: a failed call leaves the conversation unchanged
            return answer;
        } finally {
            guard.exit();
        }
    }

    /**
     * Asks a question as a {@link java.util.concurrent.Flow.Publisher} of text pieces: generation starts when
     * the subscriber subscribes, runs on a worker thread and honours back-pressure; cancelling the
     * subscription cancels it. The answer is {@link TextPublisher#answer()}.
     *
     * @param question the user message
     * @return a publisher for one subscriber
     */
    public TextPublisher publisher(String question) {
        Objects.requireNonNull(question, "question");
        guard.checkOpen();
        return TextPublisher.of((onText, cancel) -> stream(question, onText, cancel));
    }

    /**
     * Asks a question as a blocking iterator of text pieces; closing the iterator cancels the generation.
     *
     * @param question the user message
     * @return the iterator; the answer is {@link #lastAnswer()} once the iteration ends
     */
    public TextIterator iterator(String question) {
        return TextIterator.of(publisher(question));
    }

    /** Cancels the running generation, if any; callable from any thread: true if a call was running. */
    public boolean cancel() {
        return guard.cancel();
    }

    /**
     * The conversation as the chat template sees it: the system message (if any), then the user and
     * assistant messages with their image tags.
     *
     * @return an unmodifiable copy
     */
    public List<Message> history() {
        guard.enter("history", null);
        try {
            return conversation.history();
        } finally {
            guard.exit();
        }
    }

    /** The generation settings of the following questions: the configuration. */
    public GenerationConfig config() {
        return conversation.config;
    }

    /** The crop budget for images not yet asked about: {@code num_crops}. */
    public int numCrops() {
        return conversation.numCrops;
    }

    /** Number of images added so far (asked about or pending): the image count. */
    public int imageCount() {
        return conversation.imageCount;
    }

    /**
     * How many times the vision tower ran for this session's questions (images found in the model's
     * embedding cache, also from other conversations, are not encoded again).
     *
     * @return the number of image encodings
     */
    public int visionEncodings() {
        return conversation.visionEncodings;
    }

    /**
     * How many prompt tokens of the last question came from the model's prefix cache instead of being
     * recomputed.
     *
     * @return reused tokens; 0 for the first question
     */
    public int reusedPromptTokens() {
        return conversation.lastReusedTokens;
    }

    /**
     * The answer of the last completed question.
     *
     * @return the answer, or empty before the first one (or after {@link #clear()})
     */
    public Optional<Answer> lastAnswer() {
        return Optional.ofNullable(conversation.lastAnswer);
    }

    /** Tells whether this session is closed (directly or by closing its model): true once closed. */
    public boolean isClosed() {
        return guard.isClosed() || engine.isClosed();
    }

    /** Cancels a running call (from any thread) and refuses further calls; idempotent. */
    @Override
    public void close() {
        guard.close();
    }

    @Override
    public String toString() {
        return "Session[" + conversation.messageCount() + " messages, " + conversation.imageCount + " images, numCrops="
                + conversation.numCrops + (isClosed() ? ", closed" : "") + "]";
    }

    private IllegalStateException closedError() {
        return new IllegalStateException(engine.isClosed() ? "this Session is closed because its Phi3Vision was closed"
                : "this Session is closed; open a new one with Phi3Vision.session()");
    }

    private void checkModelOpen() {
        if (engine.isClosed()) {
            throw closedError();
        }
    }

    private Session update(String operation, Runnable change) {
        guard.enter(operation, null);
        try {
            checkModelOpen();
            change.run();
            return this;
        } finally {
            guard.exit();
        }
    }

    private Session addImage(Supplier<RgbImage> load) {
        guard.enter("image", null);
        try {
            checkModelOpen();
            conversation.addImage(load);
            return this;
        } finally {
            guard.exit();
        }
    }
}
