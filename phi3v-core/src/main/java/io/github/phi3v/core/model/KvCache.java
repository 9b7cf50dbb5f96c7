package io.github.phi3v.core.model;

import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import io.github.phi3v.core.config.Phi3VConfig;
import io.github.phi3v.core.runtime.InferenceScope;

/**
 * The keys and values of one sequence for every decoder layer, preallocated for {@code capacity}
 * tokens (no per-token concatenation): per layer one buffer of {@code kvHeads * capacity * headDim}
 * elements in the model's dtype on its device. Created by {@link Phi3VModel#newKvCache(int)}; free it
 * with {@link #close()}.
 *
 * <p>Layout: each buffer's start holds a contiguous {@code [kvHeads, span, headDim]} tensor
 * ({@link #keys}, {@link #values}), where {@code span} is the positions in use rounded up to
 * {@value #SPAN_STEP} (at most the capacity); {@link #layOut} moves the heads apart or together when a
 * call needs another span. A {@code [kvHeads, capacity, headDim]} layout would make the attention's
 * {@code [kvHeads, length, headDim]} slice a strided view, and libtorch's bf16 batched matmul copies
 * such a view into a contiguous tensor on every decode step (17 % of an int8 decode step at 2000
 * positions); moving the heads costs one copy of the cache per {@value #SPAN_STEP} tokens instead.
 *
 * <p>The cache holds exactly what a full recomputation of the current sequence would produce: when
 * the sequence crosses {@code original_max_position_embeddings} (LongRoPE switches from the short to
 * the long factors, or back after {@link #truncate}), {@link Phi3Decoder} recomputes the cached prefix
 * once from the input embeddings this cache keeps for the first
 * {@code min(capacity, original_max_position_embeddings)} positions.
 *
 * <p>Not thread-safe: one cache per conversation, used by one thread at a time. Different caches may
 * be used concurrently with the same model.
 */
public final class KvCache implements AutoCloseable {

    /**
     * Positions per head are laid out in multiples of this (the decode attention's key-count bucket, so
     * that a decode step's padded slice is the whole contiguous span).
     */
    static final int SPAN_STEP = 64;

    /** {@code positions} rounded up to a multiple of {@value #SPAN_STEP} (before the capacity limit). */
    static long spanFor(long positions) {
        return (positions + SPAN_STEP - 1) / SPAN_STEP * SPAN_STEP;
    }

    final Phi3VModel owner;
    /** Per layer: {@code [kvHeads, span, headDim]}, a contiguous view of the start of {@link #keyBuffers}. */
    final Tensor[] keys;
    /** Per layer: {@code [kvHeads, span, headDim]}, a contiguous view of the start of {@link #valueBuffers}. */
    final Tensor[] values;
    /** Per layer: the allocated {@code [kvHeads, capacity, headDim]} tensors, only ever used flat. */
    private final Tensor[] keyBuffers;
    private final Tensor[] valueBuffers;
    /** Positions per head in the current layout of {@link #keys} and {@link #values}. */
    private long span;
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

    /**
     * Allocates a cache for {@code capacity} positions of {@code owner}'s sequences: the key and value buffers,
     * the rotary tables of every position it can hold (built once here rather than per step: the short
     * factors serve sequences of at most {@code original_max_position_embeddings} tokens, the long ones,
     * when rope_scaling switches, longer sequences) and the input embeddings a LongRoPE crossing recomputes
     * from. Everything is allocated in ONE scope and kept only once all of it exists: when any allocation
     * fails (out of memory for a large capacity is the likely one), the scope frees the tensors already
     * made, and nothing is half-owned by a cache that was never returned.
     *
     * @param layers decoder layers (one key and one value buffer each)
     * @param capacity positions, already checked against {@code max_position_embeddings}
     */
    static KvCache allocate(Phi3VModel owner, Phi3VConfig config, int layers, LongRopeEmbedding rope,
            ScalarType dtype, Device device, int capacity) {
        try (InferenceScope scope = InferenceScope.open();
             TensorOptions opts = new TensorOptions(dtype);
             MemoryFormatOptional fmt = new MemoryFormatOptional()) {
            Tensor[] keys = new Tensor[layers];
            Tensor[] values = new Tensor[layers];
            long[] shape = {config.numKeyValueHeads(), capacity, config.headDim()};
            for (int i = 0; i < layers; i++) {
                keys[i] = onDevice(torch.empty(shape, opts, fmt), dtype, device);
                values[i] = onDevice(torch.empty(shape, opts, fmt), dtype, device);
            }
            int original = config.originalMaxPositionEmbeddings();
            LongRopeEmbedding.CosSin shortTable = rope.cosSin(0,
                    rope.switchesFactors() ? Math.min(capacity, original) : capacity, false, dtype, device);
            LongRopeEmbedding.CosSin longTable = rope.switchesFactors() && capacity > original
                    ? rope.cosSin(0, capacity, true, dtype, device) : null;
            int saved = rope.switchesFactors() ? Math.min(capacity, original) : 0;
            Tensor inputEmbeddings = saved > 0
                    ? onDevice(torch.empty(new long[] {saved, config.hiddenSize()}, opts, fmt), dtype, device) : null;
            // From here on nothing allocates: keep() only adds a reference.
            for (int i = 0; i < layers; i++) {
                scope.keep(keys[i]);
                scope.keep(values[i]);
            }
            return new KvCache(owner, keys, values, inputEmbeddings == null ? null : scope.keep(inputEmbeddings),
                    keep(scope, shortTable), longTable == null ? null : keep(scope, longTable), capacity);
        }
    }

    /**
     * The native bytes {@link #allocate} takes for {@code capacity} positions (keys and values, the saved
     * input embeddings, the rotary tables): {@link #sizeInBytes()} of such a cache, before allocating it.
     *
     * @param switchesFactors whether LongRoPE switches factor sets (a {@code rope_scaling} is configured)
     * @param elementBytes bytes per element of the model dtype
     */
    static long bytesFor(Phi3VConfig config, int layers, boolean switchesFactors, long elementBytes, int capacity) {
        long kv = (long) layers * 2 * config.numKeyValueHeads() * config.headDim() * capacity;
        int original = config.originalMaxPositionEmbeddings();
        long saved = switchesFactors ? (long) Math.min(capacity, original) * config.hiddenSize() : 0;
        long shortRows = switchesFactors ? Math.min(capacity, original) : capacity;
        long longRows = switchesFactors && capacity > original ? capacity : 0;
        long rotary = 2 * (shortRows + longRows) * config.headDim();      // cos and sin, [rows, headDim]
        return (kv + saved + rotary) * elementBytes;
    }

    private static Tensor onDevice(Tensor cpu, ScalarType dtype, Device device) {
        return device.is_cuda() ? cpu.to(device, dtype) : cpu;
    }

    private static LongRopeEmbedding.CosSin keep(InferenceScope scope, LongRopeEmbedding.CosSin cs) {
        return new LongRopeEmbedding.CosSin(scope.keep(cs.cos()), scope.keep(cs.sin()));
    }

    private KvCache(Phi3VModel owner, Tensor[] keys, Tensor[] values, Tensor inputEmbeddings,
            LongRopeEmbedding.CosSin shortTable, LongRopeEmbedding.CosSin longTable, int capacity) {
        this.owner = owner;
        this.keyBuffers = keys;
        this.valueBuffers = values;
        this.keys = keys.clone();           // the full-capacity layout until the first layOut
        this.values = values.clone();
        this.span = capacity;
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
        for (int i = 0; i < keyBuffers.length; i++) {
            total += keyBuffers[i].nbytes() + valueBuffers[i].nbytes();
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
            length = 0;                     // what this cache held is overwritten: nothing to keep while laying out
            layOut(len);
            // The buffers are inference tensors: written in place only in inference mode.
            try (InferenceScope scope = InferenceScope.open()) {
                for (int i = 0; i < keys.length; i++) {
                    keys[i].narrow(1, 0, len).copy_(src.keys[i].narrow(1, 0, len));    // [kvHeads, len, headDim]
                    values[i].narrow(1, 0, len).copy_(src.values[i].narrow(1, 0, len));
                }
                if (inputEmbeddings != null && src.inputEmbeddings != null) {
                    long rows = Math.min(len, Math.min(inputEmbeddings.size(0), src.inputEmbeddings.size(0)));
                    if (rows > 0) {
                        inputEmbeddings.narrow(0, 0, rows).copy_(src.inputEmbeddings.narrow(0, 0, rows)); // [rows, hidden]
                    }
                }
            }
        }
        longRope = src.longRope;
        length = len;
    }

    /**
     * Lays the heads out so that {@link #keys} and {@link #values} span {@code end} positions rounded up to
     * {@value #SPAN_STEP} (at most the capacity), keeping the {@link #length()} cached positions of every
     * head. Call before writing or attending to positions below {@code end}. If it fails (a native
     * allocation), the cache is left empty ({@code length() == 0}) and usable.
     *
     * @param end the positions the next call writes or reads, {@code 1..capacity}
     */
    void layOut(long end) {
        checkOpen();
        long target = Math.min(capacity, spanFor(end));
        if (target == span) {
            return;
        }
        long heads = keyBuffers[0].size(0);
        long headDim = keyBuffers[0].size(2);
        // Only the cached positions carry data: the caller writes everything from length() on.
        long kept = Math.max(0, Math.min(length, Math.min(span, target))) * headDim;  // elements kept per head
        try (InferenceScope scope = InferenceScope.open()) {
            for (int i = 0; i < keys.length; i++) {
                Tensor[] moved = {move(keyBuffers[i], heads, headDim, target, kept),
                        move(valueBuffers[i], heads, headDim, target, kept)};
                // The new views outlive this scope; the old ones (not the buffers) are released.
                releaseView(keys[i], keyBuffers[i]);
                releaseView(values[i], valueBuffers[i]);
                keys[i] = scope.keep(moved[0]);
                values[i] = scope.keep(moved[1]);
            }
        } catch (RuntimeException | Error e) {
            // Some heads may have moved and others not: the cached positions can no longer be trusted.
            // Forget them (length 0) and force the next call to rebuild every view (it then moves nothing).
            length = 0;
            span = -1;
            throw e;
        }
        span = target;
    }

    /**
     * Moves each head's first {@code kept} elements from offset {@code h * span * headDim} to
     * {@code h * target * headDim} of {@code buffer} and returns its {@code [heads, target, headDim]} view.
     * Growing moves the last head first, shrinking the first: no head is overwritten before it has moved.
     */
    private Tensor move(Tensor buffer, long heads, long headDim, long target, long kept) {
        Tensor flat = buffer.view(-1);                                   // [heads * capacity * headDim]
        boolean grow = target > span;
        for (long k = 0; k < heads; k++) {
            long h = grow ? heads - 1 - k : k;
            long from = h * span * headDim;
            long to = h * target * headDim;
            if (from == to || kept == 0) {
                continue;
            }
            Tensor src = flat.narrow(0, from, kept);
            Tensor dst = flat.narrow(0, to, kept);
            // copy_ refuses overlapping source and destination: a head that moves by less than its length
            // goes through a temporary.
            dst.copy_(Math.abs(to - from) < kept ? src.clone() : src);      // in place
        }
        return flat.narrow(0, 0, heads * target * headDim).view(heads, target, headDim);
    }

    private static void releaseView(Tensor view, Tensor buffer) {
        if (view != buffer) {
            view.close();
        }
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
            releaseView(keys[i], keyBuffers[i]);
            releaseView(values[i], valueBuffers[i]);
            keyBuffers[i].close();
            valueBuffers[i].close();
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
