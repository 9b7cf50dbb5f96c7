package io.github.phi3v.core;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

import io.github.phi3v.core.generate.Answer;
import io.github.phi3v.core.generate.CancellationToken;
import io.github.phi3v.core.generate.GenerationConfig;
import io.github.phi3v.core.generate.Generator;
import io.github.phi3v.core.generate.TextDecoder;
import io.github.phi3v.core.generate.TokenBudget;
import io.github.phi3v.core.model.ImageEmbeddings;
import io.github.phi3v.core.model.ImagePixels;
import io.github.phi3v.core.model.Phi3VModel;
import io.github.phi3v.core.model.PlaceholderRuns;
import io.github.phi3v.image.Phi3ImageProcessor;
import io.github.phi3v.tokenizer.Phi3Tokenizer;
import io.github.phi3v.tokenizer.StreamingDecoder;

/**
 * The request pipeline under {@link Phi3Vision} and {@link Session}: plans a request ({@link PromptPlanner}),
 * takes a slot ({@code maxConcurrentRequests}), finds or makes the image embeddings ({@link EmbeddingCache}),
 * takes a KV cache from the prefix pool ({@link KvPool}), generates, and gives everything back. It owns
 * the model, the tokenizer, the processor and the limits; nothing it calls reaches back into the facade.
 */
final class Engine implements AutoCloseable {

    private final Phi3VModel model;
    private final Phi3Tokenizer tokenizer;
    private final Phi3ImageProcessor processor;
    private final Limits limits;
    private final PromptPlanner planner;
    private final KvPool kvPool;
    private final EmbeddingCache embeddings;
    private final Semaphore slots;
    private final Set<CancellationToken> running = ConcurrentHashMap.newKeySet();
    private final AtomicLong visionEncodings = new AtomicLong();
    private BatchScheduler scheduler;   // started by the first submit; guarded by this
    private volatile boolean closed;

    Engine(Phi3VModel model, Phi3Tokenizer tokenizer, Phi3ImageProcessor processor, Limits limits) {
        this.model = model;
        this.tokenizer = tokenizer;
        this.processor = processor;
        this.limits = limits;
        this.planner = new PromptPlanner(tokenizer, processor.loader(), processor.numCrops(), limits);
        this.kvPool = new KvPool(model, limits.kvCacheBytes(), limits.maxContext(), limits.kvCacheWait());
        this.embeddings = new EmbeddingCache(limits.embeddingCacheBytes());
        this.slots = new Semaphore(limits.maxConcurrentRequests());
    }

    /** Answers a whole conversation; see {@link Phi3Vision#chat(ChatRequest)}. */
    Answer chat(ChatRequest request, Consumer<String> onText, CancellationToken cancel) {
        checkOpen();
        PromptPlan plan = planner.plan(request);
        GenerationConfig config = request.config();
        try (Slot slot = new Slot(cancel);
             Admission a = admit(plan, kvPool.acquire(plan.ids(), plan.imageKeys(), needed(plan, config),
                     slot.token))) {
            return a.withUsage(Generator.generate(plan.ids(), a.source(), textDecoder(), config, onText, slot.token));
        }
    }

    /**
     * Queues a request for continuous batching; see {@link Phi3Vision#submit(ChatRequest, Consumer,
     * CancellationToken)}. The slot is taken here, so a full model refuses at once.
     */
    java.util.concurrent.CompletableFuture<Answer> submit(ChatRequest request, Consumer<String> onText,
            CancellationToken cancel) {
        checkOpen();
        Slot slot = new Slot(cancel);
        BatchScheduler s;
        try {
            synchronized (this) {
                checkOpen();
                if (scheduler == null) {
                    scheduler = new BatchScheduler(this, limits.maxBatchSize());
                }
                s = scheduler;
            }
        } catch (RuntimeException | Error e) {
            slot.close();
            throw e;
        }
        return s.submit(request, onText, slot);
    }

    /** Generates from raw ids; see {@link RawPrompts#generate(int[], List, GenerationConfig, Consumer, CancellationToken)}. */
    Answer generate(int[] inputIds, List<ImagePixels> pixels, GenerationConfig config, Consumer<String> onText,
            CancellationToken cancel) {
        checkOpen();
        if (pixels.size() > limits.maxImagesPerPrompt()) {
            throw limits.tooManyImages(pixels.size(), "generate() was given");
        }
        int[] ids = inputIds.clone();
        PlaceholderRuns runs = PlaceholderRuns.of(ids, pixels.size());
        int numCrops = pixels.isEmpty() ? processor.numCrops() : pixels.get(0).numCrops();
        TokenBudget.check(runs.textTokens(), runs.tokensPerImage(), config.maxNewTokens(), limits.maxContext(),
                numCrops);
        limits.checkPromptTokens(runs.textTokens(), runs.imageTokens());
        try (Slot slot = new Slot(cancel);
             Admission a = new Admission(model, ids,
                     kvPool.allocate(Math.max(1, ids.length + config.maxNewTokens()), slot.token),
                     new Images(pixels.size()))) {
            long t0 = System.nanoTime();
            for (int i = 0; i < pixels.size(); i++) {
                a.images().own(i, encode(pixels.get(i)));
            }
            a.images().visionMillis = (System.nanoTime() - t0) / 1e6;
            Answer answer = Generator.generate(ids, a.source(), textDecoder(), config, onText, slot.token);
            return answer.withUsage(answer.usage().withVisionMillis(a.images().visionMillis)
                    .withCache(0, pixels.size()));
        }
    }

    /** Greedy decode steps of the warm-up ({@link Phi3VisionBuilder#warmUp(boolean)}). */
    static final int WARM_UP_STEPS = 8;

    /**
     * The warm-up of {@link Phi3VisionBuilder#warmUp(boolean)}: plans a one-word text question and decodes
     * {@code steps} greedy tokens for it (stop tokens and strings off, so the count does not depend on the
     * weights) on a cache that is never pooled.
     */
    Answer warmUp(int steps) {
        checkOpen();
        ChatRequest hello = ChatRequest.builder().user("Hello").literalText(true).config(GenerationConfig.defaults()
                .withGreedy().withMaxNewTokens(steps).withStopTokenIds().withStopStrings()).build();
        return generate(planner.plan(hello).ids(), List.of(), hello.config(), piece -> { }, CancellationToken.none());
    }

    /** Validates, decodes the images, renders and tokenizes a request (the caller's or an intake thread). */
    PromptPlan plan(ChatRequest request) {
        return planner.plan(request);
    }

    /** Positions a request may fill: prompt + maxNewTokens. */
    static int needed(PromptPlan plan, GenerationConfig config) {
        return plan.ids().length + config.maxNewTokens();
    }

    /** A KV cache for a planned request without waiting, or null when the budget has no room now. */
    KvPool.Lease tryLease(PromptPlan plan, GenerationConfig config, CancellationToken token) {
        return kvPool.tryAcquire(plan.ids(), plan.imageKeys(), needed(plan, config), token);
    }

    /** A KV cache for a planned request, waiting at most {@code waitNanos} for memory. */
    KvPool.Lease lease(PromptPlan plan, GenerationConfig config, CancellationToken token, long waitNanos) {
        return kvPool.acquire(plan.ids(), plan.imageKeys(), needed(plan, config), token, waitNanos);
    }

    /**
     * Gathers the image embeddings a leased request still needs: images whose placeholders all lie in the
     * reused prefix are skipped (their keys and values are cached). Closes the lease if this fails.
     */
    Admission admit(PromptPlan plan, KvPool.Lease lease) {
        Images images = null;
        try {
            images = new Images(plan.images().size());
            for (PlaceholderRuns.Run run : plan.runs().runs()) {
                if (run.start() + run.length() > lease.reusable() && images.get(run.image()) == null) {
                    PromptPlan.PlannedImage img = plan.images().get(run.image());
                    Images target = images;
                    images.put(run.image(), embeddings.acquire(img.key(), () -> target.encode(img)));
                }
            }
            return new Admission(model, plan.ids(), lease, images);
        } catch (RuntimeException | Error e) {
            if (images != null) {
                images.close();
            }
            lease.close();
            throw e;
        }
    }

    /** Runs the vision tower on preprocessed pixels (counted in {@link #visionEncodings()}). */
    ImageEmbeddings encode(ImagePixels pixels) {
        checkOpen();
        ImageEmbeddings e = model.encodeImage(pixels);
        visionEncodings.incrementAndGet();
        return e;
    }

    /** A fresh streaming detokenizer for one sequence. */
    TextDecoder textDecoder() {
        StreamingDecoder sd = tokenizer.streamingDecoder(true);
        return TextDecoder.of(sd::next, sd::finish);
    }

    Phi3VModel model() {
        return model;
    }

    Phi3Tokenizer tokenizer() {
        return tokenizer;
    }

    Phi3ImageProcessor processor() {
        return processor;
    }

    Limits limits() {
        return limits;
    }

    long visionEncodings() {
        return visionEncodings.get();
    }

    /** The most sequences one batched step has decoded (0 before the first {@link #submit}). */
    synchronized int largestBatch() {
        return scheduler == null ? 0 : scheduler.largestBatch();
    }

    /** Batched decode steps so far by batch size (index b: steps that decoded b sequences). */
    synchronized long[] decodeStepsByBatchSize() {
        return scheduler == null ? new long[limits.maxBatchSize() + 1] : scheduler.stepsByBatchSize();
    }

    /** Bytes of all KV caches, running and pooled. */
    long kvCacheBytesInUse() {
        return kvPool.reservedBytes();
    }

    /** KV caches kept for reuse. */
    int pooledKvCaches() {
        return kvPool.pooledCount();
    }

    boolean isClosed() {
        return closed;
    }

    void checkOpen() {
        if (closed) {
            throw new IllegalStateException("this Phi3Vision is closed; load the model again to use it");
        }
    }

    /** Cancels running calls (they end with CANCELLED within a token), frees the caches and the weights. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        BatchScheduler s;
        synchronized (this) {
            closed = true;
            s = scheduler;
        }
        running.forEach(CancellationToken::cancel);
        if (s != null) {
            s.close();   // its requests end as CANCELLED and give their caches back first
        }
        kvPool.close();
        embeddings.close();
        model.close();   // waits for a forward pass in progress
    }

    /** One running call: a concurrency slot and a token that {@link #close()} cancels. */
    final class Slot implements AutoCloseable {
        final CancellationToken token;

        Slot(CancellationToken caller) {
            if (!slots.tryAcquire()) {
                int max = limits.maxConcurrentRequests();
                throw new LimitExceededException("maxConcurrentRequests", max + 1L, max, true, max + " requests are"
                        + " already running on this model (maxConcurrentRequests " + max + "); retry when one"
                        + " finishes, or raise Phi3Vision.builder().maxConcurrentRequests(n)");
            }
            token = caller.child();
            running.add(token);
            if (closed) {   // closed concurrently
                close();
                checkOpen();
            }
        }

        @Override
        public void close() {
            if (running.remove(token)) {
                slots.release();
            }
        }
    }

    /** The image embeddings one call holds, by image index; released when the call ends. */
    final class Images implements AutoCloseable {
        private final EmbeddingCache.Handle[] handles;
        private final ImageEmbeddings[] owned;
        double preprocessMillis;
        double visionMillis;

        Images(int n) {
            handles = new EmbeddingCache.Handle[n];
            owned = new ImageEmbeddings[n];
        }

        ImageEmbeddings get(int i) {
            return handles[i] != null ? handles[i].embeddings() : owned[i];
        }

        void put(int i, EmbeddingCache.Handle h) {
            handles[i] = h;
        }

        void own(int i, ImageEmbeddings e) {
            owned[i] = e;
        }

        /** Preprocesses and encodes one planned image, timing both. */
        ImageEmbeddings encode(PromptPlan.PlannedImage img) {
            long t0 = System.nanoTime();
            ImagePixels pixels = ImagePixels.of(processor.process(img.image(), img.key().numCrops()));
            long t1 = System.nanoTime();
            ImageEmbeddings e = Engine.this.encode(pixels);
            preprocessMillis += (t1 - t0) / 1e6;
            visionMillis += (System.nanoTime() - t1) / 1e6;
            return e;
        }

        int encoded() {
            int n = 0;
            for (EmbeddingCache.Handle h : handles) {
                n += h != null && h.encoded() ? 1 : 0;
            }
            return n;
        }

        List<ImageEmbeddings> list() {
            List<ImageEmbeddings> all = new ArrayList<>(handles.length);
            for (int i = 0; i < handles.length; i++) {
                all.add(get(i));
            }
            return all;
        }

        @Override
        public void close() {
            for (EmbeddingCache.Handle h : handles) {
                if (h != null) {
                    h.close();
                }
            }
            for (ImageEmbeddings e : owned) {
                if (e != null) {
                    e.close();
                }
            }
        }
    }
}
