package io.github.phi3v.core;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

import io.github.phi3v.core.model.ImageEmbeddings;

/**
 * Image embeddings shared by all calls of a model, keyed by pixel hash and crop budget, so the vision
 * tower runs once per image however many calls or conversations show it. Bounded by bytes: idle entries
 * are evicted least recently used first; an entry in use is never freed under its user (it is dropped
 * from the cache and freed when its last user releases it). Thread-safe.
 */
final class EmbeddingCache implements AutoCloseable {

    private final long budget;
    private final LinkedHashMap<PromptPlan.ImageKey, Entry> entries = new LinkedHashMap<>(16, 0.75f, true);
    private long cachedBytes;
    private boolean closed;

    EmbeddingCache(long budget) {
        this.budget = budget;
    }

    private static final class Entry {
        final ImageEmbeddings embeddings;
        final long bytes;
        int users;
        boolean dropped;   // no longer in the map: freed when users reaches 0

        Entry(ImageEmbeddings embeddings) {
            this.embeddings = embeddings;
            this.bytes = embeddings.sizeInBytes();
        }
    }

    /**
     * The embeddings of {@code key}: cached, or made by {@code encode} (outside the lock) and cached if they
     * fit the budget.
     */
    Handle acquire(PromptPlan.ImageKey key, Supplier<ImageEmbeddings> encode) {
        synchronized (this) {
            Entry e = entries.get(key);
            if (e != null) {
                e.users++;
                return new Handle(e, false);
            }
        }
        Entry made = new Entry(encode.get());
        made.users = 1;
        List<Entry> evicted = new ArrayList<>();
        synchronized (this) {
            Entry raced = closed ? null : entries.get(key);
            if (raced != null) {   // another call encoded the same image meanwhile: share its entry
                raced.users++;
                made.dropped = true;
                made.users = 0;
                evicted.add(made);
                made = raced;
            } else if (!closed && made.bytes <= budget) {
                entries.put(key, made);
                cachedBytes += made.bytes;
                evictIdle(evicted);
                if (cachedBytes > budget) {   // in-use entries hold the budget: keep this one private
                    entries.remove(key);
                    cachedBytes -= made.bytes;
                    made.dropped = true;
                }
            } else {
                made.dropped = true;
            }
        }
        evicted.forEach(v -> v.embeddings.close());
        return new Handle(made, true);   // the vision tower ran for this call either way
    }

    /** Bytes of the cached entries. */
    synchronized long cachedBytes() {
        return cachedBytes;
    }

    /** Number of cached entries. */
    synchronized int size() {
        return entries.size();
    }

    @Override
    public void close() {
        List<Entry> free = new ArrayList<>();
        synchronized (this) {
            closed = true;
            for (Entry e : entries.values()) {
                e.dropped = true;
                if (e.users == 0) {
                    free.add(e);
                }
            }
            entries.clear();
            cachedBytes = 0;
        }
        free.forEach(e -> e.embeddings.close());
    }

    /** Drops idle entries, least recently used first, until the cache fits its budget. Holds the lock. */
    private void evictIdle(List<Entry> evicted) {
        Iterator<Map.Entry<PromptPlan.ImageKey, Entry>> it = entries.entrySet().iterator();
        while (cachedBytes > budget && it.hasNext()) {
            Entry e = it.next().getValue();
            if (e.users == 0) {
                it.remove();
                cachedBytes -= e.bytes;
                e.dropped = true;
                evicted.add(e);
            }
        }
    }

    /** One user's hold on embeddings; close it when the call ends. */
    final class Handle implements AutoCloseable {
        private final Entry entry;
        private final boolean encoded;
        private boolean closed;

        private Handle(Entry entry, boolean encoded) {
            this.entry = entry;
            this.encoded = encoded;
        }

        ImageEmbeddings embeddings() {
            return entry.embeddings;
        }

        /** Whether the vision tower ran for this handle. */
        boolean encoded() {
            return encoded;
        }

        @Override
        public void close() {
            boolean free;
            synchronized (EmbeddingCache.this) {
                if (closed) {
                    return;
                }
                closed = true;
                entry.users--;
                free = entry.dropped && entry.users == 0;
            }
            if (free) {
                entry.embeddings.close();
            }
        }
    }
}
