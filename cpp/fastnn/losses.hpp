// fastnn engine: losses with gradients (Keras 3 definitions, keras/src/losses/losses.py).
//
// loss_rows(spec, y, p, w, dp, rows, cols, scale) returns sum_i w_i L_i over the rows and, when dp is not null,
// writes dp = scale * w_i * dL_i/dp (scale is 1/N for Keras's "sum_over_batch_size" reduction).
//  y: (rows, cols) targets, or (rows, 1) class indices for sparse_categorical_crossentropy
//  p: (rows, cols) predictions, or logits when spec.logits (cross-entropies only)
//  w: (rows,) sample weights or null (all ones)
// Per-sample L_i is a mean over the output axis (mse, mae, huber, bce, hinges, log_cosh, poisson, mape, msle) or a
// sum (categorical ones, kl_divergence, cosine_similarity). Probabilities are clipped to [eps, 1 - eps],
// eps = 1e-7, on non-logit cross-entropy paths; the logit paths use log-sum-exp and softplus forms, finite for any
// finite logits. The per-element losses are written once (with_elementwise) and run by both training layouts:
// loss_rows here and fm_loss in small.hpp.
#pragma once

#include <algorithm>
#include <cmath>

#include "activations.hpp"
#include "common.hpp"
#include "vmath.hpp"

namespace fastnn {

constexpr double kProbEps = 1e-7;

// A loss and its arguments (Keras's constructor arguments that change the numbers).
struct LossSpec {
    Loss kind = Loss::MSE;
    bool logits = false;     // from_logits (cross-entropies)
    double delta = 1.0;      // Huber
    double smoothing = 0.0;  // label_smoothing (binary and categorical cross-entropy)
};

inline bool loss_is_crossentropy(Loss l) { return l == Loss::BCE || l == Loss::CCE || l == Loss::SparseCCE; }

// Checks a spec's arguments; throws invalid_argument naming the argument.
inline void loss_validate(const LossSpec& s) {
    if (s.logits && !loss_is_crossentropy(s.kind))
        fail("from_logits", std::string("False for loss '") + loss_name(s.kind) + "'", "True");
    if (!(std::isfinite(s.delta) && s.delta > 0)) fail("delta (Huber)", "a finite number > 0", std::to_string(s.delta));
    if (!(s.smoothing >= 0 && s.smoothing <= 1))
        fail("label_smoothing", "a number in [0, 1]", std::to_string(s.smoothing));
    if (s.smoothing > 0 && s.kind != Loss::BCE && s.kind != Loss::CCE)
        fail("label_smoothing", std::string("0 for loss '") + loss_name(s.kind) + "'", std::to_string(s.smoothing));
}

// Keras converts 0/1 labels to -1/1 for the hinge losses when every label of the batch is 0 or 1.
template <class T>
bool labels_are_binary01(const T* y, idx n) {
    for (idx i = 0; i < n; ++i)
        if (y[i] != T(0) && y[i] != T(1)) return false;
    return true;
}

template <class T>
idx sparse_label(const T* y, idx r, idx cols) {
    const T v = y[r];
    if (!(v >= T(0) && v < T(cols)) || v != std::floor(v))  // checked before any cast (NaN fails here too)
        fail("y (sparse class labels)", "integers in [0, " + std::to_string(cols) + ")",
             "the value " + std::to_string(static_cast<double>(v)) + " in row " + std::to_string(r));
    return static_cast<idx>(v);
}

template <class T>
T sign_of(T e) {
    return T((e > T(0)) - (e < T(0)));
}

// Calls run(f, mean) with the per-element loss f(p, y, &dl) -> l (dl = dl/dp) of an elementwise loss, where
// `mean` says Keras averages the elements over the output axis (else sums them); returns false for the losses
// that need a whole row (categorical ones, cosine similarity). hinge01: the batch's labels are all 0 or 1.
template <class T, class Run>
bool with_elementwise(const LossSpec& s, bool hinge01, Run&& run) {
    const T eps = T(kProbEps);
    switch (s.kind) {
        case Loss::MSE:  // (p - y)^2
            run([](T p, T y, T* dl) { const T e = p - y; *dl = T(2) * e; return e * e; }, true);
            return true;
        case Loss::MAE:  // |p - y|
            run([](T p, T y, T* dl) { const T e = p - y; *dl = sign_of(e); return std::fabs(e); }, true);
            return true;
        case Loss::Huber: {  // 0.5 e^2 if |e| <= delta else delta |e| - 0.5 delta^2
            const T d = T(s.delta), half_d2 = T(0.5 * s.delta * s.delta);
            run([d, half_d2](T p, T y, T* dl) {
                const T e = p - y, ae = std::fabs(e);
                *dl = ae <= d ? e : d * sign_of(e);
                return ae <= d ? T(0.5) * e * e : d * ae - half_d2;
            }, true);
            return true;
        }
        case Loss::BCE: {  // targets smoothed: t = y (1 - ls) + 0.5 ls
            const T a = T(1 - s.smoothing), b = T(0.5 * s.smoothing);
            if (s.logits)  // max(z,0) - z t + log(1 + exp(-|z|)); d = sigmoid(z) - t, with one exp
                run([a, b](T z, T y, T* dl) {
                    const T t = y * a + b;
                    const T e = vexp(-std::fabs(z));
                    const T r = T(1) / (T(1) + e);
                    *dl = (z >= T(0) ? r : e * r) - t;
                    return std::max(z, T(0)) - z * t + vlog1p(e);
                }, true);
            else  // -(t log q + (1 - t) log(1 - q)), q = clip(p, eps, 1 - eps)
                run([a, b, eps](T p, T y, T* dl) {
                    const T t = y * a + b;
                    const T q = std::min(std::max(p, eps), T(1) - eps);
                    *dl = (p > eps && p < T(1) - eps) ? -t / q + (T(1) - t) / (T(1) - q) : T(0);
                    return -(t * vlog(q) + (T(1) - t) * vlog(T(1) - q));
                }, true);
            return true;
        }
        case Loss::Hinge:
        case Loss::SquaredHinge: {  // m = max(1 - t p, 0); m or m^2
            const bool sq = s.kind == Loss::SquaredHinge;
            run([hinge01, sq](T p, T y, T* dl) {
                const T t = hinge01 ? T(2) * y - T(1) : y;
                const T mrg = std::max(T(1) - t * p, T(0));
                *dl = mrg > T(0) ? (sq ? T(-2) * mrg * t : -t) : T(0);
                return sq ? mrg * mrg : mrg;
            }, true);
            return true;
        }
        case Loss::LogCosh: {  // x + softplus(-2x) - log 2, x = p - y; d = tanh(x)
            const T log2 = T(std::log(2.0));
            run([log2](T p, T y, T* dl) {
                const T x = p - y, z = T(-2) * x;
                *dl = std::tanh(x);
                return x + std::max(z, T(0)) + vlog1p(vexp(-std::fabs(z))) - log2;
            }, true);
            return true;
        }
        case Loss::Poisson:  // p - y log(p + eps)
            run([eps](T p, T y, T* dl) {
                *dl = T(1) - y / (p + eps);
                return p - y * vlog(p + eps);
            }, true);
            return true;
        case Loss::MAPE:  // 100 |y - p| / max(|y|, eps)
            run([eps](T p, T y, T* dl) {
                const T den = std::max(std::fabs(y), eps);
                *dl = T(100) * sign_of(p - y) / den;
                return T(100) * std::fabs(y - p) / den;
            }, true);
            return true;
        case Loss::MSLE:  // (log(max(p, eps) + 1) - log(max(y, eps) + 1))^2
            run([eps](T p, T y, T* dl) {
                const T pc = std::max(p, eps);
                const T e = vlog(pc + T(1)) - vlog(std::max(y, eps) + T(1));
                *dl = p > eps ? T(2) * e / (pc + T(1)) : T(0);
                return e * e;
            }, true);
            return true;
        case Loss::KLD:  // sum over outputs of t log(t / q), t = clip(y, eps, 1), q = clip(p, eps, 1)
            run([eps](T p, T y, T* dl) {
                const T t = std::min(std::max(y, eps), T(1)), q = std::min(std::max(p, eps), T(1));
                *dl = (p > eps && p < T(1)) ? -t / q : T(0);
                return t * vlog(t / q);
            }, false);
            return true;
        default:
            return false;
    }
}

// Row losses: categorical cross-entropy (dense or sparse targets), categorical hinge, cosine similarity.
// Returns L for row r and writes dL/dp (unscaled) into dr when not null.
template <class T>
double row_loss(const LossSpec& s, const T* yr, idx label, const T* pr, T* dr, idx cols) {
    const T eps = T(kProbEps);
    switch (s.kind) {
        case Loss::CCE:
        case Loss::SparseCCE: {
            const bool sparse = s.kind == Loss::SparseCCE;
            const double a = 1 - s.smoothing, b = s.smoothing / double(cols);  // t = y (1 - ls) + ls / k
            auto yv = [&](idx c) { return (sparse ? double(c == label) : double(yr[c])) * a + b; };
            double Lr = 0;
            if (s.logits) {  // L = sum(t) * lse(z) - sum(t z)
                T m = pr[0];
                for (idx c = 1; c < cols; ++c) m = std::max(m, pr[c]);
                double sum = 0;
                for (idx c = 0; c < cols; ++c) sum += std::exp(double(pr[c] - m));
                const double lse = double(m) + std::log(sum);
                double ysum = 0, yz = 0;
                for (idx c = 0; c < cols; ++c) {
                    ysum += yv(c);
                    yz += yv(c) * pr[c];
                }
                Lr = ysum * lse - yz;
                if (dr)
                    for (idx c = 0; c < cols; ++c) dr[c] = T(std::exp(double(pr[c]) - lse) * ysum - yv(c));
            } else {  // q = p / sum(p); L = -sum t log clip(q)
                double sum = 0;
                for (idx c = 0; c < cols; ++c) sum += pr[c];
                double dot = 0;  // sum_j dL/dq_j * q_j
                for (idx c = 0; c < cols; ++c) {
                    const double q = pr[c] / sum;
                    const double qc = std::min(std::max(q, double(eps)), 1.0 - double(eps));
                    Lr -= yv(c) * std::log(qc);
                    const bool inside = q > double(eps) && q < 1.0 - double(eps);
                    const double gq = inside ? -yv(c) / qc : 0.0;
                    if (dr) dr[c] = T(gq);  // dL/dq, finished below
                    dot += gq * q;
                }
                if (dr)  // dq_j/dp_m = (delta_jm - q_j) / sum
                    for (idx c = 0; c < cols; ++c) dr[c] = T((double(dr[c]) - dot) / sum);
            }
            return Lr;
        }
        case Loss::CategoricalHinge: {  // max(max((1 - y) p) - sum(y p) + 1, 0)
            double pos = 0;
            idx arg = 0;
            double neg = -INFINITY;
            for (idx c = 0; c < cols; ++c) {
                pos += double(yr[c]) * pr[c];
                const double v = double(T(1) - yr[c]) * pr[c];
                if (v > neg) {
                    neg = v;
                    arg = c;
                }
            }
            const double L = std::max(neg - pos + 1.0, 0.0);
            if (dr)
                for (idx c = 0; c < cols; ++c)
                    dr[c] = L > 0 ? T(-double(yr[c]) + (c == arg ? 1.0 - double(yr[c]) : 0.0)) : T(0);
            return L;
        }
        case Loss::CosineSimilarity: {  // -sum(y_n p_n), v_n = v / sqrt(max(sum v^2, eps^2))
            const double e2 = double(kProbEps) * double(kProbEps);
            double ss_p = 0, ss_y = 0, yp = 0;
            for (idx c = 0; c < cols; ++c) {
                ss_p += double(pr[c]) * pr[c];
                ss_y += double(yr[c]) * yr[c];
                yp += double(yr[c]) * pr[c];
            }
            const double np = std::sqrt(std::max(ss_p, e2)), ny = std::sqrt(std::max(ss_y, e2));
            const double L = -yp / (np * ny);
            if (dr) {  // dL/dp = -(y_n - (y_n . p_n) p_n) / |p| (the projection term only where the norm is not clamped)
                const double proj = ss_p > e2 ? yp / (ny * np) : 0.0;
                for (idx c = 0; c < cols; ++c) dr[c] = T(-(double(yr[c]) / ny - proj * double(pr[c]) / np) / np);
            }
            return L;
        }
        default:
            return 0.0;
    }
}

template <class T>
double loss_rows(const LossSpec& spec, const T* y, const T* p, const T* w, T* dp, idx rows, idx cols, T scale) {
    const bool hinge01 =
        (spec.kind == Loss::Hinge || spec.kind == Loss::SquaredHinge) && labels_are_binary01(y, rows * cols);
    if (spec.kind == Loss::SparseCCE)
        for (idx r = 0; r < rows; ++r) sparse_label(y, r, cols);  // validate every label before writing dp
    double total = 0;
    const bool elementwise = with_elementwise<T>(spec, hinge01, [&](auto f, bool mean) {
        const T inv = mean ? T(1) / T(cols) : T(1);
        for (idx r = 0; r < rows; ++r) {
            const T wr = w ? w[r] : T(1);
            const T g = scale * wr * inv;
            const T* pr = p + r * cols;
            const T* yr = y + r * cols;
            T* dr = dp ? dp + r * cols : nullptr;
            double Lr = 0;
            for (idx c = 0; c < cols; ++c) {
                T dl;
                Lr += double(f(pr[c], yr[c], &dl));
                if (dr) dr[c] = g * dl;
            }
            total += double(wr) * Lr * double(inv);
        }
    });
    if (elementwise) return total;
    const bool sparse = spec.kind == Loss::SparseCCE;
    for (idx r = 0; r < rows; ++r) {
        const T wr = w ? w[r] : T(1);
        T* dr = dp ? dp + r * cols : nullptr;
        const double Lr = row_loss(spec, sparse ? nullptr : y + r * cols, sparse ? idx(y[r]) : idx(-1), p + r * cols,
                                   dr, cols);
        if (dr)
            for (idx c = 0; c < cols; ++c) dr[c] *= scale * wr;
        total += double(wr) * Lr;
    }
    return total;
}

}  // namespace fastnn
