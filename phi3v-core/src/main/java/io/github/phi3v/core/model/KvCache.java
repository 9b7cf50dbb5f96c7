package io.github.phi3v.core.model;

import org.bytedeco.pytorch.Tensor;

/**
 * The keys and values of one sequence for every decoder layer, preallocated for {@code capacity}
 * tokens (no per-token concatenation): per layer {@code [kvHeads, capacity, headDim]} in the model's
 * dtype on its device. Created by {@link Phi3VModel#newKvCache(int)}; free it with {@link #close()}.
 *
 * <p>The cache holds exactly what a full recomputation of the current sequence would produce: when
 * the sequence crosses {@code original_max_position_embeddings} (LongRoPE switches from the short to
 * the long factors, or back after {@link #truncate}), {@link Phi3VModel} recomputes the cached prefix
 * once from the input embeddings this cache keeps for the first
 * {@code min(capacity, original_max_position_embeddings)} positions.
 *
 * <p>Not thread-safe: one cache per conversation, used by one thread at a time. Different caches may
 * be used concurrently with the same model.
 */
public final class KvCache implements AutoCloseable {

    final Phi3VModel owner;
    final Tensor[] keys;
    final Tensor[] values;
    /** Input embeddings of positions {@code 0 .. min(capacity, original_max)-1}, to recompute a crossed prefix. */
    final Tensor inputEmbeddings;
    /** Rotary cos/sin with the short factors, {@code [positions, headDim]}. */
    private final LongRopeEmbedding.CosSin shortTable;
    /** Rotary cos/sin with the long factors for all {@code capacity} positions, or null if never needed. */
    private final LongRopeEmbedding.CosSin longTable;
    private final int capacity;
    private int length;
    boolean longRope;
    private boolean closed;

    KvCache(Phi3VModel owner, Tensor[] keys, Tensor[] values, Tensor inputEmbeddings,
            LongRopeEmbedding.CosSin shortTable, LongRopeEmbedding.CosSin longTable, int capacity) {
        this.owner = owner;
        this.keys = keys;
        this.values = values;
        this.inputEmbeddings = inputEmbeddings;
        this.shortTable = shortTable;
        this.longTable = longTable;
        this.capacity = capacity;
    }

    /** Views of the rotary tables for positions {@code start .. start+n-1} (in the caller's scope). */
    LongRopeEmbedding.CosSin rotary(boolean longFactors, long start, long n) {
        LongRopeEmbedding.CosSin table = longFactors ? longTable : shortTable;
        return new LongRopeEmbedding.CosSin(table.cos().narrow(0, start, n), table.sin().narrow(0, start, n));
    }

    /**
     * Number of positions currently cached.
     *
     * @return the cached length, 0..{@link #capacity()}; the next token goes to this position
     */
    public int length() {
        return length;
    }

    /**
     * Maximum number of positions this cache holds.
     *
     * @return the capacity given to {@link Phi3VModel#newKvCache(int)}
     */
    public int capacity() {
        return capacity;
    }

    /**
     * Tokens that still fit.
     *
     * @return {@code capacity() - length()}
     */
    public int remaining() {
        return capacity - length;
    }

    /**
     * Forgets every position from {@code newLength} on, keeping the prefix for reuse (e.g. a shared
     * system prompt or an edited last turn).
     *
     * @param newLength the number of positions to keep
     * @throws IllegalArgumentException unless {@code 0 <= newLength <= length()}
     */
    public void truncate(int newLength) {
        checkOpen();
        if (newLength < 0 || newLength > length) {
            throw new IllegalArgumentException("truncate(" + newLength + "): expected 0.." + length
                    + " (the cached length)");
        }
        length = newLength;
    }

    /** Empties the cache (same as {@code truncate(0)}). */
    public void clear() {
        truncate(0);
    }

    /**
     * Bytes held by keys and values.
     *
     * @return native bytes of all layers' keys and values plus the saved input embeddings and rotary tables
     */
    public long sizeInBytes() {
        long total = 0;
        for (int i = 0; i < keys.length; i++) {
            total += keys[i].nbytes() + values[i].nbytes();
        }
        return total + (inputEmbeddings == null ? 0 : inputEmbeddings.nbytes())
                + 2 * shortTable.cos().nbytes() + (longTable == null ? 0 : 2 * longTable.cos().nbytes());
    }

    /** Saves the input embeddings {@code x} of positions {@code start ..} that fall inside the buffer. */
    void saveInputEmbeddings(Tensor x, int start) {
        if (inputEmbeddings == null) {
            return;
        }
        long rows = Math.min(inputEmbeddings.size(0), (long) start + x.size(0)) - start;
        if (rows > 0) {
            inputEmbeddings.narrow(0, start, rows).copy_(x.narrow(0, 0, rows));  // in place
        }
    }

    /**
     * Copies {@code src}'s cached positions into this (larger or equal) cache, which then holds the same
     * sequence: keys, values, the saved input embeddings and the rotary state.
     */
    void copyPrefixFrom(KvCache src) {
        checkOpen();
        src.checkOpen();
        int len = src.length;
        if (len > capacity) {
            throw new IllegalArgumentException("cannot copy " + len + " cached positions into a cache of capacity "
                    + capacity);
        }
        if (len > 0) {
            for (int i = 0; i < keys.length; i++) {
                keys[i].narrow(1, 0, len).copy_(src.keys[i].narrow(1, 0, len));        // [kvHeads, len, headDim]
                values[i].narrow(1, 0, len).copy_(src.values[i].narrow(1, 0, len));
            }
            if (inputEmbeddings != null && src.inputEmbeddings != null) {
                long rows = Math.min(len, Math.min(inputEmbeddings.size(0), src.inputEmbeddings.size(0)));
                if (rows > 0) {
                    inputEmbeddings.narrow(0, 0, rows).copy_(src.inputEmbeddings.narrow(0, 0, rows)); // [rows, hidden]
                }
            }
        }
        longRope = src.longRope;
        length = len;
    }

    void setLength(int newLength) {
        this.length = newLength;
    }

    void checkOpen() {
        if (closed) {
            throw new IllegalStateException("this KvCache is closed");
        }
    }

    /** Frees the native memory; idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (int i = 0; i < keys.length; i++) {
            keys[i].close();
            values[i].close();
        }
        if (inputEmbeddings != null) {
            inputEmbeddings.close();
        }
        for (LongRopeEmbedding.CosSin table : new LongRopeEmbedding.CosSin[] {shortTable, longTable}) {
            if (table != null) {
                table.cos().close();
                table.sin().close();
            }
        }
    }
}
