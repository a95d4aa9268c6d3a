// fastnn engine: metrics as stateful accumulators (Keras 3 definitions, keras/src/metrics/*.py).
//
// A metric is a flat double array (its state) and three functions: metric_update adds one batch to the state,
// metric_result turns a state into the metric's value(s), and states merge by adding them elementwise (every
// state below is a sum over samples), so states from several processes or threads combine in any order.
//
// States (cols = the network's output width):
//  LossMean, accuracies, RMSE:          [sum w v_i, sum w]        (v_i: the per-sample value)
//  TruePositives ... FalseNegatives:    [count]
//  Precision [tp, fp]; Recall [tp, fn]
//  AUC:                                 [tp bucket (T), fp bucket (T)]  (Keras's bucketing of predictions)
//  R2:                                  [sum y, sum y^2, sum (y - p)^2, sum w] per output (4 cols)
//  FBeta:                               [tp, fp, fn, sum w y] per output (4 cols), or 4 values for "micro"
// Unweighted metrics (Keras's metrics=) ignore the sample weights; weighted ones (weighted_metrics=) use them.
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

#include "common.hpp"
#include "losses.hpp"

namespace fastnn {

constexpr double kNegInf = -1e10;  // Keras's NEG_INF: predictions outside the top k (metrics_utils.py)

struct MetricSpec {
    Metric kind = Metric::LossMean;
    LossSpec loss;             // LossMean: the loss whose mean is tracked
    bool negate = false;       // LossMean: report -mean (Keras's CosineSimilarity metric is the loss's negative)
    bool weighted = false;     // sample weights apply (weighted_metrics=)
    double threshold = 0.5;    // BinaryAccuracy, confusion counts, Precision, Recall, FBeta (when has_threshold)
    bool has_threshold = true; // FBeta: false = Keras's threshold=None (the row's maximum counts as positive)
    int k = 5;                 // TopK, SparseTopK
    int top_k = 0;             // Precision, Recall: 0 = off
    int class_id = -1;         // Precision, Recall: -1 = every output
    int num_thresholds = 200;  // AUC
    bool pr = false;           // AUC: curve "PR" (else "ROC")
    int summation = 0;         // AUC: 0 interpolation, 1 minoring, 2 majoring
    bool from_logits = false;  // AUC
    int average = 0;           // FBeta: 0 None (one value per output), 1 micro, 2 macro, 3 weighted
    double beta = 1.0;         // FBeta
    int aggregation = 1;       // R2: 0 None (one value per output), 1 uniform_average, 2 variance_weighted_average
};

// Checks a spec's arguments against the network's output width; throws invalid_argument naming the argument.
void metric_validate(const MetricSpec& s, idx cols);
// Number of doubles in the state, and of values in the result.
idx metric_state_size(const MetricSpec& s, idx cols);
idx metric_result_size(const MetricSpec& s, idx cols);
// out (metric_result_size values) = the metric's value from its state.
void metric_result(const MetricSpec& s, const double* state, idx cols, double* out);
// Whether the metric reads class indices (one column) as its targets.
inline bool metric_takes_sparse_labels(const MetricSpec& s) {
    return s.kind == Metric::SparseCategoricalAccuracy || s.kind == Metric::SparseTopK ||
           (s.kind == Metric::LossMean && s.loss.kind == Loss::SparseCCE);
}

template <class T>
idx argmax_of(const T* v, idx cols) {
    idx best = 0;
    for (idx c = 1; c < cols; ++c)
        if (v[c] > v[best]) best = c;
    return best;
}

// ops.in_top_k as Keras's torch backend computes it: the target is in the top k when its value is >= the k-th
// largest value (ties count as in).
template <class T>
bool in_top_k(const T* p, idx target, idx cols, int k) {
    idx greater = 0;
    for (idx c = 0; c < cols; ++c) greater += p[c] > p[target];
    return greater < k;
}

// Adds one batch to a metric's state.
//  y: (rows, ycols) targets (ycols = 1 for class indices, else cols); p: (rows, cols) predictions;
//  w: (rows,) sample weights or null.
template <class T>
void metric_update(const MetricSpec& s, double* state, const T* y, const T* p, const T* w_in, idx rows, idx cols) {
    const T* w = s.weighted ? w_in : nullptr;
    auto wt = [w](idx r) { return w ? double(w[r]) : 1.0; };
    switch (s.kind) {
        case Metric::LossMean: {
            state[0] += loss_rows(s.loss, y, p, w, static_cast<T*>(nullptr), rows, cols, T(1));
            for (idx r = 0; r < rows; ++r) state[1] += wt(r);
            return;
        }
        case Metric::BinaryAccuracy:
        case Metric::CategoricalAccuracy:
        case Metric::SparseCategoricalAccuracy:
        case Metric::TopK:
        case Metric::SparseTopK:
        case Metric::RMSE: {
            double sum = 0, wsum = 0;
            for (idx r = 0; r < rows; ++r) {
                const T* pr = p + r * cols;
                double v = 0;
                switch (s.kind) {
                    case Metric::BinaryAccuracy: {  // mean over outputs of y == (p > threshold)
                        const T* yr = y + r * cols;
                        const T thr = T(s.threshold);
                        for (idx c = 0; c < cols; ++c) v += (T(pr[c] > thr) == yr[c]) ? 1.0 : 0.0;
                        v /= double(cols);
                        break;
                    }
                    case Metric::CategoricalAccuracy:
                        v = argmax_of(y + r * cols, cols) == argmax_of(pr, cols) ? 1.0 : 0.0;
                        break;
                    case Metric::SparseCategoricalAccuracy:
                        v = (y[r] >= T(0) && y[r] < T(cols) && T(static_cast<idx>(y[r])) == y[r] &&
                             static_cast<idx>(y[r]) == argmax_of(pr, cols)) ? 1.0 : 0.0;
                        break;
                    case Metric::TopK:
                        v = in_top_k(pr, argmax_of(y + r * cols, cols), cols, s.k) ? 1.0 : 0.0;
                        break;
                    case Metric::SparseTopK:
                        v = in_top_k(pr, sparse_label(y, r, cols), cols, s.k) ? 1.0 : 0.0;
                        break;
                    default: {  // RMSE: mean over outputs of (p - y)^2; the root is taken by the result
                        const T* yr = y + r * cols;
                        for (idx c = 0; c < cols; ++c) {
                            const double e = double(pr[c]) - double(yr[c]);
                            v += e * e;
                        }
                        v /= double(cols);
                    }
                }
                sum += wt(r) * v;
                wsum += wt(r);
            }
            state[0] += sum;
            state[1] += wsum;
            return;
        }
        case Metric::TruePositives:
        case Metric::FalsePositives:
        case Metric::TrueNegatives:
        case Metric::FalseNegatives:
        case Metric::Precision:
        case Metric::Recall: {
            // metrics_utils.update_confusion_matrix_variables with one threshold: positive when p > threshold,
            // after the top-k filter (others set to NEG_INF) and the class_id column selection.
            const T thr = T(s.threshold);
            double tp = 0, fp = 0, tn = 0, fn = 0;
            const idx c0 = s.class_id >= 0 ? s.class_id : 0, c1 = s.class_id >= 0 ? s.class_id + 1 : cols;
            for (idx r = 0; r < rows; ++r) {
                const T* pr = p + r * cols;
                const T* yr = y + r * cols;
                for (idx c = c0; c < c1; ++c) {
                    T v = pr[c];
                    if (s.top_k > 0) {  // ops.top_k keeps the first of equal values
                        idx rank = 0;
                        for (idx j = 0; j < cols; ++j) rank += pr[j] > v || (pr[j] == v && j < c);
                        if (rank >= s.top_k) v = T(kNegInf);
                    }
                    const bool pos = v > thr, label = yr[c] != T(0);
                    const double wr = wt(r);
                    tp += (label && pos) ? wr : 0.0;
                    fp += (!label && pos) ? wr : 0.0;
                    tn += (!label && !pos) ? wr : 0.0;
                    fn += (label && !pos) ? wr : 0.0;
                }
            }
            switch (s.kind) {
                case Metric::TruePositives: state[0] += tp; break;
                case Metric::FalsePositives: state[0] += fp; break;
                case Metric::TrueNegatives: state[0] += tn; break;
                case Metric::FalseNegatives: state[0] += fn; break;
                case Metric::Precision: state[0] += tp; state[1] += fp; break;
                default: state[0] += tp; state[1] += fn; break;
            }
            return;
        }
        case Metric::AUC: {
            // Keras's evenly spaced thresholds [0 - eps, 1/(T-1), ..., (T-2)/(T-1), 1 + eps]: a prediction counts
            // as positive at threshold i when its bucket ceil(p (T - 1)) - 1 (at least 0) is >= i.
            const idx nt = s.num_thresholds;
            double* tpb = state;
            double* fpb = state + nt;
            const T scale = T(nt - 1);
            for (idx r = 0; r < rows; ++r) {
                const double wr = wt(r);
                for (idx c = 0; c < cols; ++c) {
                    T v = p[r * cols + c];
                    if (s.from_logits) v = sigmoid(v);
                    v = std::min(std::max(v, T(0)), T(1));
                    const idx b = std::max<idx>(static_cast<idx>(std::ceil(v * scale)) - 1, 0);
                    if (y[r * cols + c] != T(0)) tpb[b] += wr;
                    else fpb[b] += wr;
                }
            }
            return;
        }
        case Metric::R2: {
            double* sum = state;
            double* sq = state + cols;
            double* res = state + 2 * cols;
            double* cnt = state + 3 * cols;
            for (idx r = 0; r < rows; ++r) {
                const double wr = wt(r);
                for (idx c = 0; c < cols; ++c) {
                    const double yv = y[r * cols + c], e = yv - double(p[r * cols + c]);
                    sum[c] += yv * wr;
                    sq[c] += yv * yv * wr;
                    res[c] += e * e * wr;
                    cnt[c] += wr;
                }
            }
            return;
        }
        case Metric::FBeta: {
            const bool micro = s.average == 1;
            const idx stride = micro ? 1 : cols;
            double* tp = state;
            double* fp = state + stride;
            double* fn = state + 2 * stride;
            double* iw = state + 3 * stride;
            for (idx r = 0; r < rows; ++r) {
                const T* pr = p + r * cols;
                const T mx = *std::max_element(pr, pr + cols);
                const double wr = wt(r);
                for (idx c = 0; c < cols; ++c) {
                    const bool pos = s.has_threshold ? pr[c] > T(s.threshold)
                                                     : (pr[c] >= mx && std::fabs(pr[c]) > T(1e-9));
                    const double yv = y[r * cols + c], pv = pos ? 1.0 : 0.0;
                    const idx j = micro ? 0 : c;
                    tp[j] += pv * yv * wr;
                    fp[j] += pv * (1 - yv) * wr;
                    fn[j] += (1 - pv) * yv * wr;
                    iw[j] += yv * wr;
                }
            }
            return;
        }
    }
}

// The compiled metrics of a network: their specs and where each state sits in one flat array.
struct MetricSet {
    std::vector<MetricSpec> specs;
    std::vector<idx> offset;  // specs.size() + 1 entries
    idx cols = 0;

    void assign(const std::vector<MetricSpec>& s, idx n_cols) {
        for (const MetricSpec& m : s) metric_validate(m, n_cols);
        specs = s;
        cols = n_cols;
        offset.assign(1, 0);
        for (const MetricSpec& m : s) offset.push_back(offset.back() + metric_state_size(m, cols));
    }
    bool empty() const { return specs.empty(); }
    std::size_t size() const { return specs.size(); }
    idx state_size() const { return offset.empty() ? 0 : offset.back(); }
    template <class T>
    void update(double* state, const T* y, const T* p, const T* w, idx rows) const {
        for (std::size_t k = 0; k < specs.size(); ++k) metric_update(specs[k], state + offset[k], y, p, w, rows, cols);
    }
    // Combines two states of this set (e.g. from two processes): every state is a sum, so merging adds.
    void merge(double* dst, const double* src) const {
        for (idx i = 0; i < state_size(); ++i) dst[i] += src[i];
    }
    // Number of values results() gives.
    std::size_t result_size() const {
        std::size_t n = 0;
        for (const MetricSpec& m : specs) n += std::size_t(metric_result_size(m, cols));
        return n;
    }
    // results() into out (result_size() values), allocating nothing.
    void results(const double* state, double* out) const {
        for (std::size_t k = 0; k < specs.size(); ++k) {
            metric_result(specs[k], state + offset[k], cols, out);
            out += metric_result_size(specs[k], cols);
        }
    }
    // The results of every metric, one after the other (metric_result_size values each).
    std::vector<double> results(const double* state) const {
        std::vector<double> out;
        for (std::size_t k = 0; k < specs.size(); ++k) {
            const std::size_t at = out.size();
            out.resize(at + std::size_t(metric_result_size(specs[k], cols)));
            metric_result(specs[k], state + offset[k], cols, out.data() + at);
        }
        return out;
    }
};

}  // namespace fastnn
