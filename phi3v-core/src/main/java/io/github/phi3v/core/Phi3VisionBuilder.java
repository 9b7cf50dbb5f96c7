package io.github.phi3v.core;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.Objects;

import io.github.phi3v.core.config.Phi3VConfig;
import io.github.phi3v.core.generate.MemoryEstimate;
import io.github.phi3v.core.hub.HubConfig;
import io.github.phi3v.core.hub.ProgressListener;
import io.github.phi3v.core.model.ModelOptions;
import io.github.phi3v.core.model.Phi3VModel;
import io.github.phi3v.core.model.Precision;
import io.github.phi3v.core.model.Quantization;
import io.github.phi3v.image.ImageLoader;
import io.github.phi3v.image.Phi3ImageProcessor;
import io.github.phi3v.tokenizer.Phi3Tokenizer;

/**
 * All loading options of a {@link Phi3Vision}, from {@link Phi3Vision#builder()}: where the model comes
 * from (a folder or a hub id), precision, quantization, device, threads, and the request limits a server
 * needs (context, prompt tokens, images, concurrent requests, KV and embedding cache memory). Not
 * thread-safe; {@link #build()} may be called more than once.
 */
public final class Phi3VisionBuilder {
    // Read by ModelLoader (same package); set only through the methods below.
    ModelLocation location;
    String revision = "main";
    HubConfig hubConfig;
    ProgressListener progress = ProgressListener.NONE;
    Precision precision = Precision.cpuDefault();
    /** Whether {@link #precision} was set by the caller rather than chosen for this CPU. */
    boolean precisionGiven;
    Quantization quantization = Quantization.NONE;
    ModelOptions.Device device = ModelOptions.Device.CPU;
    int threads;
    int maxContext = Phi3Vision.DEFAULT_MAX_CONTEXT;
    Integer maxPromptTokens;
    int maxImagesPerPrompt = Phi3Vision.DEFAULT_MAX_IMAGES_PER_PROMPT;
    int maxConcurrentRequests = Phi3Vision.DEFAULT_MAX_CONCURRENT_REQUESTS;
    Long kvCacheBytes;
    Duration kvCacheWait = Phi3Vision.DEFAULT_KV_CACHE_WAIT;
    int maxBatchSize = Phi3Vision.DEFAULT_MAX_BATCH_SIZE;
    boolean packedDecodeWeights;
    boolean warmUp;
    long embeddingCacheBytes = Phi3Vision.DEFAULT_EMBEDDING_CACHE_BYTES;
    ImageLoader imageLoader;
    Integer numCrops;
    Long availableMemory;

    Phi3VisionBuilder() {
    }

    /**
     * Loads from a local model folder (replaces a {@link #modelId} given before).
     *
     * @param dir the folder
     * @return this builder
     */
    public Phi3VisionBuilder modelDir(Path dir) {
        this.location = ModelLocation.folder(dir);
        return this;
    }

    /**
     * Loads a hub repository through the local hub cache (replaces a {@link #modelDir} given before).
     *
     * @param id e.g. {@code microsoft/Phi-3-vision-128k-instruct}
     * @return this builder
     */
    public Phi3VisionBuilder modelId(String id) {
        this.location = ModelLocation.hub(id);
        return this;
    }

    /**
     * Loads a folder or a hub id given as one string (a command-line argument, a configuration property),
     * told apart by {@link ModelLocation#parse(String)}.
     *
     * @param idOrPath a folder path or a hub id
     * @return this builder
     * @throws IllegalArgumentException if it looks like a path but names no folder
     */
    public Phi3VisionBuilder model(String idOrPath) {
        this.location = ModelLocation.parse(idOrPath);
        return this;
    }

    /**
     * The hub revision for {@link #modelId} (default {@code main}).
     *
     * @param rev a branch, tag or commit
     * @return this builder
     */
    public Phi3VisionBuilder revision(String rev) {
        this.revision = Objects.requireNonNull(rev, "rev");
        return this;
    }

    /**
     * Hub settings for {@link #modelId} (default {@link HubConfig#fromEnvironment()}).
     *
     * @param config endpoint, cache folder, token, offline mode
     * @return this builder
     */
    public Phi3VisionBuilder hubConfig(HubConfig config) {
        this.hubConfig = Objects.requireNonNull(config, "config");
        return this;
    }

    /**
     * Download progress callbacks for {@link #modelId}.
     *
     * @param listener the listener
     * @return this builder
     */
    public Phi3VisionBuilder progress(ProgressListener listener) {
        this.progress = Objects.requireNonNull(listener, "listener");
        return this;
    }

    /**
     * The dtype weights are converted to (default {@link Precision#cpuDefault()}).
     *
     * @param p the precision
     * @return this builder
     */
    public Phi3VisionBuilder dtype(Precision p) {
        this.precision = Objects.requireNonNull(p, "precision");
        this.precisionGiven = true;
        return this;
    }

    /**
     * The dtype by PyTorch name.
     *
     * @param name "float32", "bfloat16", "float16" (or fp32, bf16, fp16)
     * @return this builder
     * @throws IllegalArgumentException for an unknown name
     */
    public Phi3VisionBuilder dtype(String name) {
        return dtype(Precision.parse(name));
    }

    /**
     * Weight quantization applied at load (default {@link Quantization#NONE}); {@link Quantization#INT8}
     * stores the decoder's linear weights as int8 (CPU only, about half the bytes of bf16 to read per
     * token, slightly different outputs).
     *
     * @param q the quantization
     * @return this builder
     */
    public Phi3VisionBuilder quantization(Quantization q) {
        this.quantization = Objects.requireNonNull(q, "quantization");
        return this;
    }

    /**
     * The quantization by name.
     *
     * @param name "none", "int8" or "int4"
     * @return this builder
     * @throws IllegalArgumentException for another name
     */
    public Phi3VisionBuilder quantization(String name) {
        return quantization(Quantization.parse(name));
    }

    /**
     * Where the model runs (default CPU).
     *
     * @param d the device
     * @return this builder
     */
    public Phi3VisionBuilder device(ModelOptions.Device d) {
        this.device = Objects.requireNonNull(d, "device");
        return this;
    }

    /**
     * The device by name.
     *
     * @param name "cpu" or "cuda"
     * @return this builder
     * @throws IllegalArgumentException for another name
     */
    public Phi3VisionBuilder device(String name) {
        String n = name.trim().toLowerCase(Locale.ROOT);
        return switch (n) {
            case "cpu" -> device(ModelOptions.Device.CPU);
            case "cuda", "gpu" -> device(ModelOptions.Device.CUDA);
            default -> throw new IllegalArgumentException("unknown device '" + name + "': expected cpu or cuda");
        };
    }

    /**
     * libtorch intra-op threads (process-wide; 0 = keep the default of one per core).
     *
     * @param n threads, at least 0
     * @return this builder
     */
    public Phi3VisionBuilder threads(int n) {
        if (n < 0) {
            throw new IllegalArgumentException("threads must be >= 0 (0 = default), got " + n);
        }
        this.threads = n;
        return this;
    }

    /**
     * The maximum context (prompt + image tokens + generated tokens) of every session; it sizes the
     * KV cache and the memory check (default {@value Phi3Vision#DEFAULT_MAX_CONTEXT}).
     *
     * @param tokens at least 1, at most the config's {@code max_position_embeddings}
     * @return this builder
     */
    public Phi3VisionBuilder maxContext(int tokens) {
        if (tokens < 1) {
            throw new IllegalArgumentException("maxContext must be >= 1, got " + tokens);
        }
        this.maxContext = tokens;
        return this;
    }

    /**
     * The most tokens a prompt may have: text + image tokens of the whole rendered conversation (or
     * the ids given to {@link RawPrompts#generate}), without the answer. Default: {@link #maxContext}.
     * Lower it to keep room for long answers or to bound the prefill a client can ask for; it is
     * checked before any image is preprocessed or encoded, and {@code <|image_N|>} tags are counted
     * before they are expanded.
     *
     * @param tokens at least 1, at most {@code maxContext} (checked by {@link #build()})
     * @return this builder
     */
    public Phi3VisionBuilder maxPromptTokens(int tokens) {
        if (tokens < 1) {
            throw new IllegalArgumentException("maxPromptTokens must be >= 1, got " + tokens);
        }
        this.maxPromptTokens = tokens;
        return this;
    }

    /**
     * The most images one prompt may hold (default {@value Phi3Vision#DEFAULT_MAX_IMAGES_PER_PROMPT}).
     * A session counts every image of its conversation and refuses one more in
     * {@link Session#image(Path)} (and the other {@code image} methods) before decoding it; a
     * question or message with a tag {@code <|image_N|>} beyond the limit is refused before it is
     * tokenized; {@link RawPrompts#generate} refuses longer image lists before encoding any.
     *
     * @param n at least 1
     * @return this builder
     */
    public Phi3VisionBuilder maxImagesPerPrompt(int n) {
        if (n < 1) {
            throw new IllegalArgumentException("maxImagesPerPrompt must be >= 1, got " + n);
        }
        this.maxImagesPerPrompt = n;
        return this;
    }

    /**
     * The image loader of every session's {@code image(..)} methods and of
     * {@link RawPrompts#preprocess(Path, int)}: its pixel limit, encoded-size limit, URL timeout and
     * {@code file:} URL permission apply to all of them (default {@link ImageLoader#defaults()}, or
     * the loader of the model folder's processor). For a server taking images from the public:
     *
     * <pre>{@code
     * .imageLoader(ImageLoader.builder().maxPixels(4096L * 4096).maxBytes(20 << 20)
     *         .timeout(Duration.ofSeconds(10)).build())
     * }</pre>
     *
     * @param loader the loader
     * @return this builder
     */
    public Phi3VisionBuilder imageLoader(ImageLoader loader) {
        this.imageLoader = Objects.requireNonNull(loader, "loader");
        return this;
    }

    /**
     * The default {@code num_crops} of sessions (default: {@code preprocessor_config.json}'s).
     *
     * @param n at least 1
     * @return this builder
     */
    public Phi3VisionBuilder numCrops(int n) {
        if (n < 1) {
            throw new IllegalArgumentException("numCrops must be >= 1, got " + n);
        }
        this.numCrops = n;
        return this;
    }

    /**
     * Overrides the memory the estimate is checked against (default: physical memory). A negative
     * value skips the check.
     *
     * @param bytes available bytes, or -1 to skip the check
     * @return this builder
     */
    public Phi3VisionBuilder availableMemory(long bytes) {
        this.availableMemory = bytes;
        return this;
    }

    /**
     * The most requests that may run on the model at once (stateless calls, session questions and
     * {@link RawPrompts#generate} together); one more is refused with {@link LimitExceededException}
     * ({@code maxConcurrentRequests}) instead of queueing. Default
     * {@value Phi3Vision#DEFAULT_MAX_CONCURRENT_REQUESTS}: every running request shares the CPU cores, so
     * more of them only make each slower.
     *
     * @param n at least 1
     * @return this builder
     */
    public Phi3VisionBuilder maxConcurrentRequests(int n) {
        if (n < 1) {
            throw new IllegalArgumentException("maxConcurrentRequests must be >= 1, got " + n);
        }
        this.maxConcurrentRequests = n;
        return this;
    }

    /**
     * The most {@linkplain Phi3Vision#submit submitted} requests decoded together in one batched step; more
     * wait in the queue for a place (they still count against {@link #maxConcurrentRequests(int)}). Default
     * {@value Phi3Vision#DEFAULT_MAX_BATCH_SIZE}: on a CPU a step's cost grows slowly with the batch up to a
     * few rows (see docs/benchmarks.md), while every row's KV cache must fit {@link #kvCacheBytes(long)}.
     *
     * @param n at least 1
     * @return this builder
     */
    public Phi3VisionBuilder maxBatchSize(int n) {
        if (n < 1) {
            throw new IllegalArgumentException("maxBatchSize must be >= 1, got " + n);
        }
        this.maxBatchSize = n;
        return this;
    }

    /**
     * Whether decode steps run on a second copy of the decoder's and lm_head's weights in oneDNN's own layout,
     * made at load (default off; see {@link ModelOptions#packedDecodeWeights()}). For a server that decodes
     * several requests together: a full-size step of 4 requests then took 1.2x a single request's step and one
     * of 8 requests 1.7x, against 1.8x and 2.5x without (docs/benchmarks.md); one request alone gains nothing. The price is the memory of those weights twice (about 7.6 GB more for the real
     * model, counted by the memory check). bf16 on the CPU without quantization only: {@link #build()} refuses
     * other combinations, and CPUs on which oneDNN cannot pack bf16 weights (without AVX-512 BW/VL/DQ or
     * AVX-NE-CONVERT) with an {@link IllegalStateException}.
     *
     * @param packed true for packed decode weights
     * @return this builder
     */
    public Phi3VisionBuilder packedDecodeWeights(boolean packed) {
        this.packedDecodeWeights = packed;
        return this;
    }

    /**
     * The native memory all KV caches together may hold: those of running requests and those kept for
     * reuse by the prefix cache (evicted least recently used first when a request needs room). A request
     * that does not fit even after evicting every idle cache is refused with {@link LimitExceededException}
     * ({@code kvCacheBytes}) at once if it alone exceeds the budget, otherwise after waiting up to
     * {@link #kvCacheWait(Duration)} for running requests to finish. Default: the KV memory of one
     * {@link #maxContext(int) maxContext} cache (what the load-time estimate counts) plus half of the memory
     * the estimate leaves free on this machine ({@link #availableMemory(long)}).
     *
     * @param bytes at least 1
     * @return this builder
     */
    public Phi3VisionBuilder kvCacheBytes(long bytes) {
        if (bytes < 1) {
            throw new IllegalArgumentException("kvCacheBytes must be >= 1, got " + bytes);
        }
        this.kvCacheBytes = bytes;
        return this;
    }

    /**
     * How long a request waits for running requests to give KV memory back before it is refused with
     * {@link LimitExceededException} ({@code kvCacheBytes}); its cancellation token ends the wait too.
     * Default {@link Phi3Vision#DEFAULT_KV_CACHE_WAIT}.
     *
     * @param wait zero or more
     * @return this builder
     */
    public Phi3VisionBuilder kvCacheWait(Duration wait) {
        Objects.requireNonNull(wait, "wait");
        if (wait.isNegative()) {
            throw new IllegalArgumentException("kvCacheWait must be >= 0, got " + wait);
        }
        this.kvCacheWait = wait;
        return this;
    }

    /**
     * The native memory of image embeddings kept for reuse (keyed by pixel hash and crop budget), so that
     * the vision tower runs once per image across calls. Default 256 MiB: 16 images at {@code numCrops} 16
     * in bf16 (one image costs up to 2653 tokens x 3072 x 2 bytes = 16.3 MB).
     *
     * @param bytes at least 0 (0 disables the cache)
     * @return this builder
     */
    public Phi3VisionBuilder embeddingCacheBytes(long bytes) {
        if (bytes < 0) {
            throw new IllegalArgumentException("embeddingCacheBytes must be >= 0, got " + bytes);
        }
        this.embeddingCacheBytes = bytes;
        return this;
    }

    /**
     * Whether {@link #build()} ends with one short text request whose answer is discarded (default off), so
     * that the first real request's prompt runs as fast as the later ones': without it the first prompt is slower,
     * most likely from the JVM compiling the forward pass's Java code while the compute threads run (on 2 cores the
     * full-size model's first 16-token prompt took 0.99-1.75x the later ones', 0.85-1.10x after the warm-up;
     * docs/usage.md "The first request"). It adds about one request of 13 prompt tokens and 8 decode steps to
     * the load (1.1-3.3 s there, by variant), keeps nothing (its KV cache is freed; no prefix-cache entry, no
     * counter changes; logged at INFO) and runs neither the vision tower nor a batched step. Limits too small
     * for it ({@link #maxPromptTokens} below 13, {@link #maxContext} below 21, a tiny {@link #kvCacheBytes}) make
     * {@link #build()} fail with an {@link IllegalArgumentException} that says so; the weights are freed then.
     *
     * @param warm true to warm up at load
     * @return this builder
     */
    public Phi3VisionBuilder warmUp(boolean warm) {
        this.warmUp = warm;
        return this;
    }

    /**
     * Resolves the folder, estimates and checks memory, then loads tokenizer, image processor and
     * weights.
     *
     * @return the model
     * @throws IllegalStateException if neither a folder nor an id was given, or the estimate does
     *     not fit (the message lists the parts and a context that fits), or this CPU cannot run an option
     *     ({@link #packedDecodeWeights})
     * @throws IllegalArgumentException if {@code maxContext} exceeds {@code max_position_embeddings} or
     *     {@code maxPromptTokens} exceeds {@code maxContext}
     */
    public Phi3Vision build() {
        return ModelLoader.load(this);
    }
}
