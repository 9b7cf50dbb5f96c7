package io.github.phi3v.core;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.regex.Pattern;

import io.github.phi3v.core.config.ClipVisionConfig;
import io.github.phi3v.core.config.Phi3VConfig;
import io.github.phi3v.core.generate.Answer;
import io.github.phi3v.core.generate.CancellationToken;
import io.github.phi3v.core.generate.GenerationConfig;
import io.github.phi3v.core.generate.Generator;
import io.github.phi3v.core.generate.MemoryEstimate;
import io.github.phi3v.core.generate.TextDecoder;
import io.github.phi3v.core.generate.TokenBudget;
import io.github.phi3v.core.hub.HubClient;
import io.github.phi3v.core.hub.HubConfig;
import io.github.phi3v.core.hub.ProgressListener;
import io.github.phi3v.core.model.ImageEmbeddings;
import io.github.phi3v.core.model.ImagePixels;
import io.github.phi3v.core.model.KvCache;
import io.github.phi3v.core.model.ModelOptions;
import io.github.phi3v.core.model.Phi3VModel;
import io.github.phi3v.core.model.Precision;
import io.github.phi3v.core.model.Quantization;
import io.github.phi3v.core.weights.Checkpoint;
import io.github.phi3v.image.ImageLoader;
import io.github.phi3v.image.Phi3ImageProcessor;
import io.github.phi3v.image.ProcessedImage;
import io.github.phi3v.image.RgbImage;
import io.github.phi3v.tokenizer.StreamingDecoder;
import io.github.phi3v.tokenizer.Phi3Tokenizer;

/**
 * A loaded Phi-3-Vision model: weights, tokenizer and image processor from one model folder, ready
 * to answer questions about images. This is the entry point of the library.
 *
 * <pre>{@code
 * try (Phi3Vision phi = Phi3Vision.load(Path.of("Phi-3-vision-128k-instruct"));
 *      Session chat = phi.session()) {
 *     Answer a = chat.image(Path.of("cat.jpg"))
 *             .ask("What is shown in this image?");
 *     System.out.println(a.text());
 *     chat.stream("And what colour is it?", System.out::print);   // follow-up, image not re-encoded
 * }
 * }</pre>
 *
 * <p>More control with the builder:
 *
 * <pre>{@code
 * Phi3Vision phi = Phi3Vision.builder()
 *         .modelId("microsoft/Phi-3-vision-128k-instruct")   // or .modelDir(Path.of(...))
 *         .dtype(Precision.BFLOAT16)
 *         .threads(8)
 *         .maxContext(4096)
 *         .build();
 * System.out.println(phi.memoryEstimate());   // weights + KV cache + image activations
 * }</pre>
 *
 * <p><b>Threads.</b> A {@code Phi3Vision} is immutable after loading and safe to share: any number of
 * threads may open {@linkplain #session() sessions} or call {@link #generate} at the same time; each
 * conversation has its own KV cache. A {@link Session} itself is for one thread at a time. There is no
 * global state, except that libtorch's intra-op thread count ({@link Builder#threads(int)}) is
 * process-wide.
 *
 * <p><b>Memory.</b> Before anything is allocated, {@link Builder#build()} estimates weights + KV cache
 * for {@link Builder#maxContext(int) maxContext} tokens + vision activations of one image and fails with
 * an explanation if that exceeds the machine's memory. The default context is
 * {@value #DEFAULT_MAX_CONTEXT} tokens, not the configured 131072: Phi-3-V has no grouped-query
 * attention, so each token costs 384 KiB of KV cache in 16-bit precision.
 *
 * <p><b>Limits.</b> For untrusted input (a server), every request is bounded before the work it would
 * cause: the context ({@link Builder#maxContext(int)}), the prompt's tokens
 * ({@link Builder#maxPromptTokens(int)}), the images per prompt ({@link Builder#maxImagesPerPrompt(int)},
 * default {@value #DEFAULT_MAX_IMAGES_PER_PROMPT}) and the image loader's pixel, byte, timeout and
 * {@code file:} URL limits ({@link Builder#imageLoader(ImageLoader)}). Refusals throw
 * {@link LimitExceededException}, {@link io.github.phi3v.core.generate.ContextLengthExceededException} or
 * {@link io.github.phi3v.image.ImageProcessingException}, each naming the limit and the option.
 *
 * <p><b>Closing.</b> {@link #close()} frees the weights and closes every session (a running generation
 * ends with {@link io.github.phi3v.core.generate.FinishReason#CANCELLED}); afterwards every method that
 * needs the model ({@link #session()}, {@link #generate}, {@link #preprocess}, {@link #model()}, and
 * every call on its sessions) throws {@link IllegalStateException}. Plain accessors such as
 * {@link #tokenizer()} keep working.
 */
public final class Phi3Vision implements AutoCloseable {

    /** The default maximum context (prompt + image tokens + generated tokens) in tokens. */
    public static final int DEFAULT_MAX_CONTEXT = 8192;

    /**
     * The default maximum number of images in one prompt (a session's whole conversation, or one
     * {@link #generate} call). 16 admits every multi-image use the default context can hold at
     * {@code numCrops} 4 or more (at most 10 images of 757 tokens fit 8192) and short frame sequences at
     * {@code numCrops} 1, while bounding the decoded images a client can make a session hold to 16 x
     * the loader's {@code maxPixels} x 3 bytes.
     */
    public static final int DEFAULT_MAX_IMAGES_PER_PROMPT = 16;

    /** The decoder linear weights {@link Quantization#INT8} stores as int8. */
    private static final Pattern INT8_WEIGHTS =
            Pattern.compile("model\\.layers\\.\\d+\\.(self_attn\\.(qkv_proj|o_proj)|mlp\\.(gate_up_proj|down_proj))\\.weight");

    private final Path modelDir;
    private final Phi3VModel model;
    private final Phi3Tokenizer tokenizer;
    private final Phi3ImageProcessor imageProcessor;
    private final int maxContext;
    private final int maxPromptTokens;
    private final int maxImagesPerPrompt;
    private final MemoryEstimate memoryEstimate;
    private final boolean growKvCache;
    private final AtomicLong visionEncodings = new AtomicLong();
    private final Set<Session> sessions = ConcurrentHashMap.newKeySet();
    private volatile boolean closed;

    private Phi3Vision(Path modelDir, Phi3VModel model, Phi3Tokenizer tokenizer, Phi3ImageProcessor imageProcessor,
            int maxContext, int maxPromptTokens, int maxImagesPerPrompt, MemoryEstimate memoryEstimate,
            boolean growKvCache) {
        this.modelDir = modelDir;
        this.model = model;
        this.tokenizer = tokenizer;
        this.imageProcessor = imageProcessor;
        this.maxContext = maxContext;
        this.maxPromptTokens = maxPromptTokens;
        this.maxImagesPerPrompt = maxImagesPerPrompt;
        this.memoryEstimate = memoryEstimate;
        this.growKvCache = growKvCache;
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
     * the Hugging Face hub cache (downloading missing files; see {@link HubConfig#fromEnvironment()}).
     *
     * @param modelIdOrPath a folder path, or a repository id such as
     *     {@code microsoft/Phi-3-vision-128k-instruct}
     * @return the loaded model
     * @throws IllegalArgumentException if it looks like a path but the folder does not exist
     * @throws io.github.phi3v.core.hub.HubException if the hub cannot provide the files
     */
    public static Phi3Vision load(String modelIdOrPath) {
        Objects.requireNonNull(modelIdOrPath, "modelIdOrPath");
        Builder b = builder();
        if (isExistingDirectory(modelIdOrPath)) {
            b.modelDir(Path.of(modelIdOrPath));
        } else if (looksLikePath(modelIdOrPath)) {
            throw new IllegalArgumentException("model folder '" + modelIdOrPath + "' does not exist (expected a "
                    + "folder with config.json and the weights, or a hub id like microsoft/Phi-3-vision-128k-instruct)");
        } else {
            b.modelId(modelIdOrPath);
        }
        return b.build();
    }

    /**
     * A builder for all loading options.
     *
     * @return a new builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Opens a new conversation. Sessions are cheap until their first question (the KV cache is
     * allocated then); close them when done, or they are closed with this model.
     *
     * @return a new session with {@link GenerationConfig#defaults()} and the processor's {@code num_crops}
     * @throws IllegalStateException if this model is closed
     */
    public Session session() {
        checkOpen();
        Session s = new Session(this);
        sessions.add(s);
        if (closed) {  // closed concurrently: do not leak the session
            s.close();
            checkOpen();
        }
        return s;
    }

    /**
     * Generates from token ids, the lower-level entry point behind the CLI's
     * {@code generate --input-ids} and the conformance tests: no chat template, no tokenization, a fresh
     * KV cache for this call. Image {@code k} (1-based) is referenced by a block of {@code -k} ids whose
     * length must equal its token count ({@link ProcessedImage#numImageTokens()}).
     *
     * <pre>{@code
     * ImagePixels img = phi.preprocess(Path.of("cat.jpg"), 16);
     * int[] ids = phi.tokenizer().encodeMultimodal(prompt, new int[] {phi.imageTokenCount(img)});
     * Answer a = phi.generate(ids, List.of(img), GenerationConfig.defaults().withMaxNewTokens(64));
     * }</pre>
     *
     * @param inputIds the prompt ids; not modified
     * @param images the images referenced by the placeholders, in order
     * @param config how to generate
     * @return the answer; its usage includes the vision time
     * @throws io.github.phi3v.core.generate.ContextLengthExceededException if prompt + maxNewTokens exceed
     *     {@link #maxContext()}
     * @throws LimitExceededException if there are more than {@link #maxImagesPerPrompt()} images or more
     *     than {@link #maxPromptTokens()} ids
     * @throws IllegalArgumentException if a placeholder block does not match its image
     * @throws IllegalStateException if this model is closed
     */
    public Answer generate(int[] inputIds, List<ImagePixels> images, GenerationConfig config) {
        return generate(inputIds, images, config, piece -> { }, CancellationToken.none());
    }

    /**
     * Like {@link #generate(int[], List, GenerationConfig)}, streaming text pieces to {@code onText}.
     *
     * @param inputIds the prompt ids; not modified
     * @param images the images referenced by the placeholders, in order
     * @param config how to generate
     * @param onText receives each text piece on the calling thread
     * @param cancel lets another thread end the generation ({@link io.github.phi3v.core.generate.FinishReason#CANCELLED})
     * @return the answer
     * @throws io.github.phi3v.core.generate.ContextLengthExceededException if it does not fit the context
     * @throws LimitExceededException if it exceeds {@link #maxImagesPerPrompt()} or {@link #maxPromptTokens()}
     * @throws IllegalStateException if this model is closed
     */
    public Answer generate(int[] inputIds, List<ImagePixels> images, GenerationConfig config,
            Consumer<String> onText, CancellationToken cancel) {
        Objects.requireNonNull(inputIds, "inputIds");
        Objects.requireNonNull(images, "images");
        Objects.requireNonNull(config, "config");
        Objects.requireNonNull(onText, "onText");
        Objects.requireNonNull(cancel, "cancel");
        checkOpen();
        if (images.size() > maxImagesPerPrompt) {
            throw tooManyImages(images.size(), "generate() was given");
        }
        int[] ids = inputIds.clone();
        int[] perImage = new int[images.size()];
        int textTokens = 0;
        for (int i = 0; i < ids.length; i++) {
            int id = ids[i];
            if (id >= 0) {
                textTokens++;
            } else if (-(long) id > images.size()) {   // long: -Integer.MIN_VALUE overflows to itself
                throw new IllegalArgumentException("placeholder id " + id + " at position " + i + " refers to image "
                        + -(long) id + ", but " + images.size() + " image(s) were given");
            } else {
                perImage[-id - 1]++;
            }
        }
        int numCrops = images.isEmpty() ? imageProcessor.numCrops() : images.get(0).numCrops();
        TokenBudget.check(textTokens, perImage, config.maxNewTokens(), maxContext, numCrops);
        checkPromptTokens(textTokens, ids.length - textTokens);

        List<ImageEmbeddings> embeddings = new ArrayList<>();
        try {
            long t0 = System.nanoTime();
            for (ImagePixels p : images) {
                embeddings.add(encode(p));
            }
            double visionMillis = (System.nanoTime() - t0) / 1e6;
            try (KvCache cache = model.newKvCache(Math.max(1, ids.length + config.maxNewTokens()))) {
                int[] first = {1};
                Answer a = Generator.generate(ids, newIds -> {
                    if (first[0] == 1) {
                        first[0] = 0;
                        return model.forward(newIds, embeddings, cache, 0);
                    }
                    return model.forward(newIds, embeddings, cache, cache.length());
                }, textDecoder(), config, onText, cancel);
                return a.withUsage(a.usage().withVisionMillis(visionMillis));
            }
        } finally {
            embeddings.forEach(ImageEmbeddings::close);
        }
    }

    /**
     * Loads and preprocesses an image file with this model's image processor.
     *
     * @param imageFile a PNG, JPEG, GIF, BMP or WebP file
     * @param numCrops the crop budget ({@code num_crops}); 16 for Phi-3-vision, 4 for Phi-3.5-vision
     * @return the pixel values for {@link #generate}
     * @throws io.github.phi3v.image.ImageProcessingException if the file cannot be read or decoded
     */
    public ImagePixels preprocess(Path imageFile, int numCrops) {
        checkOpen();
        return pixels(imageProcessor.process(imageFile, numCrops));
    }

    /**
     * Preprocesses a decoded image with this model's image processor.
     *
     * @param image the image (converted like PIL {@code convert("RGB")})
     * @param numCrops the crop budget
     * @return the pixel values for {@link #generate}
     */
    public ImagePixels preprocess(BufferedImage image, int numCrops) {
        checkOpen();
        return pixels(imageProcessor.process(image, numCrops));
    }

    /**
     * Converts the image processor's output to the model's input record (no copy of the pixels).
     *
     * @param processed an image from {@link Phi3ImageProcessor}
     * @return the same pixels as {@link ImagePixels}
     */
    public static ImagePixels pixels(ProcessedImage processed) {
        return new ImagePixels(processed.pixelValues(), processed.numCrops(), processed.hdHeight(),
                processed.hdWidth());
    }

    /**
     * Number of placeholder tokens an image occupies in the prompt.
     *
     * @param image preprocessed pixels
     * @return {@code (h·w + 1)·144 + 1 + (h + 1)·12} for its {@code h x w} crop grid
     */
    public int imageTokenCount(ImagePixels image) {
        return model.imageTokenCount(image.hdHeight(), image.hdWidth());
    }

    /**
     * The tokenizer loaded from the model folder.
     *
     * @return the (immutable, thread-safe) tokenizer
     */
    public Phi3Tokenizer tokenizer() {
        return tokenizer;
    }

    /**
     * The image processor configured by the model folder's {@code preprocessor_config.json}, with the
     * builder's {@link Builder#numCrops(int) numCrops} and {@link Builder#imageLoader(ImageLoader) imageLoader}
     * if given; its {@link Phi3ImageProcessor#loader() loader} loads every session's images.
     *
     * @return the (immutable, thread-safe) processor
     */
    public Phi3ImageProcessor imageProcessor() {
        return imageProcessor;
    }

    /**
     * The underlying model, for lower-level use (own KV caches, forward passes, inspection).
     *
     * @return the model; it is closed with this object
     */
    public Phi3VModel model() {
        checkOpen();
        return model;
    }

    /**
     * The model's configuration.
     *
     * @return the parsed {@code config.json}
     */
    public Phi3VConfig config() {
        return model.config();
    }

    /**
     * The folder the model was loaded from (a hub snapshot folder for hub ids).
     *
     * @return the model folder
     */
    public Path modelDir() {
        return modelDir;
    }

    /**
     * The maximum context of every session and {@link #generate} call.
     *
     * @return prompt + image + generated tokens allowed
     */
    public int maxContext() {
        return maxContext;
    }

    /**
     * The most tokens a prompt (text + image tokens, without the answer) may have; at most
     * {@link #maxContext()}, which it equals unless {@link Builder#maxPromptTokens(int)} set it lower.
     *
     * @return the prompt token limit
     */
    public int maxPromptTokens() {
        return maxPromptTokens;
    }

    /**
     * The most images one prompt may hold: a session's whole conversation (checked when an image is
     * added, before it is decoded, and against the numbers of {@code <|image_N|>} tags) or one
     * {@link #generate} call.
     *
     * @return the image limit (default {@value #DEFAULT_MAX_IMAGES_PER_PROMPT})
     */
    public int maxImagesPerPrompt() {
        return maxImagesPerPrompt;
    }

    /**
     * The memory estimate computed (and checked) before loading.
     *
     * @return weights + KV cache for {@link #maxContext()} + one image's vision activations
     */
    public MemoryEstimate memoryEstimate() {
        return memoryEstimate;
    }

    /**
     * How many times the vision tower has run through this object (all sessions and {@link #generate}
     * calls). Sessions cache embeddings, so asking about the same image again does not increase it.
     *
     * @return the number of image encodings
     */
    public long visionEncodings() {
        return visionEncodings.get();
    }

    /**
     * Tells whether {@link #close()} was called.
     *
     * @return true once closed
     */
    public boolean isClosed() {
        return closed;
    }

    /**
     * Closes every session (cancelling running generations), then frees the weights once running
     * forward passes end. Idempotent.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (Session s : List.copyOf(sessions)) {
            s.close();
        }
        model.close();
    }

    @Override
    public String toString() {
        return "Phi3Vision[" + modelDir + ", " + model.options().precision().label() + ", "
                + model.options().device() + ", maxContext=" + maxContext + (closed ? ", closed" : "") + "]";
    }

    // ------------------------------------------------------------------------------ for Session

    /** Runs the vision tower on one image, counting it. */
    ImageEmbeddings encode(ImagePixels pixels) {
        checkOpen();
        ImageEmbeddings e = model.encodeImage(pixels);
        visionEncodings.incrementAndGet();
        return e;
    }

    /** The refusal of one image too many; {@code what} says where they were counted. */
    LimitExceededException tooManyImages(long found, String what) {
        return new LimitExceededException("maxImagesPerPrompt", found, maxImagesPerPrompt, what + " " + found
                + " images, but maxImagesPerPrompt is " + maxImagesPerPrompt + " (Phi3Vision.builder()"
                + ".maxImagesPerPrompt(n) raises it; a session counts every image of its conversation: clear() or a"
                + " new session starts again)");
    }

    /** Refuses a prompt over {@link #maxPromptTokens} (called after the context check, before any work). */
    void checkPromptTokens(long textTokens, long imageTokens) {
        long total = textTokens + imageTokens;
        if (total > maxPromptTokens) {
            throw new LimitExceededException("maxPromptTokens", total, maxPromptTokens, "the prompt has " + total
                    + " tokens (" + textTokens + " text + " + imageTokens + " image) but maxPromptTokens is "
                    + maxPromptTokens + " (" + (total - maxPromptTokens) + " too many); shorten the prompt, use"
                    + " fewer images or a smaller numCrops, or raise Phi3Vision.builder().maxPromptTokens(n) (at most"
                    + " maxContext " + maxContext + ")");
        }
    }

    /**
     * Refuses image tags whose tokens alone exceed {@link #maxPromptTokens}, before the tags are expanded
     * (text is not counted yet: this runs before tokenization).
     */
    void checkTaggedImageTokens(long imageTokens) {
        if (imageTokens > maxPromptTokens) {
            throw new LimitExceededException("maxPromptTokens", imageTokens, maxPromptTokens, "the image tags of the"
                    + " prompt alone cost " + imageTokens + " image tokens but maxPromptTokens is " + maxPromptTokens
                    + " (" + (imageTokens - maxPromptTokens) + " too many, text not counted); use fewer images or"
                    + " tags, a smaller numCrops, or raise Phi3Vision.builder().maxPromptTokens(n) (at most maxContext "
                    + maxContext + ")");
        }
    }

    ImagePixels process(RgbImage image, int numCrops) {
        return pixels(imageProcessor.process(image, numCrops));
    }

    /**
     * Whether sessions allocate their KV cache for what they need (with headroom, re-prefilling when it
     * grows) instead of for the whole context at once: device memory (CUDA) is committed at allocation.
     */
    boolean growsKvCache() {
        return growKvCache;
    }

    Phi3VModel rawModel() {
        return model;
    }

    TextDecoder textDecoder() {
        StreamingDecoder sd = tokenizer.streamingDecoder(true);
        return TextDecoder.of(sd::next, sd::finish);
    }

    void unregister(Session s) {
        sessions.remove(s);
    }

    void checkOpen() {
        if (closed) {
            throw new IllegalStateException("this Phi3Vision is closed; load the model again to use it");
        }
    }

    // ------------------------------------------------------------------------------ loading

    private static boolean isExistingDirectory(String s) {
        try {
            return Files.isDirectory(Path.of(s));
        } catch (InvalidPathException e) {
            return false;
        }
    }

    private static boolean looksLikePath(String s) {
        return s.startsWith("/") || s.startsWith(".") || s.startsWith("~") || s.contains("\\")
                || s.chars().filter(c -> c == '/').count() > 1;
    }

    /**
     * The memory a model folder will need, from its {@code config.json} and safetensors headers only
     * (nothing is loaded): weights converted to {@code precision}, the KV cache for {@code maxContext}
     * tokens, and the vision tower's activations for one image at {@code numCrops}.
     *
     * @param modelDir the model folder
     * @param precision the dtype the weights will be converted to
     * @param maxContext the context one session's KV cache is sized for
     * @param numCrops the crop budget of the largest image planned
     * @return the estimate
     */
    public static MemoryEstimate estimateMemory(Path modelDir, Precision precision, int maxContext, int numCrops) {
        return estimateMemory(modelDir, precision, Quantization.NONE, maxContext, numCrops);
    }

    /**
     * Like {@link #estimateMemory(Path, Precision, int, int)} with weight quantization: with
     * {@link Quantization#INT8} the decoder's linear weights count one byte per parameter plus a float32
     * scale per output channel.
     *
     * @param modelDir the model folder
     * @param precision the dtype of the other weights and of the KV cache
     * @param quantization the weight quantization
     * @param maxContext the context one session's KV cache is sized for
     * @param numCrops the crop budget of the largest image planned
     * @return the estimate
     */
    public static MemoryEstimate estimateMemory(Path modelDir, Precision precision, Quantization quantization,
            int maxContext, int numCrops) {
        Objects.requireNonNull(quantization, "quantization");
        Phi3VConfig config = Phi3VConfig.fromDirectory(modelDir);
        int bytes = precision == Precision.FLOAT32 ? 4 : 2;
        long weightBytes = 0;
        try (Checkpoint checkpoint = Checkpoint.open(modelDir)) {
            for (String name : checkpoint.names()) {
                var info = checkpoint.info(name);
                if (quantization == Quantization.INT8 && info.rank() == 2 && INT8_WEIGHTS.matcher(name).matches()) {
                    weightBytes += info.numel() + 4 * info.dim(0);
                } else {
                    weightBytes += info.numel() * bytes;
                }
            }
        }
        MemoryEstimate.Builder m = MemoryEstimate.builder()
                .weightBytes(weightBytes)
                .kvCache(config.numHiddenLayers(), config.numKeyValueHeads(), config.headDim(), bytes)
                .maxContext(maxContext);
        if (config.hasVision()) {
            ClipVisionConfig clip = config.imageEmbedding().clip();
            int patches = clip.imageSize() / clip.patchSize();
            // The vision tower runs in float32 on the CPU even for 16-bit weights.
            m.images(1, MemoryEstimate.visionActivationBytes(numCrops + 1, patches * patches + 1, clip.hiddenSize(),
                    clip.intermediateSize(), clip.numAttentionHeads(), 4));
        }
        return m.build();
    }

    /**
     * Options for {@link Phi3Vision}; {@link #build()} resolves the folder, checks memory and loads.
     * Not thread-safe.
     *
     * <pre>{@code
     * Phi3Vision phi = Phi3Vision.builder().modelDir(dir).dtype("float32").maxContext(4096).build();
     * }</pre>
     */
    public static final class Builder {
        private Path modelDir;
        private String modelId;
        private String revision = "main";
        private HubConfig hubConfig;
        private ProgressListener progress = ProgressListener.NONE;
        private Precision precision = Precision.cpuDefault();
        private Quantization quantization = Quantization.NONE;
        private ModelOptions.Device device = ModelOptions.Device.CPU;
        private int threads;
        private int maxContext = DEFAULT_MAX_CONTEXT;
        private Integer maxPromptTokens;
        private int maxImagesPerPrompt = DEFAULT_MAX_IMAGES_PER_PROMPT;
        private ImageLoader imageLoader;
        private Integer numCrops;
        private Long availableMemory;
        private Boolean growKvCache;

        private Builder() {
        }

        /**
         * Loads from a local model folder (clears {@link #modelId}).
         *
         * @param dir the folder
         * @return this builder
         */
        public Builder modelDir(Path dir) {
            this.modelDir = Objects.requireNonNull(dir, "dir");
            this.modelId = null;
            return this;
        }

        /**
         * Loads a hub repository through the local hub cache (clears {@link #modelDir}).
         *
         * @param id e.g. {@code microsoft/Phi-3-vision-128k-instruct}
         * @return this builder
         */
        public Builder modelId(String id) {
            this.modelId = Objects.requireNonNull(id, "id");
            this.modelDir = null;
            return this;
        }

        /**
         * The hub revision for {@link #modelId} (default {@code main}).
         *
         * @param rev a branch, tag or commit
         * @return this builder
         */
        public Builder revision(String rev) {
            this.revision = Objects.requireNonNull(rev, "rev");
            return this;
        }

        /**
         * Hub settings for {@link #modelId} (default {@link HubConfig#fromEnvironment()}).
         *
         * @param config endpoint, cache folder, token, offline mode
         * @return this builder
         */
        public Builder hubConfig(HubConfig config) {
            this.hubConfig = Objects.requireNonNull(config, "config");
            return this;
        }

        /**
         * Download progress callbacks for {@link #modelId}.
         *
         * @param listener the listener
         * @return this builder
         */
        public Builder progress(ProgressListener listener) {
            this.progress = Objects.requireNonNull(listener, "listener");
            return this;
        }

        /**
         * The dtype weights are converted to (default {@link Precision#cpuDefault()}).
         *
         * @param p the precision
         * @return this builder
         */
        public Builder dtype(Precision p) {
            this.precision = Objects.requireNonNull(p, "precision");
            return this;
        }

        /**
         * The dtype by PyTorch name.
         *
         * @param name "float32", "bfloat16", "float16" (or fp32, bf16, fp16)
         * @return this builder
         * @throws IllegalArgumentException for an unknown name
         */
        public Builder dtype(String name) {
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
        public Builder quantization(Quantization q) {
            this.quantization = Objects.requireNonNull(q, "quantization");
            return this;
        }

        /**
         * The quantization by name.
         *
         * @param name "none" or "int8"
         * @return this builder
         * @throws IllegalArgumentException for another name
         */
        public Builder quantization(String name) {
            return quantization(Quantization.parse(name));
        }

        /**
         * Where the model runs (default CPU).
         *
         * @param d the device
         * @return this builder
         */
        public Builder device(ModelOptions.Device d) {
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
        public Builder device(String name) {
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
        public Builder threads(int n) {
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
        public Builder maxContext(int tokens) {
            if (tokens < 1) {
                throw new IllegalArgumentException("maxContext must be >= 1, got " + tokens);
            }
            this.maxContext = tokens;
            return this;
        }

        /**
         * The most tokens a prompt may have: text + image tokens of the whole rendered conversation (or
         * the ids given to {@link Phi3Vision#generate}), without the answer. Default: {@link #maxContext}.
         * Lower it to keep room for long answers or to bound the prefill a client can ask for; it is
         * checked before any image is preprocessed or encoded, and {@code <|image_N|>} tags are counted
         * before they are expanded.
         *
         * @param tokens at least 1, at most {@code maxContext} (checked by {@link #build()})
         * @return this builder
         */
        public Builder maxPromptTokens(int tokens) {
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
         * tokenized; {@link Phi3Vision#generate} refuses longer image lists before encoding any.
         *
         * @param n at least 1
         * @return this builder
         */
        public Builder maxImagesPerPrompt(int n) {
            if (n < 1) {
                throw new IllegalArgumentException("maxImagesPerPrompt must be >= 1, got " + n);
            }
            this.maxImagesPerPrompt = n;
            return this;
        }

        /**
         * The image loader of every session's {@code image(..)} methods and of
         * {@link Phi3Vision#preprocess(Path, int)}: its pixel limit, encoded-size limit, URL timeout and
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
        public Builder imageLoader(ImageLoader loader) {
            this.imageLoader = Objects.requireNonNull(loader, "loader");
            return this;
        }

        /**
         * The default {@code num_crops} of sessions (default: {@code preprocessor_config.json}'s).
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
         * Overrides the memory the estimate is checked against (default: physical memory). A negative
         * value skips the check.
         *
         * @param bytes available bytes, or -1 to skip the check
         * @return this builder
         */
        public Builder availableMemory(long bytes) {
            this.availableMemory = bytes;
            return this;
        }

        /** Test hook: force the KV cache policy of sessions (default: grow on CUDA only). */
        Builder growKvCache(boolean grow) {
            this.growKvCache = grow;
            return this;
        }

        /**
         * Resolves the folder, estimates and checks memory, then loads tokenizer, image processor and
         * weights.
         *
         * @return the model
         * @throws IllegalStateException if neither a folder nor an id was given, or the estimate does
         *     not fit (the message lists the parts and a context that fits)
         * @throws IllegalArgumentException if {@code maxContext} exceeds {@code max_position_embeddings} or
         *     {@code maxPromptTokens} exceeds {@code maxContext}
         */
        public Phi3Vision build() {
            int promptLimit = maxPromptTokens != null ? maxPromptTokens : maxContext;
            if (promptLimit > maxContext) {
                throw new IllegalArgumentException("maxPromptTokens " + promptLimit + " exceeds maxContext "
                        + maxContext + ": a prompt must leave room in the context; lower maxPromptTokens(n) or raise"
                        + " maxContext(n)");
            }
            Path dir = resolveDir();
            Phi3VConfig config = Phi3VConfig.fromDirectory(dir);
            if (maxContext > config.maxPositionEmbeddings()) {
                throw new IllegalArgumentException("maxContext " + maxContext + " exceeds the model's "
                        + "max_position_embeddings " + config.maxPositionEmbeddings());
            }
            // Cheap files first, so a broken folder fails before gigabytes of weights are touched.
            Phi3Tokenizer tokenizer = Phi3Tokenizer.fromDirectory(dir);
            Phi3ImageProcessor processor = Files.isRegularFile(dir.resolve("preprocessor_config.json"))
                    ? Phi3ImageProcessor.fromConfig(dir) : Phi3ImageProcessor.defaults();
            if (numCrops != null || imageLoader != null) {
                Phi3ImageProcessor.Builder pb = processor.toBuilder();
                if (numCrops != null) {
                    pb.numCrops(numCrops);
                }
                if (imageLoader != null) {
                    pb.loader(imageLoader);
                }
                processor = pb.build();
            }
            MemoryEstimate estimate = estimateMemory(dir, precision, quantization, maxContext, processor.numCrops());
            estimate.requireFits(availableMemory != null ? availableMemory : MemoryEstimate.physicalMemoryBytes());
            Phi3VModel model = Phi3VModel.load(dir,
                    ModelOptions.defaults().withPrecision(precision).withDevice(device).withThreads(threads)
                            .withQuantization(quantization));
            boolean grow = growKvCache != null ? growKvCache : device != ModelOptions.Device.CPU;
            return new Phi3Vision(dir, model, tokenizer, processor, maxContext, promptLimit, maxImagesPerPrompt,
                    estimate, grow);
        }

        private Path resolveDir() {
            if (modelDir != null) {
                if (!Files.isDirectory(modelDir)) {
                    throw new IllegalArgumentException("model folder " + modelDir + " does not exist or is not a "
                            + "directory (expected config.json, the weights and the tokenizer files)");
                }
                return modelDir;
            }
            if (modelId != null) {
                HubClient hub = new HubClient(hubConfig != null ? hubConfig : HubConfig.fromEnvironment());
                return hub.resolveModel(modelId, revision, progress).directory();
            }
            throw new IllegalStateException("no model given: call modelDir(path) or modelId(\"org/name\") first");
        }
    }
}
