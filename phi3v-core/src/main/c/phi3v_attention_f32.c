/*
 * phi3v native kernels: the attention of one decode step (one query row per head) over a float32 KV cache,
 * with AVX2: a float32 model's decode step on CPUs without AVX-512.
 *
 * Why native: libtorch computes it as two batched float32 GEMVs (q·Kᵀ and probs·V) and a softmax, which on
 * the AMD EPYC (AVX2) streamed the cache at 3.1-3.3 GB/s: 189 ms per token at 784 positions and 525 ms at
 * 2048 over 32 layers, more than the int8 decoder linears' whole 4 GB (docs/benchmarks.md, "Native float32
 * decode attention"). Here each head's keys and values are read once, at the speed of the loads.
 *
 * What it computes, per head h (the formula of CausalAttention's decode step for a float32 cache):
 *   s[t] = (q · k[t]) * scale          (float32 sum, rounded, then scaled in float32)
 *   p[t] = exp(s[t] - max s) * (1 / sum_t exp(s[t] - max s))
 *   out  = sum_t p[t] * v[t]           (float32 sums)
 * with fused multiply-adds; the order of the sums differs from libtorch's, and exp is a polynomial within
 * 2 float32 ulp (NativeDecodeAttentionFloatTest bounds the effect).
 *
 * Layouts: q [H, D] and out [H, D] float32, contiguous; keys and values [H, *, D] float32 with rows of D
 * contiguous and head h at h * head_stride elements. D a multiple of 8, at most 256.
 *
 * Threads: OpenMP over heads (static), the thread count libtorch uses.
 */
#include <jni.h>
#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <omp.h>

#include "phi3v_attention.h"

#define F32_TARGET __attribute__((target("avx2,fma")))
/* Largest head dimension (the query and the output accumulators, D / 8 vectors each). */
#define MAX_D 256
/* Positions whose dot products run as independent chains (hides the multiply-add latency). */
#define POSITIONS 4
/* Positions ahead whose keys (values) are prefetched, as phi3v_attention.c. */
#define PREFETCH_POSITIONS 16

F32_TARGET
static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/*
 * e^x on 8 lanes for x <= 0, within 2 float32 ulp: phi3v_attention.c's exp16 (x = n ln2 + r, Cephes'
 * degree-7 polynomial for e^r), with 2^n applied in two halves so that results below 2^-126 come out
 * subnormal, as scalef gives them. Arguments below -103 give at most 2^-149 (against a sum of at least 1).
 */
F32_TARGET
static inline __m256 exp8(__m256 x) {
    x = _mm256_max_ps(x, _mm256_set1_ps(-103.0f));
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    const __m256i ni = _mm256_cvtps_epi32(n);                          /* -149 .. 0 */
    const __m256i n1 = _mm256_srai_epi32(ni, 1), n2 = _mm256_sub_epi32(ni, n1);
    const __m256i bias = _mm256_set1_epi32(127);
    p = _mm256_mul_ps(p, _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23)));
    return _mm256_mul_ps(p, _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23)));
}

/* One head: s (len floats of scratch, rounded up to 8) receives the scores, then the probabilities. */
F32_TARGET
static void attend_head(const float *q, const float *k, const float *v, float *out, int64_t len, int64_t d,
                        float scale, float *s) {
    const int nv = (int) (d / 8);
    float max = -INFINITY;
    int64_t t = 0;
    for (; t + POSITIONS <= len; t += POSITIONS) {
        __m256 acc[POSITIONS];
        prefetch_bytes(k + (t + PREFETCH_POSITIONS) * d, POSITIONS * d * 4);
        for (int j = 0; j < POSITIONS; j++) {
            acc[j] = _mm256_mul_ps(_mm256_loadu_ps(q), _mm256_loadu_ps(k + (t + j) * d));
        }
        for (int i = 1; i < nv; i++) {
            const __m256 qi = _mm256_loadu_ps(q + 8 * i);
            for (int j = 0; j < POSITIONS; j++) {
                acc[j] = _mm256_fmadd_ps(qi, _mm256_loadu_ps(k + (t + j) * d + 8 * i), acc[j]);
            }
        }
        for (int j = 0; j < POSITIONS; j++) {
            const float sc = hsum8(acc[j]) * scale;
            s[t + j] = sc;
            max = sc > max ? sc : max;
        }
    }
    for (; t < len; t++) {
        __m256 acc = _mm256_mul_ps(_mm256_loadu_ps(q), _mm256_loadu_ps(k + t * d));
        for (int i = 1; i < nv; i++) {
            acc = _mm256_fmadd_ps(_mm256_loadu_ps(q + 8 * i), _mm256_loadu_ps(k + t * d + 8 * i), acc);
        }
        const float sc = hsum8(acc) * scale;
        s[t] = sc;
        max = sc > max ? sc : max;
    }
    /* Softmax: e^(s - max) and their sum (the scratch's tail past len at -inf: adds at most 2^-149 each), then
       times 1 / sum. */
    for (t = len; t < (len + 7) / 8 * 8; t++) {
        s[t] = -INFINITY;
    }
    const __m256 mv = _mm256_set1_ps(max);
    __m256 sum = _mm256_setzero_ps();
    for (t = 0; t < len; t += 8) {
        const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(s + t), mv));     /* -inf - max: 0 */
        _mm256_storeu_ps(s + t, e);
        sum = _mm256_add_ps(sum, e);
    }
    const __m256 inv = _mm256_set1_ps(1.0f / hsum8(sum));
    for (t = 0; t < len; t += 8) {
        _mm256_storeu_ps(s + t, _mm256_mul_ps(_mm256_loadu_ps(s + t), inv));
    }
    /* out = sum_t p[t] v[t]. */
    __m256 o[MAX_D / 8];
    for (int i = 0; i < nv; i++) {
        o[i] = _mm256_setzero_ps();
    }
    for (t = 0; t < len; t++) {
        const __m256 p = _mm256_broadcast_ss(s + t);
        prefetch_bytes(v + (t + PREFETCH_POSITIONS) * d, d * 4);
        for (int i = 0; i < nv; i++) {
            o[i] = _mm256_fmadd_ps(p, _mm256_loadu_ps(v + t * d + 8 * i), o[i]);
        }
    }
    for (int i = 0; i < nv; i++) {
        _mm256_storeu_ps(out + 8 * i, o[i]);
    }
}

/* attend_head as phi3v_attention.h's head_attention. */
F32_TARGET
static void attend_head_any(const void *q, const void *k, const void *v, void *out, int64_t len, int64_t d,
                            float scale, float *scores) {
    attend_head((const float *) q, (const float *) k, (const float *) v, (float *) out, len, d, scale,
                scores);
}

/*
 * out[h] = softmax(q[h] · keys[h, 0..len)ᵀ * scale) · values[h, 0..len) for every head, as described at the
 * top. Returns 0, or -1 when the scratch memory could not be allocated (nothing written then).
 */
JNIEXPORT jint JNICALL Java_io_github_phi3v_core_runtime_NativeKernels_decodeAttentionFloat(JNIEnv *env,
        jclass cls, jlong q_addr, jlong k_addr, jlong v_addr, jlong out_addr, jlong heads, jlong len, jlong d,
        jlong head_stride, jfloat scale, jint threads) {
    (void) env;
    (void) cls;
    return decode_attention((const void *) (intptr_t) q_addr, (const void *) (intptr_t) k_addr,
                            (const void *) (intptr_t) v_addr, (void *) (intptr_t) out_addr, heads, len, d, head_stride,
                            sizeof(float), scale, attend_head_any, threads);
}
