// fastnn engine: OpenBLAS (scipy-openblas32 wheel, symbols prefixed scipy_) behind two gemm overloads.
#include "blas.hpp"

#include <cblas.h>

namespace fastnn {

template <>
void gemm<float>(bool transA, bool transB, int M, int N, int K, float alpha, const float* A, int lda,
                 const float* B, int ldb, float beta, float* C, int ldc) {
    scipy_cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans, M, N,
                      K, alpha, A, lda, B, ldb, beta, C, ldc);
}

template <>
void gemm<double>(bool transA, bool transB, int M, int N, int K, double alpha, const double* A, int lda,
                  const double* B, int ldb, double beta, double* C, int ldc) {
    scipy_cblas_dgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans, M, N,
                      K, alpha, A, lda, B, ldb, beta, C, ldc);
}

template <>
void gemv_row<float>(int K, int N, const float* x, const float* B, float* y) {
    scipy_cblas_sgemv(CblasRowMajor, CblasTrans, K, N, 1.0f, B, N, x, 1, 0.0f, y, 1);
}

template <>
void gemv_row<double>(int K, int N, const double* x, const double* B, double* y) {
    scipy_cblas_dgemv(CblasRowMajor, CblasTrans, K, N, 1.0, B, N, x, 1, 0.0, y, 1);
}

void blas_set_num_threads(int n) { scipy_openblas_set_num_threads(n); }
int blas_get_num_threads() { return scipy_openblas_get_num_threads(); }

}  // namespace fastnn
