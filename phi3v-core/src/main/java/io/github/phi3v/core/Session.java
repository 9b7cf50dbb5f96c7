package io.github.phi3v.core;

import java.awt.image.BufferedImage;
import java.io.InputStream;
import java.net.URI;
import java.net.URL;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.function.Supplier;

import io.github.phi3v.core.generate.Answer;
import io.github.phi3v.core.generate.CancellationToken;
import io.github.phi3v.core.generate.GenerationConfig;
import io.github.phi3v.core.generate.Generator;
import io.github.phi3v.core.generate.LogitsSource;
import io.github.phi3v.core.generate.TextIterator;
import io.github.phi3v.core.generate.TextPublisher;
import io.github.phi3v.core.generate.TokenBudget;
import io.github.phi3v.core.model.ImageEmbeddings;
import io.github.phi3v.core.model.KvCache;
import io.github.phi3v.core.model.Phi3VModel;
import io.github.phi3v.image.ImageLoader;
import io.github.phi3v.image.Phi3ImageProcessor;
import io.github.phi3v.image.RgbImage;
import io.github.phi3v.tokenizer.ChatTemplate;
import io.github.phi3v.tokenizer.ImageTags;
import io.github.phi3v.tokenizer.Message;
import io.github.phi3v.tokenizer.Phi3Tokenizer;

/**
 * One conversation with a {@link Phi3Vision} model: a system prompt, images, questions and answers,
 * and the KV cache that makes follow-up questions cheap.
 *
 * <pre>{@code
 * try (Phi3Vision phi = Phi3Vision.load(Path.of("Phi-3-vision-128k-instruct"));
 *      Session chat = phi.session()) {
 *     chat.system("Answer briefly.")
 *         .image(Path.of("chart.png"))          // becomes <|image_1|> in the next question
 *         .numCrops(4)
 *         .maxNewTokens(200);
 *     Answer first = chat.ask("What does this chart show?");
 *     System.out.println(first.text() + "  [" + first.usage() + "]");
 *     chat.stream("Which bar is the highest?", System.out::print);   // streamed; the image is not re-encoded
 * }
 * }</pre>
 *
 * <p><b>Prompts.</b> Every question renders the <em>whole</em> conversation (system message, all
 * earlier questions and answers, the new question) with the Phi-3 chat template, exactly as Hugging
 * Face's {@code apply_chat_template(messages, add_generation_prompt=True)} would for that message list,
 * so an answer equals what the Python model gives for the same conversation. Images added with
 * {@code image(..)} are numbered in order over the whole conversation; the next question gets their
 * {@code <|image_N|>\n} tags in front unless it already contains {@code <|image_N|>} tags.
 *
 * <p><b>Reuse.</b> The session keeps its KV cache between questions and recomputes only the part of
 * the new prompt after the longest common token prefix with what is cached (generated tokens are not
 * always the canonical tokenization of their text, so this is compared token by token). Image
 * embeddings are cached per session by image content (SHA-256 of the decoded pixels) and
 * {@code numCrops}, so the vision tower never runs twice for the same image; {@link #visionEncodings()}
 * counts its runs.
 *
 * <p><b>Budget.</b> Before anything runs, prompt + image tokens + {@code maxNewTokens} must fit the
 * model's {@link Phi3Vision#maxContext()}; otherwise a
 * {@link io.github.phi3v.core.generate.ContextLengthExceededException} says what each image costs and
 * which {@link #numCrops(int)} would fit. The model's other limits are checked as early:
 * {@link Phi3Vision#maxImagesPerPrompt()} when an image is added (before it is decoded) and against the
 * {@code <|image_N|>} tags of a message, {@link Phi3Vision#maxPromptTokens()} before any image is
 * preprocessed; both fail with {@link LimitExceededException}.
 *
 * <p><b>Threads.</b> A session is not thread-safe, but it detects misuse: a call made while another
 * thread is inside a call (or from the streaming callback of a running call) fails immediately with
 * {@link ConcurrentSessionUseException} and leaves the conversation intact. Using a session from
 * different threads one after another is fine. {@link #cancel()} and {@link #close()} may be called from
 * any thread at any time: a running generation then ends within one token with
 * {@link io.github.phi3v.core.generate.FinishReason#CANCELLED}. A call made while a cancelled call is
 * still ending on another thread (for example right after closing an {@link #iterator} early) waits for
 * it to end instead of failing.
 *
 * <p><b>History.</b> A finished question and its answer (also a cancelled, partial answer, which is
 * what the user saw) become part of the conversation. A call that fails with an exception leaves the
 * conversation unchanged.
 */
public final class Session implements AutoCloseable {

    private final Phi3Vision owner;
    private final Phi3VModel model;
    private final Phi3Tokenizer tokenizer;
    private final ImageLoader loader;

    private final Object lock = new Object();
    private Thread busyThread;
    private String busyOperation;
    private CancellationToken running;
    private boolean closed;
    private boolean freed;

    // The conversation. Guarded by the busy protocol (enter/exit), not by the lock.
    private String system;
    private final List<Message> turns = new ArrayList<>();
    private final List<SessionImage> images = new ArrayList<>();
    /** images[0 .. referenced) are tagged in some message; the rest go into the next question. */
    private int referenced;
    private int numCrops;
    private GenerationConfig config = GenerationConfig.defaults();

    private final Map<ImageKey, ImageEmbeddings> embeddingCache = new HashMap<>();
    private KvCache cache;
    /** The ids whose keys and values are in {@link #cache}, positions 0 .. cachedLength-1. */
    private int[] cachedIds = new int[0];
    private int cachedLength;
    private int visionEncodings;
    private int lastReusedTokens;
    private Answer lastAnswer;

    Session(Phi3Vision owner) {
        this.owner = owner;
        this.model = owner.rawModel();
        this.tokenizer = owner.tokenizer();
        this.loader = owner.imageProcessor().loader();
        this.numCrops = owner.imageProcessor().numCrops();
    }

    // ------------------------------------------------------------------------------ conversation setup

    /**
     * Sets the system message, which the chat template renders first ({@code <|system|>\n...<|end|>\n}).
     * May be changed between questions: the next prompt is rendered with the new one.
     *
     * @param text the system prompt, or null to remove it
     * @return this session
     */
    public Session system(String text) {
        enter("system", null);
        try {
            this.system = text;
            return this;
        } finally {
            exit();
        }
    }

    /**
     * Adds an image file to the next question.
     *
     * @param file a PNG, JPEG, GIF, BMP or WebP file
     * @return this session
     * @throws io.github.phi3v.image.ImageProcessingException if it cannot be read or decoded
     * @throws LimitExceededException if the conversation already holds {@link Phi3Vision#maxImagesPerPrompt()}
     *     images (checked before reading)
     */
    public Session image(Path file) {
        Objects.requireNonNull(file, "file");
        return addImage(() -> loader.load(file));
    }

    /**
     * Adds an image from a URL ({@code http}, {@code https}) to the next question.
     *
     * @param url the location
     * @return this session
     * @throws io.github.phi3v.image.ImageProcessingException if it cannot be fetched or decoded
     * @throws LimitExceededException if the conversation already holds {@link Phi3Vision#maxImagesPerPrompt()}
     *     images (checked before fetching)
     */
    public Session image(URL url) {
        Objects.requireNonNull(url, "url");
        return addImage(() -> loader.load(url));
    }

    /**
     * Adds an image from a URI ({@code http}, {@code https}) to the next question.
     *
     * @param uri the location
     * @return this session
     * @throws io.github.phi3v.image.ImageProcessingException if it cannot be fetched or decoded
     * @throws LimitExceededException if the conversation already holds {@link Phi3Vision#maxImagesPerPrompt()}
     *     images (checked before fetching)
     */
    public Session image(URI uri) {
        Objects.requireNonNull(uri, "uri");
        return addImage(() -> loader.load(uri));
    }

    /**
     * Adds an encoded image (file content) to the next question.
     *
     * @param encoded PNG, JPEG, GIF, BMP or WebP bytes (not modified)
     * @return this session
     * @throws io.github.phi3v.image.ImageProcessingException if they cannot be decoded
     * @throws LimitExceededException if the conversation already holds {@link Phi3Vision#maxImagesPerPrompt()}
     *     images (checked before decoding)
     */
    public Session image(byte[] encoded) {
        Objects.requireNonNull(encoded, "encoded");
        return addImage(() -> loader.load(encoded));
    }

    /**
     * Adds an image read from a stream (read to its end, not closed) to the next question.
     *
     * @param in the encoded image
     * @return this session
     * @throws io.github.phi3v.image.ImageProcessingException if it cannot be read or decoded
     * @throws LimitExceededException if the conversation already holds {@link Phi3Vision#maxImagesPerPrompt()}
     *     images (checked before reading)
     */
    public Session image(InputStream in) {
        Objects.requireNonNull(in, "in");
        return addImage(() -> loader.load(in));
    }

    /**
     * Adds a decoded image to the next question (converted like PIL {@code convert("RGB")}).
     *
     * @param image the image (not modified)
     * @return this session
     * @throws LimitExceededException if the conversation already holds {@link Phi3Vision#maxImagesPerPrompt()}
     *     images
     */
    public Session image(BufferedImage image) {
        Objects.requireNonNull(image, "image");
        return addImage(() -> loader.fromBufferedImage(image));
    }

    /**
     * Adds an RGB image to the next question.
     *
     * @param image the image
     * @return this session
     * @throws LimitExceededException if the conversation already holds {@link Phi3Vision#maxImagesPerPrompt()}
     *     images
     */
    public Session image(RgbImage image) {
        Objects.requireNonNull(image, "image");
        return addImage(() -> image);
    }

    /**
     * Sets the crop budget ({@code num_crops}) for images not yet asked about. More crops see more
     * detail and cost more tokens: 16 (Phi-3-vision's default) gives up to 2653 tokens per image, 4 up
     * to 781, 1 up to 313. Images already in the conversation keep theirs.
     *
     * @param n at least 1
     * @return this session
     */
    public Session numCrops(int n) {
        if (n < 1) {
            throw new IllegalArgumentException("numCrops must be >= 1, got " + n);
        }
        enter("numCrops", null);
        try {
            this.numCrops = n;
            return this;
        } finally {
            exit();
        }
    }

    /**
     * Sets how the following questions are answered.
     *
     * @param generationConfig length, sampling, seed, stop ids and strings
     * @return this session
     */
    public Session config(GenerationConfig generationConfig) {
        Objects.requireNonNull(generationConfig, "generationConfig");
        enter("config", null);
        try {
            this.config = generationConfig;
            return this;
        } finally {
            exit();
        }
    }

    /**
     * Sets the answer length limit, keeping the rest of the {@link #config()}.
     *
     * @param n at least 1
     * @return this session
     */
    public Session maxNewTokens(int n) {
        return config(config.withMaxNewTokens(n));
    }

    /**
     * Appends a user message without generating an answer (e.g. to restore a saved conversation).
     * Pending images get their tags in front, as in {@link #ask}.
     *
     * @param text the message
     * @return this session
     */
    public Session addUser(String text) {
        Objects.requireNonNull(text, "text");
        enter("addUser", null);
        try {
            String content = withImageTags(text);
            fixPendingCrops();
            turns.add(Message.user(content));
            return this;
        } finally {
            exit();
        }
    }

    /**
     * Appends an assistant message without generating it (e.g. to restore a saved conversation).
     *
     * @param text the answer text
     * @return this session
     */
    public Session addAssistant(String text) {
        Objects.requireNonNull(text, "text");
        enter("addAssistant", null);
        try {
            turns.add(Message.assistant(text));
            return this;
        } finally {
            exit();
        }
    }

    /**
     * Forgets the conversation (messages and images) but keeps the system message, the settings, the
     * image embedding cache and the cached prefix that does not depend on images.
     *
     * @return this session
     */
    public Session clear() {
        enter("clear", null);
        try {
            turns.clear();
            images.clear();
            referenced = 0;
            lastAnswer = null;
            // Placeholder -k will mean a different image from now on: keep only the image-free prefix.
            int keep = 0;
            while (keep < cachedLength && cachedIds[keep] >= 0) {
                keep++;
            }
            cachedLength = keep;
            return this;
        } finally {
            exit();
        }
    }

    // ------------------------------------------------------------------------------ asking

    /**
     * Asks a question and waits for the whole answer.
     *
     * @param question the user message; pending images' tags are put in front unless it has tags
     * @return the answer: text, token ids, finish reason, usage (with preprocessing and vision times of
     *     the images encoded for this question)
     * @throws io.github.phi3v.core.generate.ContextLengthExceededException if it does not fit the context
     * @throws LimitExceededException if the prompt exceeds {@link Phi3Vision#maxPromptTokens()} or a tag
     *     {@code <|image_N|>} exceeds {@link Phi3Vision#maxImagesPerPrompt()}
     * @throws IllegalArgumentException if the image tags do not match the images
     * @throws ConcurrentSessionUseException if another call on this session is running
     * @throws IllegalStateException if the session or its model is closed
     */
    public Answer ask(String question) {
        return stream(question, piece -> { }, CancellationToken.none());
    }

    /**
     * Asks a question, streaming the answer's text pieces (whole UTF-8 characters, stop strings held
     * back) to {@code onText} on the calling thread as they are generated.
     *
     * @param question the user message
     * @param onText receives each piece; the pieces concatenate to {@link Answer#text()}
     * @return the answer
     * @throws io.github.phi3v.core.generate.ContextLengthExceededException if it does not fit the context
     * @throws ConcurrentSessionUseException if another call on this session is running
     * @throws IllegalStateException if the session or its model is closed
     */
    public Answer stream(String question, Consumer<String> onText) {
        return stream(question, onText, CancellationToken.none());
    }

    /**
     * Like {@link #stream(String, Consumer)} with a token another thread can cancel (as can
     * {@link #cancel()}).
     *
     * @param question the user message
     * @param onText receives each piece
     * @param cancel cancels the generation; the answer then ends with
     *     {@link io.github.phi3v.core.generate.FinishReason#CANCELLED}
     * @return the answer
     * @throws ConcurrentSessionUseException if another call on this session is running
     * @throws IllegalStateException if the session or its model is closed
     */
    public Answer stream(String question, Consumer<String> onText, CancellationToken cancel) {
        Objects.requireNonNull(question, "question");
        Objects.requireNonNull(onText, "onText");
        Objects.requireNonNull(cancel, "cancel");
        CancellationToken token = cancel == CancellationToken.none() ? new CancellationToken() : cancel;
        enter("ask", token);
        try {
            owner.checkOpen();
            return turn(question, onText, token);
        } finally {
            exit();
        }
    }

    /**
     * Asks a question as a {@link java.util.concurrent.Flow.Publisher} of text pieces. Generation starts
     * when the subscriber subscribes, runs on a worker thread and honours back-pressure;
     * {@code Subscription.cancel()} cancels it. The answer is {@link TextPublisher#answer()}.
     *
     * <pre>{@code
     * TextPublisher pieces = chat.publisher("Describe the image.");
     * pieces.subscribe(subscriber);
     * Answer a = pieces.answer().join();
     * }</pre>
     *
     * @param question the user message
     * @return a publisher for one subscriber
     * @throws IllegalStateException if the session is closed
     */
    public TextPublisher publisher(String question) {
        Objects.requireNonNull(question, "question");
        checkNotClosed();
        return TextPublisher.of((onText, cancel) -> stream(question, onText, cancel));
    }

    /**
     * Asks a question as a blocking iterator of text pieces; closing the iterator cancels the generation.
     * The final answer is {@link #lastAnswer()} once the iteration ends.
     *
     * <pre>{@code
     * try (TextIterator it = chat.iterator("Describe the image.")) {
     *     it.forEachRemaining(System.out::print);
     * }
     * }</pre>
     *
     * @param question the user message
     * @return the iterator
     * @throws IllegalStateException if the session is closed
     */
    public TextIterator iterator(String question) {
        return TextIterator.of(publisher(question));
    }

    /**
     * Cancels the running generation, if any; callable from any thread. It ends within one token with
     * {@link io.github.phi3v.core.generate.FinishReason#CANCELLED}.
     *
     * @return true if a call was running
     */
    public boolean cancel() {
        synchronized (lock) {
            if (running != null) {
                running.cancel();
                return true;
            }
            return false;
        }
    }

    // ------------------------------------------------------------------------------ state

    /**
     * The conversation so far as the chat template sees it: the system message (if any), then the user
     * and assistant messages with their image tags.
     *
     * @return an unmodifiable copy
     */
    public List<Message> history() {
        enter("history", null);
        try {
            return Collections.unmodifiableList(messages());
        } finally {
            exit();
        }
    }

    /**
     * The generation settings of the following questions.
     *
     * @return the configuration
     */
    public GenerationConfig config() {
        return config;
    }

    /**
     * The crop budget for images not yet asked about.
     *
     * @return {@code num_crops}
     */
    public int numCrops() {
        return numCrops;
    }

    /**
     * Number of images added so far (asked about or pending).
     *
     * @return the image count
     */
    public int imageCount() {
        return images.size();
    }

    /**
     * How many times this session ran the vision tower. Each distinct (image content, {@code numCrops})
     * is encoded once per session, however many questions refer to it.
     *
     * @return the number of image encodings
     */
    public int visionEncodings() {
        return visionEncodings;
    }

    /**
     * How many prompt tokens of the last question were taken from the KV cache instead of being
     * recomputed (the longest common prefix with the previous sequence).
     *
     * @return reused tokens; 0 for the first question
     */
    public int reusedPromptTokens() {
        return lastReusedTokens;
    }

    /**
     * The answer of the last completed question.
     *
     * @return the answer, or empty before the first one (or after {@link #clear()})
     */
    public Optional<Answer> lastAnswer() {
        return Optional.ofNullable(lastAnswer);
    }

    /**
     * Tells whether this session is closed (directly or by closing its model).
     *
     * @return true once closed
     */
    public boolean isClosed() {
        synchronized (lock) {
            return closed;
        }
    }

    /**
     * Frees the KV cache and the cached image embeddings. If a call is running on another thread, it is
     * cancelled and the memory is freed when it returns. Idempotent; callable from any thread.
     */
    @Override
    public void close() {
        synchronized (lock) {
            if (closed) {
                return;
            }
            closed = true;
            if (busyThread != null) {
                if (running != null) {
                    running.cancel();
                }
                return;  // exit() frees
            }
            freed = true;
        }
        free();
    }

    @Override
    public String toString() {
        return "Session[" + turns.size() + " messages, " + images.size() + " images, numCrops=" + numCrops
                + ", cached=" + cachedLength + " tokens" + (closed ? ", closed" : "") + "]";
    }

    // ------------------------------------------------------------------------------ internals

    private Answer turn(String question, Consumer<String> onText, CancellationToken cancel) {
        String content = withImageTags(question);
        List<Message> conversation = messages();
        conversation.add(Message.user(content));
        String prompt = ChatTemplate.render(conversation, true);

        int n = images.size();
        int[] crops = new int[n];
        int[] tokenCounts = new int[n];
        for (int i = 0; i < n; i++) {
            SessionImage im = images.get(i);
            crops[i] = i < referenced ? im.numCrops : numCrops;
            tokenCounts[i] = Phi3ImageProcessor.numImageTokens(im.width, im.height, crops[i]);
        }
        // Repeated tags multiply an image's tokens: check the budget on the tags alone before expanding
        // them (a few MB of "<|image_1|>" in a question would otherwise allocate gigabytes of ids).
        // Without images, tags are plain text (as in the official processor): no tag limits apply.
        if (n > 0) {
            List<Integer> tagIds;
            try {
                tagIds = ImageTags.imageIdsInOrder(prompt);
            } catch (IllegalArgumentException unparseable) {
                tagIds = List.of();   // reported with the tag-mismatch message below
            }
            checkImageTags(tagIds);
            int[] tagged = new int[n];
            for (int id : tagIds) {
                if (id >= 1 && id <= n) {
                    tagged[id - 1] = (int) Math.min(Integer.MAX_VALUE, (long) tagged[id - 1] + tokenCounts[id - 1]);
                }
            }
            TokenBudget.check(0, tagged, config.maxNewTokens(), owner.maxContext(), numCrops);
            long taggedTokens = 0;
            for (int t : tagged) {
                taggedTokens += t;
            }
            owner.checkTaggedImageTokens(taggedTokens);
        }
        // Like the official processor: without images the prompt is one text, tags stay text.
        int[] ids;
        try {
            ids = n == 0 ? tokenizer.encode(prompt) : tokenizer.encodeMultimodal(prompt, tokenCounts);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("the image tags of the conversation do not match its " + n
                    + " image(s): tags in order " + tagsOf(prompt) + ", expected every image 1.."
                    + n + " to be tagged (leave the tags out to have them inserted): " + e.getMessage(), e);
        }

        // The budget is checked before any image is preprocessed or encoded.
        int textTokens = 0;
        int[] perImage = new int[n];
        for (int id : ids) {
            if (id >= 0) {
                textTokens++;
            } else {
                perImage[-id - 1]++;
            }
        }
        TokenBudget.check(textTokens, perImage, config.maxNewTokens(), owner.maxContext(), numCrops);
        owner.checkPromptTokens(textTokens, ids.length - textTokens);

        double preprocessMillis = 0;
        double visionMillis = 0;
        List<ImageEmbeddings> embeddings = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            SessionImage im = images.get(i);
            ImageKey key = new ImageKey(im.sha256, crops[i]);
            ImageEmbeddings e = embeddingCache.get(key);
            if (e == null) {
                long t0 = System.nanoTime();
                var pixels = owner.process(im.image, crops[i]);
                long t1 = System.nanoTime();
                e = owner.encode(pixels);
                long t2 = System.nanoTime();
                preprocessMillis += (t1 - t0) / 1e6;
                visionMillis += (t2 - t1) / 1e6;
                embeddingCache.put(key, e);
                visionEncodings++;
            }
            embeddings.add(e);
        }

        ensureCapacity(ids.length + config.maxNewTokens());
        int start = reusablePrefix(ids);
        lastReusedTokens = start;
        boolean[] prefilled = {false};
        LogitsSource source = newIds -> {
            int at;
            int[] feed;
            if (!prefilled[0]) {
                at = start;
                feed = Arrays.copyOfRange(ids, start, ids.length);
            } else {
                at = cachedLength;
                feed = newIds;
            }
            // If the forward pass fails half-way, the cache content is unknown: trust nothing of it.
            cachedLength = 0;
            float[] logits = model.forward(feed, embeddings, cache, at);
            record(feed, at);
            prefilled[0] = true;
            return logits;
        };
        Answer answer = Generator.generate(ids, source, owner.textDecoder(), config, onText, cancel);

        // Commit the turn.
        fixPendingCrops();
        turns.add(Message.user(content));
        turns.add(Message.assistant(answer.text()));
        answer = answer.withUsage(answer.usage().withPreprocessMillis(preprocessMillis).withVisionMillis(visionMillis));
        lastAnswer = answer;
        return answer;
    }

    /**
     * Refuses a tag {@code <|image_N|>} with {@code N} beyond {@link Phi3Vision#maxImagesPerPrompt()}
     * (a prompt can never hold that many images). Unparseable tags are left to the tag-mismatch check.
     */
    private void checkImageTags(List<Integer> ids) {
        int limit = owner.maxImagesPerPrompt();
        for (int id : ids) {
            if (id > limit) {
                throw new LimitExceededException("maxImagesPerPrompt", id, limit, "the message refers to image "
                        + id + " (" + ImageTags.tag(id) + "), but maxImagesPerPrompt is " + limit + ": a prompt"
                        + " holds at most " + limit + " images (Phi3Vision.builder().maxImagesPerPrompt(n) raises"
                        + " it)");
            }
        }
    }

    private static String tagsOf(String prompt) {
        try {
            return ImageTags.imageIdsInOrder(prompt).toString();
        } catch (IllegalArgumentException e) {
            return "(unreadable: " + e.getMessage() + ")";
        }
    }

    /** Longest prefix of {@code ids} whose keys/values are cached, leaving at least one id to feed. */
    private int reusablePrefix(int[] ids) {
        int limit = Math.min(cachedLength, ids.length - 1);
        int p = 0;
        while (p < limit && cachedIds[p] == ids[p]) {
            p++;
        }
        // An image's placeholder block must be fed whole: never start inside one.
        while (p > 0 && ids[p] < 0 && ids[p - 1] == ids[p]) {
            p--;
        }
        return p;
    }

    private void record(int[] fed, int at) {
        int end = at + fed.length;
        if (cachedIds.length < end) {
            cachedIds = Arrays.copyOf(cachedIds, Math.max(end, cachedIds.length * 2));
        }
        System.arraycopy(fed, 0, cachedIds, at, fed.length);
        cachedLength = end;
    }

    private void ensureCapacity(int needed) {
        if (cache != null && cache.capacity() >= needed) {
            return;
        }
        int capacity;
        if (owner.growsKvCache()) {
            // Grow with headroom so a conversation reallocates (and re-prefills) only a few times.
            capacity = (int) Math.min(owner.maxContext(), Math.max(needed, ((long) needed * 3 / 2 + 255) / 256 * 256));
        } else {
            // CPU: the full context at once. The allocation is not written until positions are used, so
            // the OS commits pages only as the conversation grows, and no re-prefill is ever needed.
            capacity = owner.maxContext();
        }
        KvCache bigger = model.newKvCache(capacity);
        if (cache != null) {
            cache.close();
        }
        cache = bigger;
        cachedLength = 0;
    }

    private String withImageTags(String text) {
        int pending = images.size() - referenced;
        if (pending == 0 || !ImageTags.imageIdsInOrder(text).isEmpty()) {
            return text;
        }
        StringBuilder sb = new StringBuilder();
        for (int k = referenced + 1; k <= images.size(); k++) {
            sb.append(ImageTags.tag(k)).append('\n');
        }
        return sb.append(text).toString();
    }

    private void fixPendingCrops() {
        for (int i = referenced; i < images.size(); i++) {
            images.get(i).numCrops = numCrops;
        }
        referenced = images.size();
    }

    private List<Message> messages() {
        List<Message> all = new ArrayList<>(turns.size() + 2);
        if (system != null) {
            all.add(Message.system(system));
        }
        all.addAll(turns);
        return all;
    }

    private Session addImage(Supplier<RgbImage> load) {
        enter("image", null);
        try {
            // Before decoding: a client must not be able to make the session hold unbounded pixels.
            if (images.size() >= owner.maxImagesPerPrompt()) {
                throw owner.tooManyImages(images.size() + 1L, "adding this image would give the conversation");
            }
            RgbImage img = load.get();
            images.add(new SessionImage(img, sha256(img)));
            return this;
        } finally {
            exit();
        }
    }

    private static String sha256(RgbImage img) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            md.update(ByteBuffer.allocate(8).putInt(img.width()).putInt(img.height()).array());
            md.update(img.rgb());
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JVM has no SHA-256", e);
        }
    }

    private void checkNotClosed() {
        synchronized (lock) {
            if (closed) {
                throw closedException();
            }
        }
    }

    private IllegalStateException closedException() {
        return new IllegalStateException(owner.isClosed()
                ? "this Session is closed because its Phi3Vision was closed"
                : "this Session is closed; open a new one with Phi3Vision.session()");
    }

    /** Marks the session busy for the current thread, or fails fast if another call is running. */
    private void enter(String operation, CancellationToken token) {
        synchronized (lock) {
            Thread me = Thread.currentThread();
            // A cancelled call on another thread is winding down (e.g. a closed TextIterator's worker):
            // that is not concurrent use, so wait for it instead of failing.
            while (!closed && busyThread != null && busyThread != me && running != null && running.isCancelled()) {
                try {
                    lock.wait();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted while Session." + operation + " waited for the"
                            + " cancelled Session." + busyOperation + " to end", e);
                }
            }
            if (closed) {
                throw closedException();
            }
            if (busyThread != null) {
                if (busyThread == me) {
                    throw new ConcurrentSessionUseException("Session." + operation + " was called while this thread"
                            + " is still inside Session." + busyOperation + " (from a streaming callback?); a Session"
                            + " runs one call at a time: call it after " + busyOperation + " returns");
                }
                throw new ConcurrentSessionUseException("Session." + operation + " was called on thread '"
                        + me.getName() + "' while thread '" + busyThread.getName() + "' is running Session."
                        + busyOperation + ": a Session holds one conversation and is not thread-safe; use one"
                        + " Session per thread (Phi3Vision.session()) or wait for the running call to return");
            }
            busyThread = me;
            busyOperation = operation;
            running = token;
        }
    }

    private void exit() {
        boolean free;
        synchronized (lock) {
            busyThread = null;
            busyOperation = null;
            running = null;
            lock.notifyAll();
            free = closed && !freed;
            if (free) {
                freed = true;
            }
        }
        if (free) {
            free();
        }
    }

    private void free() {
        if (cache != null) {
            cache.close();
            cache = null;
        }
        cachedLength = 0;
        for (ImageEmbeddings e : embeddingCache.values()) {
            e.close();
        }
        embeddingCache.clear();
        owner.unregister(this);
    }

    /** An image of the conversation; its crop budget is fixed once a message refers to it. */
    private static final class SessionImage {
        final RgbImage image;
        final String sha256;
        final int width;
        final int height;
        int numCrops;

        SessionImage(RgbImage image, String sha256) {
            this.image = image;
            this.sha256 = sha256;
            this.width = image.width();
            this.height = image.height();
        }
    }

    /** Key of the embedding cache: same pixels and crop budget give the same embeddings. */
    private record ImageKey(String sha256, int numCrops) {
    }
}
