package io.github.phi3v.core;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.function.Consumer;

import io.github.phi3v.core.config.Phi3VConfig;
import io.github.phi3v.core.generate.Answer;
import io.github.phi3v.core.generate.CancellationToken;
import io.github.phi3v.core.generate.GenerationConfig;
import io.github.phi3v.core.generate.MemoryEstimate;
import io.github.phi3v.core.generate.TextPublisher;
import io.github.phi3v.core.hub.HubConfig;
import io.github.phi3v.core.model.Phi3VModel;
import io.github.phi3v.core.model.Precision;
import io.github.phi3v.core.model.Quantization;
import io.github.phi3v.image.Phi3ImageProcessor;
import io.github.phi3v.tokenizer.Phi3Tokenizer;

/**
 * A loaded Phi-3-Vision model: weights, tokenizer and image processor from one model folder, ready to
 * answer questions about images. This is the entry point of the library.
 *
 * <pre>{@code
 * try (Phi3Vision phi = Phi3Vision.load("microsoft/Phi-3-vision-128k-instruct")) {
 *     Answer a = phi.chat(ChatRequest.builder()
 *             .user("What is shown in this image?", ImageInput.of(Path.of("cat.jpg")))
 *             .build());
 *     System.out.println(a.text());
 * }
 * }</pre>
 *
 * <p><b>Two ways to talk to it.</b> {@link #chat(ChatRequest)} is stateless: each call passes the whole
 * conversation, as OpenAI, LangChain4j or Spring AI clients do, and the model's <em>prefix cache</em> keeps
 * the KV cache of earlier calls, so a call whose prompt extends an earlier one (the next turn) prefills only
 * its new tokens; image embeddings are cached by content, so the vision tower runs once per image.
 * {@link #session()} is a fluent conversation object on top of the same pipeline ({@link Session}). Answers
 * are the same either way, with or without cache hits.
 *
 * <p><b>Threads.</b> A {@code Phi3Vision} is immutable after loading and safe to share: any number of threads
 * may call {@link #chat}, {@link #submit}, {@link #rawPrompts()} or use their own sessions at the same time, up to
 * {@link Phi3VisionBuilder#maxConcurrentRequests(int)} running requests.
 *
 * <p><b>Process-wide settings.</b> libtorch has some global state, which this class sets and documents
 * rather than hides: the intra-op thread count ({@link Phi3VisionBuilder#threads(int)}, default one per
 * core) and the CPU matrix-vector kernel switch (oneDNN on or off), which the model flips under a lock
 * around each group of products (results never depend on other threads); loading also pins OpenBLAS to one
 * thread and turns off JavaCPP's per-allocation memory accounting (see the README's "Runtime settings").
 *
 * <p><b>Memory.</b> Before anything is allocated, {@link Phi3VisionBuilder#build()} estimates weights + one
 * KV cache of {@link Phi3VisionBuilder#maxContext(int) maxContext} tokens + the vision activations of one
 * image, and fails with an explanation if that exceeds the machine's memory. At run time all KV caches
 * together stay within {@link Phi3VisionBuilder#kvCacheBytes(long)} (by default that one full context) and
 * cached image embeddings within {@link Phi3VisionBuilder#embeddingCacheBytes(long)}. The default context is
 * {@value #DEFAULT_MAX_CONTEXT} tokens, not the configured 131072: Phi-3-V has no grouped-query attention, so
 * each token costs 384 KiB of KV cache in 16-bit precision.
 *
 * <p><b>Limits.</b> For untrusted input (a server), every request is bounded before the work it would
 * cause: context, prompt tokens, images per prompt, concurrent requests, KV memory and the image loader's
 * pixel, byte, timeout and address limits ({@link Phi3VisionBuilder#imageLoader}). Refusals throw
 * {@link LimitExceededException}, {@link io.github.phi3v.core.generate.ContextLengthExceededException} or
 * {@link io.github.phi3v.image.ImageProcessingException}, each naming the limit and the option.
 *
 * <p><b>Closing.</b> {@link #close()} cancels running requests (they end with
 * {@link io.github.phi3v.core.generate.FinishReason#CANCELLED}), then frees the caches and the weights;
 * afterwards every method that needs the model throws {@link IllegalStateException}. Plain accessors such
 * as {@link #tokenizer()} keep working.
 */
public final class Phi3Vision implements AutoCloseable {

    /** The default maximum context (prompt + image tokens + generated tokens) in tokens. */
    public static final int DEFAULT_MAX_CONTEXT = 8192;

    /**
     * The default maximum number of images in one prompt. 16 admits every multi-image use the default
     * context can hold at {@code numCrops} 4 or more (at most 10 images of 757 tokens fit 8192) and short
     * frame sequences at {@code numCrops} 1, while bounding the decoded images one request can hold to
     * 16 x the loader's {@code maxPixels} x 3 bytes.
     */
    public static final int DEFAULT_MAX_IMAGES_PER_PROMPT = 16;

    /** The default maximum number of requests running at once on one model. */
    public static final int DEFAULT_MAX_CONCURRENT_REQUESTS = 16;

    /** The default wait of a request for KV memory held by running requests: one minute. */
    public static final Duration DEFAULT_KV_CACHE_WAIT = Duration.ofMinutes(1);

    /** The default memory for cached image embeddings: 256 MiB. */
    public static final long DEFAULT_EMBEDDING_CACHE_BYTES = 256L << 20;

    /** The default maximum number of {@linkplain #submit submitted} requests decoded together in one step. */
    public static final int DEFAULT_MAX_BATCH_SIZE = 8;

    private final Path modelDir;
    private final Engine engine;
    private final MemoryEstimate memoryEstimate;

    Phi3Vision(Path modelDir, Engine engine, MemoryEstimate memoryEstimate) {
        this.modelDir = modelDir;
        this.engine = engine;
        this.memoryEstimate = memoryEstimate;
    }

    /**
     * Loads a local model folder with the defaults: CPU, {@link Precision#cpuDefault()},
     * {@value #DEFAULT_MAX_CONTEXT}-token context.
     *
     * @param modelDir an HF model folder ({@code config.json}, weights, {@code tokenizer.json},
     *     {@code tokenizer_config.json}, optionally {@code preprocessor_config.json})
     * @return the loaded model; close it to free the weights
     * @throws IllegalStateException if the estimated memory does not fit this machine
     * @throws RuntimeException subclasses naming the file and the problem for a bad model folder
     */
    public static Phi3Vision load(Path modelDir) {
        return builder().modelDir(modelDir).build();
    }

    /**
     * Loads a model from a local folder or, if {@code modelIdOrPath} is not an existing directory, from
     * the Hugging Face hub cache (downloading missing files; see {@link HubConfig#fromEnvironment()}); the
     * rule is {@link ModelLocation#parse(String)}.
     *
     * @param modelIdOrPath a folder path, or a repository id such as
     *     {@code microsoft/Phi-3-vision-128k-instruct}
     * @return the loaded model
     * @throws IllegalArgumentException if it looks like a path but the folder does not exist
     * @throws io.github.phi3v.core.hub.HubException if the hub cannot provide the files
     */
    public static Phi3Vision load(String modelIdOrPath) {
        return builder().model(modelIdOrPath).build();
    }

    /** A builder for all loading options: a new builder. */
    public static Phi3VisionBuilder builder() {
        return new Phi3VisionBuilder();
    }

    // ------------------------------------------------------------------------------ stateless chat

    /**
     * Answers the last user message of a whole conversation (stateless). The prompt is rendered with the
     * Phi-3 chat template exactly as Hugging Face's {@code apply_chat_template} and processor would; images
     * are decoded through the model's image loader and its limits. Earlier calls' KV caches and image
     * embeddings are reused where the prompt extends them ({@link io.github.phi3v.core.generate.Usage#cachedPromptTokens()},
     * {@link io.github.phi3v.core.generate.Usage#visionEncodings()}).
     *
     * @param request the conversation and the generation settings
     * @return the answer
     * @throws io.github.phi3v.core.generate.ContextLengthExceededException if it does not fit the context
     * @throws LimitExceededException if it exceeds a limit (prompt tokens, images, concurrent requests, KV
     *     memory)
     * @throws io.github.phi3v.image.ImageProcessingException if an image cannot be loaded or decoded
     * @throws IllegalArgumentException if the image tags written in the text do not match the images
     * @throws IllegalStateException if this model is closed
     */
    public Answer chat(ChatRequest request) {
        return chatStream(request, piece -> { }, CancellationToken.none());
    }

    /**
     * Like {@link #chat(ChatRequest)}, streaming the answer's text pieces (whole characters, stop strings
     * held back) to {@code onText} on the calling thread; the pieces concatenate to {@link Answer#text()}.
     *
     * @param request the conversation
     * @param onText receives each piece
     * @return the answer
     */
    public Answer chatStream(ChatRequest request, Consumer<String> onText) {
        return chatStream(request, onText, CancellationToken.none());
    }

    /**
     * Like {@link #chatStream(ChatRequest, Consumer)} with a token another thread can cancel.
     *
     * @param request the conversation
     * @param onText receives each piece
     * @param cancel ends the generation within one token ({@link io.github.phi3v.core.generate.FinishReason#CANCELLED})
     * @return the answer
     */
    public Answer chatStream(ChatRequest request, Consumer<String> onText, CancellationToken cancel) {
        Objects.requireNonNull(request, "request");
        Objects.requireNonNull(onText, "onText");
        Objects.requireNonNull(cancel, "cancel");
        return engine.chat(request, onText, cancel);
    }

    /**
     * The answer as a {@link java.util.concurrent.Flow.Publisher} of text pieces: generation starts when
     * the subscriber subscribes, runs on a new thread and honours back-pressure; cancelling the subscription
     * cancels it. The answer is {@link TextPublisher#answer()}.
     *
     * @param request the conversation
     * @return a publisher for one subscriber
     */
    public TextPublisher chatPublisher(ChatRequest request) {
        Objects.requireNonNull(request, "request");
        engine.checkOpen();
        return TextPublisher.of((onText, cancel) -> engine.chat(request, onText, cancel));
    }

    /**
     * {@link #submit(ChatRequest, Consumer, CancellationToken)} without streaming or a token (cancel the
     * returned future to cancel the request).
     *
     * @param request the conversation
     * @return the answer's future
     * @throws LimitExceededException if {@code maxConcurrentRequests} requests are already submitted or running
     * @throws IllegalStateException if this is closed
     */
    public CompletableFuture<Answer> submit(ChatRequest request) {
        return submit(request, piece -> { }, CancellationToken.none());
    }

    /**
     * Answers a conversation with continuous batching: submitted requests are decoded together, one batched
     * model step per token for up to {@link Phi3VisionBuilder#maxBatchSize(int) maxBatchSize} of them, so on
     * a CPU (where a decode step is bound by reading the weights) B concurrent requests cost little more
     * per token than one. The request is planned on an intake thread, waits for a place in the batch and
     * for KV memory ({@code kvCacheWait}), is prefilled on the model's scheduler thread, then joins the
     * running batch. Each request keeps its own sampler: greedy requests get the tokens {@link #chat} gives,
     * seeded sampling the same tokens per seed. Cancelling {@code cancel} or the future (or closing this
     * model) ends it at the next step with {@link io.github.phi3v.core.generate.FinishReason#CANCELLED}.
     *
     * @param request the conversation
     * @param onText receives each text piece as it becomes final, on the model's scheduler thread: keep it
     *     short (the whole batch waits for it); an exception it throws fails this request only
     * @param cancel cancels the request
     * @return the answer's future; it completes exceptionally with what {@link #chat} would throw (invalid
     *     request, {@link LimitExceededException}, a model failure)
     * @throws LimitExceededException if {@code maxConcurrentRequests} requests are already submitted or running
     * @throws IllegalStateException if this is closed
     */
    public CompletableFuture<Answer> submit(ChatRequest request, Consumer<String> onText, CancellationToken cancel) {
        Objects.requireNonNull(request, "request");
        Objects.requireNonNull(onText, "onText");
        Objects.requireNonNull(cancel, "cancel");
        return engine.submit(request, onText, cancel);
    }

    /** The most submitted requests one batched step has decoded so far (for tests). */
    int largestBatch() {
        return engine.largestBatch();
    }

    /**
     * Runs {@link #chat(ChatRequest)} on {@code executor}.
     *
     * @param request the conversation
     * @param executor where the call runs
     * @return the answer's future; {@code cancel(true)} on it is not propagated, use {@link #chatStream} with
     *     a {@link CancellationToken} to stop a generation
     */
    public CompletableFuture<Answer> chatAsync(ChatRequest request, Executor executor) {
        Objects.requireNonNull(request, "request");
        Objects.requireNonNull(executor, "executor");
        return CompletableFuture.supplyAsync(() -> chat(request), executor);
    }

    /**
     * Opens a fluent conversation ({@link Session}). A session holds the conversation and its images; its
     * KV cache lives in this model's prefix cache, so an unclosed session holds no native memory.
     *
     * @return a new session with {@link GenerationConfig#defaults()} and the processor's {@code num_crops}
     * @throws IllegalStateException if this model is closed
     */
    public Session session() {
        engine.checkOpen();
        return new Session(engine);
    }

    /**
     * The lower-level entry points: generation from token ids and preprocessed pixels, as the CLI's
     * {@code generate --input-ids} and the conformance tests use it.
     *
     * @return the raw-prompt view of this model (cheap; thread-safe)
     */
    public RawPrompts rawPrompts() {
        return new RawPrompts(engine);
    }

    // ------------------------------------------------------------------------------ accessors

    /** The tokenizer loaded from the model folder: the (immutable, thread-safe) tokenizer. */
    public Phi3Tokenizer tokenizer() {
        return engine.tokenizer();
    }

    /**
     * The image processor configured by {@code preprocessor_config.json}, with the builder's
     * {@code numCrops} and {@code imageLoader} if given; its loader loads every request's images.
     *
     * @return the (immutable, thread-safe) processor
     */
    public Phi3ImageProcessor imageProcessor() {
        return engine.processor();
    }

    /**
     * The underlying model, for lower-level use (own KV caches, forward passes, inspection).
     *
     * @return the model; it is closed with this object
     * @throws IllegalStateException if this model is closed
     */
    public Phi3VModel model() {
        engine.checkOpen();
        return engine.model();
    }

    /** The model's configuration: the parsed {@code config.json}. */
    public Phi3VConfig config() {
        return engine.model().config();
    }

    /** The folder the model was loaded from (a hub snapshot folder for hub ids): the model folder. */
    public Path modelDir() {
        return modelDir;
    }

    /** The maximum context of every request: prompt + image + generated tokens allowed. */
    public int maxContext() {
        return engine.limits().maxContext();
    }

    /**
     * The request limits this model was built with ({@link Phi3VisionBuilder}): prompt tokens, images per
     * prompt, concurrent requests, batch size, KV and embedding memory.
     *
     * @return the limits
     */
    public Limits limits() {
        return engine.limits();
    }

    /**
     * How many batched decode steps {@linkplain #submit submitted} requests have taken so far, by batch size:
     * element {@code b} counts the steps that decoded {@code b} sequences together (element 0 stays 0). A
     * server renders it as its batch-size histogram.
     *
     * @return a new array of length {@link Limits#maxBatchSize()} + 1
     */
    public long[] decodeStepsByBatchSize() {
        return engine.decodeStepsByBatchSize();
    }

    /** The memory estimate checked at load: weights + KV cache + vision activations. */
    public MemoryEstimate memoryEstimate() {
        return memoryEstimate;
    }

    /** How many times the vision tower has run on this model: encodings since loading (cache hits not counted). */
    public long visionEncodings() {
        return engine.visionEncodings();
    }

    /** Native bytes held by KV caches now (running and prefix-cached): at most {@code kvCacheBytes}. */
    public long kvCacheBytesInUse() {
        return engine.kvCacheBytesInUse();
    }

    /** Whether {@link #close()} was called: true once closed. */
    public boolean isClosed() {
        return engine.isClosed();
    }

    /** Cancels running requests, then frees the caches and the weights; idempotent. */
    @Override
    public void close() {
        engine.close();
    }

    @Override
    public String toString() {
        Phi3VModel m = engine.model();
        return "Phi3Vision[" + modelDir + ", " + m.options().precision().label() + ", " + m.options().device()
                + ", maxContext=" + maxContext() + (isClosed() ? ", closed" : "") + "]";
    }

    /**
     * The memory a model folder will need, from its {@code config.json} and safetensors headers only
     * (nothing is loaded): weights converted to {@code precision} (with {@link Quantization#INT8} the
     * decoder's linear weights count one byte per parameter plus a float32 scale per output channel), one
     * KV cache of {@code maxContext} tokens, and the vision tower's activations for one image.
     *
     * @param modelDir the model folder
     * @param precision the dtype of the weights and of the KV cache
     * @param quantization the weight quantization
     * @param maxContext the context one KV cache is sized for
     * @param numCrops the crop budget of the largest image planned
     * @return the estimate
     */
    public static MemoryEstimate estimateMemory(Path modelDir, Precision precision, Quantization quantization,
            int maxContext, int numCrops) {
        return ModelLoader.estimateMemory(modelDir, precision, quantization, false, maxContext, numCrops);
    }
}
