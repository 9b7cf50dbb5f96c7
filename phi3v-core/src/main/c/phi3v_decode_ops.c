/*
 * phi3v native decode ops: the small operations between the linears of a bf16 decoder layer, each one call
 * instead of several libtorch kernels, with the same bits as those kernels.
 *
 * Why: a decode step of the real model runs some 30 libtorch kernels per layer besides its linears and its
 * attention, ~1000 per token, each with its dispatch, allocation and Java wrapper costs; the other OpenMP
 * thread waits through all of them (docs/benchmarks.md, "Where an int4 decode step goes").
 *
 *   rms_norm:      bf16(w * bf16(x * rsqrt(mean(x^2) + eps)))  for float32 rows x and a bf16 weight w,
 *                  the libtorch formula of Modules.RmsNorm (rms_norm on float32, to(bf16), mul(weight))
 *   add_rms_norm:  s = x + float(d), then rms_norm(s): the residual add before a norm
 *   rotary_to_cache: LongRoPE on the queries and keys of one qkv_proj output row, the keys and values
 *                  written into the KV cache at their position, the queries returned [H, 1, d]
 *
 * Same bits: every product and sum below is the float32 operation libtorch does, in the same order. The one
 * order that is not obvious is that of the sum of squares: libtorch's CPU mean is a sum and a division, and
 * its sum is ATen's cascade sum over 8-lane vectors (SumKernel.cpp, multi_row_sum with 4 levels and 4
 * independent rows; the AVX2 kernel, which libtorch also runs on AVX-512 CPUs for sums). sum_squares
 * follows it step by step; NativeDecodeOpsTest compares the bits with libtorch's, and NativeDecodeOps checks
 * one case at load before it lets a model use these ops.
 */
#include <jni.h>
#include <immintrin.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <string.h>

#include "phi3v_bf16.h"

/* No fused multiply-adds where the C has a product and a sum: libtorch rounds the squares before summing them. */
#pragma GCC optimize("fp-contract=off")

#define OPS_TARGET __attribute__((target("avx2,fma,avx512f,avx512bw")))

/* float -> bf16 (to nearest even) -> float on 16 lanes: a libtorch bf16 result read back for the next op. */
OPS_TARGET
static inline __m512 round_bf16(__m512 v) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(to_bf16(v)), 16));
}

/* ATen's vector width for float sums (Vectorized<float> of its AVX2 kernels) and its cascade parameters. */
#define SUM_LANES 8
#define SUM_ILP 4
#define SUM_LEVELS 4

/* ATen's utils::CeilLog2. */
static int64_t ceil_log2(int64_t x) {
    if (x <= 2) {
        return 1;
    }
    return 64 - __builtin_clzll((uint64_t) (x - 1));
}

/*
 * sum(x[i]^2) in ATen's order: the row read as vectors of 8 lanes, the vectors as rows of SUM_ILP
 * (multi_row_sum over size / 32 "rows" of 4 vectors, cascading its partial sums every 2^level_power rows
 * into SUM_LEVELS levels), then the vectors left over, then the four partial vectors added in order, then
 * the scalars left over, then the 8 lanes in order.
 */
OPS_TARGET
static float sum_squares(const float *x, int64_t n) {
    const int64_t vectors = n / SUM_LANES;
    const int64_t rows = vectors / SUM_ILP;
    const int64_t level_power = ceil_log2(rows) / SUM_LEVELS > 4 ? ceil_log2(rows) / SUM_LEVELS : 4;
    const int64_t level_step = (int64_t) 1 << level_power;
    const int64_t level_mask = level_step - 1;
    __m256 acc[SUM_LEVELS][SUM_ILP];
    for (int j = 0; j < SUM_LEVELS; j++) {
        for (int k = 0; k < SUM_ILP; k++) {
            acc[j][k] = _mm256_setzero_ps();
        }
    }
    int64_t i = 0;
    while (i + level_step <= rows) {
        for (int64_t r = 0; r < level_step; r++, i++) {
            for (int k = 0; k < SUM_ILP; k++) {
                __m256 v = _mm256_loadu_ps(x + (i * SUM_ILP + k) * SUM_LANES);
                acc[0][k] = _mm256_add_ps(acc[0][k], _mm256_mul_ps(v, v));
            }
        }
        for (int j = 1; j < SUM_LEVELS; j++) {
            for (int k = 0; k < SUM_ILP; k++) {
                acc[j][k] = _mm256_add_ps(acc[j][k], acc[j - 1][k]);
                acc[j - 1][k] = _mm256_setzero_ps();
            }
            if ((i & (level_mask << (j * level_power))) != 0) {
                break;
            }
        }
    }
    for (; i < rows; i++) {
        for (int k = 0; k < SUM_ILP; k++) {
            __m256 v = _mm256_loadu_ps(x + (i * SUM_ILP + k) * SUM_LANES);
            acc[0][k] = _mm256_add_ps(acc[0][k], _mm256_mul_ps(v, v));
        }
    }
    for (int j = 1; j < SUM_LEVELS; j++) {
        for (int k = 0; k < SUM_ILP; k++) {
            acc[0][k] = _mm256_add_ps(acc[0][k], acc[j][k]);
        }
    }
    for (int64_t v = rows * SUM_ILP; v < vectors; v++) {
        __m256 e = _mm256_loadu_ps(x + v * SUM_LANES);
        acc[0][0] = _mm256_add_ps(acc[0][0], _mm256_mul_ps(e, e));
    }
    for (int k = 1; k < SUM_ILP; k++) {
        acc[0][0] = _mm256_add_ps(acc[0][0], acc[0][k]);
    }
    float total = 0.0f;
    for (int64_t e = vectors * SUM_LANES; e < n; e++) {
        total += x[e] * x[e];
    }
    float lanes[SUM_LANES];
    _mm256_storeu_ps(lanes, acc[0][0]);
    for (int l = 0; l < SUM_LANES; l++) {
        total += lanes[l];
    }
    return total;
}

/* out = bf16(w * bf16(x * r)) for one row: both products exact or rounded once, as libtorch's mul kernels. */
OPS_TARGET
static void scale_row(const float *x, float r, const uint16_t *w, uint16_t *out, int64_t n) {
    int64_t c = 0;
    const __m512 vr = _mm512_set1_ps(r);
    for (; c + 16 <= n; c += 16) {
        __m512 normed = round_bf16(_mm512_mul_ps(_mm512_loadu_ps(x + c), vr));
        _mm256_storeu_si256((__m256i *) (out + c), to_bf16(_mm512_mul_ps(load_bf16(w + c), normed)));
    }
    for (; c < n; c++) {
        float nf = bf16_to_float(float_to_bf16(x[c] * r));
        out[c] = float_to_bf16(bf16_to_float(w[c]) * nf);
    }
}

/* rsqrt(mean + eps) as libtorch: sum / n (a division, not a reciprocal product), + eps, 1 / sqrt. */
OPS_TARGET
static float inverse_rms(const float *x, int64_t n, float eps) {
    float mean = sum_squares(x, n) / (float) n;
    return 1.0f / sqrtf(mean + eps);
}

/* out[r] = inverse_rms of row r of x [m, n] float32 (contiguous): what NativeDecodeOps checks against libtorch. */
JNIEXPORT void JNICALL Java_io_github_phi3v_core_runtime_NativeDecodeOps_inverseRms(JNIEnv *env, jclass cls,
        jlong x_addr, jlong out_addr, jlong m, jlong n, jfloat eps) {
    (void) env;
    (void) cls;
    const float *x = (const float *) (intptr_t) x_addr;
    float *out = (float *) (intptr_t) out_addr;
    for (int64_t r = 0; r < m; r++) {
        out[r] = inverse_rms(x + r * n, n, eps);
    }
}

/* Rows per thread below which a norm stays on the calling thread (a decode step's one row). */
#define ROWS_PER_THREAD 8

/*
 * out = rms_norm(x + float(d)) per row, the sum kept in sum, or out = rms_norm(x) when d is NULL (sum unused):
 * x and sum float32 [m, n], d and out bf16 [m, n], w bf16 [n], all contiguous. Rows on up to `threads` threads.
 */
OPS_TARGET
static void norm_rows(const float *x, const uint16_t *d, const uint16_t *w, float *sum, uint16_t *out, int64_t m,
                      int64_t n, float eps, int threads) {
#pragma omp parallel for schedule(static) if (m >= 2 * ROWS_PER_THREAD) num_threads(threads > 0 ? threads : 1)
    for (int64_t r = 0; r < m; r++) {
        const float *row = x + r * n;
        if (d != NULL) {
            float *sr = sum + r * n;
            for (int64_t c = 0; c < n; c++) {
                sr[c] = row[c] + bf16_to_float(d[r * n + c]);
            }
            row = sr;
        }
        scale_row(row, inverse_rms(row, n, eps), w, out + r * n, n);
    }
}

JNIEXPORT void JNICALL Java_io_github_phi3v_core_runtime_NativeDecodeOps_rmsNorm(JNIEnv *env, jclass cls,
        jlong x_addr, jlong w_addr, jlong out_addr, jlong m, jlong n, jfloat eps, jint threads) {
    (void) env;
    (void) cls;
    norm_rows((const float *) (intptr_t) x_addr, NULL, (const uint16_t *) (intptr_t) w_addr, NULL,
              (uint16_t *) (intptr_t) out_addr, m, n, eps, threads);
}

JNIEXPORT void JNICALL Java_io_github_phi3v_core_runtime_NativeDecodeOps_addRmsNorm(JNIEnv *env, jclass cls,
        jlong x_addr, jlong d_addr, jlong w_addr, jlong sum_addr, jlong out_addr, jlong m, jlong n, jfloat eps,
        jint threads) {
    (void) env;
    (void) cls;
    norm_rows((const float *) (intptr_t) x_addr, (const uint16_t *) (intptr_t) d_addr,
              (const uint16_t *) (intptr_t) w_addr, (float *) (intptr_t) sum_addr, (uint16_t *) (intptr_t) out_addr,
              m, n, eps, threads);
}

/*
 * One head of d values rotated: out[i] = bf16(bf16(x[i] * cos[i]) + bf16(x[(i + d/2) % d] * sin[i])) with
 * the sign of rotate_half in sin's first half (LongRopeEmbedding.CosSin): libtorch's mul, mul and add on
 * bf16 tensors, each computed in float32 and rounded to bf16. 16 lanes at a time when d/2 is a multiple of 16
 * (Phi-3: d = 96), so that no vector of the rolled x wraps around; the same operations either way.
 */
OPS_TARGET
static void rotate_head(const uint16_t *x, const uint16_t *cos, const uint16_t *sin, uint16_t *out, int64_t d) {
    const int64_t half = d / 2;
    if (half % 16 == 0) {
        for (int64_t i = 0; i < d; i += 16) {
            __m512 a = round_bf16(_mm512_mul_ps(load_bf16(x + i), load_bf16(cos + i)));
            __m512 b = round_bf16(_mm512_mul_ps(load_bf16(x + (i + half) % d), load_bf16(sin + i)));
            _mm256_storeu_si256((__m256i *) (out + i), to_bf16(_mm512_add_ps(a, b)));
        }
        return;
    }
    for (int64_t i = 0; i < d; i++) {
        float a = bf16_to_float(float_to_bf16(bf16_to_float(x[i]) * bf16_to_float(cos[i])));
        float b = bf16_to_float(float_to_bf16(bf16_to_float(x[(i + half) % d]) * bf16_to_float(sin[i])));
        out[i] = float_to_bf16(a + b);
    }
}

/*
 * qkv [(H + 2K) * d] bf16: one decode token's queries, keys and values; cos, sin [d] bf16. Writes the rotated
 * queries to q [H, d], the rotated keys to keys + h * head_stride + position * d for each key head h, the
 * values likewise (rows of d contiguous values).
 */
OPS_TARGET
JNIEXPORT void JNICALL Java_io_github_phi3v_core_runtime_NativeDecodeOps_rotaryToCache(JNIEnv *env, jclass cls,
        jlong qkv_addr, jlong cos_addr, jlong sin_addr, jlong q_addr, jlong keys_addr, jlong values_addr,
        jlong heads, jlong kv_heads, jlong d, jlong head_stride, jlong position) {
    (void) env;
    (void) cls;
    const uint16_t *qkv = (const uint16_t *) (intptr_t) qkv_addr;
    const uint16_t *cos = (const uint16_t *) (intptr_t) cos_addr;
    const uint16_t *sin = (const uint16_t *) (intptr_t) sin_addr;
    uint16_t *q = (uint16_t *) (intptr_t) q_addr;
    uint16_t *keys = (uint16_t *) (intptr_t) keys_addr;
    uint16_t *values = (uint16_t *) (intptr_t) values_addr;
    for (int64_t h = 0; h < heads; h++) {
        rotate_head(qkv + h * d, cos, sin, q + h * d, d);
    }
    for (int64_t h = 0; h < kv_heads; h++) {
        rotate_head(qkv + (heads + h) * d, cos, sin, keys + h * head_stride + position * d, d);
        memcpy(values + h * head_stride + position * d, qkv + (heads + kv_heads + h) * d, (size_t) d * 2);
    }
}
