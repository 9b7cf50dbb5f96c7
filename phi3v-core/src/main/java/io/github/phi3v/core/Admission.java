package io.github.phi3v.core;

import java.util.Arrays;

import io.github.phi3v.core.generate.Answer;
import io.github.phi3v.core.generate.LogitsSource;
import io.github.phi3v.core.model.KvCache;
import io.github.phi3v.core.model.Phi3VModel;

/**
 * What one admitted request holds while it runs: its KV lease from the prefix pool and its image
 * embeddings. The single-request path ({@link Engine#chat}) drives it through {@link #source()} and
 * {@link io.github.phi3v.core.generate.Generator}; the {@link BatchScheduler} prefills through the same
 * {@link #source()} and then feeds it from batched decode steps ({@link #beforeStep()}, {@link #fed(int)}).
 * Either way the lease records exactly what the cache holds, so a finished request's cache can serve the
 * next turn's prefix. Used by one thread at a time.
 */
final class Admission implements AutoCloseable {

    private final Phi3VModel model;
    private final int[] ids;
    private final KvPool.Lease lease;
    private final Engine.Images images;
    private boolean prefilled;
    private boolean imagesClosed;

    Admission(Phi3VModel model, int[] ids, KvPool.Lease lease, Engine.Images images) {
        this.model = model;
        this.ids = ids;
        this.lease = lease;
        this.images = images;
    }

    /**
     * The model as a {@link LogitsSource}: the first call feeds the prompt after the reused prefix, later
     * calls one token each, recording what the cache holds.
     */
    LogitsSource source() {
        return newIds -> {
            KvCache cache = lease.cache();
            int at = prefilled ? cache.length() : lease.reusable();
            int[] feed = prefilled ? newIds : Arrays.copyOfRange(ids, at, ids.length);
            lease.writing();   // if the pass fails half-way, the cache content is unknown: trust none of it
            float[] logits = model.forward(feed, images.list(), cache, at);
            lease.fed(feed, at);
            prefilled = true;
            return logits;
        };
    }

    /** This request's cache, for a batched decode step. */
    KvCache cache() {
        return lease.cache();
    }

    /** Before a batched step writes this cache: its content is unknown until {@link #fed} (a failed step). */
    void beforeStep() {
        lease.writing();
    }

    /** After a batched step fed {@code token} at the cache's previous length. */
    void fed(int token) {
        KvCache cache = lease.cache();
        lease.fed(new int[] {token}, cache.length() - 1);
    }

    /** The image embeddings (for the raw-ids path that encodes its own). */
    Engine.Images images() {
        return images;
    }

    /** Gives the image embeddings back once the prompt is in the cache: decode steps never read them. */
    void releaseImages() {
        if (!imagesClosed) {
            imagesClosed = true;
            images.close();
        }
    }

    /** The generator's answer with this request's preprocessing and vision times and its cache figures. */
    Answer withUsage(Answer a) {
        return a.withUsage(a.usage().withPreprocessMillis(images.preprocessMillis)
                .withVisionMillis(images.visionMillis).withCache(lease.reusable(), images.encoded()));
    }

    @Override
    public void close() {
        try {
            releaseImages();
        } finally {
            lease.close();
        }
    }
}
