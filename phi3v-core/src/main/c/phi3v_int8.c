/*
 * phi3v native kernels: float32 rows times an int8 weight with one float32 scale per output row, with float32
 * products and sums and float32 output: the int8 decoder linears on x86-64 CPUs without AVX-512 VNNI.
 *
 * Why native: there fbgemm's int8 GEMM adds pairs of uint8 x int8 products into 16 bits with saturation (2-9 %
 * error per linear on the golden model), and ATen's weight-only _weight_int8pack_mm is built with AVX2 vectors
 * for 16-bit activations only (float32 rows run scalar, 8x slower). Here the int8 weight is read as it is, each
 * value widened to float32 (exact), multiplied with the float32 activations and summed in float32; the row's
 * scale is applied once to the sum: out[i, n] = scale[n] * sum_k x[i, k] * q[n, k]. Only the order of the sums
 * differs from a float32 product with the dequantized weight q * scale (and the scale's single rounding).
 *
 * Layouts: x [M, K] float32, scale [N] float32, out [M, N] float32, all contiguous; q interleaved by blocks of NR
 * weight rows, [N / NR, K / 8, NR, 8] int8 (NativeInt8Kernel.pack): a block's NR rows lie side by side, 8
 * columns each, so a thread reads one contiguous stream. With the plain [N, K] layout each thread read NR
 * streams and the kernel ran at 9-11 GB/s on 2 threads instead of 18-19 GB/s (a C timing loop, AMD EPYC).
 * N a multiple of NR, K a multiple of 8 (one AVX2 vector of floats).
 *
 * Threads: OpenMP over the blocks (static), the thread count libtorch uses. Each block runs the x rows in
 * pairs, so a weight vector is widened once per pair of rows and the pair's products are independent chains.
 */
#include <jni.h>
#include <immintrin.h>
#include <stdint.h>
#include <omp.h>

#define INT8_TARGET __attribute__((target("avx2,fma")))
/* Weight rows per block: independent accumulator chains, and each x vector loaded once for them. Also the
   interleaving of the layout: NativeInt8Kernel.ROWS_PER_BLOCK. */
#define NR 4

INT8_TARGET
static inline float sum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* Eight int8 weights widened to float32 (exact). */
INT8_TARGET
static inline __m256 load_q8(const int8_t *p) {
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *) p)));
}

/*
 * out[i .. i + mr, n0 .. n0 + NR) for one or two x rows (mr) and the NR weight rows of block qb; inlined with a
 * constant mr, so the compiler keeps the accumulators in registers (8 of the 16).
 */
INT8_TARGET __attribute__((always_inline))
static inline void tile(const float *x, const int8_t *qb, const float *scale, float *out, int64_t n, int64_t k,
                        int64_t i, int64_t n0, const int mr) {
    __m256 acc0[NR];
    __m256 acc1[NR];
    for (int r = 0; r < NR; r++) {
        acc0[r] = _mm256_setzero_ps();
        acc1[r] = _mm256_setzero_ps();
    }
    const float *x0 = x + i * k;
    const float *x1 = x0 + k;
    for (int64_t c = 0; c < k; c += 8) {
        const __m256 xv0 = _mm256_loadu_ps(x0 + c);
        const __m256 xv1 = mr > 1 ? _mm256_loadu_ps(x1 + c) : xv0;
        const int8_t *p = qb + c * NR;                     /* columns c .. c + 8 of the block's NR rows */
        for (int r = 0; r < NR; r++) {
            const __m256 wv = load_q8(p + 8 * r);
            acc0[r] = _mm256_fmadd_ps(xv0, wv, acc0[r]);
            if (mr > 1) {
                acc1[r] = _mm256_fmadd_ps(xv1, wv, acc1[r]);
            }
        }
    }
    for (int r = 0; r < NR; r++) {
        out[i * n + n0 + r] = sum8(acc0[r]) * scale[n0 + r];
        if (mr > 1) {
            out[(i + 1) * n + n0 + r] = sum8(acc1[r]) * scale[n0 + r];
        }
    }
}

/* Every x row against the NR weight rows of block b. */
INT8_TARGET
static void rows_block(const float *x, const int8_t *q, const float *scale, float *out, int64_t m, int64_t n,
                       int64_t k, int64_t b) {
    const int8_t *qb = q + b * NR * k;
    const int64_t n0 = b * NR;
    int64_t i = 0;
    for (; i + 1 < m; i += 2) {
        tile(x, qb, scale, out, n, k, i, n0, 2);
    }
    if (i < m) {
        tile(x, qb, scale, out, n, k, i, n0, 1);
    }
}

/* out[M, N] = (x[M, K] · q[N, K]ᵀ) * scale[N] as described at the top. */
JNIEXPORT void JNICALL Java_io_github_phi3v_core_runtime_NativeInt8Kernel_int8Mm(JNIEnv *env, jclass cls,
        jlong x_addr, jlong q_addr, jlong scale_addr, jlong out_addr, jlong m, jlong n, jlong k, jint threads) {
    (void) env;
    (void) cls;
    const float *x = (const float *) (intptr_t) x_addr;
    const int8_t *q = (const int8_t *) (intptr_t) q_addr;
    const float *scale = (const float *) (intptr_t) scale_addr;
    float *out = (float *) (intptr_t) out_addr;
    const int64_t blocks = n / NR;
#pragma omp parallel for schedule(static) num_threads(threads > 0 ? threads : 1)
    for (int64_t b = 0; b < blocks; b++) {
        rows_block(x, q, scale, out, m, n, k, b);
    }
}
