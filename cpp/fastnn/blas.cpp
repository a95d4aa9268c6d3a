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

void blas_set_num_threads(int n) { scipy_openblas_set_num_threads(n); }
int blas_get_num_threads() { return scipy_openblas_get_num_threads(); }

}  // namespace fastnn
