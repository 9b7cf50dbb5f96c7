/*
 * phi3v native kernels: the self-attention of the CLIP vision encoder (no mask, every position attends to every
 * position) on bf16 queries, keys and values, computed in float32.
 *
 * Why native: a bf16 model runs CLIP's attention in float32 on a CPU (libtorch's bf16 attention takes ~30x as long
 * without AMX), and libtorch's float32 attention ran at ~96 GFLOP/s on the project's machine, 70 ms of a 290-320 ms
 * CLIP layer at num_crops 4, plus the copies into and out of float32 and the heads' transposes. Here each head's
 * keys and values are converted to float32 once, into the thread's cache, and the queries are multiplied 8 rows at a
 * time, so each key and value vector loaded serves 6 rows and each query element 4 vectors of keys.
 *
 * What it computes, per crop b, head h and query position i (the formula of ClipVisionTower's attention on the
 * bf16 values widened to float32):
 *   s[j] = (scale q_i) · k_j                      (float32 products and sums)
 *   out_i = bf16(sum_j e^(s[j] - max s) v_j / sum_j e^(s[j] - max s))
 * with e^x within 2 float32 ulp (exp16). libtorch's float32 attention differs only in the order of its float32 sums
 * and its exponential; the bf16 rounding of the output hides nearly all of that (NativeEncoderAttentionTest).
 * On CPUs with AVX-512 BF16 and a power-of-two scale (CLIP-L: d 64, 1/8) the scores take vdpbf16ps: scale q is then
 * exactly a bf16 value, the products are the same exact float32 products, summed in pairs of elements.
 *
 * Layouts: q, k, v and out [N, L, H * D] bf16, contiguous (the q/k/v linears' outputs and out_proj's input, no
 * transposes): head h of position i of crop b at (b * L + i) * H * D + h * D. Any D up to 256.
 *
 * Threads: OpenMP over the N * H heads (static); each thread's scratch holds one head's keys (transposed: float32, or
 * pairs of bf16 elements for vdpbf16ps) and values in float32 and the scores of ROWS query rows.
 */
#include <jni.h>
#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <omp.h>

#include "phi3v_attention.h"
#include "phi3v_bf16.h"

#define ENCODER_TARGET __attribute__((target("avx512f,avx512bw,avx512vl")))
#define BF16_DOT_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
/*
 * Query rows per tile and vectors of 16 keys per step: phi3v_attention.h's float32 score tile's, whose value tile
 * (float_values) the value step uses. In a C harness on CLIP-L's shape the whole kernel ran at 120-170 GFLOP/s.
 */
#define ROWS SCORE_ROWS
#define VECS SCORE_VECS
#define SPAN SCORE_SPAN
#define MAX_D 256

/*
 * Scores of one tile of rows query rows (<= ROWS) of one head with float32 multiply-adds: q points at the first
 * row's head (rows stride apart), kt [d][lpad] float32 (keys transposed, zero past len), s [ROWS][lpad] receives
 * (scale q) · k (phi3v_attention.h's float_scores on the scaled queries).
 */
ENCODER_TARGET
static void scores_f32(const uint16_t *q, int64_t stride, int rows, const float *kt, int64_t lpad, int64_t d,
                       float scale, float *s) {
    float qf[ROWS][MAX_D];
    for (int r = 0; r < rows; r++) {
        for (int64_t c = 0; c < d; c++) {
            qf[r][c] = bf16_to_float(q[r * stride + c]) * scale;
        }
    }
    float_scores(&qf[0][0], MAX_D, rows, kt, lpad, lpad, d, 1.0f, s);
}

/*
 * scores_f32 with AVX-512 BF16's dot products, for a scale that is a power of two: scale q is then exactly a bf16
 * value, so each product is the same exact float32 product and only the order of the float32 sums differs (pairs of
 * elements). kp [d/2][lpad]: pairs of bf16 key elements (zero past len).
 */
BF16_DOT_TARGET
static void scores_bf16_dot(const uint16_t *q, int64_t stride, int rows, const uint32_t *kp, int64_t lpad, int64_t d,
                            float scale, float *s) {
    uint32_t qp[ROWS][MAX_D / 2];
    for (int r = 0; r < ROWS; r++) {
        for (int64_t c = 0; c < d / 2; c++) {
            const uint16_t *e = q + (r < rows ? r : 0) * stride + 2 * c;
            qp[r][c] = (uint32_t) float_to_bf16(bf16_to_float(e[0]) * scale)
                    | (uint32_t) float_to_bf16(bf16_to_float(e[1]) * scale) << 16;
        }
    }
    for (int64_t j = 0; j < lpad; j += SPAN) {
        __m512 a[ROWS][VECS];
        for (int r = 0; r < ROWS; r++) {
            for (int x = 0; x < VECS; x++) {
                a[r][x] = _mm512_setzero_ps();
            }
        }
        for (int64_t c = 0; c < d / 2; c++) {
            __m512bh kv[VECS];
            for (int x = 0; x < VECS; x++) {
                kv[x] = (__m512bh) _mm512_loadu_si512(kp + c * lpad + j + 16 * x);
            }
            for (int r = 0; r < ROWS; r++) {
                const __m512bh e = (__m512bh) _mm512_set1_epi32((int) qp[r][c]);
                for (int x = 0; x < VECS; x++) {
                    a[r][x] = _mm512_dpbf16_ps(a[r][x], e, kv[x]);
                }
            }
        }
        for (int r = 0; r < ROWS; r++) {
            for (int x = 0; x < VECS; x++) {
                _mm512_storeu_ps(s + r * lpad + j + 16 * x, a[r][x]);
            }
        }
    }
}

/*
 * Softmax and values of one tile whose scores s [ROWS][lpad] are computed: vf [len][dpad] float32 (zero past d);
 * o [ROWS][dpad] scratch; out rows of the head, stride apart.
 */
ENCODER_TARGET
static void finish_tile(int rows, const float *vf, int64_t len, int64_t lpad, int64_t d, int64_t dpad, float *s,
                        float *o, int64_t stride, uint16_t *out) {
    /* Softmax numerators e^(s - max) in place, and 1 / their sum per row. */
    float inv[ROWS];
    for (int r = 0; r < rows; r++) {
        inv[r] = 1.0f / softmax_numerators(s + r * lpad, len);
    }
    /* out = numerators · v / sum. */
    float_values(s, rows, lpad, vf, dpad, len, dpad, o, dpad);
    for (int r = 0; r < rows; r++) {
        const __m512 iv = _mm512_set1_ps(inv[r]);
        for (int64_t c = 0; c < d; c += 16) {
            _mm256_mask_storeu_epi16(out + r * stride + c, lanes(d - c),
                                     to_bf16(_mm512_mul_ps(_mm512_loadu_ps(o + r * dpad + c), iv)));
        }
    }
}

/*
 * out = softmax(q kᵀ * scale) v per crop and head, as described at the top. Returns 0, or -1 when the scratch
 * memory could not be allocated (nothing written then).
 */
JNIEXPORT jint JNICALL Java_io_github_phi3v_core_runtime_NativeEncoderAttention_encoderAttention(JNIEnv *env,
        jclass cls, jlong q_addr, jlong k_addr, jlong v_addr, jlong out_addr, jlong n, jlong len, jlong heads,
        jlong d, jfloat scale, jint bf16_dot, jint threads) {
    (void) env;
    (void) cls;
    const int nthreads = threads > 0 ? threads : 1;
    const int64_t lpad = (len + SPAN - 1) / SPAN * SPAN, dpad = (d + SPAN - 1) / SPAN * SPAN, stride = heads * d;
    /* The dot products of scores_bf16_dot: with a power-of-two scale (CLIP-L's 1/8) and pairs of elements. */
    int exponent;
    const int dot = bf16_dot && d % 2 == 0 && scale > 0.0f && frexpf(scale, &exponent) == 0.5f;
    /* Per thread: keys transposed [d][lpad] (dot: pairs [d/2][lpad]), values [len][dpad], scores [ROWS][lpad],
     * a tile's outputs [ROWS][dpad]. */
    const size_t per_thread = (size_t) (d * lpad + len * dpad + ROWS * lpad + ROWS * dpad);
    float *scratch = aligned_alloc(64, sizeof(float) * per_thread * (size_t) nthreads);
    if (scratch == NULL) {
        return -1;
    }
    const uint16_t *q = (const uint16_t *) (intptr_t) q_addr, *k = (const uint16_t *) (intptr_t) k_addr;
    const uint16_t *v = (const uint16_t *) (intptr_t) v_addr;
    uint16_t *out = (uint16_t *) (intptr_t) out_addr;
#pragma omp parallel num_threads(nthreads)
    {
        float *kt = scratch + per_thread * (size_t) omp_get_thread_num();
        uint32_t *kp = (uint32_t *) kt;
        float *vf = kt + d * lpad;
        float *s = vf + len * dpad;
        float *o = s + ROWS * lpad;
#pragma omp for schedule(static)
        for (int64_t bh = 0; bh < n * heads; bh++) {
            const int64_t b = bh / heads, h = bh % heads;
            const size_t head = (size_t) (b * len * stride + h * d);
            for (int64_t j = 0; j < lpad; j++) {
                if (dot) {
                    const uint32_t *kj = (const uint32_t *) (k + head + (size_t) (j * stride));
                    for (int64_t c = 0; c < d / 2; c++) {
                        kp[c * lpad + j] = j < len ? kj[c] : 0u;
                    }
                } else {
                    for (int64_t c = 0; c < d; c++) {
                        kt[c * lpad + j] = j < len ? bf16_to_float(k[head + (size_t) (j * stride + c)]) : 0.0f;
                    }
                }
            }
            for (int64_t j = 0; j < len; j++) {
                for (int64_t c = 0; c < dpad; c++) {
                    vf[j * dpad + c] = c < d ? bf16_to_float(v[head + (size_t) (j * stride + c)]) : 0.0f;
                }
            }
            for (int64_t i = 0; i < len; i += ROWS) {
                const int rows = (int) (len - i < ROWS ? len - i : ROWS);
                const uint16_t *qi = q + head + (size_t) (i * stride);
                if (dot) {
                    scores_bf16_dot(qi, stride, rows, kp, lpad, d, scale, s);
                } else {
                    scores_f32(qi, stride, rows, kt, lpad, d, scale, s);
                }
                finish_tile(rows, vf, len, lpad, d, dpad, s, o, stride, out + head + (size_t) (i * stride));
            }
        }
    }
    free(scratch);
    return 0;
}
