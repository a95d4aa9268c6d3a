// fastnn engine: OpenBLAS (scipy-openblas32 wheel, symbols prefixed scipy_) behind gemm.
//
// Threads: with OpenMP, OpenBLAS runs single-threaded and gemm splits each product into column (or row) blocks,
// one per OpenMP thread. The engine then has one thread pool: OpenBLAS's own threads, which keep spinning after
// each product, would otherwise compete for the cores with the OpenMP threads of the loops between products
// (measured on 2 cores: 2-4x slower training). Every output element is computed by the same single-threaded
// kernel over the same k order whatever the split, so results do not depend on the thread count.
#include "blas.hpp"

#include <algorithm>
#include <type_traits>
#include <cblas.h>

#include "bf16.hpp"
#include "threads.hpp"

namespace fastnn {

namespace {
void blas_gemm(bool transA, bool transB, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
               int ldb, float beta, float* C, int ldc) {
    scipy_cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans, M, N,
                      K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void blas_gemm(bool transA, bool transB, int M, int N, int K, double alpha, const double* A, int lda,
               const double* B, int ldb, double beta, double* C, int ldc) {
    scipy_cblas_dgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans, M, N,
                      K, alpha, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace

template <class T>
void gemm(bool transA, bool transB, int M, int N, int K, T alpha, const T* A, int lda, const T* B, int ldb, T beta,
          T* C, int ldc) {
    const double work = double(M) * double(N) * double(K);
    // Under the mixed_bfloat16 policy (bf16.hpp) the large float32 products run in bfloat16.
    if constexpr (std::is_same_v<T, float>) {
        if (compute_bf16() && alpha == 1.0f && beta == 0.0f && work >= double(kParallelMinMacs)) {
            gemm_bf16(transA, transB, M, N, K, A, lda, B, ldb, C, ldc);
            return;
        }
    }
    const int T_ = get_num_threads();
    constexpr int kAlign = 16;  // split at multiples of 16 columns/rows (whole SIMD tiles)
    int parts = 1;
    bool by_cols = true;
    if (T_ > 1 && work >= double(kParallelMinMacs) * 4) {
        if (N >= 4 * kAlign * T_) parts = T_;
        else if (M >= kAlign * T_) parts = T_, by_cols = false;
    }
    if (parts == 1) {
        blas_gemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    const int len = by_cols ? N : M;
    FASTNN_PARALLEL_FOR_ABOVE(parts, 2)
    for (int p = 0; p < parts; ++p) {
        const int chunk = ((len + parts - 1) / parts + kAlign - 1) / kAlign * kAlign;
        const int s0 = std::min(len, p * chunk), s1 = std::min(len, s0 + chunk);
        if (s1 <= s0) continue;
        if (by_cols)  // C[:, s0:s1] = op(A) @ op(B)[:, s0:s1]
            blas_gemm(transA, transB, M, s1 - s0, K, alpha, A, lda, transB ? B + std::size_t(s0) * ldb : B + s0, ldb,
                      beta, C + s0, ldc);
        else  // C[s0:s1, :] = op(A)[s0:s1, :] @ op(B)
            blas_gemm(transA, transB, s1 - s0, N, K, alpha, transA ? A + s0 : A + std::size_t(s0) * lda, lda, B,
                      ldb, beta, C + std::size_t(s0) * ldc, ldc);
    }
}

template void gemm<float>(bool, bool, int, int, int, float, const float*, int, const float*, int, float, float*, int);
template void gemm<double>(bool, bool, int, int, int, double, const double*, int, const double*, int, double, double*,
                           int);

void blas_set_num_threads(int n) { scipy_openblas_set_num_threads(n); }
int blas_get_num_threads() { return scipy_openblas_get_num_threads(); }

}  // namespace fastnn
