/*
 * phi3v native kernels: the int4 weight-only linear of the decoder (Int4Linear) for a few input rows, and
 * the dequantization of its packed weight (for tests and probes: a prompt's rows run on phi3v_int4_prompt.c).
 *
 * Why native: ATen's CPU int4 kernel (_weight_int4pack_mm_for_cpu) converts every weight to float and
 * multiplies in float, so it is limited by its arithmetic (31-38 GB/s of int4 weights on this project's
 * benchmark machine, below int8's fbgemm path at 45-50 GB/s): int4 decoded slower than int8. This kernel
 * multiplies bytes with AVX-512 VNNI (vpdpbusd: 64 byte products per instruction): the 4-bit levels by
 * the activations rounded to 16-bit fixed point per group of 32 columns (two bytes each, see
 * prepared_row), summed exactly in int32, scaled per group in float32.
 *
 * Layouts: the weight as NativeInt4Kernel.pack arranges it (see int4_block); x [M, K] bf16 or float32,
 * contiguous; out [M, N] the same dtype, contiguous. K is a multiple of 32.
 *
 * Threads: OpenMP over blocks of 16 output rows. The library is linked against libgomp.so.1 and loaded
 * after libtorch, whose bundled libgomp.so.1 the dynamic loader then reuses (same soname): one OpenMP
 * runtime for libtorch and this kernel, so their thread pools do not spin against each other.
 */
#include <jni.h>
#include <immintrin.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <omp.h>

#include "phi3v_bf16.h"
#include "phi3v_int4.h"

/* Input rows multiplied with one pass over a weight row (accumulators kept in registers). */
#define ROW_TILE 4
_Static_assert(ROW_TILE <= MAX_ROW_TILE, "phi3v_int4.h's driver holds MAX_ROW_TILE rows of outputs");
/*
 * Groups ahead whose weights, scales and zeros are prefetched (32 groups = 8 KB of packed weights). Why: the
 * hardware prefetcher alone kept too few cache misses in flight behind this loop's arithmetic (out of cache
 * one thread ran at 12-19 GB/s, in cache at 33). In phi3v bench the int4 linears then streamed 37.6-40.4
 * GB/s instead of 26.1-27.8 (docs/benchmarks.md, "Software prefetch in the native kernels").
 */
#define PREFETCH_GROUPS 32

#define KERNEL_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))

/*
 * The preparation of phi3v_int4.h's prepared_row, per group of 32 columns. Vectorised because it runs on the
 * calling thread before the parallel part, so its time is time the other threads wait: the scalar version it
 * replaced took ~2 % of an int4 decode step's samples and 11 us per 3072 columns, this one 3-4x less. Bit for bit the same bytes (the
 * same float products, rounded to the nearest integer with ties to even; s[g] summed in column order).
 */
KERNEL_TARGET
static void prepare_row(const void *x, int bf16, int64_t k, prepared_row *p) {
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i odd = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
    const __m512i hi_max = _mm512_set1_epi32(XI_MAX), lo_max = _mm512_set1_epi32(-XI_MAX);
    const __m512i half = _mm512_set1_epi32(128);
    for (int64_t g = 0; g < k / GROUP; g++) {
        __m512 v0, v1;                                   /* columns 0..15 and 16..31 of the group */
        float amax;
        const float sum = group_values_avx512(x, bf16, g, &v0, &v1, &amax);
        float a = amax / (float) XI_MAX;
        float inv = a > 0.0f ? 1.0f / a : 0.0f;
        const __m512 vinv = _mm512_set1_ps(inv);
        __m512i i0 = _mm512_cvtps_epi32(_mm512_mul_ps(v0, vinv));
        __m512i i1 = _mm512_cvtps_epi32(_mm512_mul_ps(v1, vinv));
        i0 = _mm512_min_epi32(_mm512_max_epi32(i0, lo_max), hi_max);
        i1 = _mm512_min_epi32(_mm512_max_epi32(i1, lo_max), hi_max);
        int32_t isum = _mm512_reduce_add_epi32(_mm512_add_epi32(i0, i1));
        __m512i xe = _mm512_permutex2var_epi32(i0, even, i1);     /* xi of columns 0, 2, .., 30 */
        __m512i xo = _mm512_permutex2var_epi32(i0, odd, i1);      /* 1, 3, .., 31 */
        __m512i eh = _mm512_srai_epi32(_mm512_add_epi32(xe, half), 8);   /* floor((xi + 128) / 256) */
        __m512i oh = _mm512_srai_epi32(_mm512_add_epi32(xo, half), 8);
        __m512i el = _mm512_sub_epi32(xe, _mm512_slli_epi32(eh, 8));     /* -128 .. 127 */
        __m512i ol = _mm512_sub_epi32(xo, _mm512_slli_epi32(oh, 8));
        _mm_storeu_si128((__m128i *) (p->xeh + g * 16), _mm512_cvtepi32_epi8(eh));
        _mm_storeu_si128((__m128i *) (p->xel + g * 16), _mm512_cvtepi32_epi8(el));
        _mm_storeu_si128((__m128i *) (p->xoh + g * 16), _mm512_cvtepi32_epi8(oh));
        _mm_storeu_si128((__m128i *) (p->xol + g * 16), _mm512_cvtepi32_epi8(ol));
        p->a[g] = a;
        p->c[g] = -8.0f * a * (float) isum;
        p->s[g] = sum;
    }
}

/*
 * Output rows 16 nb .. 16 nb + 15 of the input rows rows[0 .. mt): lane l of the accumulators is output
 * row 16 nb + l. Weights of one block, per group g (see the packed layout in int4Pack):
 *   packed[((nb * G + g) * 4 + j) * 64 + 4 l + i] = nibble byte 16 g + 4 j + i of row 16 nb + l
 *   the scale and zero of row 16 nb + l, group g: phi3v_int4.h's codes and exponents (int4_scales_avx512)
 * so vpdpbusd multiplies the 8 columns of dword j of all 16 rows by one broadcast dword of activations.
 */
KERNEL_TARGET
static void int4_block(const int4_weight *w, const prepared_row *rows, int mt, int64_t nb, __m512 *f) {
    const __m512i low4 = _mm512_set1_epi8(0x0f);
    for (int m = 0; m < mt; m++) {
        f[m] = _mm512_setzero_ps();
    }
    const int64_t groups = w->groups;
    const uint8_t *wp = w->packed + nb * groups * 256;
    for (int64_t g = 0; g < groups; g++, wp += 256) {
        __m512i lo[4], hi[4];
        /* Past the end of the weight this prefetches addresses that may be unmapped: a prefetch never faults. */
        for (int j = 0; j < 4; j++) {
            _mm_prefetch((const char *) (wp + PREFETCH_GROUPS * 256 + 64 * j), _MM_HINT_T0);
        }
        if ((g & 1) == 0) {   /* a cache line holds the codes of two groups */
            _mm_prefetch((const char *) (int4_codes(w, nb, g) + PREFETCH_GROUPS * 32), _MM_HINT_T0);
        }
        if ((g & 15) == 0) {  /* and the exponents of 16 */
            _mm_prefetch((const char *) (int4_exponents(w, nb, g) + PREFETCH_GROUPS / CODE_BLOCK * 32), _MM_HINT_T0);
        }
        for (int j = 0; j < 4; j++) {
            __m512i v = _mm512_loadu_si512((const void *) (wp + 64 * j));
            lo[j] = _mm512_and_si512(v, low4);
            hi[j] = _mm512_and_si512(_mm512_srli_epi16(v, 4), low4);
        }
        __m512 s, z;
        int4_scales_avx512(w, nb, g, &s, &z);
        /* The rows' products side by side, instruction by instruction, two chains per row (the high and the low
         * activation bytes), as the prompt kernel does (phi3v_int4_prompt.c), instead of row after row with four
         * chains each. On the project's AMD EPYC: 0.95-1.0x the time out of cache (Int4NativeProbe, 1-8 rows, where
         * one row runs at the memory's speed), 0.78-0.90x in a C harness with the weights partly in cache;
         * docs/benchmarks.md, "The int4 prompt kernel against its instruction limit". */
        const int64_t o = g * 16;
        __m512i h[ROW_TILE], l[ROW_TILE];
#pragma GCC unroll 4
        for (int m = 0; m < ROW_TILE; m++) {
            h[m] = _mm512_setzero_si512();
            l[m] = h[m];
        }
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) {
#pragma GCC unroll 4
            for (int m = 0; m < ROW_TILE; m++) {
                if (m < mt) {
                    const prepared_row *p = rows + m;
                    h[m] = _mm512_dpbusd_epi32(h[m], lo[j], _mm512_set1_epi32(dword_at(p->xeh + o + 4 * j)));
                    l[m] = _mm512_dpbusd_epi32(l[m], lo[j], _mm512_set1_epi32(dword_at(p->xel + o + 4 * j)));
                    h[m] = _mm512_dpbusd_epi32(h[m], hi[j], _mm512_set1_epi32(dword_at(p->xoh + o + 4 * j)));
                    l[m] = _mm512_dpbusd_epi32(l[m], hi[j], _mm512_set1_epi32(dword_at(p->xol + o + 4 * j)));
                }
            }
        }
#pragma GCC unroll 4
        for (int m = 0; m < ROW_TILE; m++) {
            if (m < mt) {
                const prepared_row *p = rows + m;
                /* sum(q * xi) = 256 sum(q * xh) + sum(q * xl): at most 32 * 15 * 32639 < 2^24, exact in int32
                 * and in float, whatever the order of the integer sums: the same bits. */
                __m512i d = _mm512_add_epi32(_mm512_slli_epi32(h[m], 8), l[m]);
                __m512 t = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d), _mm512_set1_ps(p->a[g]), _mm512_set1_ps(p->c[g]));
                f[m] = _mm512_fmadd_ps(s, t, f[m]);
                f[m] = _mm512_fmadd_ps(z, _mm512_set1_ps(p->s[g]), f[m]);
            }
        }
    }
}

/* 1 if this CPU runs the kernel (AVX-512 F/BW/VL and VNNI), else 0. */
JNIEXPORT jint JNICALL Java_io_github_phi3v_core_runtime_NativeKernels_cpuSupported(JNIEnv *env, jclass cls) {
    (void) env;
    (void) cls;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
        && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
}

/* Rows rows[0 .. mt) of block nb (phi3v_int4.h's tile_product) through int4_block. */
KERNEL_TARGET
static void tile_product_vnni(const int4_weight *w, const prepared_row *rows, int mt, int64_t nb, float (*acc)[16]) {
    __m512 f[ROW_TILE];
    int4_block(w, rows, mt, nb, f);
    for (int m = 0; m < mt; m++) {
        _mm512_storeu_ps(acc[m], f[m]);
    }
}

/*
 * out[M, N] = x[M, K] * w[N, K]^T with w in the packed layout of int4_block (N rounded up to 16 there; only
 * the first N outputs are written). Returns 0, or -1 when the scratch memory could not be allocated
 * (nothing written then).
 */
JNIEXPORT jint JNICALL Java_io_github_phi3v_core_runtime_NativeInt4Kernel_int4Mm(JNIEnv *env, jclass cls,
        jlong x_addr, jlong packed_addr, jlong codes_addr, jlong exponents_addr, jlong out_addr, jlong m_rows,
        jlong n_cols, jlong k, jboolean bf16, jint threads) {
    (void) env;
    (void) cls;
    const int4_weight w = int4_weight_at(packed_addr, codes_addr, exponents_addr, k);
    return int4_mm((const void *) (intptr_t) x_addr, bf16, m_rows, n_cols, k, &w, (void *) (intptr_t) out_addr,
                   prepare_row, tile_product_vnni, ROW_TILE, threads);
}

/*
 * Rows 16 nb .. 16 nb + lanes - 1 of the dequantized weight, (q - 8) * scale + zero: the product is exact in
 * float32 (a 4-bit level times an 8-bit code times a power of two), so the fused multiply-add rounds once, as
 * float32 multiply-then-add would; bf16 output then rounds to nearest even (float_to_bf16), as libtorch's copy.
 */
KERNEL_TARGET
static void dequantize_block(const int4_weight *w, int64_t nb, int64_t lanes, int64_t k, int bf16, void *out,
                             int64_t first_row) {
    const int64_t groups = w->groups;
    /* Output column 2i takes the low nibble of byte i, 2i + 1 the high one. */
    const __m512i first = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    const __m512i second = _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
    const __m512 eight = _mm512_set1_ps(8.0f);
    for (int64_t l = 0; l < lanes; l++) {
        const int64_t row = nb * 16 + l;
        for (int64_t g = 0; g < groups; g++) {
            const uint8_t *wp = w->packed + (nb * groups + g) * 256 + 4 * l;
            /* Bytes 16 g .. 16 g + 15 of the row: dword j of the group at wp + 64 j. */
            __m128i bytes = _mm_set_epi32(dword_at((const int8_t *) (wp + 192)), dword_at((const int8_t *) (wp + 128)),
                                          dword_at((const int8_t *) (wp + 64)), dword_at((const int8_t *) wp));
            __m512i b = _mm512_cvtepu8_epi32(bytes);
            __m512 lo = _mm512_sub_ps(_mm512_cvtepi32_ps(_mm512_and_si512(b, _mm512_set1_epi32(15))), eight);
            __m512 hi = _mm512_sub_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(b, 4)), eight);
            float scale, zero;
            int4_scale_at(w, nb, g, l, &scale, &zero);
            __m512 sc = _mm512_set1_ps(scale);
            __m512 ze = _mm512_set1_ps(zero);
            __m512 w0 = _mm512_fmadd_ps(_mm512_permutex2var_ps(lo, first, hi), sc, ze);    /* columns 0..15 */
            __m512 w1 = _mm512_fmadd_ps(_mm512_permutex2var_ps(lo, second, hi), sc, ze);   /* columns 16..31 */
            const size_t col = (size_t) ((row - first_row) * k + g * GROUP);
            if (bf16) {
                _mm256_storeu_si256((__m256i *) ((uint16_t *) out + col), to_bf16(w0));
                _mm256_storeu_si256((__m256i *) ((uint16_t *) out + col + 16), to_bf16(w1));
            } else {
                _mm512_storeu_ps((float *) out + col, w0);
                _mm512_storeu_ps((float *) out + col + 16, w1);
            }
        }
    }
}

/*
 * out[rows, K] = rows first_row .. first_row + rows - 1 of the dequantized weight of the packed layout of
 * int4_block (first_row a multiple of 16), bf16 or float32, contiguous.
 */
JNIEXPORT void JNICALL Java_io_github_phi3v_core_runtime_NativeInt4Kernel_int4Dequantize(JNIEnv *env, jclass cls,
        jlong packed_addr, jlong codes_addr, jlong exponents_addr, jlong out_addr, jlong first_row, jlong rows,
        jlong k, jboolean bf16, jint threads) {
    (void) env;
    (void) cls;
    const int4_weight w = int4_weight_at(packed_addr, codes_addr, exponents_addr, k);
    const int64_t end = first_row + rows;
#pragma omp parallel for schedule(static) num_threads(threads > 0 ? threads : 1)
    for (int64_t nb = first_row / 16; nb < (end + 15) / 16; nb++) {
        int64_t lanes = end - nb * 16 < 16 ? end - nb * 16 : 16;
        dequantize_block(&w, nb, lanes, k, bf16, (void *) (intptr_t) out_addr, first_row);
    }
}
