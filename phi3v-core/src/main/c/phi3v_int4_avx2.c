/*
 * phi3v native kernels: the int4 weight-only linear of phi3v_kernels.c for x86-64 CPUs with AVX2 but without
 * AVX-512 VNNI, on the same packed weight (NativeInt4Kernel.pack) and with the same arithmetic, so it gives
 * the same bits: the activations rounded to 16-bit fixed point per group of 32 columns, split into a high and
 * a low signed byte, multiplied with the 4-bit levels exactly in integers, scaled per group in float32 with
 * the same multiply-adds in the same order. Also the dequantization of that weight for prompts of many rows.
 *
 * Why native: there ATen's _weight_int4pack_mm_for_cpu decoded at 0.82-0.87x the native int8 kernel (bf16
 * activations; float32 activations ran on scalar loops), and a kernel that dequantized each weight to float
 * in registers was slower still: about five instructions per 8 weights made it bound by its arithmetic
 * (docs/benchmarks.md, "int4 without AVX-512"). Here vpmaddubsw multiplies 32 unsigned weight bytes by 32
 * signed activation bytes and adds neighbouring pairs into 16 bits, which is what vpdpbusd does before its
 * last two additions; vpmaddwd with ones does those. No product can saturate: a pair is at most 2 * 15 * 128
 * = 3840 in magnitude, and the eight pairs summed per 16-bit lane and group at most 30720 < 32767.
 *
 * Layouts: as phi3v_kernels.c (int4_block): the weight in blocks of 16 output rows, per group the bytes
 * packed[((nb * G + g) * 4 + j) * 64 + 4 l + i] = nibble byte 16 g + 4 j + i of row 16 nb + l; here each 64
 * bytes are two halves of 8 rows (one AVX2 register of 8 int32 lanes). x [M, K] bf16 or float32, contiguous;
 * out [M, N] the same dtype, contiguous. K a multiple of 32.
 *
 * Threads: OpenMP over blocks of 16 output rows, as phi3v_kernels.c.
 */
#include <jni.h>
#include <immintrin.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <omp.h>

#include "phi3v_bf16.h"
#include "phi3v_int4.h"

#define AVX2_TARGET __attribute__((target("avx2,fma")))
/* Input rows multiplied with one pass over a block (accumulators kept in registers: 6 per row). */
#define ROW_TILE 2
_Static_assert(ROW_TILE <= MAX_ROW_TILE, "phi3v_int4.h's driver holds MAX_ROW_TILE rows of outputs");
/* Groups ahead whose weights and codes are prefetched, as phi3v_kernels.c. */
#define PREFETCH_GROUPS 32

/*
 * phi3v_kernels.c's prepare_row (phi3v_int4.h's prepared_row) with AVX2: the same float products, rounded to the nearest integer with ties to
 * even (vcvtps2dq under the default rounding mode), the same clamping, s[g] summed in column order.
 */
AVX2_TARGET
static void prepare_row(const void *x, int bf16, int64_t k, prepared_row *p) {
    const __m256i hi_max = _mm256_set1_epi32(XI_MAX), lo_max = _mm256_set1_epi32(-XI_MAX);
    for (int64_t g = 0; g < k / GROUP; g++) {
        float v[GROUP];
        float amax;
        const float sum = group_values_avx2(x, bf16, g, v, &amax);
        float a = amax / (float) XI_MAX;
        float inv = a > 0.0f ? 1.0f / a : 0.0f;
        const __m256 vinv = _mm256_set1_ps(inv);
        int32_t xi[GROUP];
        int32_t isum = 0;
        for (int q = 0; q < 4; q++) {
            __m256i i = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(v + 8 * q), vinv));
            i = _mm256_min_epi32(_mm256_max_epi32(i, lo_max), hi_max);
            _mm256_storeu_si256((__m256i *) (xi + 8 * q), i);
        }
        for (int j = 0; j < GROUP; j++) {
            isum += xi[j];
        }
        for (int i = 0; i < GROUP / 2; i++) {
            int32_t e = xi[2 * i], o = xi[2 * i + 1];
            int32_t eh = (e + 128) >> 8, oh = (o + 128) >> 8;          /* floor((xi + 128) / 256) */
            p->xeh[g * 16 + i] = (int8_t) eh;
            p->xel[g * 16 + i] = (int8_t) (e - eh * 256);
            p->xoh[g * 16 + i] = (int8_t) oh;
            p->xol[g * 16 + i] = (int8_t) (o - oh * 256);
        }
        p->a[g] = a;
        p->c[g] = -8.0f * a * (float) isum;
        p->s[g] = sum;
    }
}

/*
 * Output rows 16 nb .. 16 nb + 15 of the input rows rows[0 .. mt): lane l of f[2 m + h] is output row
 * 16 nb + 8 h + l (int4_block's lane 8 h + l). Both halves of a block in one pass: each 64-byte line of the
 * weight is read once, and each activation word is broadcast once for both.
 */
AVX2_TARGET
static inline void int4_block(const int4_weight *wt, const prepared_row *rows, int mt, int64_t nb, __m256 *f) {
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    const __m256i ones = _mm256_set1_epi16(1);
    for (int m = 0; m < 2 * mt; m++) {
        f[m] = _mm256_setzero_ps();
    }
    const int64_t groups = wt->groups;
    const uint8_t *wp = wt->packed + nb * groups * 256;
    for (int64_t g = 0; g < groups; g++, wp += 256) {
        __m256i hs[2 * ROW_TILE], ls[2 * ROW_TILE];
        for (int m = 0; m < 2 * mt; m++) {
            hs[m] = _mm256_setzero_si256();
            ls[m] = _mm256_setzero_si256();
        }
        for (int j = 0; j < 4; j++) {
            _mm_prefetch((const char *) (wp + PREFETCH_GROUPS * 256 + 64 * j), _MM_HINT_T0);
            for (int h = 0; h < 2; h++) {
                const __m256i w = _mm256_loadu_si256((const __m256i *) (wp + 64 * j + 32 * h));
                const __m256i lo = _mm256_and_si256(w, low4);                        /* even columns */
                const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(w, 4), low4);  /* odd columns */
                for (int m = 0; m < mt; m++) {
                    const prepared_row *p = rows + m;
                    const int64_t o = g * 16 + 4 * j;
                    /* Per 16-bit lane: two neighbouring byte products of one row (vpdpbusd's first step). */
                    __m256i *H = hs + 2 * m + h, *L = ls + 2 * m + h;
                    *H = _mm256_add_epi16(*H, _mm256_maddubs_epi16(lo, _mm256_set1_epi32(dword_at(p->xeh + o))));
                    *H = _mm256_add_epi16(*H, _mm256_maddubs_epi16(hi, _mm256_set1_epi32(dword_at(p->xoh + o))));
                    *L = _mm256_add_epi16(*L, _mm256_maddubs_epi16(lo, _mm256_set1_epi32(dword_at(p->xel + o))));
                    *L = _mm256_add_epi16(*L, _mm256_maddubs_epi16(hi, _mm256_set1_epi32(dword_at(p->xol + o))));
                }
            }
        }
        if ((g & 1) == 0) {   /* a cache line holds the codes of two groups */
            _mm_prefetch((const char *) (int4_codes(wt, nb, g) + PREFETCH_GROUPS * 32), _MM_HINT_T0);
        }
        if ((g & 15) == 0) {  /* and the exponents of 16 */
            _mm_prefetch((const char *) (int4_exponents(wt, nb, g) + PREFETCH_GROUPS / CODE_BLOCK * 32), _MM_HINT_T0);
        }
        for (int h = 0; h < 2; h++) {
            __m256 s, z;
            int4_scales_avx2(wt, nb, g, h, &s, &z);
            for (int m = 0; m < mt; m++) {
                const prepared_row *p = rows + m;
                /* sum(q * xi) = 256 sum(q * xh) + sum(q * xl), exact in int32 and in float (< 2^24). */
                const __m256i d = _mm256_add_epi32(_mm256_slli_epi32(_mm256_madd_epi16(hs[2 * m + h], ones), 8),
                                                   _mm256_madd_epi16(ls[2 * m + h], ones));
                const __m256 t = _mm256_fmadd_ps(_mm256_cvtepi32_ps(d), _mm256_set1_ps(p->a[g]),
                                                 _mm256_set1_ps(p->c[g]));
                f[2 * m + h] = _mm256_fmadd_ps(s, t, f[2 * m + h]);
                f[2 * m + h] = _mm256_fmadd_ps(z, _mm256_set1_ps(p->s[g]), f[2 * m + h]);
            }
        }
    }
}

/* int4_block with the row count a constant, so the compiler keeps the tile's accumulators in registers. */
AVX2_TARGET
static void int4_block_tile(const int4_weight *w, const prepared_row *rows, int mt, int64_t nb, __m256 *f) {
    if (mt == 1) {
        int4_block(w, rows, 1, nb, f);
    } else {
        int4_block(w, rows, ROW_TILE, nb, f);
    }
}

/* Rows rows[0 .. mt) of block nb (phi3v_int4.h's tile_product); lane 8 h + l of the block is f[2 m + h]'s lane l. */
AVX2_TARGET
static void tile_product_avx2(const int4_weight *w, const prepared_row *rows, int mt, int64_t nb, float (*acc)[16]) {
    __m256 f[2 * ROW_TILE];
    int4_block_tile(w, rows, mt, nb, f);
    for (int m = 0; m < mt; m++) {
        _mm256_storeu_ps(acc[m], f[2 * m]);
        _mm256_storeu_ps(acc[m] + 8, f[2 * m + 1]);
    }
}

/*
 * out[M, N] = x[M, K] * w[N, K]^T with w in NativeInt4Kernel.pack's layout (N rounded up to 16 there; only the
 * first N outputs are written). Returns 0, or -1 when the scratch memory could not be allocated (nothing
 * written then).
 */
JNIEXPORT jint JNICALL Java_io_github_phi3v_core_runtime_NativeInt4Kernel_int4MmAvx2(JNIEnv *env, jclass cls,
        jlong x_addr, jlong packed_addr, jlong codes_addr, jlong exponents_addr, jlong out_addr, jlong m_rows,
        jlong n_cols, jlong k, jboolean bf16, jint threads) {
    (void) env;
    (void) cls;
    const int4_weight w = int4_weight_at(packed_addr, codes_addr, exponents_addr, k);
    return int4_mm((const void *) (intptr_t) x_addr, bf16, m_rows, n_cols, k, &w, (void *) (intptr_t) out_addr,
                   prepare_row, tile_product_avx2, ROW_TILE, threads);
}

/* float_to_bf16 on 8 lanes (to nearest even; a NaN stays a NaN). */
AVX2_TARGET
static inline __m128i to_bf16x8(__m256 v) {
    const __m256i bits = _mm256_castps_si256(v);
    const __m256i odd = _mm256_and_si256(_mm256_srli_epi32(bits, 16), _mm256_set1_epi32(1));
    __m256i r = _mm256_srli_epi32(_mm256_add_epi32(bits, _mm256_add_epi32(odd, _mm256_set1_epi32(0x7fff))), 16);
    const __m256i nan = _mm256_or_si256(_mm256_srli_epi32(bits, 16), _mm256_set1_epi32(0x40));
    r = _mm256_blendv_epi8(r, nan, _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q)));
    return _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
}

/*
 * Rows first_row .. first_row + rows - 1 of the dequantized weight, (q - 8) * scale + zero, as phi3v_kernels.c's
 * int4Dequantize: the product is exact in float32, the fused multiply-add rounds once, bf16 output rounds to
 * nearest even. first_row a multiple of 16.
 */
AVX2_TARGET
static void dequantize_row(const int4_weight *wt, int64_t row, int bf16, void *out) {
    const int64_t groups = wt->groups;
    const __m128i low4 = _mm_set1_epi8(0x0f);
    const __m256i eight = _mm256_set1_epi32(8);
    const int64_t nb = row / 16, l = row % 16;
    for (int64_t g = 0; g < groups; g++) {
        const uint8_t *wp = wt->packed + (nb * groups + g) * 256 + 4 * l;
        /* Nibble bytes 0 .. 15 of the row's group (byte 4 j + i at wp + 64 j + i). */
        const __m128i b = _mm_set_epi32(dword_at((const int8_t *) wp + 192), dword_at((const int8_t *) wp + 128),
                                        dword_at((const int8_t *) wp + 64), dword_at((const int8_t *) wp));
        const __m128i lo = _mm_and_si128(b, low4), hi = _mm_and_si128(_mm_srli_epi16(b, 4), low4);
        const __m128i c[2] = {_mm_unpacklo_epi8(lo, hi), _mm_unpackhi_epi8(lo, hi)};   /* columns 0..15, 16..31 */
        float scale, zero;
        int4_scale_at(wt, nb, g, l, &scale, &zero);
        const __m256 s = _mm256_set1_ps(scale);
        const __m256 z = _mm256_set1_ps(zero);
        for (int q = 0; q < 4; q++) {
            const __m128i bytes = q % 2 == 0 ? c[q / 2] : _mm_srli_si128(c[q / 2], 8);
            const __m256 levels = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_cvtepu8_epi32(bytes), eight));
            const __m256 w = _mm256_fmadd_ps(levels, s, z);
            if (bf16) {
                _mm_storeu_si128((__m128i *) ((uint16_t *) out + g * GROUP + 8 * q), to_bf16x8(w));
            } else {
                _mm256_storeu_ps((float *) out + g * GROUP + 8 * q, w);
            }
        }
    }
}

JNIEXPORT void JNICALL Java_io_github_phi3v_core_runtime_NativeInt4Kernel_int4DequantizeAvx2(JNIEnv *env, jclass cls,
        jlong packed_addr, jlong codes_addr, jlong exponents_addr, jlong out_addr, jlong first_row, jlong rows, jlong k,
        jboolean bf16, jint threads) {
    (void) env;
    (void) cls;
    const size_t elem = bf16 ? 2 : 4;
    const int4_weight w = int4_weight_at(packed_addr, codes_addr, exponents_addr, k);
#pragma omp parallel for schedule(static) num_threads(threads > 0 ? threads : 1)
    for (int64_t r = 0; r < rows; r++) {
        dequantize_row(&w, first_row + r, bf16, (uint8_t *) (intptr_t) out_addr + (size_t) (r * k) * elem);
    }
}
