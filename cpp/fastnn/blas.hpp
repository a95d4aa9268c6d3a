// fastnn engine: the matrix products. blas.cpp is the only file that includes cblas.h.
//
// All matrices row-major. gemm computes C = alpha * op(A) @ op(B) + beta * C with
// op(A) (M, K), op(B) (K, N), C (M, N); lda/ldb/ldc are the row strides of the stored matrices.
#pragma once

#include <cstddef>

#include "common.hpp"

namespace fastnn {

template <class T>
void gemm(bool transA, bool transB, int M, int N, int K, T alpha, const T* A, int lda, const T* B, int ldb,
          T beta, T* C, int ldc);

// A Dense layer's epilogue, applied to each finished tile of C while the tile is still in cache:
// C[r][c] += bias[c] (when bias is not null), then out[r][c] = act(C[r][c]) (out has C's shape and row stride and
// may be C). The activation must be elementwise (not Softmax). The result is the same as a pass over C after the
// product: the same operations in the same order on each element.
template <class T>
struct Epilogue {
    const T* bias = nullptr;
    Act act = Act::Linear;
    T* out = nullptr;
};

// C = op(A) @ op(B), then the epilogue.
template <class T>
void gemm(bool transA, bool transB, int M, int N, int K, const T* A, int lda, const T* B, int ldb, T* C, int ldc,
          const Epilogue<T>& ep);

void blas_set_num_threads(int n);
int blas_get_num_threads();

}  // namespace fastnn
