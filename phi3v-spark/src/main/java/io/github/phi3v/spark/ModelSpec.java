package io.github.phi3v.spark;

import java.io.PrintWriter;
import java.io.Serializable;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

import io.github.phi3v.core.Phi3Vision;
import io.github.phi3v.core.Phi3VisionBuilder;
import io.github.phi3v.core.hub.HubConfig;
import io.github.phi3v.core.hub.ProgressListener;
import io.github.phi3v.image.ImageLoader;
import io.github.phi3v.tooling.Models;

/**
 * Which model an executor loads and how: a small serializable value that travels with the tasks, so each
 * executor JVM can load the model itself ({@link ExecutorModels}) instead of receiving gigabytes of
 * weights. Two equal specs share one loaded model per JVM.
 *
 * <p>The model is one of
 * <ul>
 *   <li>a hub id such as {@code microsoft/Phi-3-vision-128k-instruct}, resolved into the Hugging Face
 *       cache of each executor (downloaded once per cache: point {@link #withHfHome(String) HF_HOME} at
 *       shared storage so the whole cluster downloads it once);</li>
 *   <li>a model folder on a local or shared file system, present on every executor;</li>
 *   <li>{@value Models#TINY_RANDOM}: a tiny random-weight model built on each executor, for trying the
 *       pipeline (its answers are meaningless).</li>
 * </ul>
 *
 * <pre>{@code
 * ModelSpec spec = ModelSpec.of("microsoft/Phi-3-vision-128k-instruct")
 *         .withHfHome("/mnt/shared/hf").withMaxBatchSize(8);
 * }</pre>
 *
 * <p>Immutable and thread-safe; the {@code with...} methods return copies.
 *
 * @param model a hub id, a model folder path or {@value Models#TINY_RANDOM}
 * @param dtype the precision ({@code float32}, {@code bfloat16}, ...), or null for the library default
 * @param threads libtorch threads, or 0 for the executor's cores ({@link ExecutorCores})
 * @param maxContext the maximum context in tokens, or 0 for {@link Phi3Vision#DEFAULT_MAX_CONTEXT}
 * @param maxBatchSize rows decoded together in one batched step (and the rows a task keeps in flight)
 * @param hfHome the Hugging Face home ({@code HF_HOME}) for hub ids, or null for the executor's environment
 * @param imageHosts hosts with private addresses that image URLs may reach (e.g. an internal image store);
 *     public hosts are always allowed
 */
public record ModelSpec(String model, String dtype, int threads, int maxContext, int maxBatchSize, String hfHome,
        List<String> imageHosts) implements Serializable {

    private static final long serialVersionUID = 1L;

    /**
     * Validates the values.
     *
     * @throws IllegalArgumentException if {@code model} is blank or a number is out of range
     */
    public ModelSpec {
        Objects.requireNonNull(model, "model");
        if (model.isBlank()) {
            throw new IllegalArgumentException("model must be a hub id, a model folder or " + Models.TINY_RANDOM
                    + ", got a blank string");
        }
        if (threads < 0) {
            throw new IllegalArgumentException("threads must be >= 0 (0 = the executor's cores), got " + threads);
        }
        if (maxContext < 0) {
            throw new IllegalArgumentException("maxContext must be >= 0 (0 = the default), got " + maxContext);
        }
        if (maxBatchSize < 1) {
            throw new IllegalArgumentException("maxBatchSize must be >= 1, got " + maxBatchSize);
        }
        imageHosts = List.copyOf(imageHosts);
    }

    /**
     * A spec with the defaults: library precision, the executor's cores as threads, default context,
     * batches of {@link Phi3Vision#DEFAULT_MAX_BATCH_SIZE}.
     *
     * @param model a hub id, a model folder path or {@value Models#TINY_RANDOM}
     * @return the spec
     */
    public static ModelSpec of(String model) {
        return new ModelSpec(model, null, 0, 0, Phi3Vision.DEFAULT_MAX_BATCH_SIZE, null, List.of());
    }

    /**
     * This spec with another precision.
     *
     * @param precision e.g. {@code float32} or {@code bfloat16}
     * @return a copy
     */
    public ModelSpec withDtype(String precision) {
        return new ModelSpec(model, Objects.requireNonNull(precision, "precision"), threads, maxContext, maxBatchSize,
                hfHome, imageHosts);
    }

    /**
     * This spec with a fixed number of libtorch threads.
     *
     * @param n threads, or 0 for the executor's cores
     * @return a copy
     */
    public ModelSpec withThreads(int n) {
        return new ModelSpec(model, dtype, n, maxContext, maxBatchSize, hfHome, imageHosts);
    }

    /**
     * This spec with another maximum context.
     *
     * @param tokens tokens, or 0 for the default
     * @return a copy
     */
    public ModelSpec withMaxContext(int tokens) {
        return new ModelSpec(model, dtype, threads, tokens, maxBatchSize, hfHome, imageHosts);
    }

    /**
     * This spec with another batch size.
     *
     * @param n rows decoded together, at least 1
     * @return a copy
     */
    public ModelSpec withMaxBatchSize(int n) {
        return new ModelSpec(model, dtype, threads, maxContext, n, hfHome, imageHosts);
    }

    /**
     * This spec with a Hugging Face home for hub ids (its {@code hub} folder is the cache).
     *
     * @param dir a folder every executor can write, ideally shared storage
     * @return a copy
     */
    public ModelSpec withHfHome(String dir) {
        return new ModelSpec(model, dtype, threads, maxContext, maxBatchSize, Objects.requireNonNull(dir, "dir"),
                imageHosts);
    }

    /**
     * This spec with hosts that image URLs may reach although their addresses are private.
     *
     * @param hosts host names or {@code host:port}
     * @return a copy
     */
    public ModelSpec withImageHosts(String... hosts) {
        return new ModelSpec(model, dtype, threads, maxContext, maxBatchSize, hfHome, List.of(hosts));
    }

    /**
     * Loads the model this spec describes, in this JVM.
     *
     * @param defaultThreads the libtorch threads when {@link #threads()} is 0
     * @return the loaded model (the caller closes it)
     */
    Phi3Vision load(int defaultThreads) {
        // The tiny-random banner goes to the executor's stderr log.
        Phi3VisionBuilder b = Models.builder(model, new PrintWriter(System.err, true), ProgressListener.NONE);
        if (hfHome != null && !Models.TINY_RANDOM.equals(model) && !isFolder(model)) {
            Map<String, String> env = new HashMap<>(System.getenv());
            env.put("HF_HOME", hfHome);
            b.hubConfig(HubConfig.fromEnvironment(env));
        }
        if (dtype != null) {
            b.dtype(dtype);
        }
        if (maxContext > 0) {
            b.maxContext(maxContext);
        }
        // Rows come from the job owner's own data: file: URLs (Spark's path column) are trusted, and so are
        // the internal hosts the spec names.
        b.imageLoader(ImageLoader.builder().allowFileUrls(true).allowHosts(imageHosts.toArray(String[]::new))
                .build());
        // Each task keeps maxBatchSize rows submitted: room for four tasks' rows; a task beyond that waits for a
        // place (AnsweredRows), so the executor's tasks fill the one batch between them.
        int requests = Math.max(Phi3Vision.DEFAULT_MAX_CONCURRENT_REQUESTS, 4 * maxBatchSize);
        return b.threads(threads > 0 ? threads : defaultThreads).maxBatchSize(maxBatchSize)
                .maxConcurrentRequests(requests).build();
    }

    private static boolean isFolder(String model) {
        try {
            return Path.of(model).toFile().isDirectory();
        } catch (RuntimeException e) {
            return false;
        }
    }
}
