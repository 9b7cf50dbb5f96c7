/*
 * phi3v native kernels: a few float32 rows times a bf16 weight, with float32 products and sums and float32
 * output: the CPU lm_head of a bf16 model.
 *
 * Why native: the logits must be float32 (bf16 logits are quantised to 1/64..1/32 and flip the argmax where
 * the top-2 gap is that small), and libtorch 2.10 has no CPU kernel for a bf16 weight with float32 output
 * (aten::mm.dtype), so the model kept a float32 copy of lm_head (394 MB for Phi-3) and multiplied it on one
 * thread (OpenBLAS sgemv) while the other thread waited. Here the bf16 weight is read as it is (197 MB) on
 * every thread. Each bf16 value is exact in float32, so the products are those of the float32 copy; only the
 * order of the sums differs.
 *
 * Layouts: x [M, K] float32, w [N, K] bf16, out [M, N] float32, all contiguous; K a multiple of 16.
 *
 * Threads: OpenMP over blocks of ROWS weight rows (static), the thread count libtorch uses.
 */
#include <jni.h>
#include <immintrin.h>
#include <stdint.h>
#include <omp.h>

#include "phi3v_bf16.h"

#define GEMV_TARGET __attribute__((target("avx512f,avx512bw")))
/* Weight rows multiplied together: independent accumulator chains, and each x vector loaded once for them. */
#define ROWS 4

/* out[i, n0 .. n0 + rows) for every x row i. */
GEMV_TARGET
static void rows_block(const float *x, const uint16_t *w, float *out, int64_t m, int64_t n, int64_t k, int64_t n0,
                       int rows) {
    for (int64_t i = 0; i < m; i++) {
        const float *xi = x + i * k;
        __m512 acc[ROWS];
        for (int r = 0; r < rows; r++) {
            acc[r] = _mm512_setzero_ps();
        }
        for (int64_t c = 0; c < k; c += 16) {
            const __m512 xv = _mm512_loadu_ps(xi + c);
            for (int r = 0; r < rows; r++) {
                acc[r] = _mm512_fmadd_ps(xv, load_bf16(w + (n0 + r) * k + c), acc[r]);
            }
        }
        for (int r = 0; r < rows; r++) {
            out[i * n + n0 + r] = _mm512_reduce_add_ps(acc[r]);
        }
    }
}

/* out[M, N] = x[M, K] · w[N, K]ᵀ as described at the top. */
JNIEXPORT void JNICALL Java_io_github_phi3v_core_runtime_NativeKernels_bf16WeightMm(JNIEnv *env, jclass cls,
        jlong x_addr, jlong w_addr, jlong out_addr, jlong m, jlong n, jlong k, jint threads) {
    (void) env;
    (void) cls;
    const float *x = (const float *) (intptr_t) x_addr;
    const uint16_t *w = (const uint16_t *) (intptr_t) w_addr;
    float *out = (float *) (intptr_t) out_addr;
    const int64_t blocks = (n + ROWS - 1) / ROWS;
#pragma omp parallel for schedule(static) num_threads(threads > 0 ? threads : 1)
    for (int64_t b = 0; b < blocks; b++) {
        const int64_t n0 = b * ROWS;
        rows_block(x, w, out, m, n, k, n0, (int) (n - n0 < ROWS ? n - n0 : ROWS));
    }
}
