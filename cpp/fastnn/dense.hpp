// fastnn engine: the Dense kernels, one GEMM each around fused bias and activation loops.
//
// dense_forward:  Z (m, n_out) = in (m, n_in) @ W (n_in, n_out) + b (n_out,);  A = act(Z)   (A may be Z)
// dense_backward: from dz (m, n_out):  dW (n_in, n_out) = in^T @ dz;  db (n_out,) = sum over rows of dz;
//                 din (m, n_in) = dz @ W^T  (skipped when din is null: the first layer needs no input gradient)
// Small products (m * n_in * n_out below kDirectMaxMacs) use direct loops: for them the BLAS call and thread
// wake-up cost more than the arithmetic. Every path sums each output over k in order, then adds the bias.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "activations.hpp"
#include "bf16.hpp"
#include "blas.hpp"
#include "common.hpp"
#include "threads.hpp"

namespace fastnn {

constexpr double kDirectMaxMacs = 65536;

// z (n_out,) = x (n_in,) @ W (n_in, n_out), for one sample (prediction latency). Threads take balanced column ranges
// (whole vectors), so each core streams its own part of W and keeps it in its L2 across calls. Within a range the
// columns go in blocks of up to eight 64-byte vectors held in registers while k runs over all rows: eight
// independent sums keep both FMA pipes busy through their latency, and each row of the block is one contiguous
// 512-byte read. The last vector of a range may be partial (masked loads with AVX-512). Every z[c] sums over k in
// order: the same at any thread count, and the same as the batched product (blas.cpp) gives.
namespace gemv_detail {
template <class T>
struct VecOf;  // (an alias template cannot carry vector_size: GCC drops it on a dependent type)
template <>
struct VecOf<float> {
    typedef float type __attribute__((vector_size(64)));
};
template <>
struct VecOf<double> {
    typedef double type __attribute__((vector_size(64)));
};
template <class T>
using Vec = typename VecOf<T>::type;
template <class T>
constexpr idx kLanes = idx(64 / sizeof(T));

// One vector of W's row at p, all lanes; load_part: the first `tail` (1..lanes-1), the rest zero.
template <class T>
inline Vec<T> load(const T* p) {
    Vec<T> v;
    std::memcpy(&v, p, sizeof(v));
    return v;
}
template <class T>
inline Vec<T> load_part(const T* p, int tail) {
    Vec<T> v;
#if defined(__AVX512F__)
    if constexpr (sizeof(T) == 4) {
        const __m512 m = _mm512_maskz_loadu_ps(__mmask16((1u << tail) - 1), p);
        std::memcpy(&v, &m, sizeof(v));
    } else {
        const __m512d m = _mm512_maskz_loadu_pd(__mmask8((1u << tail) - 1), p);
        std::memcpy(&v, &m, sizeof(v));
    }
#else
    v = Vec<T>{};
    std::memcpy(&v, p, std::size_t(tail) * sizeof(T));
#endif
    return v;
}

// z[c0 : c0 + NV * L - (Tail ? L - tail : 0)] for one block of NV vectors, the last one `tail` lanes wide when Tail.
// (The tail is a template argument so that the loop over k holds no branch and the sums stay in registers.)
template <class T, int NV, bool Tail>
void block(T* z, const T* x, const T* W, idx n_in, idx n_out, idx c0, int tail) {
    constexpr idx L = kLanes<T>;
    Vec<T> acc[NV] = {};
    for (idx k = 0; k < n_in; ++k) {
        const T* wk = W + k * n_out + c0;
        const T xk = x[k];
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) acc[v] += xk * (Tail && v == NV - 1 ? load_part(wk + v * L, tail) : load(wk + v * L));
    }
#pragma GCC unroll 8
    for (int v = 0; v < (Tail ? NV - 1 : NV); ++v) std::memcpy(z + c0 + v * L, &acc[v], sizeof(Vec<T>));
    if constexpr (Tail) {
        alignas(64) T last[L];
        std::memcpy(last, &acc[NV - 1], sizeof(Vec<T>));
        std::copy(last, last + tail, z + c0 + (NV - 1) * L);
    }
}

template <class T>
void block_dispatch(int nv, T* z, const T* x, const T* W, idx n_in, idx n_out, idx c0, int tail) {
#define FASTNN_GEMV_BLOCK(NV)                                                  \
    case NV:                                                                   \
        if (tail) block<T, NV, true>(z, x, W, n_in, n_out, c0, tail);          \
        else block<T, NV, false>(z, x, W, n_in, n_out, c0, 0);                 \
        break;
    switch (nv) {
        FASTNN_GEMV_BLOCK(8)
        FASTNN_GEMV_BLOCK(7)
        FASTNN_GEMV_BLOCK(6)
        FASTNN_GEMV_BLOCK(5)
        FASTNN_GEMV_BLOCK(4)
        FASTNN_GEMV_BLOCK(3)
        FASTNN_GEMV_BLOCK(2)
        default: FASTNN_GEMV_BLOCK(1)
    }
#undef FASTNN_GEMV_BLOCK
}
}  // namespace gemv_detail

// z[c_begin:c_end] of z = x @ W, one thread.
template <class T>
void row_times_columns(T* z, const T* x, const T* W, idx n_in, idx n_out, idx c_begin, idx c_end) {
    constexpr idx L = gemv_detail::kLanes<T>;
    constexpr idx kBlock = 8;  // vectors per block
    for (idx c0 = c_begin; c0 < c_end; c0 += kBlock * L) {
        const idx cols = std::min(kBlock * L, c_end - c0);
        gemv_detail::block_dispatch(int((cols + L - 1) / L), z, x, W, n_in, n_out, c0, int(cols % L));
    }
}

template <class T>
void row_times_matrix(T* z, const T* x, const T* W, idx n_in, idx n_out) {
    constexpr idx L = gemv_detail::kLanes<T>;
    const int parts = n_in * n_out >= kParallelMinMacs ? get_num_threads() : 1;
    const idx vecs = (n_out + L - 1) / L, per = (vecs + parts - 1) / parts;
    FASTNN_PARALLEL_FOR_ABOVE(parts, 2)
    for (int p = 0; p < parts; ++p)
        row_times_columns(z, x, W, n_in, n_out, std::min(n_out, p * per * L), std::min(n_out, (p + 1) * per * L));
}

template <class T>
void dense_forward(T* Z, T* A, const T* in, const T* W, const T* b, Act act, idx m, idx n_in, idx n_out) {
    if (double(m) * double(n_in) * double(n_out) <= kDirectMaxMacs) {
        // Row by row, each row's sums held in registers over k (a narrow layer's row is one vector).
        for (idx r = 0; r < m; ++r) row_times_columns(Z + r * n_out, in + r * n_in, W, n_in, n_out, 0, n_out);
    } else if (m == 1) {
        bool done = false;  // under the policy, from the network's bfloat16 copy (inference)
        if constexpr (std::is_same_v<T, float>)
            done = compute_bf16() && gemv_bf16(Z, in, W, std::size_t(n_in), std::size_t(n_out));
        if (!done) row_times_matrix(Z, in, W, n_in, n_out);
    } else {
        // The bias and an elementwise activation are the product's epilogue, applied to each tile of Z while it is
        // in cache; softmax needs whole rows and follows in a pass.
        Epilogue<T> ep;
        ep.bias = b;
        ep.act = act == Act::Softmax ? Act::Linear : act;
        ep.out = act == Act::Softmax ? Z : A;
        gemm<T>(false, false, int(m), int(n_out), int(n_in), in, int(n_in), W, int(n_out), Z, int(n_out), ep);
        if (act == Act::Softmax) act_forward(act, A, Z, m, n_out);
        return;
    }
    // Bias and activation of the rows made above (few: small products, or one sample).
    if (b)
        for (idx r = 0; r < m; ++r)
            for (idx c = 0; c < n_out; ++c) Z[r * n_out + c] += b[c];
    act_forward(act, A, Z, m, n_out);
}

template <class T>
void dense_backward(T* din, T* dW, T* db, const T* dz, const T* in, const T* W, idx m, idx n_in, idx n_out) {
    const bool direct = double(m) * double(n_in) * double(n_out) <= kDirectMaxMacs;
    if (direct) {
        std::fill(dW, dW + n_in * n_out, T(0));
        for (idx r = 0; r < m; ++r) {
            const T* xr = in + r * n_in;
            const T* dr = dz + r * n_out;
            for (idx k = 0; k < n_in; ++k) {
                const T xk = xr[k];
                T* dwk = dW + k * n_out;
                for (idx c = 0; c < n_out; ++c) dwk[c] += xk * dr[c];
            }
        }
    } else {
        gemm<T>(true, false, int(n_in), int(n_out), int(m), T(1), in, int(n_in), dz, int(n_out), T(0), dW, int(n_out));
    }
    if (db) {  // column sums, rows added in order (the same result at any thread count)
        constexpr idx kBlock = 64;
        FASTNN_PARALLEL_FOR(m * n_out)
        for (idx c0 = 0; c0 < n_out; c0 += kBlock) {
            const idx c1 = std::min(n_out, c0 + kBlock);
            std::fill(db + c0, db + c1, T(0));
            for (idx r = 0; r < m; ++r) {
                const T* dr = dz + r * n_out;
                for (idx c = c0; c < c1; ++c) db[c] += dr[c];
            }
        }
    }
    if (!din) return;
    if (direct) {
        for (idx r = 0; r < m; ++r) {
            const T* dr = dz + r * n_out;
            T* out = din + r * n_in;
            for (idx k = 0; k < n_in; ++k) {
                const T* wk = W + k * n_out;
                T s = 0;
                for (idx c = 0; c < n_out; ++c) s += dr[c] * wk[c];
                out[k] = s;
            }
        }
    } else {
        gemm<T>(false, true, int(m), int(n_in), int(n_out), T(1), dz, int(n_out), W, int(n_out), T(0), din, int(n_in));
    }
}

}  // namespace fastnn
