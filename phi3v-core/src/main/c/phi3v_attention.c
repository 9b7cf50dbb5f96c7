/*
 * phi3v native kernels: the attention of one decode step (one query row per head) over a bf16 KV cache.
 *
 * Why native: libtorch computes it as two batched bf16 GEMVs (q·Kᵀ and probs·V) through oneDNN, which
 * stream the cache at 11-22 GB/s on this project's benchmark machine, where a plain read runs at 50-70;
 * at 2000 cached positions that is 47-62 ms of a decode step (docs/benchmarks.md, DecodeOpsProbe). Here
 * each head's keys and values are read once, at the speed of the loads.
 *
 * What it computes, per head h (the formula of Phi3DecoderLayer's decode step, in the same dtypes):
 *   s[t] = bf16(q · k[t]) * scale          (the bf16 GEMM's score, rounded to bf16, scaled in float32)
 *   p[t] = bf16(exp(s[t] - max s) / sum)   (float32 softmax, probabilities rounded to bf16)
 *   out  = bf16(sum_t p[t] * v[t])         (float32 sums)
 * Products and sums in float32 (fused multiply-add); the order of the sums differs from oneDNN's, so a
 * score can round to the neighbouring bf16 value (NativeDecodeAttentionTest bounds the effect).
 *
 * Layouts: q [H, D] and out [H, D] bf16, contiguous; keys and values [H, *, D] bf16 with rows of D
 * contiguous and head h at h * head_stride elements. D a multiple of 16, at most 256.
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

#include "phi3v_bf16.h"

#define ATTENTION_TARGET __attribute__((target("avx512f,avx512bw")))
/* Largest head dimension: the query and the output stay in registers, D / 16 vectors each. */
#define MAX_D 256
/* Positions whose dot products run as independent chains (hides the multiply-add latency). */
#define POSITIONS 4
/*
 * Positions ahead whose keys (values) are prefetched while these are multiplied: DecodeAttentionProbe's
 * libtorch / native ratio went from 2.57-2.61x to 3.06-3.08x at 2000 positions (docs/benchmarks.md,
 * "Software prefetch in the native kernels"). Past the cache's end this touches addresses that may be
 * unmapped: a prefetch never faults.
 */
#define PREFETCH_POSITIONS 16

/* The bf16 rounding of a float32 score, back in float32. */
static inline float round_bf16(float f) {
    return bf16_to_float(float_to_bf16(f));
}

/*
 * One head: s (len floats of scratch) receives the scores, then the probabilities.
 */
ATTENTION_TARGET
static void attend_head(const uint16_t *q, const uint16_t *k, const uint16_t *v, uint16_t *out, int64_t len,
                        int64_t d, float scale, float *s) {
    const int nv = (int) (d / 16);
    __m512 qv[MAX_D / 16];
    for (int i = 0; i < nv; i++) {
        qv[i] = load_bf16(q + 16 * i);
    }
    float max = -INFINITY;
    int64_t t = 0;
    for (; t + POSITIONS <= len; t += POSITIONS) {
        __m512 acc[POSITIONS];
        prefetch_bytes(k + (t + PREFETCH_POSITIONS) * d, POSITIONS * d * 2);
        for (int j = 0; j < POSITIONS; j++) {
            acc[j] = _mm512_mul_ps(qv[0], load_bf16(k + (t + j) * d));
        }
        for (int i = 1; i < nv; i++) {
            for (int j = 0; j < POSITIONS; j++) {
                acc[j] = _mm512_fmadd_ps(qv[i], load_bf16(k + (t + j) * d + 16 * i), acc[j]);
            }
        }
        for (int j = 0; j < POSITIONS; j++) {
            float sc = round_bf16(_mm512_reduce_add_ps(acc[j])) * scale;
            s[t + j] = sc;
            max = sc > max ? sc : max;
        }
    }
    for (; t < len; t++) {
        __m512 acc = _mm512_mul_ps(qv[0], load_bf16(k + t * d));
        for (int i = 1; i < nv; i++) {
            acc = _mm512_fmadd_ps(qv[i], load_bf16(k + t * d + 16 * i), acc);
        }
        float sc = round_bf16(_mm512_reduce_add_ps(acc)) * scale;
        s[t] = sc;
        max = sc > max ? sc : max;
    }
    /* Softmax: e^(s - max), their sum, then each divided by the sum and rounded to bf16. */
    const __m512 mv = _mm512_set1_ps(max);
    __m512 sum = _mm512_setzero_ps();
    for (t = 0; t < len; t += 16) {
        __mmask16 m = len - t >= 16 ? (__mmask16) 0xffff : (__mmask16) ((1u << (len - t)) - 1u);
        __m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, s + t), mv));
        e = _mm512_maskz_mov_ps(m, e);
        _mm512_mask_storeu_ps(s + t, m, e);
        sum = _mm512_add_ps(sum, e);
    }
    const __m512 total = _mm512_set1_ps(_mm512_reduce_add_ps(sum));
    for (t = 0; t < len; t += 16) {
        __mmask16 m = len - t >= 16 ? (__mmask16) 0xffff : (__mmask16) ((1u << (len - t)) - 1u);
        __m512 p = _mm512_div_ps(_mm512_maskz_loadu_ps(m, s + t), total);
        p = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(to_bf16(p)), 16));   /* bf16(p) */
        _mm512_mask_storeu_ps(s + t, m, p);
    }
    /* out = sum_t p[t] v[t]. */
    __m512 o[MAX_D / 16];
    for (int i = 0; i < nv; i++) {
        o[i] = _mm512_setzero_ps();
    }
    for (t = 0; t < len; t++) {
        const __m512 p = _mm512_set1_ps(s[t]);
        prefetch_bytes(v + (t + PREFETCH_POSITIONS) * d, d * 2);
        for (int i = 0; i < nv; i++) {
            o[i] = _mm512_fmadd_ps(p, load_bf16(v + t * d + 16 * i), o[i]);
        }
    }
    for (int i = 0; i < nv; i++) {
        _mm256_storeu_si256((__m256i *) (out + 16 * i), to_bf16(o[i]));
    }
}

/* attend_head as phi3v_attention.h's head_attention. */
ATTENTION_TARGET
static void attend_head_any(const void *q, const void *k, const void *v, void *out, int64_t len, int64_t d,
                            float scale, float *scores) {
    attend_head((const uint16_t *) q, (const uint16_t *) k, (const uint16_t *) v, (uint16_t *) out, len, d, scale,
                scores);
}

/*
 * out[h] = softmax(q[h] · keys[h, 0..len)ᵀ * scale) · values[h, 0..len) for every head, as described at the
 * top. Returns 0, or -1 when the scratch memory could not be allocated (nothing written then).
 */
JNIEXPORT jint JNICALL Java_io_github_phi3v_core_runtime_NativeKernels_decodeAttention(JNIEnv *env, jclass cls,
        jlong q_addr, jlong k_addr, jlong v_addr, jlong out_addr, jlong heads, jlong len, jlong d,
        jlong head_stride, jfloat scale, jint threads) {
    (void) env;
    (void) cls;
    return decode_attention((const void *) (intptr_t) q_addr, (const void *) (intptr_t) k_addr,
                            (const void *) (intptr_t) v_addr, (void *) (intptr_t) out_addr, heads, len, d, head_stride,
                            sizeof(uint16_t), scale, attend_head_any, threads);
}
