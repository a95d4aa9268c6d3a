// fastnn engine: the feature-major path for small networks (every layer at most kSmallWidth wide).
//
// For layers of a few units, a GEMM per layer costs more in call and packing overhead than the arithmetic, and
// row-major loops run over the few units of a row. Here a batch is held transposed: X^T (n_in, m), Z^T (n_out, m),
// so every loop runs over the m samples of a batch, contiguous, and vectorizes.
//
// fm_dense_forward:  Zt (n_out, m) = W^T (n_out, n_in) @ Xt (n_in, m) + b;  W is the usual (n_in, n_out) kernel
// fm_dense_backward: dW (n_in, n_out) = Xt @ dZt^T;  db = row sums of dZt;  dXt (n_in, m) = W @ dZt (if dXt)
// fm_loss: the reduced loss and its gradient for targets Yt (n_out, m) (or (1, m) class indices), see losses.hpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

#include "activations.hpp"
#include "common.hpp"
#include "losses.hpp"
#include "vmath.hpp"

namespace fastnn {

constexpr idx kSmallWidth = 64;

// dst (cols, rows) = src (rows, cols)^T
template <class T>
void transpose(T* dst, const T* src, idx rows, idx cols) {
    for (idx r = 0; r < rows; ++r)
        for (idx c = 0; c < cols; ++c) dst[c * rows + r] = src[r * cols + c];
}

template <class T>
void fm_dense_forward(T* Zt, const T* Xt, const T* W, const T* b, idx m, idx n_in, idx n_out) {
    // Blocks of kJ samples accumulate in registers over all inputs k, so each z row is written once.
    constexpr idx kJ = 64;
    for (idx c = 0; c < n_out; ++c) {
        T* z = Zt + c * m;
        const T bc = b ? b[c] : T(0);
        idx j0 = 0;
        for (; j0 + kJ <= m; j0 += kJ) {
            T acc[kJ];
#pragma omp simd
            for (idx j = 0; j < kJ; ++j) acc[j] = bc;
            for (idx k = 0; k < n_in; ++k) {
                const T w = W[k * n_out + c];
                const T* x = Xt + k * m + j0;
#pragma omp simd
                for (idx j = 0; j < kJ; ++j) acc[j] += w * x[j];
            }
#pragma omp simd
            for (idx j = 0; j < kJ; ++j) z[j0 + j] = acc[j];
        }
        if (j0 == m) continue;
#pragma omp simd
        for (idx j = j0; j < m; ++j) z[j] = bc;
        for (idx k = 0; k < n_in; ++k) {
            const T w = W[k * n_out + c];
            const T* x = Xt + k * m;
#pragma omp simd
            for (idx j = j0; j < m; ++j) z[j] += w * x[j];
        }
    }
}

template <class T>
void fm_dense_backward(T* dXt, T* dW, T* db, const T* dZt, const T* Xt, const T* W, idx m, idx n_in, idx n_out) {
    for (idx k = 0; k < n_in; ++k) {
        const T* x = Xt + k * m;
        for (idx c = 0; c < n_out; ++c) {
            const T* d = dZt + c * m;
            T s = 0;
#pragma omp simd reduction(+ : s)
            for (idx j = 0; j < m; ++j) s += x[j] * d[j];
            dW[k * n_out + c] = s;
        }
    }
    if (db)
        for (idx c = 0; c < n_out; ++c) {
            const T* d = dZt + c * m;
            T s = 0;
#pragma omp simd reduction(+ : s)
            for (idx j = 0; j < m; ++j) s += d[j];
            db[c] = s;
        }
    if (!dXt) return;
    for (idx k = 0; k < n_in; ++k) {
        T* out = dXt + k * m;
#pragma omp simd
        for (idx j = 0; j < m; ++j) out[j] = T(0);
        for (idx c = 0; c < n_out; ++c) {
            const T w = W[k * n_out + c];
            const T* d = dZt + c * m;
#pragma omp simd
            for (idx j = 0; j < m; ++j) out[j] += w * d[j];
        }
    }
}

// Scratch for the feature-major path (and the training calls of any op), sized for `cap` samples and rows of width
// up to `width`: made with the training workspace, so the step loop allocates nothing.
template <class T>
struct FmScratch {
    std::vector<T> rows_a, rows_b;  // (cap, width) row-major copies for softmax and fallbacks
    std::vector<T> s0, s1, s2;      // per-sample accumulators
    std::vector<double> acc;        // (2, width) per-feature double sums of the normalization ops' training calls
    void ensure(idx cap, idx width) {
        acc.resize(2 * std::size_t(width));
        rows_a.resize(std::size_t(cap * width));
        rows_b.resize(std::size_t(cap * width));
        s0.resize(std::size_t(cap));
        s1.resize(std::size_t(cap));
        s2.resize(std::size_t(cap));
    }
};

// Activation forward/backward on feature-major (n, m) data: elementwise ones directly, softmax through a
// row-major copy (softmax runs over the units of each sample).
template <class T>
void fm_act_forward(Act act, T* At, const T* Zt, idx m, idx n, FmScratch<T>& s) {
    if (act != Act::Softmax) {
        act_forward(act, At, Zt, 1, n * m);
        return;
    }
    transpose(s.rows_a.data(), Zt, n, m);
    softmax_rows(s.rows_a.data(), s.rows_a.data(), m, n);
    transpose(At, s.rows_a.data(), m, n);
}

template <class T>
void fm_act_backward(Act act, T* dZt, const T* Zt, const T* At, const T* dAt, idx m, idx n, FmScratch<T>& s) {
    if (act != Act::Softmax) {
        act_backward(act, dZt, Zt, At, dAt, 1, n * m);
        return;
    }
    transpose(s.rows_a.data(), At, n, m);
    transpose(s.rows_b.data(), dAt, n, m);
    act_backward(act, s.rows_b.data(), s.rows_a.data(), s.rows_a.data(), s.rows_b.data(), m, n);
    transpose(dZt, s.rows_b.data(), m, n);
}

// Sigmoid + binary cross-entropy fused, from the logits Zt and the sigmoid outputs At of the forward pass:
// L = max(z, 0) - z y + log(1 + exp(-|z|)), where log(1 + exp(-|z|)) = -log(a) for z >= 0 and -log(1 - a)
// otherwise (each argument in [1/2, 1], so no precision is lost); dL/dz = a - y. No exp and no division.
template <class T>
double fm_bce_fused(const T* Yt, const T* Zt, const T* At, const T* w, T* dZt, idx m, idx k, T scale,
                    FmScratch<T>& s);

// sum_j w_j acc_j in double (w null: all ones).
template <class T>
double weighted_sum(const T* acc, const T* w, idx m) {
    double total = 0;
    if (w) {
#pragma omp simd reduction(+ : total)
        for (idx j = 0; j < m; ++j) total += double(w[j]) * double(acc[j]);
    } else {
#pragma omp simd reduction(+ : total)
        for (idx j = 0; j < m; ++j) total += double(acc[j]);
    }
    return total;
}

// sum_j w_j L_j for feature-major predictions Pt (k, m) (logits when spec.logits) and targets Yt (k, m), or (1, m)
// class indices for SparseCCE; dPt = scale * w_j * dL_j/dP when not null. Same definitions as loss_rows: the
// elementwise losses share with_elementwise; categorical cross-entropy from logits has its own column loops; the
// other row losses run loss_rows on a transposed copy of Pt and on Yrows (m, k), the same targets row-major (so
// nothing is allocated per batch).
template <class T>
double fm_loss(const LossSpec& spec, const T* Yt, const T* Yrows, const T* Pt, const T* w, T* dPt, idx m, idx k,
               T scale, FmScratch<T>& s) {
    const bool ce = spec.kind == Loss::CCE || spec.kind == Loss::SparseCCE;
    T* acc = s.s0.data();
    std::fill(acc, acc + m, T(0));
    if (ce && spec.logits) {  // L_j = sum(t) lse_j - sum(t z), t = y (1 - ls) + ls / k
        const bool sparse = spec.kind == Loss::SparseCCE;
        if (sparse)
            for (idx j = 0; j < m; ++j) sparse_label(Yt, j, k);
        const T a = T(1 - spec.smoothing), b = T(spec.smoothing / double(k));
        T* mx = s.s1.data();
        T* sum = s.s2.data();
        std::copy(Pt, Pt + m, mx);
        for (idx c = 1; c < k; ++c)
#pragma omp simd
            for (idx j = 0; j < m; ++j) mx[j] = std::max(mx[j], Pt[c * m + j]);
        std::fill(sum, sum + m, T(0));
        for (idx c = 0; c < k; ++c)
#pragma omp simd
            for (idx j = 0; j < m; ++j) sum[j] += vexp(Pt[c * m + j] - mx[j]);
        for (idx j = 0; j < m; ++j) mx[j] += vlog(sum[j]);  // mx now holds lse
        T* ysum = sum;
        std::fill(ysum, ysum + m, sparse ? T(1) : T(0));
        if (!sparse) {
            for (idx c = 0; c < k; ++c)
#pragma omp simd
                for (idx j = 0; j < m; ++j) ysum[j] += Yt[c * m + j];
#pragma omp simd
            for (idx j = 0; j < m; ++j) ysum[j] = ysum[j] * a + T(k) * b;
        }
        for (idx c = 0; c < k; ++c) {
            const T* p = Pt + c * m;
#pragma omp simd
            for (idx j = 0; j < m; ++j) {
                const T y = (sparse ? T(Yt[j] == T(c)) : Yt[c * m + j]) * a + b;
                acc[j] += (y == T(0)) ? T(0) : y * (mx[j] - p[j]);
                if (dPt) dPt[c * m + j] = scale * (w ? w[j] : T(1)) * (vexp(p[j] - mx[j]) * ysum[j] - y);
            }
        }
        return weighted_sum(acc, w, m);
    }
    const bool hinge01 =
        (spec.kind == Loss::Hinge || spec.kind == Loss::SquaredHinge) && labels_are_binary01(Yt, m * k);
    double total = 0;
    const bool elementwise = with_elementwise<T>(spec, hinge01, [&](auto f, bool mean) {
        const T inv = mean ? T(1) / T(k) : T(1);
        for (idx c = 0; c < k; ++c) {
            const T* p = Pt + c * m;
            const T* y = Yt + c * m;
            T* d = dPt ? dPt + c * m : nullptr;
            if (d) {
#pragma omp simd
                for (idx j = 0; j < m; ++j) {
                    T dl;
                    acc[j] += f(p[j], y[j], &dl);
                    d[j] = scale * (w ? w[j] : T(1)) * inv * dl;
                }
            } else {
#pragma omp simd
                for (idx j = 0; j < m; ++j) {
                    T dl;
                    acc[j] += f(p[j], y[j], &dl);
                }
            }
        }
        total = weighted_sum(acc, w, m) * double(inv);
    });
    if (elementwise) return total;
    // Row losses (probabilities into categorical cross-entropy, categorical hinge, cosine similarity): the
    // row-major code on transposed copies.
    transpose(s.rows_a.data(), Pt, k, m);
    const T* y = spec.kind != Loss::SparseCCE ? Yrows : Yt;  // (class indices: (1, m) and (m, 1) are the same memory)
    total = loss_rows(spec, y, s.rows_a.data(), w, dPt ? s.rows_b.data() : nullptr, m, k, scale);
    if (dPt) transpose(dPt, s.rows_b.data(), m, k);
    return total;
}

template <class T>
double fm_bce_fused(const T* Yt, const T* Zt, const T* At, const T* w, T* dZt, idx m, idx k, T scale,
                    FmScratch<T>& s) {
    T* acc = s.s0.data();
    std::fill(acc, acc + m, T(0));
    const T g0 = scale / T(k);
    for (idx c = 0; c < k; ++c) {
        const T* z = Zt + c * m;
        const T* a = At + c * m;
        const T* y = Yt + c * m;
        T* d = dZt ? dZt + c * m : nullptr;
#pragma omp simd
        for (idx j = 0; j < m; ++j) {
            const T zj = z[j], aj = a[j];
            const T nl = vlog(zj >= T(0) ? aj : T(1) - aj);
            acc[j] += std::max(zj, T(0)) - zj * y[j] - nl;
        }
        if (d) {
            if (w) {
#pragma omp simd
                for (idx j = 0; j < m; ++j) d[j] = g0 * w[j] * (a[j] - y[j]);
            } else {
#pragma omp simd
                for (idx j = 0; j < m; ++j) d[j] = g0 * (a[j] - y[j]);
            }
        }
    }
    return weighted_sum(acc, w, m) / double(k);
}

}  // namespace fastnn
