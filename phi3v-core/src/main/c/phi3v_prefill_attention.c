/*
 * phi3v native kernels: the causal attention of a decoder prefill (many query rows per head) over a bf16 KV cache,
 * with AVX-512 BF16's dot products (vdpbf16ps).
 *
 * Why native: CausalAttention's libtorch blocks run q·kᵀ and probs·v as bf16 GEMMs of 128 query rows with float32
 * copies, the scaling, the mask and the softmax between them: ~140 GFLOP/s on a full-size layer at 2000 positions,
 * where this kernel runs at ~290 (docs/benchmarks.md, "Causal prefill attention"). Here each head's keys and values
 * are repacked once into the thread's cache and each block of query rows goes through scores, softmax and values
 * without leaving it.
 *
 * What it computes, per head h and query row i at position pos = offset + i (the formula of the decode kernel in
 * phi3v_attention.c, so a cached decode step and a recomputed prompt round the same way):
 *   s[t] = bf16(q_i · k[t]) * scale          for t <= pos  (the score rounded to bf16, scaled in float32)
 *   p[t] = bf16(exp(s[t] - max s) / sum)                    (float32 softmax, probabilities rounded to bf16)
 *   out_i = bf16(sum_t p[t] * v[t])                         (float32 sums)
 * Products exact, sums in float32 in vdpbf16ps's order (pairs of elements), which differs from oneDNN's and from
 * the decode kernel's: a score can round to the neighbouring bf16 value (NativePrefillAttentionTest bounds it).
 * vdpbf16ps treats subnormal inputs as zero: only probabilities below 2^-126 are affected.
 *
 * Layouts: q and out [H, n, D] bf16 contiguous; keys and values [H, *, D] bf16 with rows of D contiguous, head h at
 * h * head_stride elements, positions 0 .. offset + n - 1 read. D a multiple of 16, at most 256.
 *
 * The float32 twin (a float32 model's prefill, AVX-512 F; prefillAttentionFloat): CausalAttention's float32 blocks'
 * formula, s[t] = (q_i · k[t]) * scale, p[t] = e^(s[t] - max s) * (1 / sum), out_i = sum_t p[t] v[t], all float32
 * (products and sums in float32, e^x within 2 ulp), on float32 q, keys, values and out in the same layouts.
 *
 * Threads: OpenMP over heads (static); each thread's scratch holds one head's repacked keys and values and one
 * block's scores and probabilities.
 */
#include <jni.h>
#include <immintrin.h>
#include <stdint.h>
#include <stdlib.h>
#include <omp.h>

#include "phi3v_attention.h"
#include "phi3v_bf16.h"

#define PREFILL_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
/* The float32 twin (AVX-512 F). */
#define FLOAT_TARGET __attribute__((target("avx512f,avx512bw,avx512vl")))
/*
 * Score tiles: S_ROWS query rows x S_VECS vectors of 16 keys; each broadcast query pair feeds S_VECS dot products,
 * each loaded key vector S_ROWS of them (24 accumulators). In a C harness on a full-size layer 6 x 4, 8 x 3 and
 * 12 x 2 ran within the machine's noise of each other (docs/benchmarks.md, "Causal prefill attention").
 */
#define S_ROWS 8
#define S_VECS 3
#define S_SPAN (16 * S_VECS)
/* Value tiles: V_ROWS query rows x V_VECS vectors of 16 output columns (24 accumulators). */
#define V_ROWS 4
#define V_VECS 6
#define V_SPAN (16 * V_VECS)
/* Query rows per block: scores, softmax and values of a block stay in the thread's cache. */
#define BLOCK 24

/*
 * Scores of rows (<= S_ROWS) query rows against keys [0, keys): q the first row (rows of D bf16, one after the
 * other), kp [D/2][lpad] pairs of bf16 key elements, s [S_ROWS][lpad] receives bf16(q·k) * scale.
 */
PREFILL_TARGET
static void score_tile(const uint16_t *q, int rows, const uint32_t *kp, int64_t keys, int64_t lpad, int64_t d,
                       float scale, float *s) {
    const uint32_t *qp[S_ROWS];
    for (int r = 0; r < S_ROWS; r++) {
        qp[r] = (const uint32_t *) (q + (r < rows ? r : rows - 1) * d);
    }
    const __m512 sc = _mm512_set1_ps(scale);
    for (int64_t j = 0; j < keys; j += S_SPAN) {
        __m512 a[S_ROWS][S_VECS];
        for (int r = 0; r < S_ROWS; r++) {
            for (int x = 0; x < S_VECS; x++) {
                a[r][x] = _mm512_setzero_ps();
            }
        }
        for (int64_t c = 0; c < d / 2; c++) {
            __m512bh kv[S_VECS];
            for (int x = 0; x < S_VECS; x++) {
                kv[x] = (__m512bh) _mm512_loadu_si512(kp + c * lpad + j + 16 * x);
            }
            for (int r = 0; r < S_ROWS; r++) {
                const __m512bh e = (__m512bh) _mm512_set1_epi32((int) qp[r][c]);
                for (int x = 0; x < S_VECS; x++) {
                    a[r][x] = _mm512_dpbf16_ps(a[r][x], e, kv[x]);
                }
            }
        }
        for (int r = 0; r < rows; r++) {
            for (int x = 0; x < S_VECS; x++) {
                /* bf16(score) back in float32, times the scale. */
                const __m512 b = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(to_bf16(a[r][x])), 16));
                _mm512_storeu_ps(s + r * lpad + j + 16 * x, _mm512_mul_ps(b, sc));
            }
        }
    }
}

/*
 * The probabilities of one row from its len scores: p [lpad] bf16 receives bf16(e^(s - max) / sum) for t < len.
 */
PREFILL_TARGET
static void softmax_row(float *s, int64_t len, uint16_t *p) {
    const __m512 total = _mm512_set1_ps(softmax_numerators(s, len));
    for (int64_t t = 0; t < len; t += 16) {
        const __mmask16 l = lanes(len - t);
        _mm256_mask_storeu_epi16(p + t, l, to_bf16(_mm512_div_ps(_mm512_maskz_loadu_ps(l, s + t), total)));
    }
}

/*
 * out rows (<= V_ROWS) = probabilities · values: p [V_ROWS][lpad] bf16 (rows' probabilities, zero past each row's
 * length up to pairs), vp [lpad/2][D] pairs of bf16 values of consecutive keys, pairs [0, pairs) read; out rows of
 * D bf16, one after the other.
 */
PREFILL_TARGET
static void value_tile(const uint16_t *p, int rows, int64_t lpad, const uint32_t *vp, int64_t pairs, int64_t d,
                       uint16_t *out) {
    const uint32_t *pp[V_ROWS];
    for (int r = 0; r < V_ROWS; r++) {
        pp[r] = (const uint32_t *) (p + (r < rows ? r : rows - 1) * lpad);
    }
    for (int64_t c = 0; c < d; c += V_SPAN) {
        __m512 a[V_ROWS][V_VECS];
        for (int r = 0; r < V_ROWS; r++) {
            for (int x = 0; x < V_VECS; x++) {
                a[r][x] = _mm512_setzero_ps();
            }
        }
        const int vecs = (int) ((d - c) / 16 < V_VECS ? (d - c) / 16 : V_VECS);
        for (int64_t t = 0; t < pairs; t++) {
            __m512bh vv[V_VECS];
            for (int x = 0; x < V_VECS; x++) {
                vv[x] = (__m512bh) (x < vecs ? _mm512_loadu_si512(vp + t * d + c + 16 * x) : _mm512_setzero_si512());
            }
            for (int r = 0; r < V_ROWS; r++) {
                const __m512bh e = (__m512bh) _mm512_set1_epi32((int) pp[r][t]);
                for (int x = 0; x < V_VECS; x++) {
                    a[r][x] = _mm512_dpbf16_ps(a[r][x], e, vv[x]);
                }
            }
        }
        for (int r = 0; r < rows; r++) {
            for (int x = 0; x < vecs; x++) {
                _mm256_storeu_si256((__m256i *) (out + r * d + c + 16 * x), to_bf16(a[r][x]));
            }
        }
    }
}

/*
 * One head: repacks keys and values [0, total) into kp and vp, then attends the n query rows block by block.
 */
PREFILL_TARGET
static void attend_head(const uint16_t *q, const uint16_t *k, const uint16_t *v, uint16_t *out, int64_t n,
                        int64_t offset, int64_t d, int64_t lpad, float scale, uint32_t *kp, uint32_t *vp, float *s,
                        uint16_t *p) {
    const int64_t total = offset + n, half = d / 2;
    /* kp[c][t] = the pair (k[t][2c], k[t][2c + 1]); zero past total. */
    for (int64_t t = 0; t < lpad; t++) {
        const uint32_t *kt = (const uint32_t *) (k + t * d);
        for (int64_t c = 0; c < half; c++) {
            kp[c * lpad + t] = t < total ? kt[c] : 0u;
        }
    }
    /* vp[t/2][c] = the pair (v[t][c], v[t + 1][c]) for even t; zero past total. */
    for (int64_t t = 0; t < lpad; t += 2) {
        for (int64_t c = 0; c < d; c++) {
            const uint32_t lo = t < total ? v[t * d + c] : 0u;
            const uint32_t hi = t + 1 < total ? v[(t + 1) * d + c] : 0u;
            vp[(t / 2) * d + c] = lo | hi << 16;
        }
    }
    for (int64_t i = 0; i < n; i += BLOCK) {
        const int rows = (int) (n - i < BLOCK ? n - i : BLOCK);
        const int64_t keys = offset + i + rows;     /* keys the block's last row sees */
        for (int r = 0; r < rows; r += S_ROWS) {
            score_tile(q + (i + r) * d, rows - r < S_ROWS ? rows - r : S_ROWS, kp, keys, lpad, d, scale,
                       s + r * lpad);
        }
        for (int r = 0; r < rows; r++) {
            softmax_row(s + r * lpad, offset + i + r + 1, p + r * lpad);
            /* Zero past this row's length up to the block's last pair (the value tiles read the block's). */
            for (int64_t t = offset + i + r + 1; t < (keys + 1) / 2 * 2; t++) {
                p[r * lpad + t] = 0;
            }
        }
        for (int r = 0; r < rows; r += V_ROWS) {
            value_tile(p + r * lpad, rows - r < V_ROWS ? rows - r : V_ROWS, lpad, vp, (keys + 1) / 2, d,
                       out + (i + r) * d);
        }
    }
}

/* One head of the float32 twin: transposes keys [0, total) into kt, then attends the n rows block by block. */
FLOAT_TARGET
static void attend_head_f32(const float *q, const float *k, const float *v, float *out, int64_t n, int64_t offset,
                            int64_t d, int64_t lpad, float scale, float *kt, float *s) {
    const int64_t total = offset + n;
    for (int64_t t = 0; t < lpad; t++) {
        for (int64_t c = 0; c < d; c++) {
            kt[c * lpad + t] = t < total ? k[t * d + c] : 0.0f;
        }
    }
    for (int64_t i = 0; i < n; i += BLOCK) {
        const int rows = (int) (n - i < BLOCK ? n - i : BLOCK);
        const int64_t keys = offset + i + rows;
        for (int r = 0; r < rows; r += SCORE_ROWS) {
            float_scores(q + (i + r) * d, d, rows - r < SCORE_ROWS ? rows - r : SCORE_ROWS, kt, keys, lpad, d, scale,
                         s + r * lpad);
        }
        for (int r = 0; r < rows; r++) {
            float *sr = s + r * lpad;
            const int64_t len = offset + i + r + 1;
            const __m512 inv = _mm512_set1_ps(1.0f / softmax_numerators(sr, len));
            for (int64_t t = 0; t < keys; t += 16) {
                /* Probabilities; zero past this row's length (the value tiles read the block's keys). */
                _mm512_mask_storeu_ps(sr + t, lanes(keys - t),
                                      _mm512_maskz_mul_ps(lanes(len - t), _mm512_loadu_ps(sr + t), inv));
            }
        }
        for (int r = 0; r < rows; r += SCORE_ROWS) {
            float_values(s + r * lpad, rows - r < SCORE_ROWS ? rows - r : SCORE_ROWS, lpad, v, d, keys, d,
                         out + (i + r) * d, d);
        }
    }
}

/*
 * The float32 twin of prefillAttention below (see the top). Returns 0, or -1 when the scratch memory could not be
 * allocated (nothing written then).
 */
JNIEXPORT jint JNICALL Java_io_github_phi3v_core_runtime_NativePrefillAttention_prefillAttentionFloat(JNIEnv *env,
        jclass cls, jlong q_addr, jlong k_addr, jlong v_addr, jlong out_addr, jlong heads, jlong n, jlong offset,
        jlong d, jlong head_stride, jfloat scale, jint threads) {
    (void) env;
    (void) cls;
    const int nthreads = threads > 0 ? threads : 1;
    const int64_t lpad = (offset + n + SCORE_SPAN - 1) / SCORE_SPAN * SCORE_SPAN;
    /* Per thread: kt [d][lpad] and s [BLOCK][lpad] floats. */
    const size_t per_thread = (size_t) ((d + BLOCK) * lpad);
    float *scratch = aligned_alloc(64, sizeof(float) * per_thread * (size_t) nthreads);
    if (scratch == NULL) {
        return -1;
    }
    const float *q = (const float *) (intptr_t) q_addr, *k = (const float *) (intptr_t) k_addr;
    const float *v = (const float *) (intptr_t) v_addr;
    float *out = (float *) (intptr_t) out_addr;
#pragma omp parallel num_threads(nthreads)
    {
        float *kt = scratch + per_thread * (size_t) omp_get_thread_num();
        float *s = kt + d * lpad;
#pragma omp for schedule(static)
        for (int64_t h = 0; h < heads; h++) {
            attend_head_f32(q + h * n * d, k + h * head_stride, v + h * head_stride, out + h * n * d, n, offset, d,
                            lpad, scale, kt, s);
        }
    }
    free(scratch);
    return 0;
}

/*
 * out[h] = causal softmax(q[h] · keys[h]ᵀ * scale) · values[h] for every head, the queries at positions offset ..
 * offset + n - 1, as described at the top. Returns 0, or -1 when the scratch memory could not be allocated
 * (nothing written then).
 */
JNIEXPORT jint JNICALL Java_io_github_phi3v_core_runtime_NativePrefillAttention_prefillAttention(JNIEnv *env,
        jclass cls, jlong q_addr, jlong k_addr, jlong v_addr, jlong out_addr, jlong heads, jlong n, jlong offset,
        jlong d, jlong head_stride, jfloat scale, jint threads) {
    (void) env;
    (void) cls;
    const int nthreads = threads > 0 ? threads : 1;
    const int64_t lpad = (offset + n + S_SPAN - 1) / S_SPAN * S_SPAN;
    /* Per thread: kp [d/2][lpad] and vp [lpad/2][d] (32-bit pairs), s [BLOCK][lpad] floats, p [BLOCK][lpad] bf16. */
    const size_t per_thread = sizeof(uint32_t) * (size_t) (d * lpad) + sizeof(float) * (size_t) (BLOCK * lpad)
            + sizeof(uint16_t) * (size_t) (BLOCK * lpad);
    char *scratch = aligned_alloc(64, (per_thread + 63) / 64 * 64 * (size_t) nthreads);
    if (scratch == NULL) {
        return -1;
    }
    const uint16_t *q = (const uint16_t *) (intptr_t) q_addr, *k = (const uint16_t *) (intptr_t) k_addr;
    const uint16_t *v = (const uint16_t *) (intptr_t) v_addr;
    uint16_t *out = (uint16_t *) (intptr_t) out_addr;
#pragma omp parallel num_threads(nthreads)
    {
        char *mine = scratch + (per_thread + 63) / 64 * 64 * (size_t) omp_get_thread_num();
        uint32_t *kp = (uint32_t *) mine;
        uint32_t *vp = kp + d / 2 * lpad;
        float *s = (float *) (vp + lpad / 2 * d);
        uint16_t *p = (uint16_t *) (s + BLOCK * lpad);
#pragma omp for schedule(static)
        for (int64_t h = 0; h < heads; h++) {
            attend_head(q + h * n * d, k + h * head_stride, v + h * head_stride, out + h * n * d, n, offset, d, lpad,
                        scale, kp, vp, s, p);
        }
    }
    free(scratch);
    return 0;
}
