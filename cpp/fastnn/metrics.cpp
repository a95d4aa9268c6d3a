// fastnn engine: metric argument checks, state sizes and results (see metrics.hpp).
// Results follow keras/src/metrics: divide_no_nan for precision/recall and the curves, epsilon 1e-7 in FBeta.
#include "metrics.hpp"

#include <string>

namespace fastnn {

namespace {

double div_no_nan(double a, double b) { return b == 0 ? 0.0 : a / b; }

// AUC from the bucket counts: Keras's AUC.result() and interpolate_pr_auc() (confusion_metrics.py).
double auc_result(const MetricSpec& s, const double* tpb, const double* fpb) {
    const idx nt = s.num_thresholds;
    std::vector<double> tp(nt), fp(nt), fn(nt), tn(nt);
    double ct = 0, cf = 0;
    for (idx i = nt - 1; i >= 0; --i) {  // counts at threshold i: the buckets >= i
        ct += tpb[i];
        cf += fpb[i];
        tp[i] = ct;
        fp[i] = cf;
    }
    for (idx i = 0; i < nt; ++i) {
        fn[i] = ct - tp[i];
        tn[i] = cf - fp[i];
    }
    double total = 0;
    if (s.pr && s.summation == 0) {  // Davis & Goadrich: interpolate the positives, not the precision
        for (idx i = 0; i + 1 < nt; ++i) {
            const double dtp = tp[i] - tp[i + 1];
            const double p0 = tp[i] + fp[i], p1 = tp[i + 1] + fp[i + 1];
            const double slope = div_no_nan(dtp, std::max(p0 - p1, 0.0));
            const double intercept = tp[i + 1] - slope * p1;
            const double ratio = (p0 > 0 && p1 > 0) ? div_no_nan(p0, std::max(p1, 0.0)) : 1.0;
            total += div_no_nan(slope * (dtp + intercept * std::log(ratio)), std::max(tp[i + 1] + fn[i + 1], 0.0));
        }
        return total;
    }
    std::vector<double> x(nt), yv(nt);
    for (idx i = 0; i < nt; ++i) {
        const double recall = div_no_nan(tp[i], tp[i] + fn[i]);
        if (s.pr) {
            x[i] = recall;
            yv[i] = div_no_nan(tp[i], tp[i] + fp[i]);
        } else {
            x[i] = div_no_nan(fp[i], fp[i] + tn[i]);
            yv[i] = recall;
        }
    }
    for (idx i = 0; i + 1 < nt; ++i) {
        const double h = s.summation == 0 ? (yv[i] + yv[i + 1]) / 2.0
                         : s.summation == 1 ? std::min(yv[i], yv[i + 1])
                                            : std::max(yv[i], yv[i + 1]);
        total += (x[i] - x[i + 1]) * h;
    }
    return total;
}

}  // namespace

void metric_validate(const MetricSpec& s, idx cols) {
    const std::string name = metric_name(s.kind);
    if (s.kind == Metric::LossMean) loss_validate(s.loss);
    if (!std::isfinite(s.threshold)) fail("threshold (" + name + ")", "a finite number", std::to_string(s.threshold));
    if ((s.kind == Metric::TopK || s.kind == Metric::SparseTopK) && s.k < 1)
        fail("k (" + name + ")", "an integer >= 1", std::to_string(s.k));
    if (s.top_k < 0) fail("top_k (" + name + ")", "an integer >= 1 or None", std::to_string(s.top_k));
    if (s.class_id >= cols)
        fail("class_id (" + name + ")", "an output index in [0, " + std::to_string(cols) + ")",
             std::to_string(s.class_id));
    if (s.kind == Metric::AUC && (s.num_thresholds < 2 || s.num_thresholds > 1000000))
        fail("num_thresholds (AUC)", "an integer in [2, 1000000]", std::to_string(s.num_thresholds));
    if (s.summation < 0 || s.summation > 2)
        fail("summation_method (AUC)", "interpolation, minoring or majoring", std::to_string(s.summation));
    if (s.average < 0 || s.average > 3)
        fail("average (" + name + ")", "None, 'micro', 'macro' or 'weighted'", std::to_string(s.average));
    if (!(s.beta > 0)) fail("beta (" + name + ")", "a number > 0", std::to_string(s.beta));
    if (s.aggregation < 0 || s.aggregation > 2)
        fail("class_aggregation (R2Score)", "None, 'uniform_average' or 'variance_weighted_average'",
             std::to_string(s.aggregation));
}

idx metric_state_size(const MetricSpec& s, idx cols) {
    switch (s.kind) {
        case Metric::TruePositives:
        case Metric::FalsePositives:
        case Metric::TrueNegatives:
        case Metric::FalseNegatives:
            return 1;
        case Metric::AUC:
            return 2 * idx(s.num_thresholds);
        case Metric::R2:
            return 4 * cols;
        case Metric::FBeta:
            return s.average == 1 ? 4 : 4 * cols;
        default:
            return 2;
    }
}

idx metric_result_size(const MetricSpec& s, idx cols) {
    if ((s.kind == Metric::FBeta && s.average == 0) || (s.kind == Metric::R2 && s.aggregation == 0)) return cols;
    return 1;
}

void metric_result(const MetricSpec& s, const double* st, idx cols, double* out) {
    switch (s.kind) {
        case Metric::TruePositives:
        case Metric::FalsePositives:
        case Metric::TrueNegatives:
        case Metric::FalseNegatives:
            out[0] = st[0];
            return;
        case Metric::Precision:
        case Metric::Recall:
            out[0] = div_no_nan(st[0], st[0] + st[1]);
            return;
        case Metric::RMSE:
            out[0] = std::sqrt(div_no_nan(st[0], st[1]));
            return;
        case Metric::AUC:
            out[0] = auc_result(s, st, st + s.num_thresholds);
            return;
        case Metric::R2: {
            const double *sum = st, *sq = st + cols, *res = st + 2 * cols, *cnt = st + 3 * cols;
            double acc = 0, wsum = 0;
            for (idx c = 0; c < cols; ++c) {
                const double mean = sum[c] / cnt[c];
                const double total = sq[c] - sum[c] * mean;
                double raw = 1 - res[c] / total;
                if (std::isinf(raw)) raw = 0.0;
                if (s.aggregation == 0) out[c] = raw;
                acc += s.aggregation == 2 ? total * raw : raw;
                wsum += total;
            }
            if (s.aggregation == 1) out[0] = acc / double(cols);
            if (s.aggregation == 2) out[0] = acc / wsum;
            return;
        }
        case Metric::FBeta: {
            const double eps = kProbEps, b2 = s.beta * s.beta;
            const idx n = s.average == 1 ? 1 : cols;
            const double *tp = st, *fp = st + n, *fn = st + 2 * n, *iw = st + 3 * n;
            double iw_sum = 0;
            for (idx c = 0; c < n; ++c) iw_sum += iw[c];
            double acc = 0;
            for (idx c = 0; c < n; ++c) {
                const double precision = tp[c] / (tp[c] + fp[c] + eps);
                const double recall = tp[c] / (tp[c] + fn[c] + eps);
                const double f = precision * recall / (b2 * precision + recall + eps) * (1 + b2);
                if (s.average == 0) out[c] = f;
                else if (s.average == 3) acc += f * (iw[c] / (iw_sum + eps));
                else acc += f / double(n);
            }
            if (s.average != 0) out[0] = acc;
            return;
        }
        default:  // means
            out[0] = div_no_nan(st[0], st[1]);
            if (s.kind == Metric::LossMean && s.negate) out[0] = -out[0];
            return;
    }
}

}  // namespace fastnn
