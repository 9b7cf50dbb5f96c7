/*
 * What the attention kernels share (phi3v_attention.c for a decode step over a bf16 KV cache with AVX-512,
 * phi3v_attention_f32.c for a float32 one with AVX2, phi3v_encoder_attention.c for the vision encoder): the
 * exponential of the softmax (AVX-512), the prefetch of what a head reads next, and the driver that gives every
 * decode head its scratch for the scores and runs the heads on OpenMP threads. The per-head arithmetic is each
 * kernel's own.
 */
#ifndef PHI3V_ATTENTION_H
#define PHI3V_ATTENTION_H

#include <stdint.h>
#include <stdlib.h>
#include <immintrin.h>

/*
 * e^x on 16 lanes, within 2 float32 ulp: x = n ln2 + r with |r| <= ln2 / 2 (ln2 split in two for an exact
 * reduction), e^r by Cephes' degree-7 polynomial, scaled by 2^n. Arguments below -103 give 0.
 */
__attribute__((target("avx512f")))
static inline __m512 exp16(__m512 x) {
    x = _mm512_max_ps(x, _mm512_set1_ps(-103.0f));
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(p, n);
}

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
