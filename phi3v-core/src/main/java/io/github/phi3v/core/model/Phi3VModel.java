package io.github.phi3v.core.model;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.locks.ReentrantReadWriteLock;

import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.DeviceType;
import org.bytedeco.pytorch.global.torch.ScalarType;

import io.github.phi3v.core.config.Phi3VConfig;
import io.github.phi3v.core.runtime.CpuFeatures;
import io.github.phi3v.core.runtime.InferenceScope;
import io.github.phi3v.core.runtime.Tensors;
import io.github.phi3v.core.runtime.TorchRuntime;
import io.github.phi3v.core.weights.Checkpoint;

/**
 * Phi-3-V ({@code Phi3VForCausalLM}) on libtorch: the CLIP vision tower with the HD transform and
 * projection, and the Phi-3 decoder with LongRoPE over a preallocated {@link KvCache}.
 *
 * <p>Weights are loaded once, converted to the chosen {@link Precision}, and live until {@link #close()}.
 * The model is immutable after loading and safe for concurrent use from several threads, each with its
 * own {@link KvCache}; {@link #close()} waits for running calls to finish.
 *
 * <p>Token ids: a non-negative id is a vocabulary token; {@code -k} is a placeholder of image
 * {@code k} (1-based index into the {@code images} list of the call). Every run of {@code -k}
 * placeholders must be exactly as long as image k's {@link ImageEmbeddings#tokenCount()}; it is
 * filled with those embeddings. The caller's array is never modified.
 */
public final class Phi3VModel implements AutoCloseable {

    private final Phi3VConfig config;
    private final ModelOptions options;
    private final ScalarType dtype;
    private final Device device;
    private final Phi3Decoder decoder;
    /** Null for a text-only config. */
    private final Phi3ImageEmbedding vision;
    private final List<Pointer> owned;
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private boolean closed;

    private Phi3VModel(Phi3VConfig config, ModelOptions options, WeightLoader w) {
        this.config = config;
        this.options = options;
        this.dtype = w.dtype();
        this.device = w.device();
        boolean onCpu = options.device() == ModelOptions.Device.CPU;
        this.decoder = new Phi3Decoder(config, w, onCpu);
        this.vision = config.hasVision()
                ? new Phi3ImageEmbedding(w, config.imageEmbedding(), onCpu && dtype != ScalarType.Float) : null;
        this.owned = w.release();
    }

    /**
     * {@link #load(Path, ModelOptions)} with {@link ModelOptions#defaults()}.
     *
     * @param modelDir the HF model folder ({@code config.json} and safetensors weights)
     * @return the model; close it to free the weights
     */
    public static Phi3VModel load(Path modelDir) {
        return load(modelDir, ModelOptions.defaults());
    }

    /**
     * Loads an HF model folder ({@code config.json} + {@code model.safetensors} or an index with shards).
     * A pre-quantized folder ({@link QuantizedCheckpoint}) loads with its stored quantization, without
     * quantizing again; {@link #options()} then reports that quantization.
     *
     * @param modelDir the folder
     * @param options precision, device, threads
     * @return the model; close it to free the weights
     * @throws WeightMismatchException if the checkpoint's tensors do not fit config.json (all problems listed)
     * @throws io.github.phi3v.core.config.InvalidConfigException for a bad config.json
     * @throws io.github.phi3v.core.weights.InvalidCheckpointException for a malformed checkpoint (also a
     *     malformed quantized tensor of a pre-quantized folder, see {@link QuantizedCheckpoint})
     * @throws IllegalStateException if CUDA is requested but not available, or packed decode weights on a CPU
     *     whose bf16 weights oneDNN cannot pack ({@link CpuFeatures#oneDnnBf16Packing()})
     * @throws IllegalArgumentException if a pre-quantized folder is loaded with another quantization
     */
    public static Phi3VModel load(Path modelDir, ModelOptions options) {
        TorchRuntime.ensureInitialized();
        if (options.threads() > 0) {
            TorchRuntime.setThreads(options.threads());
        }
        boolean cuda = options.device() == ModelOptions.Device.CUDA;
        if (cuda && !torch.cuda_is_available()) {
            throw new IllegalStateException("device CUDA requested, but libtorch sees no CUDA device (build "
                    + "with -Pgpu for the CUDA natives and check the driver), or use device CPU");
        }
        if (options.packedDecodeWeights() && !cuda && !CpuFeatures.oneDnnBf16Packing()) {
            throw new IllegalStateException("packed decode weights need oneDNN's bf16 weight packing, which needs a CPU "
                    + "with AVX-512 BW, VL and DQ or with AVX-NE-CONVERT, and /proc/cpuinfo lists neither: load "
                    + "without packedDecodeWeights");
        }
        Phi3VConfig config = Phi3VConfig.fromDirectory(modelDir);
        Quantization stored = QuantizedCheckpoint.of(modelDir);
        ModelOptions effective = options;
        if (stored != Quantization.NONE) {
            if (options.quantization() != Quantization.NONE && options.quantization() != stored) {
                throw new IllegalArgumentException(modelDir + " is pre-quantized " + stored.name().toLowerCase(
                        Locale.ROOT) + ": load it with quantization none or " + stored.name().toLowerCase(
                        Locale.ROOT) + ", not " + options.quantization().name().toLowerCase(Locale.ROOT));
            }
            effective = options.withQuantization(stored);     // also refuses CUDA, like quantizing at load
        }
        try (Checkpoint checkpoint = Checkpoint.open(modelDir)) {
            QuantizedCheckpoint.validate(config, checkpoint, stored);
            // The loader makes the model's first native object (the device) and owns every one after it:
            // whatever fails from here on (a read error, an allocation), closing it frees all of them.
            WeightLoader loader = new WeightLoader(checkpoint, options.precision().scalarType(),
                    cuda ? DeviceType.CUDA : DeviceType.CPU, effective.quantization(), stored != Quantization.NONE,
                    effective.packedDecodeWeights());
            try {
                return new Phi3VModel(config, effective, loader);
            } catch (RuntimeException | Error e) {
                loader.close();
                throw e;
            }
        }
    }

    /**
     * The model's configuration.
     *
     * @return the parsed {@code config.json}
     */
    public Phi3VConfig config() {
        return config;
    }

    /**
     * The options it was loaded with.
     *
     * @return precision, device, threads and quantization given to {@link #load(Path, ModelOptions)}
     */
    public ModelOptions options() {
        return options;
    }

    /**
     * Number of placeholder tokens an image with this padded HD size occupies.
     *
     * @param hdHeight padded HD height in pixels, a positive multiple of the CLIP image size (336)
     * @param hdWidth padded HD width in pixels, a positive multiple of the CLIP image size
     * @return the token count of {@link #encodeImage} for that size
     * @throws IllegalArgumentException if the size is not a valid HD grid
     */
    public int imageTokenCount(int hdHeight, int hdWidth) {
        return requireVision().tokenCount(hdHeight, hdWidth);
    }

    /**
     * Allocates a KV cache for up to {@code capacity} positions (prompt + generated tokens).
     * Memory: layers × 2 × kvHeads × headDim × capacity × dtype size.
     *
     * @param capacity positions, 1..{@code max_position_embeddings}
     * @return an empty cache; close it when the sequence is done
     * @throws IllegalArgumentException if {@code capacity} is out of range
     */
    public KvCache newKvCache(int capacity) {
        if (capacity < 1 || capacity > config.maxPositionEmbeddings()) {
            throw new IllegalArgumentException("KV cache capacity must be 1.." + config.maxPositionEmbeddings()
                    + " (max_position_embeddings), got " + capacity);
        }
        lock.readLock().lock();
        try {
            checkOpen();
            return KvCache.allocate(this, config, decoder.layerCount(), decoder.rope(), dtype, device, capacity);
        } finally {
            lock.readLock().unlock();
        }
    }

    /**
     * A new cache of {@code capacity} positions that starts with {@code prefix}'s cached sequence (copied,
     * not recomputed), for a sequence that outgrows its cache. {@code prefix} is left as it was.
     *
     * @param capacity positions of the new cache, at least {@code prefix.length()}
     * @param prefix a cache of this model
     * @return the new cache holding the same sequence; close it when done
     * @throws IllegalArgumentException if {@code capacity} is out of range or the prefix is from another model
     */
    public KvCache newKvCache(int capacity, KvCache prefix) {
        if (prefix.owner != this) {
            throw new IllegalArgumentException("the KvCache belongs to another model");
        }
        KvCache grown = newKvCache(capacity);
        try (InferenceScope scope = InferenceScope.open()) {
            grown.copyPrefixFrom(prefix);
            return grown;
        } catch (RuntimeException | Error e) {
            grown.close();
            throw e;
        }
    }

    /**
     * The native bytes {@link #newKvCache(int)} allocates for {@code capacity} positions (keys and values,
     * the saved input embeddings, the rotary tables), so a caller can budget memory before allocating.
     *
     * @param capacity positions, at least 1
     * @return bytes, equal to {@link KvCache#sizeInBytes()} of such a cache
     */
    public long kvCacheBytes(int capacity) {
        return KvCache.bytesFor(config, decoder.layerCount(), decoder.rope().switchesFactors(),
                options.precision() == Precision.FLOAT32 ? 4 : 2, capacity);
    }

    /**
     * {@link #encodeImage(float[], int, int, int)} of an {@link ImagePixels}.
     *
     * @param image the processor's output for one image
     * @return the image's embeddings; close them when done
     */
    public ImageEmbeddings encodeImage(ImagePixels image) {
        return encodeImage(image.pixelValues(), image.numCrops(), image.hdHeight(), image.hdWidth());
    }

    /**
     * Runs the vision tower (on the global crop and the real sub-crops only), the HD transform and
     * the projection.
     *
     * @param pixelValues {@code [numCrops + 1, 3, S, S]} row-major (S = 336): global crop, sub-crops
     *     row-major, zero padding crops
     * @param numCrops the processor's num_crops
     * @param hdHeight padded HD height (a multiple of S); {@code hdHeight/S · hdWidth/S <= numCrops}
     * @param hdWidth padded HD width (a multiple of S)
     * @return the image's embeddings, {@link #imageTokenCount} rows; close them when done
     */
    public ImageEmbeddings encodeImage(float[] pixelValues, int numCrops, int hdHeight, int hdWidth) {
        return encode(pixelValues, numCrops, hdHeight, hdWidth, null, "");
    }

    private ImageEmbeddings encode(float[] px, int numCrops, int hdHeight, int hdWidth, Trace trace, String prefix) {
        Phi3ImageEmbedding img = requireVision();
        int used = img.cropsUsed(px.length, numCrops, hdHeight, hdWidth);
        int s = img.cropSize();
        lock.readLock().lock();
        try (InferenceScope scope = InferenceScope.open();
             CpuMatmulBackend.Lease kernels = device.is_cpu() ? CpuMatmulBackend.enter(CpuMatmulBackend.Mode.ONEDNN)
                     : CpuMatmulBackend.none()) {
            checkOpen();
            Tensor pixels = img.pixels(px, used).to(device, dtype);                         // [1+hc*wc, 3, S, S]
            Tensor embeds = img.embed(pixels, hdHeight / s, hdWidth / s, trace, prefix);    // [tokens, hidden]
            return new ImageEmbeddings(this, scope.keep(embeds), hdHeight, hdWidth);
        } finally {
            lock.readLock().unlock();
        }
    }

    /**
     * Feeds {@code tokenIds} at positions {@code startPosition ..} and returns the logits of the last one.
     *
     * @param tokenIds ids; {@code -k} = placeholder of {@code images.get(k-1)}; not modified
     * @param images image embeddings referenced by the placeholders (may be empty)
     * @param cache this sequence's cache; positions from {@code startPosition} on are overwritten
     * @param startPosition where the ids go, at most {@code cache.length()} (a smaller value reuses
     *     the cached prefix and drops the rest)
     * @return float32 logits of the last position, length vocab_size
     */
    public float[] forward(int[] tokenIds, List<ImageEmbeddings> images, KvCache cache, int startPosition) {
        return forward(tokenIds, images, cache, startPosition, 1)[0];
    }

    /**
     * Like {@link #forward(int[], List, KvCache, int)} but returns the logits of the last
     * {@code lastPositions} positions ({@code [lastPositions][vocab]}, oldest first).
     *
     * @param tokenIds ids; {@code -k} = placeholder of {@code images.get(k-1)}; not empty, not modified
     * @param images image embeddings referenced by the placeholders (may be empty)
     * @param cache this sequence's cache, from this model; positions from {@code startPosition} on are
     *     overwritten
     * @param startPosition where the ids go, 0..{@code cache.length()}
     * @param lastPositions how many final positions to return, 1..{@code tokenIds.length}
     * @return float32 logits, {@code lastPositions} arrays of length vocab_size, oldest first
     * @throws IllegalArgumentException if an argument is out of range or the cache would overflow
     */
    public float[][] forward(int[] tokenIds, List<ImageEmbeddings> images, KvCache cache, int startPosition,
            int lastPositions) {
        lock.readLock().lock();
        try {
            checkOpen();
            Tensor logits = run(tokenIds, images, cache, startPosition, lastPositions, null);
            try {
                float[] flat = Tensors.toFloats(logits);
                if (lastPositions == 1) {
                    return new float[][] {flat};                                // the per-token case: no second copy
                }
                return Phi3Decoder.splitRows(flat, lastPositions, config.vocabSize());
            } finally {
                logits.close();
            }
        } finally {
            lock.readLock().unlock();
        }
    }

    /**
     * One decode step for several sequences at once: feeds {@code tokens[i]} to {@code caches.get(i)} at
     * that cache's own length (lengths may differ) and returns each sequence's next-token logits. The
     * linear layers run once on the whole batch, so on a CPU, where a step is bound by reading the weights,
     * B sequences cost little more than one; rotary and attention are per sequence, over its own cache.
     * Row i gets the logits {@link #forward(int[], List, KvCache, int) forward(new int[] {tokens[i]},
     * List.of(), caches.get(i), caches.get(i).length())} would give, up to the summation order of the
     * batched matrix products. A sequence whose LongRoPE factor set switches at this token (it reaches
     * {@code original_max_position_embeddings + 1} positions) takes that single-sequence path, which
     * recomputes its prefix.
     *
     * <p>If the step fails, every cache keeps its length and cached positions; the position being written
     * is unspecified.
     *
     * @param tokens one vocabulary id per sequence (no image placeholders)
     * @param caches the sequences' caches, from this model, distinct, each with room for one more position
     * @return float32 logits {@code [B][vocab_size]}, row i for sequence i
     * @throws IllegalArgumentException if the sizes differ or are 0, an id is outside the vocabulary, a cache
     *     is full, repeated or from another model
     */
    public float[][] decodeStep(int[] tokens, List<KvCache> caches) {
        int b = tokens.length;
        if (b == 0 || caches.size() != b) {
            throw new IllegalArgumentException("decodeStep needs one token per cache and at least one of each, got "
                    + b + " tokens and " + caches.size() + " caches");
        }
        Set<KvCache> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        for (int i = 0; i < b; i++) {
            KvCache c = caches.get(i);
            if (c.owner != this) {
                throw new IllegalArgumentException("cache " + i + " belongs to another model; create it with newKvCache()");
            }
            if (!seen.add(c)) {
                throw new IllegalArgumentException("cache " + i + " appears twice in one decodeStep; each sequence "
                        + "needs its own cache");
            }
            if (tokens[i] < 0 || tokens[i] >= config.vocabSize()) {
                throw new IllegalArgumentException("token " + tokens[i] + " of sequence " + i + " is outside the "
                        + "vocabulary (0.." + (config.vocabSize() - 1) + "); decodeStep takes no image placeholders");
            }
        }
        lock.readLock().lock();
        try {
            checkOpen();
            float[][] out = new float[b][];
            List<Integer> batched = new ArrayList<>(b);
            for (int i = 0; i < b; i++) {
                KvCache c = caches.get(i);
                c.checkOpen();
                if (c.remaining() < 1) {
                    throw new IllegalArgumentException("KV cache of sequence " + i + " is full (capacity "
                            + c.capacity() + "); allocate a larger cache");
                }
            }
            for (int i = 0; i < b; i++) {
                KvCache c = caches.get(i);
                if (c.length() > 0 && c.longRope != decoder.rope().isLong(c.length() + 1L)) {
                    try (Tensor logits = run(new int[] {tokens[i]}, List.of(), c, c.length(), 1, null)) {
                        out[i] = Tensors.toFloats(logits);                      // crossing: prefix recomputed
                    }
                } else {
                    batched.add(i);
                }
            }
            if (batched.size() == 1) {
                int i = batched.get(0);
                KvCache c = caches.get(i);
                try (Tensor logits = run(new int[] {tokens[i]}, List.of(), c, c.length(), 1, null)) {
                    out[i] = Tensors.toFloats(logits);
                }
            } else if (!batched.isEmpty()) {
                float[][] rows = decoder.decodeBatch(batched.stream().mapToInt(i -> tokens[i]).toArray(),
                        batched.stream().map(caches::get).toArray(KvCache[]::new));
                for (int j = 0; j < rows.length; j++) {
                    out[batched.get(j)] = rows[j];
                }
            }
            return out;
        } finally {
            lock.readLock().unlock();
        }
    }

    /**
     * One full forward pass (fresh cache, position 0) that records every intermediate: the same code as
     * {@link #encodeImage} and {@link #forward}, with copies taken along the way. For conformance
     * checks and the CLI's {@code inspect}; it also computes the logits of every position (in chunks)
     * for the per-position statistics.
     *
     * @param tokenIds the prompt ids ({@code -k} = image k's placeholders)
     * @param images the preprocessed images
     * @param lastPositions how many final positions' logits and final-norm outputs to keep
     * @return the recorded tensors and per-position logits statistics
     */
    public Inspection inspect(int[] tokenIds, List<ImagePixels> images, int lastPositions) {
        Trace trace = new Trace();
        List<ImageEmbeddings> embeddings = new ArrayList<>();
        try {
            List<float[]> merged = new ArrayList<>();
            long rows = 0;
            for (int k = 0; k < images.size(); k++) {
                ImagePixels p = images.get(k);
                String prefix = "image_" + (k + 1) + ".";
                embeddings.add(encode(p.pixelValues(), p.numCrops(), p.hdHeight(), p.hdWidth(), trace, prefix));
                Inspection.TracedTensor t = trace.tensors.get(prefix + "hd_merged");
                merged.add(t.values());
                rows += t.shape()[0];
            }
            if (!images.isEmpty()) {
                long width = trace.tensors.get("image_1.hd_merged").shape()[1];
                float[] all = new float[Math.toIntExact(rows * width)];
                int at = 0;
                for (float[] m : merged) {
                    System.arraycopy(m, 0, all, at, m.length);
                    at += m.length;
                }
                trace.tensors.put("hd_merged", new Inspection.TracedTensor("hd_merged", new long[] {rows, width}, all));
            }
            lock.readLock().lock();
            try (KvCache cache = newKvCache(tokenIds.length)) {
                checkOpen();
                run(tokenIds, embeddings, cache, 0, lastPositions, trace).close();
            } finally {
                lock.readLock().unlock();
            }
            return trace.toInspection();
        } finally {
            for (ImageEmbeddings e : embeddings) {
                e.close();
            }
        }
    }

    /** The forward pass; returns owned float32 CPU logits {@code [lastN, vocab]} (caller closes). */
    private Tensor run(int[] ids, List<ImageEmbeddings> images, KvCache cache, int start, int lastN, Trace trace) {
        int n = ids.length;
        if (cache.owner != this) {
            throw new IllegalArgumentException("the KvCache belongs to another model; create it with newKvCache()");
        }
        cache.checkOpen();
        if (n == 0) {
            throw new IllegalArgumentException("tokenIds is empty: expected at least one id");
        }
        if (start < 0 || start > cache.length()) {
            throw new IllegalArgumentException("startPosition " + start + ": expected 0.." + cache.length()
                    + " (the cached length)");
        }
        if ((long) start + n > cache.capacity()) {
            throw new IllegalArgumentException("KV cache full: " + start + " cached + " + n + " new tokens > capacity "
                    + cache.capacity() + "; allocate a larger cache");
        }
        if (lastN < 1 || lastN > n) {
            throw new IllegalArgumentException("lastPositions must be 1.." + n + " (the number of ids fed), got " + lastN);
        }
        cache.truncate(start);
        cache.layOut(start + n);
        try (InferenceScope scope = InferenceScope.open()) {
            // The residual stream is kept in float32 whatever the model dtype: with 16-bit weights only
            // the inputs and outputs of the linear layers are rounded, not the 2 x layers additions.
            Tensor x = embed(ids, images).to(ScalarType.Float);             // [n, hidden]
            Trace.record(trace, "inputs_embeds", x);
            return scope.keep(decoder.forward(x, cache, start, lastN, trace));
        }
    }

    /** Token embeddings with every placeholder run replaced by its image's embeddings. */
    private Tensor embed(int[] ids, List<ImageEmbeddings> images) {
        int n = ids.length;
        PlaceholderRuns runs = PlaceholderRuns.of(ids, images.size());
        long[] text = new long[n];
        for (int i = 0; i < n; i++) {
            int id = ids[i];
            if (id >= config.vocabSize()) {
                throw new IllegalArgumentException("token id " + id + " at position " + i + " is outside the "
                        + "vocabulary (0.." + (config.vocabSize() - 1) + ")");
            }
            text[i] = Math.max(id, 0);   // placeholders are overwritten below
        }
        for (PlaceholderRuns.Run r : runs.runs()) {
            ImageEmbeddings img = images.get(r.image());
            if (img.owner != this) {
                throw new IllegalArgumentException("image " + (r.image() + 1) + "'s embeddings were made by another model");
            }
            if (r.length() != img.tokenCount()) {
                throw new IllegalArgumentException("placeholder block of image " + (r.image() + 1) + " at positions ["
                        + r.start() + ", " + (r.start() + r.length()) + ") has " + r.length() + " ids, but the image has "
                        + img.tokenCount() + " embedding rows (HD size " + img.hdHeight() + "x" + img.hdWidth()
                        + "); a placeholder block must be fed whole and match the image's token count");
            }
        }
        Tensor x = decoder.tokenEmbeddings(text);                            // [n, hidden]
        for (PlaceholderRuns.Run r : runs.runs()) {
            x.narrow(0, r.start(), r.length()).copy_(images.get(r.image()).tensor());   // in place
        }
        return x;
    }

    private Phi3ImageEmbedding requireVision() {
        if (vision == null) {
            throw new IllegalStateException("this model has no vision part (config.json has no img_processor)");
        }
        return vision;
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("the model is closed");
        }
    }

    /** Frees all weights; waits for running calls. Caches and image embeddings must be closed by their owners. */
    @Override
    public void close() {
        lock.writeLock().lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            for (int i = owned.size() - 1; i >= 0; i--) {
                owned.get(i).close();
            }
            owned.clear();
        } finally {
            lock.writeLock().unlock();
        }
    }
}
