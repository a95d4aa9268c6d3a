// fastnn engine: the matrix products (gemm), computed by the engine's own packed, register-blocked kernels.
//
// Why not OpenBLAS: on this project's machines OPENBLAS_CORETYPE=Haswell is set (older OpenBLAS builds compute
// wrong results on these CPUs), which selects OpenBLAS's AVX2 kernels. Those kernels round the last tile of a
// call differently from the same tile inside a larger call, so splitting a product across threads changed the
// results (measured: every column or row split of 64x128x784 differs by up to 4e-5), and they leave AVX-512
// unused. The kernels here are the classic Goto/BLIS scheme:
//   for each block of KC rows of op(B) and NC of its columns: pack that block of op(B) into panels of NR columns
//   (k-major); for each block of MC rows of op(A): pack its KC columns into slivers of MR rows (k-major), then for
//   each sliver and panel the micro-kernel keeps an MR x NR tile of C in registers (MR x NV vectors) over k.
// Every C element is one running sum over k = 0, 1, ..., K-1 in order (a KC block starts from the value the
// previous block stored), whatever the split, the block sizes or the thread count: results are bitwise the same at
// any thread count. Threads split C into column ranges (multiples of one vector) or row ranges (multiples of MR),
// whichever pads less; each thread packs its own operands.
// Vector width: 64 bytes with AVX-512 (MR 8, 24 accumulators), else 32 bytes (AVX) or 16 bytes (MR 4).
// OpenBLAS (scipy-openblas32 wheel, symbols prefixed scipy_) stays linked for its thread setting only: the engine
// keeps it single-threaded (threads.cpp).
#include "blas.hpp"

#include <algorithm>
#include <type_traits>
#include <cblas.h>
#include <cstdint>
#include <cstring>
#include <vector>

#include "activations.hpp"
#include "bf16.hpp"
#include "common.hpp"
#include "threads.hpp"

namespace fastnn {

namespace {

#if defined(__AVX512F__)
constexpr int kVecBytes = 64;
constexpr int kMR = 8;
#elif defined(__AVX__)
constexpr int kVecBytes = 32;
constexpr int kMR = 4;
#else
constexpr int kVecBytes = 16;
constexpr int kMR = 4;
#endif
constexpr int kNV = 3;     // vectors per row of a full panel
constexpr int kKC = 256;   // rows of op(B) per packed block (an A sliver of MR x KC stays in L1)
constexpr int kNC = 512;   // columns per packed block of op(B) (KC x NC stays in L2)
constexpr int kMC = 256;   // rows per packed block of op(A) (bounds the packing buffer)

template <class T>
constexpr int lanes() { return kVecBytes / int(sizeof(T)); }

// A buffer aligned to 64 bytes, grown on demand and kept per thread.
template <class T>
T* scratch(std::vector<T>& v, std::size_t n) {
    if (v.size() < n + 64 / sizeof(T)) v.resize(n + 64 / sizeof(T));
    const std::size_t mis = (reinterpret_cast<std::uintptr_t>(v.data()) % 64) / sizeof(T);
    return v.data() + (mis ? 64 / sizeof(T) - mis : 0);
}

// C (mr, nr) [row stride ldc] = (acc ? C : 0) + Ap (kc, MR) @ Bp (kc, NV * L); mr <= MR, nr <= NV * L.
// Ap and Bp are packed k-major (MR values, then NV * L values, per k), zero-padded past mr / nr.
template <class T, int NV>
void micro_kernel(T* C, idx ldc, const T* Ap, const T* Bp, int kc, int mr, int nr, bool acc) {
    typedef T V __attribute__((vector_size(kVecBytes)));
    constexpr int L = lanes<T>(), NR = NV * L;
    const bool full = mr == kMR && nr == NR;
    alignas(64) T tile[kMR * NR];  // a partial tile goes through here
    T* src = C;
    idx ld = ldc;
    if (!full) {
        src = tile;
        ld = NR;
        if (acc) {
            std::fill(tile, tile + kMR * NR, T(0));
            for (int r = 0; r < mr; ++r) std::copy(C + r * ldc, C + r * ldc + nr, tile + r * NR);
        }
    }
    V c[kMR][NV];
#pragma GCC unroll 8
    for (int r = 0; r < kMR; ++r)
#pragma GCC unroll 3
        for (int v = 0; v < NV; ++v) {
            if (acc) std::memcpy(&c[r][v], src + r * ld + v * L, sizeof(V));
            else c[r][v] = V{};
        }
    for (int k = 0; k < kc; ++k) {
        V b[NV];
#pragma GCC unroll 3
        for (int v = 0; v < NV; ++v) std::memcpy(&b[v], Bp + k * NR + v * L, sizeof(V));
        const T* a = Ap + k * kMR;
#pragma GCC unroll 8
        for (int r = 0; r < kMR; ++r)
#pragma GCC unroll 3
            for (int v = 0; v < NV; ++v) c[r][v] += a[r] * b[v];
    }
    T* dst = full ? C : tile;
#pragma GCC unroll 8
    for (int r = 0; r < kMR; ++r)
#pragma GCC unroll 3
        for (int v = 0; v < NV; ++v) std::memcpy(dst + r * ld + v * L, &c[r][v], sizeof(V));
    if (!full)
        for (int r = 0; r < mr; ++r) std::copy(tile + r * NR, tile + r * NR + nr, C + r * ldc);
}

template <class T>
void micro_dispatch(int nv, T* C, idx ldc, const T* Ap, const T* Bp, int kc, int mr, int nr, bool acc) {
    if (nv == 3) micro_kernel<T, 3>(C, ldc, Ap, Bp, kc, mr, nr, acc);
    else if (nv == 2) micro_kernel<T, 2>(C, ldc, Ap, Bp, kc, mr, nr, acc);
    else micro_kernel<T, 1>(C, ldc, Ap, Bp, kc, mr, nr, acc);
}

// The epilogue (blas.hpp) on C[r0:r0+rows, c0:c0+cols].
template <class T>
void apply_epilogue(const Epilogue<T>* ep, T* C, idx ldc, int r0, int rows, int c0, int cols) {
    if (!ep) return;
    for (int r = r0; r < r0 + rows; ++r) {
        T* z = C + r * ldc + c0;
        if (ep->bias)
            for (int c = 0; c < cols; ++c) z[c] += ep->bias[c0 + c];
        act_forward(ep->act, ep->out + r * ldc + c0, z, 1, cols);
    }
}

// C[i0:i1, j0:j1] = op(A)[i0:i1, :] @ op(B)[:, j0:j1], one thread; the epilogue (if any) on each tile as it is
// finished.
template <class T>
void gemm_block(bool transA, bool transB, int K, const T* A, idx lda, const T* B, idx ldb, T* C, idx ldc, int i0,
                int i1, int j0, int j1, const Epilogue<T>* ep) {
    constexpr int L = lanes<T>(), NR = kNV * L;
    thread_local std::vector<T> abuf, bbuf;
    if (K == 0) {
        for (int i = i0; i < i1; ++i) std::fill(C + i * ldc + j0, C + i * ldc + j1, T(0));
        apply_epilogue(ep, C, ldc, i0, i1 - i0, j0, j1 - j0);
        return;
    }
    T* Ap = scratch(abuf, std::size_t(kMC) * kKC);
    T* Bp = scratch(bbuf, std::size_t(kNC + NR) * kKC);
    for (int jc = j0; jc < j1; jc += kNC) {
        const int nc = std::min(kNC, j1 - jc);
        const int panels = (nc + NR - 1) / NR;
        for (int pc = 0; pc < K; pc += kKC) {
            const int kc = std::min(kKC, K - pc);
            // Bp: panel p holds columns jc + p*NR .. (+w), k-major, w = NR or the last panel's whole vectors.
            for (int p = 0; p < panels; ++p) {
                const int c0 = jc + p * NR, nr = std::min(NR, jc + nc - c0);
                const int w = (nr + L - 1) / L * L;
                T* bp = Bp + std::size_t(p) * NR * kc;
                if (!transB) {  // op(B)[k][j] = B[k * ldb + j]
                    for (int k = 0; k < kc; ++k) {
                        const T* src = B + (pc + k) * ldb + c0;
                        std::copy(src, src + nr, bp + k * w);
                        std::fill(bp + k * w + nr, bp + k * w + w, T(0));
                    }
                } else {  // op(B)[k][j] = B[j * ldb + k]
                    for (int c = 0; c < nr; ++c) {
                        const T* src = B + (c0 + c) * ldb + pc;
                        for (int k = 0; k < kc; ++k) bp[k * w + c] = src[k];
                    }
                    for (int k = 0; k < kc; ++k) std::fill(bp + k * w + nr, bp + k * w + w, T(0));
                }
            }
            for (int ic = i0; ic < i1; ic += kMC) {
                const int ic1 = std::min(i1, ic + kMC), slivers = (ic1 - ic + kMR - 1) / kMR;
                // Ap: sliver s holds rows ic + s*MR .. (+MR), k-major, zero rows past ic1.
                for (int s = 0; s < slivers; ++s) {
                    const int r0 = ic + s * kMR, mr = std::min(kMR, ic1 - r0);
                    T* ap = Ap + std::size_t(s) * kMR * kc;
                    if (!transA) {  // op(A)[i][k] = A[i * lda + k]
                        for (int r = 0; r < mr; ++r) {
                            const T* src = A + (r0 + r) * lda + pc;
                            for (int k = 0; k < kc; ++k) ap[k * kMR + r] = src[k];
                        }
                    } else if (mr == kMR) {  // op(A)[i][k] = A[k * lda + i]: one fixed-size copy per k
                        for (int k = 0; k < kc; ++k) std::memcpy(ap + k * kMR, A + (pc + k) * lda + r0, sizeof(T) * kMR);
                    } else {
                        for (int k = 0; k < kc; ++k) {
                            const T* src = A + (pc + k) * lda + r0;
                            std::copy(src, src + mr, ap + k * kMR);
                        }
                    }
                    for (int r = mr; r < kMR; ++r)
                        for (int k = 0; k < kc; ++k) ap[k * kMR + r] = T(0);
                }
                for (int s = 0; s < slivers; ++s) {
                    const int r0 = ic + s * kMR, mr = std::min(kMR, ic1 - r0);
                    const T* ap = Ap + std::size_t(s) * kMR * kc;
                    for (int p = 0; p < panels; ++p) {
                        const int c0 = jc + p * NR, nr = std::min(NR, jc + nc - c0);
                        micro_dispatch((nr + L - 1) / L, C + r0 * ldc + c0, ldc, ap, Bp + std::size_t(p) * NR * kc,
                                       kc, mr, nr, pc > 0);
                        if (pc + kc == K) apply_epilogue(ep, C, ldc, r0, mr, c0, nr);
                    }
                }
            }
        }
    }
}

// Padded work of a split into `parts` ranges of `len` at multiples of `unit`: (largest range rounded up) and the
// range length used.
int range_chunk(int len, int parts, int unit) { return ((len + parts - 1) / parts + unit - 1) / unit * unit; }

int round_up(int n, int unit) { return (n + unit - 1) / unit * unit; }


// C = op(A) @ op(B) over the engine's threads, then the epilogue (if any).
template <class T>
void gemm_impl(bool transA, bool transB, int M, int N, int K, const T* A, int lda, const T* B, int ldb, T* C,
               int ldc, const Epilogue<T>* ep) {
    if (M <= 0 || N <= 0) return;
    const double work = double(M) * double(N) * double(K);
    // Under the mixed_bfloat16 policy (bf16.hpp) the large float32 products run in bfloat16; the epilogue follows
    // as a pass over C.
    if constexpr (std::is_same_v<T, float>) {
        if (compute_bf16() && work >= double(kParallelMinMacs)) {
            gemm_bf16(transA, transB, M, N, K, A, lda, B, ldb, C, ldc);
            if (ep) {
                FASTNN_PARALLEL_FOR(idx(M) * N)
                for (int r = 0; r < M; ++r) apply_epilogue(ep, C, ldc, r, 1, 0, N);
            }
            return;
        }
    }
    constexpr int L = lanes<T>();
    const int T_ = get_num_threads();
    int parts = 1;
    bool by_cols = true;
    if (T_ > 1 && work >= double(kParallelMinMacs) * 4) {
        // The split that pads least: columns at whole vectors, or rows at whole slivers.
        const double cols_cost = double(round_up(M, kMR)) * std::min(round_up(N, L), range_chunk(N, T_, L));
        const double rows_cost = double(std::min(round_up(M, kMR), range_chunk(M, T_, kMR))) * round_up(N, L);
        by_cols = cols_cost <= rows_cost;
        parts = T_;
    }
    if (parts == 1) {
        gemm_block(transA, transB, K, A, lda, B, ldb, C, ldc, 0, M, 0, N, ep);
        return;
    }
    const int len = by_cols ? N : M;
    const int chunk = range_chunk(len, parts, by_cols ? L : kMR);
    FASTNN_PARALLEL_FOR_ABOVE(parts, 2)
    for (int p = 0; p < parts; ++p) {
        const int s0 = std::min(len, p * chunk), s1 = std::min(len, s0 + chunk);
        if (s1 <= s0) continue;
        if (by_cols) gemm_block(transA, transB, K, A, lda, B, ldb, C, ldc, 0, M, s0, s1, ep);
        else gemm_block(transA, transB, K, A, lda, B, ldb, C, ldc, s0, s1, 0, N, ep);
    }
}

}  // namespace

template <class T>
void gemm(bool transA, bool transB, int M, int N, int K, T alpha, const T* A, int lda, const T* B, int ldb, T beta,
          T* C, int ldc) {
    if (M <= 0 || N <= 0) return;
    if (alpha != T(1) || beta != T(0)) {  // not used by the engine; kept for completeness
        std::vector<T> tmp(std::size_t(M) * N);
        gemm_impl<T>(transA, transB, M, N, K, A, lda, B, ldb, tmp.data(), N, nullptr);
        for (int i = 0; i < M; ++i)
            for (int j = 0; j < N; ++j)
                C[idx(i) * ldc + j] = alpha * tmp[std::size_t(i) * N + j] + (beta == T(0) ? T(0) : beta * C[idx(i) * ldc + j]);
        return;
    }
    gemm_impl<T>(transA, transB, M, N, K, A, lda, B, ldb, C, ldc, nullptr);
}

template <class T>
void gemm(bool transA, bool transB, int M, int N, int K, const T* A, int lda, const T* B, int ldb, T* C, int ldc,
          const Epilogue<T>& ep) {
    gemm_impl<T>(transA, transB, M, N, K, A, lda, B, ldb, C, ldc, &ep);
}

template void gemm<float>(bool, bool, int, int, int, float, const float*, int, const float*, int, float, float*, int);
template void gemm<float>(bool, bool, int, int, int, const float*, int, const float*, int, float*, int,
                          const Epilogue<float>&);
template void gemm<double>(bool, bool, int, int, int, const double*, int, const double*, int, double*, int,
                           const Epilogue<double>&);
template void gemm<double>(bool, bool, int, int, int, double, const double*, int, const double*, int, double, double*,
                           int);

void blas_set_num_threads(int n) { scipy_openblas_set_num_threads(n); }
int blas_get_num_threads() { return scipy_openblas_get_num_threads(); }

}  // namespace fastnn
