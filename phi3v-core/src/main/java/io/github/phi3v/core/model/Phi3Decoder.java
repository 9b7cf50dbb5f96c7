package io.github.phi3v.core.model;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.LongOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import io.github.phi3v.core.config.Phi3VConfig;
import io.github.phi3v.core.model.Modules.Linear;
import io.github.phi3v.core.model.Modules.RmsNorm;
import io.github.phi3v.core.runtime.InferenceScope;
import io.github.phi3v.core.runtime.Tensors;

/**
 * The text side of Phi-3-V: {@code embed_tokens}, the decoder layers with LongRoPE over a {@link KvCache},
 * the final norm and {@code lm_head} (HF's {@code Phi3VModel} without its image embedding, plus the
 * {@code lm_head} of {@code Phi3VForCausalLM}). It computes; {@link Phi3VModel} validates the calls, holds
 * the lock and embeds the images. Its tensors belong to the {@link WeightLoader} that made it; every method
 * allocates into the caller's {@code InferenceScope}.
 */
final class Phi3Decoder {

    private static final int STATS_CHUNK = 256;
    /** Most rows of a batched step whose float32 lm_head runs as single-row products (see batchLogits). */
    private static final long LM_HEAD_ROWS_PER_GEMV = 4;

    private final Phi3VConfig config;
    private final Device device;
    private final boolean onCpu;
    private final boolean float32Logits;
    private final Tensor embedTokens;
    private final List<Phi3DecoderLayer> layers = new ArrayList<>();
    private final RmsNorm norm;
    private final Linear lmHead;
    private final LongRopeEmbedding rope;

    Phi3Decoder(Phi3VConfig config, WeightLoader w, boolean onCpu) {
        this.config = config;
        this.device = w.device();
        this.onCpu = onCpu;
        this.embedTokens = w.load(WeightNames.EMBED_TOKENS);
        for (int i = 0; i < config.numHiddenLayers(); i++) {
            layers.add(new Phi3DecoderLayer(w, config, i));
        }
        this.norm = new RmsNorm(w, WeightNames.FINAL_NORM, config.rmsNormEps());
        // On CPU with 16-bit weights, the logits are computed in float32: bf16 logits are quantised to
        // 1/64..1/32 at typical magnitudes, which flips the argmax wherever the top-2 gap is that small.
        // With the native kernels a bf16 model keeps lm_head in bf16 and multiplies it in float32
        // (Bf16LmHead: the same products, half the bytes, on every thread). Otherwise it keeps a float32
        // copy of lm_head (libtorch 2.10's mm with an out_dtype, which would give float32 logits from a bf16
        // weight, has no CPU kernel): a float32 GEMV runs at ~1.7x the bytes/s of a bf16 one here, at twice
        // lm_head's memory.
        ScalarType dtype = w.dtype();
        this.float32Logits = onCpu && dtype != ScalarType.Float;
        ScalarType lmHeadType = float32Logits ? ScalarType.Float : dtype;
        if (w.packedDecode()) {
            this.lmHead = PackedLinear.load(w, WeightNames.LM_HEAD, lmHeadType);
        } else if (float32Logits && dtype == ScalarType.BFloat16 && Bf16LmHead.supports(config.hiddenSize())) {
            this.lmHead = new Bf16LmHead(w.load(WeightNames.LM_HEAD, ScalarType.BFloat16));
        } else {
            this.lmHead = new Linear(w.load(WeightNames.LM_HEAD, lmHeadType), null);
        }
        this.rope = new LongRopeEmbedding(w, config);
    }

    /** The rotary embedding, for the tables a new {@link KvCache} holds. */
    LongRopeEmbedding rope() {
        return rope;
    }

    /** Number of decoder layers (one key and one value buffer each in a cache). */
    int layerCount() {
        return layers.size();
    }

    /**
     * {@code embed_tokens} of vocabulary ids.
     *
     * @param ids ids in {@code 0..vocab_size-1}
     * @return {@code [n, hidden]} in the model dtype, on the model's device
     */
    Tensor tokenEmbeddings(long[] ids) {
        Tensor idsTensor = Tensors.fromLongs(ids, ids.length);
        if (device.is_cuda()) {
            idsTensor = idsTensor.to(device, ScalarType.Long);
        }
        return torch.embedding(embedTokens, idsTensor);                         // [n, hidden]
    }

    /**
     * Feeds the embedded positions {@code start .. start+n-1} through every layer into {@code cache} (whose
     * length is {@code start}, laid out for {@code start + n}) and returns the logits of the last {@code lastN}.
     * A sequence that crosses {@code original_max_position_embeddings} here has its cached prefix recomputed
     * with the other factor set first (docs/longrope.md).
     *
     * @param x {@code [n, hidden]} float32 input embeddings; not closed
     * @param trace records intermediates, or null
     * @return float32 CPU logits {@code [lastN, vocab]} in the caller's scope
     */
    Tensor forward(Tensor x, KvCache cache, int start, int lastN, Trace trace) {
        int n = Math.toIntExact(x.size(0));
        int end = start + n;
        boolean longFactors = rope.isLong(end);
        if (start > 0 && cache.longRope != longFactors) {
            // The sequence crosses original_max_position_embeddings (or, after a truncate, goes back
            // below it). A full recomputation would rotate EVERY position with the other factor set,
            // which changes every layer's output at the cached positions, so re-rotating the cached
            // keys is not enough beyond layer 0: recompute the cached prefix (at most
            // original_max_position_embeddings positions, once per crossing) from its saved input
            // embeddings.
            Tensor prefix = cache.inputEmbeddings.narrow(0, 0, start).to(ScalarType.Float); // [start, hidden]
            layers(prefix, step(cache, 0, start, longFactors), cache, null).close();
        }
        cache.longRope = longFactors;
        cache.saveInputEmbeddings(x, start);
        Tensor hidden = layers(x, step(cache, start, n, longFactors), cache, trace);
        try {
            cache.setLength(end);
            Tensor normed = finalNorm(hidden.narrow(0, n - lastN, lastN));      // [lastN, hidden]
            Trace.record(trace, "final_norm_last" + lastN, normed);
            Tensor logits = toCpuFloat(lmHead.apply(normed));                   // [lastN, vocab]
            Trace.record(trace, "logits_last" + lastN, logits);
            if (trace != null) {
                positionStatistics(hidden, trace);
            }
            return logits;
        } finally {
            hidden.close();
        }
    }

    /**
     * One decode token for each of several sequences that all stay on their factor set, the linears on the
     * whole batch ({@link Phi3DecoderLayer#applyBatch}); every tensor in one scope. The caches grow only once
     * every layer has run.
     *
     * @param tokens vocabulary ids, one per sequence
     * @param caches the sequences' caches, distinct, each with room for one more position
     * @return float32 logits {@code [B][vocab]}
     */
    float[][] decodeBatch(int[] tokens, KvCache[] caches) {
        int b = tokens.length;
        try (InferenceScope scope = InferenceScope.open()) {
            Tensor x = tokenEmbeddings(Arrays.stream(tokens).asLongStream().toArray())
                    .to(ScalarType.Float);                                      // [B, hidden]
            Phi3DecoderLayer.Step[] steps = new Phi3DecoderLayer.Step[b];
            TensorVector cos = new TensorVector();
            TensorVector sin = new TensorVector();
            for (int i = 0; i < b; i++) {
                KvCache c = caches[i];
                int at = c.length();
                c.layOut(at + 1L);
                boolean longFactors = rope.isLong(at + 1L);
                steps[i] = step(c, at, 1, longFactors);
                cos.push_back(steps[i].rope().cos());                           // [1, d]
                sin.push_back(steps[i].rope().sin());
            }
            LongRopeEmbedding.CosSin rows = new LongRopeEmbedding.CosSin(torch.cat(cos, 0), torch.cat(sin, 0)); // [B, d]
            Tensor hidden = x;
            boolean ownsHidden = false;   // each layer's output outlives its scope: closed here, also on failure
            try {
                for (int l = 0; l < layers.size(); l++) {
                    Tensor[] keys = new Tensor[b];
                    Tensor[] values = new Tensor[b];
                    for (int i = 0; i < b; i++) {
                        keys[i] = caches[i].keys[l];
                        values[i] = caches[i].values[l];
                    }
                    // One scope per layer, as in layers(): peak memory is one layer's intermediates.
                    Tensor next;
                    try (InferenceScope layerScope = InferenceScope.open()) {
                        next = layerScope.keep(layers.get(l).applyBatch(hidden, steps, rows, keys, values));
                    }
                    if (ownsHidden) {
                        hidden.close();
                    }
                    hidden = next;
                    ownsHidden = true;
                }
                float[] flat = Tensors.toFloats(batchLogits(finalNorm(hidden)));  // [B, vocab]
                // Only now, with every layer written, do the caches grow (a failure above leaves them as they were).
                for (int i = 0; i < b; i++) {
                    KvCache c = caches[i];
                    c.longRope = rope.isLong(c.length() + 1L);
                    c.saveInputEmbeddings(x.narrow(0, i, 1), c.length());
                    c.setLength(c.length() + 1);
                }
                return splitRows(flat, b, config.vocabSize());
            } finally {
                if (ownsHidden) {
                    hidden.close();
                }
            }
        }
    }

    /**
     * A row-major {@code [rows, width]} array as {@code rows} arrays (copies).
     *
     * @param flat {@code rows * width} values
     */
    static float[][] splitRows(float[] flat, int rows, int width) {
        float[][] out = new float[rows][];
        for (int i = 0; i < rows; i++) {
            out[i] = Arrays.copyOfRange(flat, i * width, (i + 1) * width);
        }
        return out;
    }

    /**
     * lm_head of a B-row decode step as float32 CPU logits {@code [B, vocab]}. A float32 lm_head on CPU takes
     * one single-row product per row up to {@link #LM_HEAD_ROWS_PER_GEMV} rows: libtorch's float32 GEMM runs
     * single-threaded here and costs as much as four multi-threaded GEMVs (measured with
     * {@code BatchLinearProbe}, docs/benchmarks.md); each row is then exactly its single-sequence product.
     * A {@link PackedLinear} lm_head takes the batch as it is.
     */
    private Tensor batchLogits(Tensor normed) {
        long b = normed.size(0);
        boolean rows = !device.is_cuda() && b <= LM_HEAD_ROWS_PER_GEMV && Tensors.dtype(lmHead.weight) == ScalarType.Float
                && !(lmHead instanceof PackedLinear);     // packed: one call, each row on the one-row kernel
        if (!rows) {
            return toCpuFloat(lmHead.apply(normed));
        }
        TensorVector out = new TensorVector();
        for (long i = 0; i < b; i++) {
            out.push_back(lmHead.apply(normed.narrow(0, i, 1)));                 // [1, vocab]
        }
        return toCpuFloat(torch.cat(out, 0));
    }

    private Phi3DecoderLayer.Step step(KvCache cache, long start, long n, boolean longFactors) {
        return new Phi3DecoderLayer.Step(start, n, cache.rotary(longFactors, start, n),
                mask(start, n), onCpu);
    }

    /**
     * Runs every decoder layer over {@code x} (positions of {@code step}), writing keys and values into the
     * cache. Returns the last layer's output as an owned tensor (caller closes); {@code x} is not closed.
     */
    private Tensor layers(Tensor x, Phi3DecoderLayer.Step step, KvCache cache, Trace trace) {
        Tensor hidden = x;
        boolean ownsHidden = false;
        try {
            for (int i = 0; i < layers.size(); i++) {
                Tensor next;
                // One scope per layer: peak memory is one layer's intermediates, not all of them.
                try (InferenceScope layerScope = InferenceScope.open()) {
                    next = layerScope.keep(layers.get(i).apply(hidden, step, cache.keys[i], cache.values[i]));
                }
                if (ownsHidden) {
                    hidden.close();
                }
                hidden = next;
                ownsHidden = true;
                Trace.record(trace, "layer_" + i + "_output", hidden);
            }
            ownsHidden = false;
            return hidden;
        } finally {
            if (ownsHidden) {
                hidden.close();
            }
        }
    }

    /**
     * The attention mask for queries {@code start .. start+n-1} over keys {@code 0 .. start+n-1}, or null
     * when none is needed: a single query sees every key, a prefill from 0 uses {@code is_causal}, and
     * the CPU layers' blocked attention applies the causal offset itself.
     * True = attend. Includes the sliding window ({@code kv >= q - window}) when it can matter.
     */
    private Tensor mask(long start, long n) {
        long end = start + n;
        Integer window = config.slidingWindow();
        boolean windowed = window != null && end > window;
        // On CPU without GQA the layers' blocked causal attention takes the query offset itself.
        boolean offsetCausal = onCpu && config.numAttentionHeads() == config.numKeyValueHeads();
        if (!windowed && (n == 1 || start == 0 || offsetCausal)) {
            return null;
        }
        try (Scalar s = new Scalar(start);
             Scalar e = new Scalar(end);
             Scalar zero = new Scalar(0L);
             TensorOptions longs = new TensorOptions(ScalarType.Long)) {
            Tensor q = torch.arange(s, e, longs).view(n, 1);                  // [n, 1]
            Tensor k = torch.arange(zero, e, longs).view(1, end);             // [1, L]
            Tensor allowed = torch.le(k, q);                                  // [n, L]
            if (windowed) {
                try (Scalar w = new Scalar((long) window)) {
                    allowed = torch.logical_and(allowed, torch.ge(k, torch.sub(q, w)));
                }
            }
            return device.is_cuda() ? allowed.to(device, ScalarType.Bool) : allowed;
        }
    }

    /** argmax / max / logsumexp / top-2 gap of the logits of every position, in chunks (inspect only). */
    private void positionStatistics(Tensor hidden, Trace trace) {
        int n = Math.toIntExact(hidden.size(0));
        trace.argmax = new long[n];
        trace.max = new float[n];
        trace.logsumexp = new float[n];
        trace.top2Gap = new float[n];
        for (int from = 0; from < n; from += STATS_CHUNK) {
            int len = Math.min(STATS_CHUNK, n - from);
            try (InferenceScope ignored = InferenceScope.open();
                 LongOptional dim = new LongOptional(1)) {
                Tensor logits = toCpuFloat(lmHead.apply(finalNorm(hidden.narrow(0, from, len))));  // [len, vocab]
                System.arraycopy(Tensors.toLongs(torch.argmax(logits, dim, false)), 0, trace.argmax, from, len);
                System.arraycopy(Tensors.toFloats(torch.amax(logits, new long[] {1}, false)), 0, trace.max, from, len);
                System.arraycopy(Tensors.toFloats(torch.logsumexp(logits, new long[] {1}, false)), 0,
                        trace.logsumexp, from, len);
                Tensor top2 = torch.topk(logits, 2).get0();                                     // [len, 2]
                System.arraycopy(Tensors.toFloats(torch.sub(top2.select(1, 0), top2.select(1, 1))), 0,
                        trace.top2Gap, from, len);
            }
        }
    }

    /** model.norm, in float32 when the logits are computed in float32. */
    private Tensor finalNorm(Tensor hidden) {
        return float32Logits ? norm.applyFloat32(hidden) : norm.apply(hidden);
    }

    private static Tensor toCpuFloat(Tensor t) {
        Tensor f = t.to(ScalarType.Float);
        return (f.is_cuda() ? f.cpu() : f).contiguous();
    }
}
