package io.github.phi3v.core.model;

import java.util.List;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import io.github.phi3v.core.config.Phi3VConfig;
import io.github.phi3v.core.model.Modules.Linear;
import io.github.phi3v.core.model.Modules.RmsNorm;
import io.github.phi3v.core.runtime.InferenceScope;
import io.github.phi3v.core.runtime.NativeDecodeOps;
import io.github.phi3v.core.runtime.Tensors;

/**
 * One Phi-3 decoder layer: RMSNorm → fused qkv_proj → LongRoPE → causal attention over the KV cache →
 * o_proj → residual; RMSNorm → fused gate_up_proj → SiLU(gate) · up → down_proj → residual.
 */
final class Phi3DecoderLayer {

    /**
     * Rows per pass of a CPU prefill through the layer. Every temporary of one pass is then at most
     * {@code [512, 2 x intermediate]} bf16 = 16 MiB for the real model: glibc serves blocks below its
     * 32 MiB mmap limit from its arenas and reuses them, whereas every larger temporary is a fresh
     * mapping whose pages the kernel faults in and zeroes again (a 2000-token prefill allocated ~40 GB
     * that way and spent 30 of its 60 s in the kernel, see docs/benchmarks.md).
     */
    static final long ROW_BLOCK = 512;

    /** Most rows of a batched bf16 decode step whose linears still run on ATen's kernels (measured). */
    static final long BATCH_GEMV_MAX_ROWS = 1;

    /** What every layer of one forward call shares: positions, rotary tables and the mask. */
    record Step(long start, long count, LongRopeEmbedding.CosSin rope, Tensor mask, boolean upcastPrefill) {
        long end() {
            return start + count;
        }

        /** The same step restricted to its rows {@code from .. from+len-1} (views, nothing copied). */
        Step rows(long from, long len) {
            LongRopeEmbedding.CosSin cs = new LongRopeEmbedding.CosSin(rope.cos().narrow(0, from, len),
                    rope.sin().narrow(0, from, len));
            Tensor m = mask == null ? null : mask.narrow(0, from, len).narrow(1, 0, start + from + len);
            return new Step(start + from, len, cs, m, upcastPrefill);
        }
    }

    private final RmsNorm inputLayernorm;
    private final RmsNorm postAttentionLayernorm;
    private final Projections projections;
    private final long heads;
    private final long kvHeads;
    private final long headDim;
    private final long intermediate;
    /** CPU: every matrix product runs under a {@link CpuMatmulBackend} lease. */
    private final boolean cpu;
    /**
     * CPU with bf16 linears: one-row linears run on ATen's GEMV ({@link CpuMatmulBackend.Mode#ATEN_GEMV}), also
     * when they are {@link PackedLinear}s (which then use their dense weight: ATen's GEMV is the faster one-row kernel).
     */
    private final boolean atenGemv;
    private final CausalAttention attention;
    /** bf16 on the CPU with {@link NativeDecodeOps}: a decode token's rotary and cache write in one native call. */
    private final boolean nativeGlue;

    Phi3DecoderLayer(WeightLoader w, Phi3VConfig cfg, int index) {
        inputLayernorm = new RmsNorm(w, WeightNames.decoderLayer(index, WeightNames.INPUT_LAYERNORM), cfg.rmsNormEps());
        postAttentionLayernorm = new RmsNorm(w,
                WeightNames.decoderLayer(index, WeightNames.POST_ATTENTION_LAYERNORM), cfg.rmsNormEps());
        projections = projections(w, index);
        heads = cfg.numAttentionHeads();
        kvHeads = cfg.numKeyValueHeads();
        headDim = cfg.headDim();
        intermediate = cfg.intermediateSize();
        cpu = w.device().is_cpu();
        atenGemv = cpu && decodeOnAtenGemv(w.dtype(), w.quantization());
        attention = new CausalAttention(w, cfg);
        nativeGlue = cpu && w.dtype() == ScalarType.BFloat16 && NativeDecodeOps.available();
    }

    /**
     * Whether a CPU decode step runs its linears on ATen's GEMV: bf16 weights do; quantized layers (their
     * own kernels) and other dtypes stay in libtorch's default oneDNN mode.
     */
    static boolean decodeOnAtenGemv(ScalarType dtype, Quantization quantization) {
        return dtype == ScalarType.BFloat16 && quantization == Quantization.NONE;
    }

    /**
     * The layer's four bias-free linears.
     *
     * @param qkv {@code [(H+2K)*d, hidden]}
     * @param o {@code [hidden, H*d]}
     * @param gateUp {@code [2I, hidden]}
     * @param down {@code [hidden, I]}
     */
    private record Projections(Linear qkv, Linear o, Linear gateUp, Linear down) {

        /** The linears for calls on {@code rows} rows ({@link Linear#forRows}); new ones in the caller's scope. */
        Projections forRows(long rows) {
            Linear q = qkv.forRows(rows);
            Linear oo = o.forRows(rows);
            Linear gu = gateUp.forRows(rows);
            Linear dn = down.forRows(rows);
            return q == qkv && oo == o && gu == gateUp && dn == down ? this : new Projections(q, oo, gu, dn);
        }
    }

    /** The layer's linears: in the loader's dtype (packed if the loader says so), or quantized. */
    private static Projections projections(WeightLoader w, int index) {
        List<String> names = List.of(WeightNames.decoderLayer(index, WeightNames.QKV_PROJ),
                WeightNames.decoderLayer(index, WeightNames.O_PROJ),
                WeightNames.decoderLayer(index, WeightNames.GATE_UP_PROJ),
                WeightNames.decoderLayer(index, WeightNames.DOWN_PROJ));
        // Read in order on this thread (a sequential stream); int8's packing runs on the load workers.
        List<? extends Linear> l = switch (w.quantization()) {
            case INT8 -> Int8Linear.loadAll(w, names);
            case INT4 -> names.stream().map(n -> w.preQuantized() ? Int4Linear.loadStored(w, n)
                    : Int4Linear.load(w, n)).toList();
            case NONE -> names.stream().map(n -> w.packedDecode() ? PackedLinear.load(w, n, w.dtype())
                    : new Linear(w.load(n), null)).toList();
        };
        return new Projections(l.get(0), l.get(1), l.get(2), l.get(3));
    }

    /**
     * @param x {@code [n, hidden]} residual stream of the new positions
     * @param step positions {@code start .. start+n-1} and their rotary tables
     * @param cacheKeys {@code [kvHeads, capacity, d]}: receives the new keys at {@code start}
     * @param cacheValues likewise for values
     * @return {@code [n, hidden]}
     */
    Tensor apply(Tensor x, Step step, Tensor cacheKeys, Tensor cacheValues) {
        long n = step.count();
        if (n == 1 && atenGemv) {
            return applyRows(x, projections, step, cacheKeys, cacheValues, true);   // leases per product
        }
        // Made once for all row blocks of this call (int4 above a few rows: its weights dequantized).
        Projections p = projections.forRows(n);
        try (CpuMatmulBackend.Lease lease = cpu ? CpuMatmulBackend.enter(CpuMatmulBackend.Mode.ONEDNN)
                : CpuMatmulBackend.none()) {
            if (n > ROW_BLOCK && step.upcastPrefill() && heads == kvHeads) {
                return applyBlocks(x, p, step, cacheKeys, cacheValues);
            }
            return applyRows(x, p, step, cacheKeys, cacheValues, false);
        }
    }

    /**
     * Row blocks in order: block b's keys and values are in the cache before block b+1 attends, and each
     * row's result depends only on its own input and the keys before it, so this is the same computation
     * as one pass, with small temporaries.
     */
    private Tensor applyBlocks(Tensor x, Projections p, Step step, Tensor cacheKeys, Tensor cacheValues) {
        long n = step.count();
        Tensor out = Tensors.empty(Tensors.dtype(x), n, x.size(1));                   // [n, hidden]
        for (long r = 0; r < n; r += ROW_BLOCK) {
            long len = Math.min(ROW_BLOCK, n - r);
            try (InferenceScope block = InferenceScope.open()) {
                out.narrow(0, r, len).copy_(applyRows(x.narrow(0, r, len), p, step.rows(r, len), cacheKeys,
                        cacheValues, false));
            }
        }
        return out;
    }

    /**
     * {@link #apply} in one pass.
     *
     * @param gemvLeases take a {@link CpuMatmulBackend} lease around each group of products (a decode
     *     step on CPU in bf16: its linears on ATen's GEMV, its attention on oneDNN); otherwise the caller
     *     holds the lease
     */
    private Tensor applyRows(Tensor x, Projections p, Step step, Tensor cacheKeys, Tensor cacheValues,
            boolean gemvLeases) {
        long n = step.count();
        long d = headDim;
        Tensor h = inputLayernorm.apply(x);
        Tensor qkv;                                                                     // [n, (H+2K)*d]
        try (CpuMatmulBackend.Lease lease = lease(gemvLeases, CpuMatmulBackend.Mode.ATEN_GEMV)) {
            qkv = p.qkv().apply(h);
        }
        Tensor q = rotateIntoCache(qkv, step, cacheKeys, cacheValues);                  // [H, n, d]
        Tensor attn;                                                                    // [H, n, d]
        try (CpuMatmulBackend.Lease lease = lease(gemvLeases, CpuMatmulBackend.Mode.ONEDNN)) {
            attn = attention.apply(q, cacheKeys, cacheValues, step);
        }
        Tensor merged = attn.transpose(0, 1).reshape(n, heads * d);                     // [n, H*d]
        try (CpuMatmulBackend.Lease lease = lease(gemvLeases, CpuMatmulBackend.Mode.ATEN_GEMV)) {
            return outputAndMlp(x, p, merged);
        }
    }

    /**
     * LongRoPE on the queries and keys of {@code qkv}, the keys and values written into the cache at the step's
     * positions: one native call for a decode token where {@link NativeDecodeOps} runs (the same bits as the
     * libtorch kernels of the other path), else {@link #rotaryQueriesAndKeys} and two copies.
     *
     * @param qkv {@code [n, (H+2K)*d]}
     * @return {@code [H, n, d]} the rotated queries
     */
    private Tensor rotateIntoCache(Tensor qkv, Step step, Tensor cacheKeys, Tensor cacheValues) {
        long n = step.count();
        long d = headDim;
        if (n == 1 && nativeGlue && qkv.is_contiguous()) {
            Tensor q = Tensors.empty(ScalarType.BFloat16, heads, 1, d);                 // [H, 1, d]
            NativeDecodeOps.rotaryToCache(qkv, step.rope().cos(), step.rope().sin(), heads, kvHeads, cacheKeys,
                    cacheValues, step.start(), q);
            return q;
        }
        Tensor qk = rotaryQueriesAndKeys(qkv, n, step.rope());                          // [H+K, n, d]
        Tensor q = qk.narrow(0, 0, heads);                                              // [H, n, d]
        Tensor k = qk.narrow(0, heads, kvHeads);                                        // [K, n, d]
        Tensor v = qkv.narrow(1, (heads + kvHeads) * d, kvHeads * d).view(n, kvHeads, d).transpose(0, 1); // [K, n, d]
        cacheKeys.narrow(1, step.start(), n).copy_(k);     // in place: the result is the cache view itself
        cacheValues.narrow(1, step.start(), n).copy_(v);
        return q;
    }

    /**
     * LongRoPE on the queries and keys of {@code qkv} in one call (they are adjacent in qkv_proj's output): four
     * kernels per layer instead of ten, each result element as in its own rotation.
     *
     * @param qkv {@code [n, (H+2K)*d]}
     * @return {@code [H+K, n, d]}: heads {@code 0..H-1} the queries, then the keys
     */
    private Tensor rotaryQueriesAndKeys(Tensor qkv, long n, LongRopeEmbedding.CosSin rope) {
        Tensor qk = qkv.narrow(1, 0, (heads + kvHeads) * headDim).view(n, heads + kvHeads, headDim)
                .transpose(0, 1);                                                       // [H+K, n, d]
        return LongRopeEmbedding.apply(qk, rope);
    }

    /** o_proj and residual, then the MLP and residual: {@code [n, H*d]} attention output to {@code [n, hidden]}. */
    private Tensor outputAndMlp(Tensor x, Projections p, Tensor merged) {
        RmsNorm.Residual x1 = postAttentionLayernorm.addAndApply(x, p.o().apply(merged));
        Tensor gateUp = p.gateUp().apply(x1.normed());                                  // [n, 2I]
        Tensor gate = gateUp.narrow(1, 0, intermediate);                                // first half: gate
        Tensor up = gateUp.narrow(1, intermediate, intermediate);
        return torch.add(x1.sum(), p.down().apply(torch.mul(up, torch.silu(gate))));
    }

    /**
     * One decode token for each of B sequences: the linears run once on the {@code [B, hidden]} batch (on a
     * CPU the step is bound by reading the weights, so B rows cost little more than one), rotary per row at
     * its own position, attention per sequence over its own cache with the single-row decode path of
     * {@link CausalAttention#apply}. Each row's result depends only on its own inputs.
     *
     * @param x {@code [B, hidden]} residual stream, row i the new token of sequence i
     * @param steps one single-position step per sequence (its position, mask and upcast flag)
     * @param rope cos/sin {@code [B, d]}: row i for sequence i's position and factor set
     * @param cacheKeys per sequence {@code [kvHeads, capacity, d]}: receives its new key at its position
     * @param cacheValues likewise for values
     * @return {@code [B, hidden]}
     */
    Tensor applyBatch(Tensor x, Step[] steps, LongRopeEmbedding.CosSin rope, Tensor[] cacheKeys,
            Tensor[] cacheValues) {
        long b = steps.length;
        long d = headDim;
        CpuMatmulBackend.Mode linears = batchLinearMode(b);
        Projections p = projections.forRows(b);
        Tensor h = inputLayernorm.apply(x);
        Tensor qkv;                                                                     // [B, (H+2K)*d]
        try (CpuMatmulBackend.Lease lease = lease(cpu, linears)) {
            qkv = p.qkv().apply(h);
        }
        Tensor qk = rotaryQueriesAndKeys(qkv, b, rope);  // [H+K, B, d]; elementwise: row i as in its own step
        Tensor q = qk.narrow(0, 0, heads);                                              // [H, B, d]
        Tensor k = qk.narrow(0, heads, kvHeads);                                        // [K, B, d]
        Tensor v = qkv.narrow(1, (heads + kvHeads) * d, kvHeads * d).view(b, kvHeads, d).transpose(0, 1); // [K, B, d]
        TensorVector outs = new TensorVector();
        try (CpuMatmulBackend.Lease lease = lease(cpu, CpuMatmulBackend.Mode.ONEDNN)) {
            for (int i = 0; i < b; i++) {
                Step s = steps[i];
                cacheKeys[i].narrow(1, s.start(), 1).copy_(k.narrow(1, i, 1));      // in place: [K, 1, d]
                cacheValues[i].narrow(1, s.start(), 1).copy_(v.narrow(1, i, 1));
                outs.push_back(attention.apply(q.narrow(1, i, 1), cacheKeys[i], cacheValues[i], s));  // [H, 1, d]
            }
        }
        Tensor attn = torch.cat(outs, 1);                                               // [H, B, d]
        Tensor merged = attn.transpose(0, 1).reshape(b, heads * d);                     // [B, H*d]
        try (CpuMatmulBackend.Lease lease = lease(cpu, linears)) {
            return outputAndMlp(x, p, merged);
        }
    }

    /**
     * The kernels for the linears of a B-row decode step: ATen's GEMV for one bf16 row, as in
     * {@link #apply}; {@link #BATCH_GEMV_MAX_ROWS} and below ATen's kernels too, oneDNN above (see
     * docs/benchmarks.md, "Batched decoding").
     */
    private CpuMatmulBackend.Mode batchLinearMode(long rows) {
        return atenGemv && rows <= BATCH_GEMV_MAX_ROWS ? CpuMatmulBackend.Mode.ATEN_GEMV
                : CpuMatmulBackend.Mode.ONEDNN;
    }

    private static CpuMatmulBackend.Lease lease(boolean take, CpuMatmulBackend.Mode mode) {
        return take ? CpuMatmulBackend.enter(mode) : CpuMatmulBackend.none();
    }
}
