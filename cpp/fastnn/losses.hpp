// fastnn engine: losses with gradients, and the running metrics (Keras 3 definitions).
//
// loss_rows(loss, logits, y, p, w, dp, rows, cols, scale) returns sum_i w_i L_i over the rows and, when dp is
// not null, writes dp = scale * w_i * dL_i/dp (scale is 1/N for Keras's "sum_over_batch_size" reduction).
//  y: (rows, cols) targets, or (rows, 1) class indices for sparse_categorical_crossentropy
//  p: (rows, cols) predictions, or logits when `logits` (cross-entropies only)
//  w: (rows,) sample weights or null (all ones)
// Per-sample L_i is a mean over the output axis (mse, mae, huber, bce, hinges) or a sum (categorical ones).
// Probabilities are clipped to [eps, 1 - eps], eps = 1e-7, on non-logit cross-entropy paths; the logit paths use
// log-sum-exp and softplus forms, finite for any finite logits.
#pragma once

#include <algorithm>
#include <cmath>

#include "activations.hpp"
#include "common.hpp"

namespace fastnn {

constexpr double kProbEps = 1e-7;

inline bool loss_is_crossentropy(Loss l) { return l == Loss::BCE || l == Loss::CCE || l == Loss::SparseCCE; }

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
double loss_rows(Loss loss, bool logits, const T* y, const T* p, const T* w, T* dp, idx rows, idx cols, T scale) {
    const T eps = T(kProbEps);
    const T inv_cols = T(1) / T(cols);
    const bool hinge01 = (loss == Loss::Hinge || loss == Loss::SquaredHinge) && labels_are_binary01(y, rows * cols);
    if (loss == Loss::SparseCCE)
        for (idx r = 0; r < rows; ++r) sparse_label(y, r, cols);  // validate every label before writing dp
    double total = 0;
    for (idx r = 0; r < rows; ++r) {
        const T wr = w ? w[r] : T(1);
        const T g = scale * wr;  // d(reduced loss)/d(L_r)
        const T* pr = p + r * cols;
        T* dr = dp ? dp + r * cols : nullptr;
        double Lr = 0;
        switch (loss) {
            case Loss::MSE: {
                const T* yr = y + r * cols;
                for (idx c = 0; c < cols; ++c) {
                    const T e = pr[c] - yr[c];
                    Lr += double(e) * e;
                    if (dr) dr[c] = g * T(2) * e * inv_cols;
                }
                Lr /= double(cols);
                break;
            }
            case Loss::MAE: {
                const T* yr = y + r * cols;
                for (idx c = 0; c < cols; ++c) {
                    const T e = pr[c] - yr[c];
                    Lr += std::fabs(double(e));
                    if (dr) dr[c] = g * T((e > T(0)) - (e < T(0))) * inv_cols;
                }
                Lr /= double(cols);
                break;
            }
            case Loss::Huber: {  // delta = 1
                const T* yr = y + r * cols;
                for (idx c = 0; c < cols; ++c) {
                    const T e = pr[c] - yr[c];
                    const T ae = std::fabs(e);
                    Lr += ae <= T(1) ? 0.5 * double(e) * e : double(ae) - 0.5;
                    if (dr) dr[c] = g * (ae <= T(1) ? e : T((e > T(0)) - (e < T(0)))) * inv_cols;
                }
                Lr /= double(cols);
                break;
            }
            case Loss::BCE: {
                const T* yr = y + r * cols;
                for (idx c = 0; c < cols; ++c) {
                    const T t = yr[c];
                    if (logits) {  // max(z,0) - z t + log(1 + exp(-|z|))
                        const T z = pr[c];
                        Lr += double(std::max(z, T(0)) - z * t + vlog1p(vexp(-std::fabs(z))));
                        if (dr) dr[c] = g * (sigmoid(z) - t) * inv_cols;
                    } else {  // -(t log q + (1 - t) log(1 - q)), q = clip(p)
                        const T q = std::min(std::max(pr[c], eps), T(1) - eps);
                        Lr -= double(t) * std::log(double(q)) + double(T(1) - t) * std::log(double(T(1) - q));
                        if (dr) {
                            const bool inside = pr[c] > eps && pr[c] < T(1) - eps;
                            dr[c] = inside ? g * (-t / q + (T(1) - t) / (T(1) - q)) * inv_cols : T(0);
                        }
                    }
                }
                Lr /= double(cols);
                break;
            }
            case Loss::CCE:
            case Loss::SparseCCE: {
                const bool sparse = loss == Loss::SparseCCE;
                const T* yr = sparse ? nullptr : y + r * cols;
                const idx label = sparse ? static_cast<idx>(y[r]) : -1;
                auto yv = [&](idx c) { return sparse ? T(c == label) : yr[c]; };
                if (logits) {  // L = sum(y) * lse(z) - sum(y z)
                    T m = pr[0];
                    for (idx c = 1; c < cols; ++c) m = std::max(m, pr[c]);
                    double s = 0;
                    for (idx c = 0; c < cols; ++c) s += std::exp(double(pr[c] - m));
                    const double lse = double(m) + std::log(s);
                    double ysum = 0, yz = 0;
                    for (idx c = 0; c < cols; ++c) {
                        ysum += yv(c);
                        yz += double(yv(c)) * pr[c];
                    }
                    Lr = ysum * lse - yz;
                    if (dr)
                        for (idx c = 0; c < cols; ++c)
                            dr[c] = g * T(std::exp(double(pr[c]) - lse) * ysum - double(yv(c)));
                } else {  // q = p / sum(p); L = -sum y log clip(q)
                    double s = 0;
                    for (idx c = 0; c < cols; ++c) s += pr[c];
                    double dot = 0;  // sum_j dL/dq_j * q_j
                    for (idx c = 0; c < cols; ++c) {
                        const double q = pr[c] / s;
                        const double qc = std::min(std::max(q, double(eps)), 1.0 - double(eps));
                        Lr -= double(yv(c)) * std::log(qc);
                        const bool inside = q > double(eps) && q < 1.0 - double(eps);
                        const double gq = inside ? -double(yv(c)) / qc : 0.0;
                        if (dr) dr[c] = T(gq);  // dL/dq, finished below
                        dot += gq * q;
                    }
                    if (dr)  // dq_j/dp_m = (delta_jm - q_j) / s
                        for (idx c = 0; c < cols; ++c) dr[c] = g * T((double(dr[c]) - dot) / s);
                }
                break;
            }
            case Loss::Hinge:
            case Loss::SquaredHinge: {
                const T* yr = y + r * cols;
                const bool sq = loss == Loss::SquaredHinge;
                for (idx c = 0; c < cols; ++c) {
                    const T t = hinge01 ? T(2) * yr[c] - T(1) : yr[c];
                    const T m = std::max(T(1) - t * pr[c], T(0));
                    Lr += sq ? double(m) * m : double(m);
                    if (dr) dr[c] = m > T(0) ? g * (sq ? T(-2) * m * t : -t) * inv_cols : T(0);
                }
                Lr /= double(cols);
                break;
            }
        }
        total += double(wr) * Lr;
    }
    return total;
}

// Adds sum_i w_i m_i to *sum and sum_i w_i to *wsum for one metric.
template <class T>
void metric_rows(Metric metric, const T* y, const T* p, const T* w, idx rows, idx cols, double* sum, double* wsum) {
    auto argmax = [cols](const T* v) {
        idx best = 0;
        for (idx c = 1; c < cols; ++c)
            if (v[c] > v[best]) best = c;
        return best;
    };
    double s = 0, ws = 0;
    for (idx r = 0; r < rows; ++r) {
        const double wr = w ? double(w[r]) : 1.0;
        const T* pr = p + r * cols;
        double v = 0;
        switch (metric) {
            case Metric::BinaryAccuracy: {
                const T* yr = y + r * cols;
                for (idx c = 0; c < cols; ++c) v += (T(pr[c] > T(0.5)) == yr[c]) ? 1.0 : 0.0;
                v /= double(cols);
                break;
            }
            case Metric::CategoricalAccuracy:
                v = argmax(y + r * cols) == argmax(pr) ? 1.0 : 0.0;
                break;
            case Metric::SparseCategoricalAccuracy:
                v = (y[r] >= T(0) && y[r] < T(cols) && static_cast<idx>(y[r]) == argmax(pr) &&
                     T(static_cast<idx>(y[r])) == y[r]) ? 1.0 : 0.0;
                break;
            case Metric::MAE:
            case Metric::MSE: {
                const T* yr = y + r * cols;
                for (idx c = 0; c < cols; ++c) {
                    const double e = double(pr[c]) - double(yr[c]);
                    v += metric == Metric::MAE ? std::fabs(e) : e * e;
                }
                v /= double(cols);
                break;
            }
        }
        s += wr * v;
        ws += wr;
    }
    *sum += s;
    *wsum += ws;
}

}  // namespace fastnn
