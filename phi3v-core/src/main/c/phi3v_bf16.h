/*
 * bf16 <-> float conversions shared by the phi3v native kernels, rounding as libtorch does (to nearest
 * even; a NaN stays a NaN).
 */
#ifndef PHI3V_BF16_H
#define PHI3V_BF16_H

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#define BF16_VECTOR_TARGET __attribute__((target("avx512f,avx512bw")))

static inline float bf16_to_float(uint16_t h) {
    uint32_t bits = (uint32_t) h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* Round to nearest even, as libtorch's float -> bfloat16 conversion (NaN stays NaN). */
static inline uint16_t float_to_bf16(float f) {
    uint32_t bits;
    memcpy(&bits, &f, 4);
    if ((bits & 0x7fffffffu) > 0x7f800000u) {
        return (uint16_t) ((bits >> 16) | 0x40);
    }
    bits += 0x7fffu + ((bits >> 16) & 1u);
    return (uint16_t) (bits >> 16);
}

/* float_to_bf16 on 16 lanes. */
BF16_VECTOR_TARGET
static inline __m256i to_bf16(__m512 v) {
    __m512i bits = _mm512_castps_si512(v);
    __m512i odd = _mm512_and_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(1));
    __m512i rounded = _mm512_srli_epi32(_mm512_add_epi32(bits, _mm512_add_epi32(odd, _mm512_set1_epi32(0x7fff))), 16);
    __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    rounded = _mm512_mask_mov_epi32(rounded, nan, _mm512_or_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(0x40)));
    return _mm512_cvtepi32_epi16(rounded);
}

/* 16 bf16 values to float: the 16 bits become the high half of each 32-bit lane. */
BF16_VECTOR_TARGET
static inline __m512 load_bf16(const uint16_t *p) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *) p)), 16));
}

/* 8 bf16 values to float with AVX2: the 16 bits become the high half of each 32-bit lane. */
__attribute__((target("avx2")))
static inline __m256 load_bf16x8(const uint16_t *p) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *) p)), 16));
}

#endif
