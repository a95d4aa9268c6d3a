// fastnn engine: the matrix products. blas.cpp is the only file that includes cblas.h.
//
// All matrices row-major. gemm computes C = alpha * op(A) @ op(B) + beta * C with
// op(A) (M, K), op(B) (K, N), C (M, N); lda/ldb/ldc are the row strides of the stored matrices.
#pragma once

#include <cstddef>

namespace fastnn {

template <class T>
void gemm(bool transA, bool transB, int M, int N, int K, T alpha, const T* A, int lda, const T* B, int ldb,
          T beta, T* C, int ldc);

void blas_set_num_threads(int n);
int blas_get_num_threads();

}  // namespace fastnn
