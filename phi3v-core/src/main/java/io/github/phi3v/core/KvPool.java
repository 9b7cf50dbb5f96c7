package io.github.phi3v.core;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import io.github.phi3v.core.generate.CancellationToken;
import io.github.phi3v.core.model.KvCache;
import io.github.phi3v.core.model.Phi3VModel;

/**
 * The model-wide prefix cache: KV caches of finished calls, keyed by the token ids (and image identities)
 * they hold, so that a call whose prompt extends an earlier one — the next turn of a conversation,
 * however it arrives — prefills only its new tokens. Also the KV memory budget: the bytes of every cache,
 * running or pooled, stay within {@code budget}; pooled caches are evicted least recently used first, and
 * a call that cannot fit even then is refused with {@link LimitExceededException} ({@code kvCacheBytes}).
 *
 * <p>A call holds its cache exclusively ({@link Lease}) while it runs and gives it back when done; a cache
 * whose content is unknown (the call failed) is freed instead. Thread-safe.
 */
final class KvPool implements AutoCloseable {

    /** Positions are allocated in steps of this many, with half again as headroom for the next turn. */
    private static final int STEP = 256;

    private final Phi3VModel model;
    private final long budget;
    private final int maxContext;
    private final long waitNanos;
    private final List<Entry> pooled = new ArrayList<>();   // least recently used first
    private long reservedBytes;
    private boolean closed;

    KvPool(Phi3VModel model, long budget, int maxContext, Duration wait) {
        this.model = model;
        this.budget = budget;
        this.maxContext = maxContext;
        this.waitNanos = wait.toNanos();
    }

    /** A pooled cache and what it holds: {@code ids[0 .. cache.length())}, image {@code k} being {@code keys[k-1]}. */
    private record Entry(int[] ids, List<PromptPlan.ImageKey> keys, KvCache cache, long bytes) {
    }

    /**
     * A cache for a prompt: the pooled cache with the longest usable common prefix (removed from the pool,
     * grown by copy if too small), or a new one.
     *
     * @param ids the prompt
     * @param keys the identities of the prompt's images
     * @param needed positions the call may fill (prompt + maxNewTokens)
     * @param cancel ends a wait for memory
     */
    Lease acquire(int[] ids, List<PromptPlan.ImageKey> keys, int needed, CancellationToken cancel) {
        return acquire(ids, keys, needed, cancel, waitNanos, true);
    }

    /**
     * Like {@link #acquire(int[], List, int, CancellationToken)} but never waits: null when the budget has
     * no room now (a batch scheduler tries again after its next step instead of blocking the batch).
     *
     * @throws LimitExceededException if the request alone exceeds the budget
     */
    Lease tryAcquire(int[] ids, List<PromptPlan.ImageKey> keys, int needed, CancellationToken cancel) {
        return acquire(ids, keys, needed, cancel, 0, false);
    }

    /**
     * {@link #acquire(int[], List, int, CancellationToken)} waiting at most {@code wait} ns for memory (the
     * part of the configured wait a queued request has left).
     */
    Lease acquire(int[] ids, List<PromptPlan.ImageKey> keys, int needed, CancellationToken cancel, long wait) {
        return acquire(ids, keys, needed, cancel, wait, true);
    }

    private Lease acquire(int[] ids, List<PromptPlan.ImageKey> keys, int needed, CancellationToken cancel, long wait,
            boolean orThrow) {
        Entry best = null;
        int bestPrefix = 0;
        long extra;
        int capacity = capacityFor(needed);
        synchronized (this) {
            checkOpen();
            for (Entry e : pooled) {
                int p = commonPrefix(e, ids, keys);
                if (p > bestPrefix) {
                    best = e;
                    bestPrefix = p;
                }
            }
            if (best != null) {
                pooled.remove(best);
            }
            boolean fits = best != null && best.cache().capacity() >= needed;
            extra = fits ? 0 : model.kvCacheBytes(capacity);
            boolean reserved;
            try {
                reserved = reserve(extra, cancel, wait, orThrow);
            } catch (RuntimeException e) {
                if (best != null) {
                    pooled.add(best);
                }
                throw e;
            }
            if (!reserved) {
                if (best != null) {
                    pooled.add(best);
                }
                return null;
            }
        }
        if (extra == 0) {
            return new Lease(best.cache(), ids, bestPrefix, best.bytes(), keys);
        }
        KvCache cache;
        try {
            if (best != null) {
                best.cache().truncate(bestPrefix);
                cache = model.newKvCache(capacity, best.cache());
            } else {
                cache = model.newKvCache(capacity);
            }
        } catch (RuntimeException | Error e) {
            release(extra);
            if (best != null) {
                free(best.cache(), best.bytes());
            }
            throw e;
        }
        if (best != null) {
            free(best.cache(), best.bytes());
        }
        return new Lease(cache, ids, bestPrefix, extra, keys);
    }

    /** A cache of exactly {@code capacity} positions that is never pooled (the raw-ids entry point). */
    Lease allocate(int capacity, CancellationToken cancel) {
        long bytes = model.kvCacheBytes(capacity);
        synchronized (this) {
            checkOpen();
            reserve(bytes, cancel, waitNanos, true);
        }
        try {
            return new Lease(model.newKvCache(capacity), new int[0], 0, bytes, null);
        } catch (RuntimeException | Error e) {
            release(bytes);
            throw e;
        }
    }

    /** Bytes of all caches, running and pooled. */
    synchronized long reservedBytes() {
        return reservedBytes;
    }

    /** Caches kept for reuse. */
    synchronized int pooledCount() {
        return pooled.size();
    }

    /** Frees every pooled cache; running calls free theirs when they end. */
    @Override
    public void close() {
        List<Entry> drop;
        synchronized (this) {
            closed = true;
            drop = new ArrayList<>(pooled);
            pooled.clear();
        }
        for (Entry e : drop) {
            free(e.cache(), e.bytes());
        }
    }

    private int capacityFor(int needed) {
        long withHeadroom = ((long) needed * 3 / 2 + STEP - 1) / STEP * STEP;
        return (int) Math.min(maxContext, Math.max(needed, withHeadroom));
    }

    /**
     * Reserves bytes, evicting pooled caches (least recently used first) as needed, and waiting up to the
     * given time for running requests to give memory back. Holds the lock.
     *
     * @return true if reserved; false if the time ran out and {@code orThrow} is false
     * @throws LimitExceededException if {@code bytes} exceed the budget, or the time ran out and {@code orThrow}
     */
    private boolean reserve(long bytes, CancellationToken cancel, long wait, boolean orThrow) {
        if (bytes > budget) {
            throw new LimitExceededException("kvCacheBytes", bytes, budget, "this request needs a " + bytes
                    + "-byte KV cache but the kvCacheBytes budget is " + budget + " bytes; lower maxNewTokens or the"
                    + " prompt, or raise Phi3Vision.builder().kvCacheBytes(n)");
        }
        long deadline = System.nanoTime() + wait;
        while (true) {
            while (reservedBytes + bytes > budget && !pooled.isEmpty()) {
                Entry victim = pooled.remove(0);
                victim.cache().close();
                reservedBytes -= victim.bytes();
            }
            if (reservedBytes + bytes <= budget) {
                reservedBytes += bytes;
                return true;
            }
            long left = deadline - System.nanoTime();
            if (left <= 0 || cancel.isCancelled() || closed) {
                checkOpen();
                if (!orThrow) {
                    return false;
                }
                throw new LimitExceededException("kvCacheBytes", reservedBytes + bytes, budget, true,
                        "this request needs a " + bytes + "-byte KV cache but running requests hold " + reservedBytes + " of the kvCacheBytes"
                        + " budget of " + budget + " bytes" + (cancel.isCancelled() ? " (cancelled while waiting)"
                        : " after waiting " + waitNanos / 1_000_000 + " ms") + "; retry when a request finishes,"
                        + " or raise Phi3Vision.builder().kvCacheBytes(n) or kvCacheWait(d)");
            }
            try {
                wait(Math.max(1, Math.min(left / 1_000_000, 50)));   // re-checks cancellation every 50 ms
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for KV cache memory", e);
            }
        }
    }

    private synchronized void release(long bytes) {
        reservedBytes -= bytes;
        notifyAll();
    }

    private void free(KvCache cache, long bytes) {
        cache.close();
        release(bytes);
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("this Phi3Vision is closed; load the model again to use it");
        }
    }

    /**
     * Positions of {@code e} a prompt can keep: the common prefix of ids and image identities, leaving at
     * least one id to feed, and never ending inside an image's placeholder block (fed whole).
     */
    private static int commonPrefix(Entry e, int[] ids, List<PromptPlan.ImageKey> keys) {
        int limit = Math.min(e.ids().length, ids.length - 1);
        int p = 0;
        while (p < limit && e.ids()[p] == ids[p] && (ids[p] >= 0 || sameImage(e, keys, -ids[p] - 1))) {
            p++;
        }
        while (p > 0 && ids[p] < 0 && ids[p - 1] == ids[p]) {
            p--;
        }
        return p;
    }

    /** Whether {@code ids} (with images {@code keys}) starts with all of {@code e}'s ids and images. */
    private static boolean isPrefixOf(Entry e, int[] ids, List<PromptPlan.ImageKey> keys) {
        if (e.ids().length > ids.length) {
            return false;
        }
        for (int p = 0; p < e.ids().length; p++) {
            if (e.ids()[p] != ids[p] || (ids[p] < 0 && !sameImage(e, keys, -ids[p] - 1))) {
                return false;
            }
        }
        return true;
    }

    private static boolean sameImage(Entry e, List<PromptPlan.ImageKey> keys, int index) {
        return index < e.keys().size() && index < keys.size() && e.keys().get(index).equals(keys.get(index));
    }

    /**
     * One call's cache. {@link #fed} records what the forward passes wrote; {@link #close()} gives the cache
     * back to the pool (keyed by what was recorded) or frees it if nothing trustworthy was recorded.
     */
    final class Lease implements AutoCloseable {
        private final KvCache cache;
        private final int reusable;
        private final long bytes;
        private final List<PromptPlan.ImageKey> keys;   // null: never pooled
        private int[] cachedIds;
        private int cachedLength;
        private boolean closed;

        private Lease(KvCache cache, int[] prompt, int reusable, long bytes, List<PromptPlan.ImageKey> keys) {
            this.cache = cache;
            this.reusable = reusable;
            this.bytes = bytes;
            this.keys = keys;
            this.cachedIds = Arrays.copyOf(prompt, Math.max(reusable, 16));   // the reused prefix is the prompt's
            Arrays.fill(cachedIds, reusable, cachedIds.length, 0);
        }

        KvCache cache() {
            return cache;
        }

        /** Leading prompt positions already in the cache. */
        int reusable() {
            return reusable;
        }

        /** Marks the cache content unknown, before a forward pass that may fail half-way. */
        void writing() {
            cachedLength = 0;
        }

        /** Records that positions {@code at ..} now hold {@code fed} (after a successful forward pass). */
        void fed(int[] fed, int at) {
            int end = at + fed.length;
            if (cachedIds.length < end) {
                cachedIds = Arrays.copyOf(cachedIds, Math.max(end, cachedIds.length * 2));
            }
            System.arraycopy(fed, 0, cachedIds, at, fed.length);
            cachedLength = end;
        }

        @Override
        public void close() {
            if (closed) {
                return;
            }
            closed = true;
            boolean keep = keys != null && cachedLength > 0;
            synchronized (KvPool.this) {
                if (keep && !KvPool.this.closed) {
                    int[] ids = Arrays.copyOf(cachedIds, cachedLength);
                    cache.truncate(Math.min(cache.length(), cachedLength));
                    // A pooled cache whose ids this one extends is superseded by it.
                    pooled.removeIf(e -> {
                        boolean prefix = isPrefixOf(e, ids, keys);
                        if (prefix) {
                            e.cache().close();
                            reservedBytes -= e.bytes();
                        }
                        return prefix;
                    });
                    pooled.add(new Entry(ids, keys, cache, bytes));
                    KvPool.this.notifyAll();   // a waiting request may evict it
                    return;
                }
            }
            free(cache, bytes);
        }
    }
}
