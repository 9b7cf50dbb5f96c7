package io.github.phi3v.core.model;

import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import io.github.phi3v.core.config.Phi3VConfig;
import io.github.phi3v.core.runtime.CpuFeatures;
import io.github.phi3v.core.runtime.InferenceScope;
import io.github.phi3v.core.runtime.NativeKernels;
import io.github.phi3v.core.runtime.NativePrefillAttention;
import io.github.phi3v.core.runtime.Tensors;

/**
 * The scaled dot-product attention of one decoder layer's queries over its KV cache, causal, without
 * weights ({@link Phi3DecoderLayer} holds qkv_proj and o_proj): a decode step's single query row with
 * the native kernel or two batched GEMVs, a CPU prefill with its native kernel or in blocks, SDPA
 * otherwise. Immutable; its scalars belong to the loader.
 */
final class CausalAttention {

    /** Queries per block of {@link #chunkedCausal}. */
    private static final long QUERY_CHUNK = 128;

    /**
     * Heads per group of {@link #chunkedCausal}: with 8 heads, 128 queries and 4096 keys the float32
     * scores are 16 MiB and the float32 keys 12 MiB (see {@link Phi3DecoderLayer#ROW_BLOCK} for why that
     * size matters).
     */
    private static final long HEAD_GROUP = 8;

    private final long heads;
    private final long kvHeads;
    private final long headDim;
    private final DoubleOptional defaultScale;
    private final Scalar invSqrtHeadDim;
    /** {@code 1 / sqrt(head_dim)} in float32, as libtorch applies {@link #invSqrtHeadDim} to float32 scores. */
    private final float scale;
    private final Scalar minusInf;
    /** CPU bf16 decode steps attend with {@link NativeKernels#decodeAttention} (where the library runs). */
    private final boolean nativeDecode;
    /**
     * CPU float32 decode steps attend with {@link NativeKernels#decodeAttentionFloat} on CPUs without AVX-512:
     * there libtorch's two float32 GEMVs streamed the cache at ~3 GB/s (docs/benchmarks.md, "Native float32
     * decode attention"). CPUs with AVX-512 keep libtorch's, against which the kernel was not measured.
     */
    private final boolean nativeFloatDecode;
    /**
     * CPU prefills attend with {@link NativePrefillAttention}: bf16 where the CPU has AVX-512 BF16; float32 (its
     * float32 twin) where the AVX-512 kernels run and the CPU has no bf16 instructions, so that float32 is the
     * default precision there ({@link Precision#cpuDefault}). On a CPU with bf16 instructions a float32 model is the
     * reference configuration and keeps libtorch's arithmetic: with the twin, the golden float32 forward errors
     * against the official implementation grew up to 1.9x (logits 8.5e-6 -> 1.6e-5; docs/benchmarks.md, "Causal
     * prefill attention"). On a full-size layer at 2000 positions 0.48x (bf16) and 0.40x (float32) the time of
     * {@link #chunkedCausal}'s libtorch blocks.
     */
    private final boolean nativePrefill;

    CausalAttention(WeightLoader w, Phi3VConfig cfg) {
        heads = cfg.numAttentionHeads();
        kvHeads = cfg.numKeyValueHeads();
        headDim = cfg.headDim();
        defaultScale = w.own(new DoubleOptional());  // 1/sqrt(head_dim), as the official division
        invSqrtHeadDim = w.own(new Scalar(1.0 / Math.sqrt(headDim)));
        scale = (float) (1.0 / Math.sqrt(headDim));
        minusInf = w.own(new Scalar(Float.NEGATIVE_INFINITY));
        nativeDecode = w.device().is_cpu() && w.dtype() == ScalarType.BFloat16 && heads == kvHeads
                && NativeKernels.attends(headDim) && NativeKernels.available();
        nativeFloatDecode = w.device().is_cpu() && w.dtype() == ScalarType.Float && heads == kvHeads
                && NativeKernels.attendsFloat(headDim) && !CpuFeatures.has("avx512f")
                && NativeKernels.floatAttentionAvailable();
        nativePrefill = w.device().is_cpu() && heads == kvHeads && NativePrefillAttention.attends(headDim)
                && (w.dtype() == ScalarType.BFloat16 ? NativePrefillAttention.available()
                : w.dtype() == ScalarType.Float && NativePrefillAttention.floatAvailable()
                        && !Precision.cpuHasBf16());
    }

    /**
     * Causal attention of the new queries over all cached keys. On CPU a prefill (more than one token,
     * no GQA, no sliding-window mask) runs on the native kernel (see {@link #nativePrefill}) or in blocks
     * ({@link #chunkedCausal}); a single decode token attends
     * with a native kernel (bf16 on CPU; float32 on CPU without AVX-512) or two batched GEMVs in the cache dtype and a float32 softmax (no
     * mask needed: it sees every key); the other cases (CUDA, GQA, a window mask) use SDPA, up-cast to
     * float32 on CPU (libtorch's bf16 SDPA without AMX is ~20x slower).
     *
     * @param q {@code [H, n, d]} the new queries, rotated
     * @param cacheKeys {@code [K, span, d]} this layer's cached keys, the new ones included
     * @param cacheValues {@code [K, span, d]} likewise
     * @param step positions and mask of the call
     * @return {@code [H, n, d]} in the queries' dtype, in the caller's scope
     */
    Tensor apply(Tensor q, Tensor cacheKeys, Tensor cacheValues, Phi3DecoderLayer.Step step) {
        if (step.count() == 1 && step.mask() == null && nativeDecode) {
            // Decode on CPU in bf16 (no GQA, see nativeDecode): the formula below, reading each head's cache
            // once: 2-3x faster than the two batched GEMVs at 2000 positions (docs/benchmarks.md, "Native
            // decode attention"). It reads the cache's first step.end() positions itself: no slices needed.
            Tensor out = Tensors.empty(ScalarType.BFloat16, heads, 1, headDim);                 // [H, 1, d]
            NativeKernels.decodeAttention(q.contiguous(), cacheKeys, cacheValues, step.end(), scale, out);
            return out;
        }
        if (step.count() == 1 && step.mask() == null && nativeFloatDecode) {
            // The same for a float32 cache on CPUs without AVX-512 (see nativeFloatDecode).
            Tensor out = Tensors.empty(ScalarType.Float, heads, 1, headDim);                     // [H, 1, d]
            NativeKernels.decodeAttentionFloat(q.contiguous(), cacheKeys, cacheValues, step.end(), scale, out);
            return out;
        }
        ScalarType dtype = Tensors.dtype(q);
        boolean gqa = heads != kvHeads;
        Tensor keys = cacheKeys.narrow(1, 0, step.end());                               // [K, L, d]
        Tensor values = cacheValues.narrow(1, 0, step.end());                           // [K, L, d]
        if (step.count() == 1 && step.mask() == null && !gqa) {
            // Decode: one query row. Two batched GEMVs in the cache dtype with the softmax in float32 (the
            // official eager formula) read K and V once; libtorch's bf16 SDPA took 3.5x as long here
            // ([32, 2500, 96] x 32 layers: 520 ms vs 150 ms).
            // q·keysᵀ on the contiguous span: 32 layers' [32, 2048, 96] bf16 keys read from memory take 18.3 ms
            // this way and 24.7 ms as keys·qᵀ (22.0 vs 16.3 GB/s; 34.8 vs 46.7 ms at 4096; DecodeOpsProbe),
            // with bit-identical scores; the prefill's chunkedCausal multiplies in this orientation too.
            // The key count is rounded up to a multiple of KvCache.SPAN_STEP (the padding masked to -inf,
            // its values zeroed): libtorch's oneDNN creates a new primitive for every new shape, and a new
            // length per token made each decode step build fresh kernels and touch fresh memory. KvCache lays
            // its heads out in the same spans, so the padded slice is its whole contiguous tensor: the bf16
            // batched matmul would copy a strided slice on every step.
            long len = step.end();
            long padded = Math.min(cacheKeys.size(1), KvCache.spanFor(len));
            if (padded > len) {
                keys = cacheKeys.narrow(1, 0, padded);                               // [K, P, d]
                values = cacheValues.narrow(1, 0, padded);
                values.narrow(1, len, padded - len).zero_();   // in place: unused cache slots, never NaN garbage
            }
            Tensor scores = torch.matmul(q, keys.transpose(1, 2));                   // [H, 1, P]
            Tensor scaled = torch.mul(scores.to(ScalarType.Float), invSqrtHeadDim);
            if (padded > len) {
                scaled.narrow(2, len, padded - len).fill_(minusInf);                 // in place
            }
            Tensor probs = torch.softmax(scaled, -1);
            return torch.matmul(dtype == ScalarType.Float ? probs : probs.to(dtype), values);  // [H, 1, d]
        }
        if (step.mask() == null && step.count() > 1 && step.upcastPrefill() && !gqa) {
            if (nativePrefill && Tensors.dtype(cacheKeys) == dtype) {
                // The formula of chunkedCausal (bf16: with the decode kernel's rounding), in one call (nativePrefill).
                Tensor out = Tensors.empty(dtype, heads, step.count(), headDim);                   // [H, n, d]
                NativePrefillAttention.attention(q.contiguous(), cacheKeys, cacheValues, step.start(), scale, out);
                return out;
            }
            return chunkedCausal(q, keys, values, step.start(), invSqrtHeadDim);
        }
        boolean upcast = step.upcastPrefill() && step.count() > 1 && dtype != ScalarType.Float;
        if (upcast) {
            q = q.to(ScalarType.Float);
            keys = keys.to(ScalarType.Float);
            values = values.to(ScalarType.Float);
        }
        Tensor out;
        if (step.mask() != null) {
            try (TensorOptional mask = new TensorOptional(step.mask())) {
                out = torch.scaled_dot_product_attention(q, keys, values, mask, 0.0, false, defaultScale, gqa);
            }
        } else {
            // Either one query that sees every key, or a prefill from position 0 where the top-left
            // aligned is_causal mask of SDPA is the right one.
            boolean causal = step.count() > 1;
            try (TensorOptional none = new TensorOptional()) {
                out = torch.scaled_dot_product_attention(q, keys, values, none, 0.0, causal, defaultScale, gqa);
            }
        }
        return upcast && Tensors.dtype(out) != dtype ? out.to(dtype) : out;
    }

    /**
     * Causal attention on CPU of the queries at positions {@code offset .. offset+n-1} over the keys
     * {@code 0 .. offset+n-1}, in groups of {@link #HEAD_GROUP} heads and blocks of {@link #QUERY_CHUNK}
     * queries: each block attends only to the keys up to its own last position (the causal half of the
     * work) with two batched GEMMs and a float32 softmax. With 16-bit caches q·kᵀ is a 16-bit GEMM whose
     * scores are rounded to that dtype, as in our decode step (so a cached decode step gives the same logits
     * as recomputing the sequence) and in the official eager attention (which rounds once more after the
     * division by sqrt(head_dim));
     * as a float32 GEMM (single-threaded OpenBLAS here) it was 8-10x slower and 80 % of the attention time.
     * libtorch's CPU SDPA took 0.75-2.1 s per layer at 2000 tokens against 0.23 s for these blocks.
     *
     * @param q {@code [H, n, d]} in the model dtype
     * @param keys {@code [H, offset+n, d]} in the cache dtype
     * @param values {@code [H, offset+n, d]} in the cache dtype: with 16-bit caches the probabilities are
     *     rounded to that dtype and multiplied with these, as the official eager attention does
     *     ({@code softmax(..., dtype=float32).to(query dtype)}); twice as fast as float32 here
     * @param offset the position of the first query
     * @param invSqrtHeadDim {@code 1 / sqrt(d)}
     * @return {@code [H, n, d]} in the cache dtype
     */
    static Tensor chunkedCausal(Tensor q, Tensor keys, Tensor values, long offset, Scalar invSqrtHeadDim) {
        long h = q.size(0);
        long n = q.size(1);
        ScalarType pvType = Tensors.dtype(values);
        Tensor out = Tensors.empty(pvType, h, n, q.size(2));                             // [H, n, d]
        long c = Math.min(QUERY_CHUNK, n);
        Tensor future;                                                                   // [c, c]: -inf above the diagonal
        try (Scalar minusInf = new Scalar(Float.NEGATIVE_INFINITY);
             TensorOptions f32 = new TensorOptions(ScalarType.Float)) {
            future = torch.triu(torch.full(new long[] {c, c}, minusInf, f32), 1);
        }
        for (long g0 = 0; g0 < h; g0 += HEAD_GROUP) {
            long g = Math.min(HEAD_GROUP, h - g0);
            try (InferenceScope group = InferenceScope.open()) {
                Tensor k = keys.narrow(0, g0, g);                                            // [g, L, d]
                Tensor v = values.narrow(0, g0, g);                                          // [g, L, d]
                Tensor qg = q.narrow(0, g0, g);                                              // [g, n, d]
                for (long c0 = 0; c0 < n; c0 += c) {
                    try (InferenceScope chunk = InferenceScope.open()) {
                        long len = Math.min(c, n - c0);
                        long end = offset + c0 + len;
                        Tensor scores = torch.matmul(qg.narrow(1, c0, len), k.narrow(1, 0, end).transpose(1, 2)); // [g, len, end]
                        if (pvType != ScalarType.Float) {
                            scores = scores.to(ScalarType.Float);
                        }
                        scores.mul_(invSqrtHeadDim);                                             // in place
                        scores.narrow(2, offset + c0, len).add_(future.narrow(0, 0, len).narrow(1, 0, len)); // causal block
                        Tensor probs = torch.softmax(scores, -1);                                // [g, len, end]
                        if (pvType != ScalarType.Float) {
                            probs = probs.to(pvType);
                        }
                        out.narrow(0, g0, g).narrow(1, c0, len).copy_(torch.matmul(probs, v.narrow(1, 0, end)));
                    }
                }
            }
        }
        return out;
    }
}
