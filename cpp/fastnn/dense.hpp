// fastnn engine: the Dense kernels, one GEMM each around fused bias and activation loops.
//
// dense_forward:  Z (m, n_out) = in (m, n_in) @ W (n_in, n_out) + b (n_out,);  A = act(Z)   (A may be Z)
// dense_backward: from dz (m, n_out):  dW (n_in, n_out) = in^T @ dz;  db (n_out,) = sum over rows of dz;
//                 din (m, n_in) = dz @ W^T  (skipped when din is null: the first layer needs no input gradient)
// Small products (m * n_in * n_out below kDirectMaxMacs) use direct loops: for them the BLAS call and thread
// wake-up cost more than the arithmetic.
#pragma once

#include <algorithm>
#include <cstring>

#include "activations.hpp"
#include "blas.hpp"
#include "common.hpp"
#include "threads.hpp"

namespace fastnn {

constexpr double kDirectMaxMacs = 65536;

// z (n_out,) = x (n_in,) @ W (n_in, n_out), for one sample (prediction latency). Threads take balanced column ranges
// (whole vectors), so each core streams its own part of W and keeps it in its L2 across calls. Within a range the
// columns go in blocks of four 64-byte vectors held in registers while k runs over all rows (W read once, in
// 256-byte pieces), then single vectors, then the last columns. Every z[c] sums over k in order: the same at any
// thread count.
template <class T>
void row_times_matrix(T* z, const T* x, const T* W, idx n_in, idx n_out) {
    typedef T V __attribute__((vector_size(64)));
    constexpr idx L = idx(64 / sizeof(T));  // lanes per vector
    const int parts = n_in * n_out >= kParallelMinMacs ? get_num_threads() : 1;
    const idx vecs = (n_out + L - 1) / L, per = (vecs + parts - 1) / parts;
    FASTNN_PARALLEL_FOR_ABOVE(parts, 2)
    for (int p = 0; p < parts; ++p) {
        const idx c_begin = std::min(n_out, p * per * L), c_end = std::min(n_out, (p + 1) * per * L);
        idx c0 = c_begin;
        for (; c0 + 4 * L <= c_end; c0 += 4 * L) {
            V a0 = {}, a1 = {}, a2 = {}, a3 = {};
            for (idx k = 0; k < n_in; ++k) {
                const T* wk = W + k * n_out + c0;
                V w0, w1, w2, w3;
                std::memcpy(&w0, wk, sizeof(V));
                std::memcpy(&w1, wk + L, sizeof(V));
                std::memcpy(&w2, wk + 2 * L, sizeof(V));
                std::memcpy(&w3, wk + 3 * L, sizeof(V));
                const T xk = x[k];
                a0 += xk * w0;
                a1 += xk * w1;
                a2 += xk * w2;
                a3 += xk * w3;
            }
            std::memcpy(z + c0, &a0, sizeof(V));
            std::memcpy(z + c0 + L, &a1, sizeof(V));
            std::memcpy(z + c0 + 2 * L, &a2, sizeof(V));
            std::memcpy(z + c0 + 3 * L, &a3, sizeof(V));
        }
        for (; c0 + L <= c_end; c0 += L) {
            V a = {};
            for (idx k = 0; k < n_in; ++k) {
                V w;
                std::memcpy(&w, W + k * n_out + c0, sizeof(V));
                a += x[k] * w;
            }
            std::memcpy(z + c0, &a, sizeof(V));
        }
        if (c0 < c_end) {  // fewer than a vector of columns left
            std::fill(z + c0, z + c_end, T(0));
            for (idx k = 0; k < n_in; ++k) {
                const T xk = x[k];
                const T* wk = W + k * n_out;
                for (idx c = c0; c < c_end; ++c) z[c] += xk * wk[c];
            }
        }
    }
}

template <class T>
void dense_forward(T* Z, T* A, const T* in, const T* W, const T* b, Act act, idx m, idx n_in, idx n_out) {
    if (double(m) * double(n_in) * double(n_out) <= kDirectMaxMacs) {
        for (idx r = 0; r < m; ++r) {
            T* zr = Z + r * n_out;
            const T* xr = in + r * n_in;
            if (b) std::copy(b, b + n_out, zr);
            else std::fill(zr, zr + n_out, T(0));
            for (idx k = 0; k < n_in; ++k) {
                const T xk = xr[k];
                const T* wk = W + k * n_out;
                for (idx c = 0; c < n_out; ++c) zr[c] += xk * wk[c];
            }
        }
        act_forward(act, A, Z, m, n_out);
        return;
    }
    if (m == 1)
        row_times_matrix(Z, in, W, n_in, n_out);
    else
        gemm<T>(false, false, int(m), int(n_out), int(n_in), T(1), in, int(n_in), W, int(n_out), T(0), Z, int(n_out));
    // Bias and activation in one pass over each row while it is in cache.
    FASTNN_PARALLEL_FOR(m * n_out)
    for (idx r = 0; r < m; ++r) {
        T* zr = Z + r * n_out;
        if (b)
            for (idx c = 0; c < n_out; ++c) zr[c] += b[c];
        act_forward(act, A + r * n_out, zr, 1, n_out);
    }
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
