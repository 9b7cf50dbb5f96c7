/*
 * phi3v native kernels: the int4 prompt kernel of phi3v_int4_prompt.c for x86-64 CPUs with AVX2 but without AVX-512
 * VNNI, on the same packed weight and with the same arithmetic, so it gives the same bits: each activation rounded
 * to 8 bits per group of 32 columns, multiplied with the 4-bit levels exactly in integers, scaled per group in
 * float32 with the same multiply-adds in the same order.
 *
 * Why: on those CPUs the decode kernel's AVX2 twin (phi3v_int4_avx2.c) also took a prompt's rows, its 16-bit
 * rounding costing two vpmaddubsw per weight byte and two 16-bit accumulators; here one vpmaddubsw multiplies 32
 * weight bytes by 32 activation bytes and adds neighbouring pairs into 16 bits (at most 2 * 15 * 127 = 3810 in
 * magnitude, the eight added per lane and group at most 30480 < 32767: nothing saturates), and vpmaddwd with ones
 * adds those pairs into the 32-bit lanes vpdpbusd would fill.
 *
 * Layouts: the weight as phi3v_kernels.c's int4_block (each 64-byte line two halves of 8 output rows here), the
 * prepared activations as phi3v_int4_prompt.c's in tiles of ROWS rows. x [M, K] bf16 or float32, contiguous; out
 * [M, N] the same dtype, contiguous. K a multiple of 32.
 *
 * Threads: phi3v_int4.h's int4_prompt_mm.
 */
#include <jni.h>
#include <immintrin.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <omp.h>

#include "phi3v_bf16.h"
#include "phi3v_int4.h"

#define PROMPT_AVX2_TARGET __attribute__((target("avx2,fma")))
/* Input rows per pass over a half block: a 16-bit and a float accumulator each, in AVX2's 16 registers. */
#define ROWS 4
_Static_assert(ROWS <= MAX_PROMPT_ROWS, "phi3v_int4.h's prompt driver holds MAX_PROMPT_ROWS rows of outputs");

/*
 * phi3v_int4_prompt.c's prepare_prompt_row with AVX2: the same float products, rounded to the nearest integer with
 * ties to even (vcvtps2dq under the default rounding mode), the same clamping, sum(x) in column order.
 */
PROMPT_AVX2_TARGET
static void prepare_prompt_row_avx2(const void *x, int bf16, int64_t k, int r, int8_t *xb, float *xf) {
    const __m256i hi = _mm256_set1_epi32(127), lo = _mm256_set1_epi32(-127);
    for (int64_t g = 0; g < k / GROUP; g++) {
        float v[GROUP];
        float amax;
        const float sum = group_values_avx2(x, bf16, g, v, &amax);
        const float a = amax / 127.0f;
        const __m256 inv = _mm256_set1_ps(a > 0.0f ? 1.0f / a : 0.0f);
        int32_t xi[GROUP];
        for (int q = 0; q < 4; q++) {
            __m256i i = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(v + 8 * q), inv));
            _mm256_storeu_si256((__m256i *) (xi + 8 * q), _mm256_min_epi32(_mm256_max_epi32(i, lo), hi));
        }
        int32_t isum = 0;
        int8_t *b = xb + (g * ROWS + r) * 32;
        for (int j = 0; j < GROUP; j++) {
            isum += xi[j];
            b[(j & 1) * 16 + j / 2] = (int8_t) xi[j];
        }
        float *f = xf + (g * ROWS + r) * FLOATS;
        f[0] = a;
        f[1] = -8.0f * a * (float) isum;
        f[2] = sum;
    }
}

/*
 * Outputs 16 nb .. 16 nb + 15 of one tile's rows, half h (output rows 16 nb + 8 h ..) at a time: acc[m][8 h + l].
 * The multiply-adds per group as phi3v_int4_prompt.c's prompt_tile, on 8 lanes.
 */
PROMPT_AVX2_TARGET
static void prompt_tile_avx2(const int4_weight *w, int64_t nb, const int8_t *xb0, const float *xf0,
                             float (*acc)[16]) {
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    const __m256i ones = _mm256_set1_epi16(1);
    for (int h = 0; h < 2; h++) {
        __m256 f[ROWS];
        for (int m = 0; m < ROWS; m++) {
            f[m] = _mm256_setzero_ps();
        }
        const uint8_t *wp = w->packed + nb * w->groups * 256 + 32 * h;
        const int8_t *xb = xb0;
        const float *xf = xf0;
        for (int64_t g = 0; g < w->groups; g++, wp += 256, xb += ROWS * 32, xf += ROWS * FLOATS) {
            __m256i d[ROWS];
            for (int m = 0; m < ROWS; m++) {
                d[m] = _mm256_setzero_si256();
            }
            for (int j = 0; j < 4; j++) {
                const __m256i v = _mm256_loadu_si256((const __m256i *) (wp + 64 * j));
                const __m256i lo = _mm256_and_si256(v, low4);                        /* even columns */
                const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);  /* odd columns */
                for (int m = 0; m < ROWS; m++) {
                    const int8_t *e = xb + m * 32;          /* even columns; the odd ones at e + 16 */
                    d[m] = _mm256_add_epi16(d[m], _mm256_maddubs_epi16(lo, _mm256_set1_epi32(dword_at(e + 4 * j))));
                    d[m] = _mm256_add_epi16(d[m],
                                            _mm256_maddubs_epi16(hi, _mm256_set1_epi32(dword_at(e + 16 + 4 * j))));
                }
            }
            __m256 s, z;
            int4_scales_avx2(w, nb, g, h, &s, &z);
            for (int m = 0; m < ROWS; m++) {
                const float *q = xf + m * FLOATS;
                const __m256 t = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_madd_epi16(d[m], ones)),
                                                 _mm256_set1_ps(q[0]), _mm256_set1_ps(q[1]));
                f[m] = _mm256_fmadd_ps(s, t, f[m]);
                f[m] = _mm256_fmadd_ps(z, _mm256_set1_ps(q[2]), f[m]);
            }
        }
        for (int m = 0; m < ROWS; m++) {
            _mm256_storeu_ps(acc[m] + 8 * h, f[m]);
        }
    }
}

/*
 * phi3v_int4_prompt.c's int4MmPrompt with AVX2 only (the same bits). Returns 0, or -1 when the scratch memory
 * could not be allocated (nothing written then).
 */
JNIEXPORT jint JNICALL Java_io_github_phi3v_core_runtime_NativeInt4Kernel_int4MmPromptAvx2(JNIEnv *env, jclass cls,
        jlong x_addr, jlong packed_addr, jlong codes_addr, jlong exponents_addr, jlong out_addr, jlong m_rows,
        jlong n_cols, jlong k, jboolean bf16, jint threads) {
    (void) env;
    (void) cls;
    const int4_weight w = int4_weight_at(packed_addr, codes_addr, exponents_addr, k);
    return int4_prompt_mm((const void *) (intptr_t) x_addr, bf16, m_rows, n_cols, k, &w, (void *) (intptr_t) out_addr,
                          prepare_prompt_row_avx2, prompt_tile_avx2, ROWS, threads);
}
