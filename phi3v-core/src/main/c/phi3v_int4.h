/*
 * What the two int4 kernels share (phi3v_kernels.c with AVX-512 VNNI, phi3v_int4_avx2.c with AVX2): the
 * activations prepared per row, their scratch memory, and the writing of a block's outputs. The kernels'
 * arithmetic is theirs; this holds only the bookkeeping around it, so both lay out and write the same way.
 */
#ifndef PHI3V_INT4_H
#define PHI3V_INT4_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <omp.h>

#include "phi3v_bf16.h"

#define GROUP 32
/* Largest |xi|: (xi + 128) >> 8 must stay within a signed byte. */
#define XI_MAX 32639

/*
 * One input row prepared for the kernels. Per group g of 32 columns the activations are rounded to 16-bit
 * fixed point, x ~ a * xi with a = max |x| / XI_MAX and |xi| <= XI_MAX, and xi is split into bytes,
 * xi = 256 * xh + xl with xh, xl signed (the byte products multiply unsigned weight bytes by signed activation
 * bytes). Stored split by column parity (what the low and the high nibble of a weight byte multiply):
 *   xeh[c / 2], xel[c / 2] for even c; xoh[c / 2], xol[c / 2] for odd c
 * and per group
 *   a[g]: the scale
 *   c[g]: -8 * a * sum(xi of the group) (the "- 8" of the levels)
 *   s[g]: sum(x of the group), in float (multiplies the zero)
 * The rounding moves each activation by at most a / 2 = max |x| / 65278 of its group: less than 1/256 of a
 * bf16 ulp of the group's largest activation.
 */
typedef struct {
    int8_t *xeh, *xel, *xoh, *xol;
    float *a, *c, *s;
} prepared_row;

/* A kernel's preparation of one row of k activations (bf16 if bf16, else float32). */
typedef void (*row_preparer)(const void *x, int bf16, int64_t k, prepared_row *p);

static inline int32_t dword_at(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

/*
 * The m rows of x [m, k] prepared by prepare into one scratch allocation: returns the row descriptors (free
 * them and *scratch), or NULL when the memory could not be allocated (nothing allocated then).
 */
static inline prepared_row *prepare_rows(const void *x, int bf16, int64_t m_rows, int64_t k, row_preparer prepare,
                                         uint8_t **scratch) {
    const int64_t groups = k / GROUP;
    const size_t bytes_x = (size_t) ((k / 2 + 63) / 64 * 64), bytes_f = (size_t) ((groups + 15) / 16 * 64);
    const size_t per_row = 4 * bytes_x + 3 * bytes_f;
    *scratch = aligned_alloc(64, per_row * (size_t) m_rows);
    prepared_row *rows = malloc(sizeof(prepared_row) * (size_t) m_rows);
    if (*scratch == NULL || rows == NULL) {
        free(*scratch);
        free(rows);
        *scratch = NULL;
        return NULL;
    }
    const size_t elem = bf16 ? 2 : 4;
    for (int64_t m = 0; m < m_rows; m++) {
        uint8_t *base = *scratch + per_row * (size_t) m;
        prepared_row *p = rows + m;
        p->xeh = (int8_t *) base;
        p->xel = (int8_t *) (base + bytes_x);
        p->xoh = (int8_t *) (base + 2 * bytes_x);
        p->xol = (int8_t *) (base + 3 * bytes_x);
        p->a = (float *) (base + 4 * bytes_x);
        p->c = (float *) (base + 4 * bytes_x + bytes_f);
        p->s = (float *) (base + 4 * bytes_x + 2 * bytes_f);
        prepare((const uint8_t *) x + (size_t) (m * k) * elem, bf16, k, p);
    }
    return rows;
}

/* acc[0 .. lanes) to out[at ..], rounded to bf16 (to nearest even) or kept in float32. */
static inline void store_outputs(void *out, int bf16, size_t at, const float *acc, int64_t lanes) {
    for (int64_t l = 0; l < lanes; l++) {
        if (bf16) {
            ((uint16_t *) out)[at + (size_t) l] = float_to_bf16(acc[l]);
        } else {
            ((float *) out)[at + (size_t) l] = acc[l];
        }
    }
}

/* Groups of 32 columns per block of the scale and zero exponents (Int4ScaleCodes.GROUPS_PER_BLOCK). */
#define CODE_BLOCK 8

/*
 * The packed weight of a product (NativeInt4Kernel.pack's layout) and its groups of 32 columns per row. The scales
 * and zeros as Int4ScaleCodes stores them: per block nb of 16 output rows and group g, 32 code bytes at
 * codes + (nb * groups + g) * 32 (the 16 rows' scale codes, unsigned, then their zero codes, signed); per block
 * and run of CODE_BLOCK groups, 32 exponent bytes at exponents + (nb * code_blocks + g / CODE_BLOCK) * 32 (scale
 * exponents, then zero exponents, signed): scale = code * 2^e, exact in float32 (int4_scales_avx512).
 */
typedef struct {
    const uint8_t *packed;
    const uint8_t *codes;
    const int8_t *exponents;
    int64_t groups, code_blocks;
} int4_weight;

/* The 32 code bytes of block nb, group g: 16 scale codes, then 16 zero codes. */
static inline const uint8_t *int4_codes(const int4_weight *w, int64_t nb, int64_t g) {
    return w->codes + (nb * w->groups + g) * 32;
}

/* The 32 exponents of block nb for group g's run of CODE_BLOCK groups: 16 for the scales, then 16 for the zeros. */
static inline const int8_t *int4_exponents(const int4_weight *w, int64_t nb, int64_t g) {
    return w->exponents + (nb * w->code_blocks + g / CODE_BLOCK) * 32;
}

/* 2^e for 8 exponents (-126..127): the float whose exponent bits are e + 127. */
__attribute__((target("avx2")))
static inline __m256 pow2_avx2(const int8_t *e) {
    __m256i x = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *) e));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(x, _mm256_set1_epi32(127)), 23));
}

/*
 * Scales and zeros of rows 8 h .. 8 h + 7 of block nb, group g, with AVX2: code (an integer of at most 8 bits,
 * exact in float) times a power of two, so exactly the bf16 values the stored form holds.
 */
__attribute__((target("avx2")))
static inline void int4_scales_avx2(const int4_weight *w, int64_t nb, int64_t g, int h, __m256 *s, __m256 *z) {
    const uint8_t *c = int4_codes(w, nb, g) + 8 * h;
    const int8_t *e = int4_exponents(w, nb, g) + 8 * h;
    *s = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *) c))), pow2_avx2(e));
    *z = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *) (c + 16)))),
                       pow2_avx2(e + 16));
}

/* 2^e for 16 exponents (-126..127). */
__attribute__((target("avx512f")))
static inline __m512 pow2_avx512(const int8_t *e) {
    __m512i x = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *) e));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(x, _mm512_set1_epi32(127)), 23));
}

/* Scales and zeros of the 16 rows of block nb, group g, with AVX-512 (as int4_scales_avx2). */
__attribute__((target("avx512f")))
static inline void int4_scales_avx512(const int4_weight *w, int64_t nb, int64_t g, __m512 *s, __m512 *z) {
    const uint8_t *c = int4_codes(w, nb, g);
    const int8_t *e = int4_exponents(w, nb, g);
    *s = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *) c))), pow2_avx512(e));
    *z = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *) (c + 16)))),
                       pow2_avx512(e + 16));
}

/* 2^e for one exponent (-126..127). */
static inline float pow2_scalar(int8_t e) {
    const uint32_t bits = (uint32_t) (e + 127) << 23;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* Scale and zero of lane l (output row 16 nb + l) of block nb, group g, in scalar code: the same values. */
static inline void int4_scale_at(const int4_weight *w, int64_t nb, int64_t g, int64_t l, float *s, float *z) {
    const uint8_t *c = int4_codes(w, nb, g);
    const int8_t *e = int4_exponents(w, nb, g);
    *s = (float) c[l] * pow2_scalar(e[l]);
    *z = (float) (int8_t) c[16 + l] * pow2_scalar(e[16 + l]);
}

/*
 * The 32 activations of group g of a row (bf16 if bf16, else float32) widened to float into v with AVX2; returns
 * their sum in column order (what the kernels' zero term multiplies) and writes their largest magnitude to amax.
 */
__attribute__((target("avx2")))
static inline float group_values_avx2(const void *x, int bf16, int64_t g, float *v, float *amax) {
    for (int q = 0; q < 4; q++) {
        __m256 t;
        if (bf16) {
            t = load_bf16x8((const uint16_t *) x + g * GROUP + 8 * q);
        } else {
            t = _mm256_loadu_ps((const float *) x + g * GROUP + 8 * q);
        }
        _mm256_storeu_ps(v + 8 * q, t);
    }
    float sum = 0.0f;
    float m = 0.0f;
    for (int j = 0; j < GROUP; j++) {
        sum += v[j];
        m = v[j] > m ? v[j] : (-v[j] > m ? -v[j] : m);
    }
    *amax = m;
    return sum;
}

/*
 * The same with AVX-512: columns 0..15 of the group in v0, 16..31 in v1; returns their sum in column order and
 * writes their largest magnitude to amax.
 */
__attribute__((target("avx512f")))
static inline float group_values_avx512(const void *x, int bf16, int64_t g, __m512 *v0, __m512 *v1, float *amax) {
    if (bf16) {
        *v0 = load_bf16((const uint16_t *) x + g * GROUP);
        *v1 = load_bf16((const uint16_t *) x + g * GROUP + 16);
    } else {
        *v0 = _mm512_loadu_ps((const float *) x + g * GROUP);
        *v1 = _mm512_loadu_ps((const float *) x + g * GROUP + 16);
    }
    float v[GROUP];
    _mm512_storeu_ps(v, *v0);
    _mm512_storeu_ps(v + 16, *v1);
    float sum = 0.0f;
    for (int j = 0; j < GROUP; j++) {
        sum += v[j];
    }
    *amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(*v0), _mm512_abs_ps(*v1)));
    return sum;
}

/* The packed weight of a product at the addresses a JNI entry receives, with k input columns. */
static inline int4_weight int4_weight_at(int64_t packed, int64_t codes, int64_t exponents, int64_t k) {
    const int64_t groups = k / GROUP;
    const int4_weight w = {(const uint8_t *) (intptr_t) packed, (const uint8_t *) (intptr_t) codes,
                           (const int8_t *) (intptr_t) exponents, groups, (groups + CODE_BLOCK - 1) / CODE_BLOCK};
    return w;
}

/* The most input rows a kernel multiplies in one pass over a block's weights (its row tile). */
#define MAX_ROW_TILE 4

/*
 * A kernel's outputs 16 nb .. 16 nb + 15 of the mt (<= its row tile) input rows rows[0 .. mt), in float32:
 * acc[m][l] is output 16 nb + l of row m (lanes past N are computed on the layout's padding and not written).
 */
typedef void (*tile_product)(const int4_weight *w, const prepared_row *rows, int mt, int64_t nb, float (*acc)[16]);

/*
 * out[M, N] = x[M, K] * w[N, K]^T, the driver both kernels share: the rows prepared once by prepare, then
 * OpenMP over blocks of 16 output rows, each through tile for row_tile (<= MAX_ROW_TILE) input rows at a time,
 * written to out (bf16 or float32) with store_outputs. Returns 0, or -1 when the scratch memory could not be
 * allocated (nothing written then).
 */
static inline int int4_mm(const void *x, int bf16, int64_t m_rows, int64_t n_cols, int64_t k, const int4_weight *w,
                          void *out, row_preparer prepare, tile_product tile, int row_tile, int threads) {
    uint8_t *scratch;
    prepared_row *rows = prepare_rows(x, bf16, m_rows, k, prepare, &scratch);
    if (rows == NULL) {
        return -1;
    }
    const int64_t blocks = (n_cols + 15) / 16;
#pragma omp parallel for schedule(static) num_threads(threads > 0 ? threads : 1)
    for (int64_t nb = 0; nb < blocks; nb++) {
        const int64_t lanes = n_cols - nb * 16 < 16 ? n_cols - nb * 16 : 16;
        for (int64_t m0 = 0; m0 < m_rows; m0 += row_tile) {
            const int mt = (int) (m_rows - m0 < row_tile ? m_rows - m0 : row_tile);
            float acc[MAX_ROW_TILE][16];
            tile(w, rows + m0, mt, nb, acc);
            for (int m = 0; m < mt; m++) {
                store_outputs(out, bf16, (size_t) ((m0 + m) * n_cols + nb * 16), acc[m], lanes);
            }
        }
    }
    free(rows);
    free(scratch);
    return 0;
}

/* Floats per row and group of a prompt kernel's prepared activations: a, c = -8 a sum(xi), s = sum(x). */
#define FLOATS 3
/* Input rows of a prompt driver's chunk: ~0.8 MB of prepared activations at K = 8192, a core's L2 (12-row tiles). */
#define CHUNK_ROWS 192
/* The most input rows a prompt kernel's tile holds. */
#define MAX_PROMPT_ROWS 12

/*
 * A prompt kernel's rounding of row x [k] (bf16 if bf16, else float32) to 8 bits per group of 32 columns into
 * row r of its tile (tile_rows rows): the bytes of group g at xb + (g * tile_rows + r) * 32 (16 of the even columns,
 * then 16 of the odd ones), the floats at xf + (g * tile_rows + r) * FLOATS (a, c, s as in phi3v_int4_prompt.c).
 */
typedef void (*prompt_preparer)(const void *x, int bf16, int64_t k, int r, int8_t *xb, float *xf);

/* A prompt kernel's outputs 16 nb .. 16 nb + 15 of one tile's rows: acc[m][l] is output 16 nb + l of row m. */
typedef void (*prompt_tile_product)(const int4_weight *w, int64_t nb, const int8_t *xb, const float *xf,
                                    float (*acc)[16]);

/*
 * out[M, N] = x[M, K] * w[N, K]^T, the driver of both prompt kernels (phi3v_int4_prompt.c with AVX-512 VNNI,
 * phi3v_int4_prompt_avx2.c): the rows prepared by prepare in tiles of tile_rows (the last one padded with zero
 * rows), then each OpenMP thread runs a contiguous range of the 16-row weight blocks over the tiles, CHUNK_ROWS
 * input rows at a time, so a chunk's prepared activations stay in the core's cache across its blocks. Returns 0, or
 * -1 when the scratch memory could not be allocated (nothing written then).
 */
static inline int int4_prompt_mm(const void *x, int bf16, int64_t m_rows, int64_t n_cols, int64_t k,
                                 const int4_weight *w, void *out, prompt_preparer prepare, prompt_tile_product tile,
                                 int tile_rows, int threads) {
    const int64_t tiles = (m_rows + tile_rows - 1) / tile_rows;
    const size_t tile_bytes = (size_t) (w->groups * tile_rows * 32);
    const size_t tile_floats = (size_t) (w->groups * tile_rows * FLOATS);
    int8_t *xb = aligned_alloc(64, (tile_bytes * (size_t) tiles + 63) / 64 * 64);
    float *xf = malloc(sizeof(float) * tile_floats * (size_t) tiles);
    if (xb == NULL || xf == NULL) {
        free(xb);
        free(xf);
        return -1;
    }
    if (tiles * tile_rows > m_rows) {   /* the last tile's rows past M multiply zeros (not written) */
        memset(xb + tile_bytes * (size_t) (tiles - 1), 0, tile_bytes);
        memset(xf + tile_floats * (size_t) (tiles - 1), 0, sizeof(float) * tile_floats);
    }
    const size_t elem = bf16 ? 2 : 4;
    const int nthreads = threads > 0 ? threads : 1;
#pragma omp parallel for schedule(static) num_threads(nthreads)
    for (int64_t m = 0; m < m_rows; m++) {
        prepare((const uint8_t *) x + (size_t) (m * k) * elem, bf16, k, (int) (m % tile_rows),
                xb + tile_bytes * (size_t) (m / tile_rows), xf + tile_floats * (size_t) (m / tile_rows));
    }
    const int64_t blocks = (n_cols + 15) / 16;
    const int64_t chunk_tiles = CHUNK_ROWS / tile_rows;
#pragma omp parallel num_threads(nthreads)
    {
        const int64_t nt = omp_get_num_threads(), id = omp_get_thread_num();
        const int64_t first = blocks * id / nt, last = blocks * (id + 1) / nt;
        for (int64_t t0 = 0; t0 < tiles; t0 += chunk_tiles) {
            for (int64_t nb = first; nb < last; nb++) {
                const int64_t lanes = n_cols - nb * 16 < 16 ? n_cols - nb * 16 : 16;
                for (int64_t t = t0; t < tiles && t < t0 + chunk_tiles; t++) {
                    float acc[MAX_PROMPT_ROWS][16];
                    tile(w, nb, xb + tile_bytes * (size_t) t, xf + tile_floats * (size_t) t, acc);
                    const int64_t rows = m_rows - t * tile_rows < tile_rows ? m_rows - t * tile_rows : tile_rows;
                    for (int64_t m = 0; m < rows; m++) {
                        store_outputs(out, bf16, (size_t) ((t * tile_rows + m) * n_cols + nb * 16), acc[m], lanes);
                    }
                }
            }
        }
    }
    free(xb);
    free(xf);
    return 0;
}

#endif
