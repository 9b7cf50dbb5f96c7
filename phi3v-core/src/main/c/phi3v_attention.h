/*
 * What the two decode-attention kernels share (phi3v_attention.c for a bf16 KV cache with AVX-512,
 * phi3v_attention_f32.c for a float32 one with AVX2): the prefetch of what a head reads next, and the driver
 * that gives every head its scratch for the scores and runs the heads on OpenMP threads. The per-head
 * arithmetic is each kernel's own.
 */
#ifndef PHI3V_ATTENTION_H
#define PHI3V_ATTENTION_H

#include <stdint.h>
#include <stdlib.h>
#include <immintrin.h>

/* Prefetches the bytes [p, p + bytes) into the first-level cache (a prefetch never faults). */
static inline void prefetch_bytes(const void *p, int64_t bytes) {
    for (int64_t b = 0; b < bytes; b += 64) {
        _mm_prefetch((const char *) p + b, _MM_HINT_T0);
    }
}

/*
 * A kernel's attention for one head: q and out [D], keys and values [len, D] rows of D contiguous, elements of
 * the kernel's dtype; scores: len (rounded up to 16) floats of scratch.
 */
typedef void (*head_attention)(const void *q, const void *k, const void *v, void *out, int64_t len, int64_t d,
                               float scale, float *scores);

/*
 * out[h] = attention of q[h] over keys[h, 0..len) and values[h, 0..len) for every head h, elements of elem bytes,
 * head h of the caches at h * head_stride elements. Returns 0, or -1 when the scratch memory could not be
 * allocated (nothing written then).
 */
static inline int decode_attention(const void *q, const void *k, const void *v, void *out, int64_t heads,
                                   int64_t len, int64_t d, int64_t head_stride, size_t elem, float scale,
                                   head_attention head, int threads) {
    const size_t per_head = (size_t) ((len + 15) / 16 * 16);
    float *scratch = aligned_alloc(64, sizeof(float) * per_head * (size_t) heads);
    if (scratch == NULL) {
        return -1;
    }
    const char *qb = q, *kb = k, *vb = v;
    char *ob = out;
#pragma omp parallel for schedule(static) num_threads(threads > 0 ? threads : 1)
    for (int64_t h = 0; h < heads; h++) {
        const size_t at = (size_t) (h * head_stride) * elem;
        head(qb + (size_t) (h * d) * elem, kb + at, vb + at, ob + (size_t) (h * d) * elem, len, d, scale,
             scratch + per_head * (size_t) h);
    }
    free(scratch);
    return 0;
}

#endif
