/*
 * What the attention kernels share (phi3v_attention.c for a decode step over a bf16 KV cache with AVX-512,
 * phi3v_attention_f32.c for a float32 one with AVX2, phi3v_encoder_attention.c for the vision encoder): the
 * exponential of the softmax (AVX-512), the prefetch of what a head reads next, and the driver that gives every
 * decode head its scratch for the scores and runs the heads on OpenMP threads; the float32 score and value tiles and the
 * softmax numerators of the encoder and prefill kernels. The rest of the per-head arithmetic is each kernel's own.
 */
#ifndef PHI3V_ATTENTION_H
#define PHI3V_ATTENTION_H

#include <stdint.h>
#include <stdlib.h>
#include <immintrin.h>
#include <math.h>

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

/* Lanes [0, n) of 16: all for n >= 16, none for n <= 0. */
static inline __mmask16 lanes(int64_t n) {
    return n >= 16 ? (__mmask16) 0xffff : n <= 0 ? (__mmask16) 0 : (__mmask16) ((1u << n) - 1u);
}

/*
 * The numerators of a float32 softmax over s[0, len), e^(s[t] - max s) (exp16), written in place; returns their
 * float32 sum (16 lane sums in order of t, then reduced). The encoder and the prefill attention kernels' softmax.
 */
__attribute__((target("avx512f")))
static inline float softmax_numerators(float *s, int64_t len) {
    __m512 mx = _mm512_set1_ps(-INFINITY);
    for (int64_t t = 0; t < len; t += 16) {
        mx = _mm512_mask_max_ps(mx, lanes(len - t), mx, _mm512_maskz_loadu_ps(lanes(len - t), s + t));
    }
    const __m512 m = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
    __m512 sum = _mm512_setzero_ps();
    for (int64_t t = 0; t < len; t += 16) {
        const __mmask16 l = lanes(len - t);
        const __m512 e = _mm512_maskz_mov_ps(l, exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(l, s + t), m)));
        _mm512_mask_storeu_ps(s + t, l, e);
        sum = _mm512_add_ps(sum, e);
    }
    return _mm512_reduce_add_ps(sum);
}

/*
 * The float32 score tile of the encoder and prefill kernels: SCORE_ROWS query rows x SCORE_VECS vectors of 16 keys;
 * each broadcast query element feeds SCORE_VECS multiply-adds and each loaded key vector SCORE_ROWS of them (24
 * accumulators + 4 loaded vectors + the broadcast fit AVX-512's 32 registers; in C harnesses on CLIP-L's shape 4 x 4,
 * 6 x 4 and 8 x 2 ran within the machine's noise of each other).
 */
#define SCORE_ROWS 6
#define SCORE_VECS 4
#define SCORE_SPAN (16 * SCORE_VECS)
/*
 * Elements of D per chain of multiply-adds; the chains' sums are added up in order. One chain over all of D lost up to
 * 3.5x the accuracy of libtorch's float32 GEMM at D = 256 (NativePrefillAttentionTest).
 */
#define SCORE_DEPTH 32

/*
 * s[r][t] = (q_r · k_t) * scale in float32 for rows r < rows (<= SCORE_ROWS) and keys t < keys rounded up to
 * SCORE_SPAN: q_r at q + r * q_stride (d floats), kt [d][lpad] the keys transposed (zero past the real keys, lpad a
 * multiple of SCORE_SPAN), s rows lpad apart.
 */
__attribute__((target("avx512f")))
static inline void float_scores(const float *q, int64_t q_stride, int rows, const float *kt, int64_t keys,
                                int64_t lpad, int64_t d, float scale, float *s) {
    const float *qr[SCORE_ROWS];
    for (int r = 0; r < SCORE_ROWS; r++) {
        qr[r] = q + (r < rows ? r : rows - 1) * q_stride;
    }
    const __m512 sc = _mm512_set1_ps(scale);
    for (int64_t j = 0; j < keys; j += SCORE_SPAN) {
        for (int64_t c0 = 0; c0 < d; c0 += SCORE_DEPTH) {
            const int64_t c1 = c0 + SCORE_DEPTH < d ? c0 + SCORE_DEPTH : d;
            __m512 a[SCORE_ROWS][SCORE_VECS];
            for (int r = 0; r < SCORE_ROWS; r++) {
                for (int x = 0; x < SCORE_VECS; x++) {
                    a[r][x] = _mm512_setzero_ps();
                }
            }
            for (int64_t c = c0; c < c1; c++) {
                __m512 kv[SCORE_VECS];
                for (int x = 0; x < SCORE_VECS; x++) {
                    kv[x] = _mm512_loadu_ps(kt + c * lpad + j + 16 * x);
                }
                for (int r = 0; r < SCORE_ROWS; r++) {
                    const __m512 e = _mm512_set1_ps(qr[r][c]);
                    for (int x = 0; x < SCORE_VECS; x++) {
                        a[r][x] = _mm512_fmadd_ps(e, kv[x], a[r][x]);
                    }
                }
            }
            for (int r = 0; r < rows; r++) {
                for (int x = 0; x < SCORE_VECS; x++) {
                    float *at = s + r * lpad + j + 16 * x;
                    const __m512 sum = c0 == 0 ? a[r][x] : _mm512_add_ps(_mm512_loadu_ps(at), a[r][x]);
                    _mm512_storeu_ps(at, c1 == d ? _mm512_mul_ps(sum, sc) : sum);
                }
            }
        }
    }
}

/*
 * out rows r < rows (<= SCORE_ROWS) = p_r · v in float32, the tile of the encoder's and the float32 prefill kernel's
 * values: p_r at p + r * lpad (keys [0, keys) read), v rows of vstride floats with columns [0, d) read (d a multiple of
 * 16), out rows of d floats ostride apart. Each output is one float32 sum over the keys in order.
 */
__attribute__((target("avx512f")))
static inline void float_values(const float *p, int rows, int64_t lpad, const float *v, int64_t vstride, int64_t keys,
                                int64_t d, float *out, int64_t ostride) {
    const float *pr[SCORE_ROWS];
    for (int r = 0; r < SCORE_ROWS; r++) {
        pr[r] = p + (r < rows ? r : rows - 1) * lpad;
    }
    for (int64_t c = 0; c < d; c += SCORE_SPAN) {
        __m512 a[SCORE_ROWS][SCORE_VECS];
        for (int r = 0; r < SCORE_ROWS; r++) {
            for (int x = 0; x < SCORE_VECS; x++) {
                a[r][x] = _mm512_setzero_ps();
            }
        }
        const int vecs = (int) ((d - c) / 16 < SCORE_VECS ? (d - c) / 16 : SCORE_VECS);
        for (int64_t t = 0; t < keys; t++) {
            __m512 vv[SCORE_VECS];
            for (int x = 0; x < SCORE_VECS; x++) {
                vv[x] = x < vecs ? _mm512_loadu_ps(v + t * vstride + c + 16 * x) : _mm512_setzero_ps();
            }
            for (int r = 0; r < SCORE_ROWS; r++) {
                const __m512 e = _mm512_set1_ps(pr[r][t]);
                for (int x = 0; x < SCORE_VECS; x++) {
                    a[r][x] = _mm512_fmadd_ps(e, vv[x], a[r][x]);
                }
            }
        }
        for (int r = 0; r < rows; r++) {
            for (int x = 0; x < vecs; x++) {
                _mm512_storeu_ps(out + r * ostride + c + 16 * x, a[r][x]);
            }
        }
    }
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
