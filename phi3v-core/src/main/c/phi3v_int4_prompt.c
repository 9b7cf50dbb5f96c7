/*
 * phi3v native kernels: the int4 weight-only linear of a prompt's many rows with AVX-512 VNNI, on the packed
 * weight of phi3v_kernels.c (NativeInt4Kernel.pack).
 *
 * Why a second int4 kernel: the decode kernel (phi3v_kernels.c) rounds the activations to 16-bit fixed point
 * and so needs two vpdpbusd per weight byte; its time grows with the rows like a GEMV's, and above 64 rows the
 * prompt ran on the weight dequantized to bf16 and bf16's GEMM, at 0.7-0.9x a bf16 model's prefill speed
 * (the dequantization is work the bf16 model does not do). This kernel rounds each activation to 8 bits per
 * group of 32 columns (one vpdpbusd per weight byte) and multiplies one pass over a block of weights with 12
 * input rows held in registers, so the weights are unpacked once per 12 rows. Per 512 products it issues 8
 * vpdpbusd and 4 float operations where bf16's GEMM issues 16 vdpbf16ps.
 *
 * Arithmetic, per input row and group g of 32 columns (the decode kernel's with 8 instead of 16 bits):
 *   a = max |x| / 127, xi = round(x / a) to nearest even, |xi| <= 127,
 *   out += scale_g * (a * sum(q * xi) - 8 * a * sum(xi)) + zero_g * sum(x)
 * with sum(q * xi) exact in int32 (at most 32 * 15 * 127) and sum(x) the float32 sum of the unrounded
 * activations in column order. The rounding moves each activation by at most a / 2 = max |x| / 254 of its group.
 *
 * Layouts: the weight as int4_block in phi3v_kernels.c; x [M, K] bf16 or float32, contiguous; out [M, N] the same
 * dtype, contiguous. K a multiple of 32. The prepared activations: per tile of ROWS input rows and group g,
 * the rows' 32 bytes (16 of the even columns, then 16 of the odd ones: what the low and the high nibble of a
 * weight byte multiply) one after the other, and per row three floats (a, -8 a sum(xi), sum(x)): one stream
 * each, which the hardware prefetcher follows (one stream per row and array ran at 55 % of this speed with K = 8192).
 *
 * Threads: phi3v_int4.h's int4_prompt_mm (shared with the AVX2 twin, phi3v_int4_prompt_avx2.c): each OpenMP
 * thread runs a contiguous range of the 16-row weight blocks over the input rows CHUNK_ROWS at a time.
 */
#include <jni.h>
#include <immintrin.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <omp.h>

#include "phi3v_bf16.h"
#include "phi3v_int4.h"

#define PROMPT_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))
/* Input rows per pass over a block: 12 float accumulators + 8 unpacked weight registers + temporaries fit
 * AVX-512's 32 registers (a C harness on the project's AMD EPYC: 8 rows 500, 12 rows 580-600, 16 rows 580-600,
 * 20 rows 570 GFLOP/s on the qkv shape at 512 rows). */
#define ROWS 12
_Static_assert(ROWS <= MAX_PROMPT_ROWS, "phi3v_int4.h's prompt driver holds MAX_PROMPT_ROWS rows of outputs");
/*
 * Rows whose products prompt_tile computes side by side: 6 integer sums, 12 float accumulators and 8 unpacked weight
 * registers fit AVX-512's 32 registers. Against the rows one after the other (two chains of 4 vpdpbusd each) on the
 * project's AMD EPYC: 0.93-0.98x the time in a C harness over the decoder's four shapes at 512 rows (0.83-0.89x in a
 * slower phase of the VM), 0.96-0.98x in Int4PrefillProbe; 4 rows 0.96x; all 12 spilled to the stack (1.9x).
 * docs/benchmarks.md, "The int4 prompt kernel against its instruction limit".
 */
#define INTERLEAVED 6
_Static_assert(ROWS % INTERLEAVED == 0, "prompt_tile interleaves whole groups of rows");

/*
 * Rounds row m of x [.., k] (bf16 if bf16, else float32) into tile-row r of the prepared layout: bytes at
 * xb + (g * ROWS + r) * 32, floats at xf + (g * ROWS + r) * FLOATS, for every group g.
 */
PROMPT_TARGET
static void prepare_prompt_row(const void *x, int bf16, int64_t k, int r, int8_t *xb, float *xf) {
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i odd = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
    const __m512i hi = _mm512_set1_epi32(127), lo = _mm512_set1_epi32(-127);
    for (int64_t g = 0; g < k / GROUP; g++) {
        __m512 v0, v1;                                   /* columns 0..15 and 16..31 of the group */
        float amax;
        const float sum = group_values_avx512(x, bf16, g, &v0, &v1, &amax);
        float a = amax / 127.0f;
        const __m512 inv = _mm512_set1_ps(a > 0.0f ? 1.0f / a : 0.0f);
        __m512i i0 = _mm512_min_epi32(_mm512_max_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(v0, inv)), lo), hi);
        __m512i i1 = _mm512_min_epi32(_mm512_max_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(v1, inv)), lo), hi);
        int32_t isum = _mm512_reduce_add_epi32(_mm512_add_epi32(i0, i1));
        int8_t *b = xb + (g * ROWS + r) * 32;
        _mm_storeu_si128((__m128i *) b, _mm512_cvtepi32_epi8(_mm512_permutex2var_epi32(i0, even, i1)));
        _mm_storeu_si128((__m128i *) (b + 16), _mm512_cvtepi32_epi8(_mm512_permutex2var_epi32(i0, odd, i1)));
        float *f = xf + (g * ROWS + r) * FLOATS;
        f[0] = a;
        f[1] = -8.0f * a * (float) isum;
        f[2] = sum;
    }
}

/*
 * Outputs 16 nb .. 16 nb + 15 of one tile's rows (prepared bytes xb, floats xf): acc[m][l] is output 16 nb + l
 * of tile row m. Weights per group as int4_block reads them (phi3v_kernels.c).
 */
PROMPT_TARGET
static void prompt_tile(const int4_weight *w, int64_t nb, const int8_t *xb, const float *xf, float (*acc)[16]) {
    const __m512i low4 = _mm512_set1_epi8(0x0f);
    __m512 f[ROWS];
    for (int m = 0; m < ROWS; m++) {
        f[m] = _mm512_setzero_ps();
    }
    const uint8_t *wp = w->packed + nb * w->groups * 256;
    for (int64_t g = 0; g < w->groups; g++, wp += 256, xb += ROWS * 32, xf += ROWS * FLOATS) {
        __m512i lo[4], hi[4];
        for (int j = 0; j < 4; j++) {
            __m512i v = _mm512_loadu_si512((const void *) (wp + 64 * j));
            lo[j] = _mm512_and_si512(v, low4);
            hi[j] = _mm512_and_si512(_mm512_srli_epi16(v, 4), low4);
        }
        __m512 s, z;
        int4_scales_avx512(w, nb, g, &s, &z);
        /* INTERLEAVED rows at a time, their products instruction by instruction side by side: one row's eight
         * vpdpbusd form a chain, and row after row the chains lay further apart in the instruction stream than
         * the scheduler looks ahead (the likely reason it measured faster, see INTERLEAVED). sum(q * xi) is exact
         * in int32 in any order: the same output bits. */
#pragma GCC unroll 2
        for (int m0 = 0; m0 < ROWS; m0 += INTERLEAVED) {
            __m512i d[INTERLEAVED];
#pragma GCC unroll 6
            for (int r = 0; r < INTERLEAVED; r++) {
                d[r] = _mm512_setzero_si512();
            }
#pragma GCC unroll 4
            for (int j = 0; j < 4; j++) {
#pragma GCC unroll 6
                for (int r = 0; r < INTERLEAVED; r++) {
                    const int8_t *e = xb + (m0 + r) * 32;    /* even columns; the odd ones at e + 16 */
                    d[r] = _mm512_dpbusd_epi32(d[r], lo[j], _mm512_set1_epi32(dword_at(e + 4 * j)));
                    d[r] = _mm512_dpbusd_epi32(d[r], hi[j], _mm512_set1_epi32(dword_at(e + 16 + 4 * j)));
                }
            }
#pragma GCC unroll 6
            for (int r = 0; r < INTERLEAVED; r++) {
                const float *q = xf + (m0 + r) * FLOATS;
                __m512 t = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d[r]), _mm512_set1_ps(q[0]), _mm512_set1_ps(q[1]));
                f[m0 + r] = _mm512_fmadd_ps(s, t, f[m0 + r]);
                f[m0 + r] = _mm512_fmadd_ps(z, _mm512_set1_ps(q[2]), f[m0 + r]);
            }
        }
    }
    for (int m = 0; m < ROWS; m++) {
        _mm512_storeu_ps(acc[m], f[m]);
    }
}

/*
 * out[M, N] = x[M, K] * w[N, K]^T for a weight packed as phi3v_kernels.c's int4Mm takes it, with the
 * activations rounded to 8 bits per group (see the top of this file), through phi3v_int4.h's int4_prompt_mm.
 * Returns 0, or -1 when the scratch memory could not be allocated (nothing written then).
 */
JNIEXPORT jint JNICALL Java_io_github_phi3v_core_runtime_NativeInt4Kernel_int4MmPrompt(JNIEnv *env, jclass cls,
        jlong x_addr, jlong packed_addr, jlong codes_addr, jlong exponents_addr, jlong out_addr, jlong m_rows,
        jlong n_cols, jlong k, jboolean bf16, jint threads) {
    (void) env;
    (void) cls;
    const int4_weight w = int4_weight_at(packed_addr, codes_addr, exponents_addr, k);
    return int4_prompt_mm((const void *) (intptr_t) x_addr, bf16, m_rows, n_cols, k, &w, (void *) (intptr_t) out_addr,
                          prepare_prompt_row, prompt_tile, ROWS, threads);
}
