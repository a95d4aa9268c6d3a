// fastnn engine: the normalization ops (Keras 3's normalization and preprocessing layers), rows of the op table.
// Samples are rows: x (m, n) with m samples of n features; "axis=-1" is the feature axis. Every op keeps the width.
//
// BatchNormalization (keras/src/layers/normalization/batch_normalization.py; ops.batch_normalization):
//   training and trainable: mu_j, var_j = mean, biased variance of column j over the batch;
//     moving_mean = moving_mean * momentum + mu * (1 - momentum)  (likewise moving_variance with var)
//   otherwise (inference, a frozen op as Keras 3, or argument inference=1: inside a model called with
//   training=False): mu, var = moving_mean, moving_variance
//   y = gamma * (x - mu) / sqrt(var + epsilon) + beta
//   weights: gamma, beta (trainable, when scale / center), moving_mean, moving_variance (state).
// LayerNormalization (layer_normalization.py): mu_i, var_i over the features of sample i (biased);
//   y = gamma * (x - mu_i) / sqrt(var_i + epsilon) + beta; weights gamma, beta.
// UnitNormalization (unit_normalization.py; ops.normalize, order 2, epsilon 1e-12):
//   y = x * rsqrt(max(sum_j x_ij^2, epsilon^2)).
// Normalization (preprocessing/normalization.py): y = (x - mean) / max(sqrt(variance), 1e-7); invert:
//   y = mean + x * max(sqrt(variance), 1e-7). mean/variance per feature (axis=-1) or one value (axis=None); state
//   tensors mean, variance, count (adapted) or constants given as arguments (then the op has no weights).
// Rescaling (preprocessing/rescaling.py): y = x * scale + offset.
//
// The feature-major layout implements Normalization and Rescaling (per-feature or elementwise); BatchNormalization,
// LayerNormalization and UnitNormalization run row-major only (a network holding one trains row-major).
#pragma once

#include <algorithm>
#include <cmath>

#include "ops.hpp"
#include "ops_activation.hpp"

namespace fastnn {

// ---- BatchNormalization ----

// Column means and biased variances of x (m, n): mu (n,), var (n,), accumulated in double in acc (2n,), the caller's
// scratch (the step loop allocates nothing).
template <class T>
void batch_moments(T* mu, T* var, const T* x, idx m, idx n, double* acc) {
    double* s = acc;
    double* q = acc + n;
    std::fill(acc, acc + 2 * n, 0.0);
    for (idx i = 0; i < m; ++i)
        for (idx j = 0; j < n; ++j) s[std::size_t(j)] += double(x[i * n + j]);
    for (idx j = 0; j < n; ++j) s[std::size_t(j)] /= double(m);
    for (idx i = 0; i < m; ++i)
        for (idx j = 0; j < n; ++j) {
            const double d = double(x[i * n + j]) - s[std::size_t(j)];
            q[std::size_t(j)] += d * d;
        }
    for (idx j = 0; j < n; ++j) {
        mu[j] = T(s[std::size_t(j)]);
        var[j] = T(q[std::size_t(j)] / double(m));
    }
}

// out (m, n) = gamma (n,) * xhat + beta (n,), xhat (m, n) = (x (m, n) - mu (n,)) * rstd (n,)
// gamma, beta may be null (scale=False: 1; center=False: 0).
template <class T>
void batchnorm_forward(T* out, T* xhat, const T* x, const T* mu, const T* rstd, const T* gamma, const T* beta, idx m,
                       idx n) {
    for (idx i = 0; i < m; ++i)
        for (idx j = 0; j < n; ++j) {
            const T h = (x[i * n + j] - mu[j]) * rstd[j];
            xhat[i * n + j] = h;
            out[i * n + j] = (gamma ? gamma[j] : T(1)) * h + (beta ? beta[j] : T(0));
        }
}

// From out = gamma * xhat + beta, xhat = (x - mu) * rstd:
//   dgamma = sum_i dout * xhat;  dbeta = sum_i dout;  dxhat = dout * gamma
//   batch statistics (mu, var depend on x): dx = rstd / m * (m dxhat - sum_i dxhat - xhat sum_i dxhat xhat)
//   fixed statistics: dx = dxhat * rstd
// dinp (m, n) may be null; dinp may alias dout.
// acc (2n,): the caller's double scratch.
template <class T>
void batchnorm_backward(T* dinp, T* dgamma, T* dbeta, const T* dout, const T* xhat, const T* rstd, const T* gamma,
                        bool batch_stats, idx m, idx n, double* acc) {
    double* sd = acc;
    double* sdh = acc + n;
    std::fill(acc, acc + 2 * n, 0.0);
    for (idx i = 0; i < m; ++i)
        for (idx j = 0; j < n; ++j) {
            sd[std::size_t(j)] += double(dout[i * n + j]);
            sdh[std::size_t(j)] += double(dout[i * n + j]) * double(xhat[i * n + j]);
        }
    if (dgamma)
        for (idx j = 0; j < n; ++j) dgamma[j] = T(sdh[std::size_t(j)]);
    if (dbeta)
        for (idx j = 0; j < n; ++j) dbeta[j] = T(sd[std::size_t(j)]);
    if (!dinp) return;
    for (idx j = 0; j < n; ++j) {
        const double g = gamma ? double(gamma[j]) : 1.0;
        const double a = double(rstd[j]) * g;  // d(out)/d(x) through xhat
        const double mean_d = batch_stats ? sd[std::size_t(j)] / double(m) : 0.0;
        const double mean_dh = batch_stats ? sdh[std::size_t(j)] / double(m) : 0.0;
        for (idx i = 0; i < m; ++i) {
            const double d = double(dout[i * n + j]);
            dinp[i * n + j] = T(a * (d - mean_d - double(xhat[i * n + j]) * mean_dh));
        }
    }
}

enum BatchNormNum { kBnMomentum = 0, kBnEpsilon = 1, kBnScale = 2, kBnCenter = 3, kBnInference = 4 };

inline void reg_pair(OpArgReader& args, const char* key, ParamDecl* d) {
    const std::string k(key);
    d->l1 = args.number_in(k + "_l1", 0.0, 0.0, 1e300, "a finite number >= 0");
    d->l2 = args.number_in(k + "_l2", 0.0, 0.0, 1e300, "a finite number >= 0");
}

inline void batchnorm_build(OpBuild& b, OpArgReader& args) {
    check_same_width(b.op, "BatchNormalization");
    const double momentum = args.number_in("momentum", 0.99, 0.0, 1.0, "a number in [0, 1]");
    const double eps = args.number("epsilon", 1e-3);
    if (!(eps > 0)) fail("epsilon (BatchNormalization)", "a number > 0", std::to_string(eps));
    const bool scale = args.flag("scale", true), center = args.flag("center", true);
    const bool inference = args.flag("inference", false);  // always the moving statistics (training=False)
    b.op.num = {momentum, eps, double(scale), double(center), double(inference)};
    const idx n = b.op.n_in;
    ParamDecl gamma{"gamma", {n}, args.init("gamma_initializer", {"ones", 0, 0})};
    reg_pair(args, "gamma", &gamma);
    ParamDecl beta{"beta", {n}, args.init("beta_initializer", {"zeros", 0, 0})};
    reg_pair(args, "beta", &beta);
    ParamDecl mm{"moving_mean", {n}, args.init("moving_mean_initializer", {"zeros", 0, 0})};
    ParamDecl mv{"moving_variance", {n}, args.init("moving_variance_initializer", {"ones", 0, 0})};
    mm.state = mv.state = true;
    if (scale) b.params.push_back(gamma);
    if (center) b.params.push_back(beta);
    b.params.push_back(mm);
    b.params.push_back(mv);
}

inline OpBuffers batchnorm_buffers(const Op& op, bool, bool) {
    OpBuffers b;
    b.scratch_per_row = std::size_t(op.n_out);  // xhat
    b.scratch_fixed = 2 * std::size_t(op.n_out);  // mu, rstd of the call
    return b;
}

// The op's tensors: gamma and beta when present, then the moving statistics.
struct BatchNormSlots {
    int gamma = -1, beta = -1, mean = 0, var = 1;
    explicit BatchNormSlots(const Op& op) {
        int k = 0;
        if (op.num[kBnScale] != 0) gamma = k++;
        if (op.num[kBnCenter] != 0) beta = k++;
        mean = k++;
        var = k;
    }
};

template <class T>
void batchnorm_op_forward(const OpCall<T>& c) {
    const Op& op = c.op;
    const idx n = op.n_out, m = c.m;
    const BatchNormSlots s(op);
    T* xhat = c.scratch;
    T* mu = c.scratch + std::size_t(m * n);
    T* rstd = mu + n;
    T* mmean = c.param(s.mean);
    T* mvar = c.param(s.var);
    const T eps = T(op.num[kBnEpsilon]);
    if (c.training && op.trainable && op.num[kBnInference] == 0) {
        T* var = rstd;
        batch_moments(mu, var, c.in, m, n, c.fs->acc.data());
        const T mom = T(op.num[kBnMomentum]);
        for (idx j = 0; j < n; ++j) {  // training forwards hold the network's exclusive lock
            mmean[j] = mmean[j] * mom + mu[j] * (T(1) - mom);
            mvar[j] = mvar[j] * mom + var[j] * (T(1) - mom);
        }
        for (idx j = 0; j < n; ++j) rstd[j] = T(1) / std::sqrt(var[j] + eps);
    } else {
        for (idx j = 0; j < n; ++j) {
            mu[j] = mmean[j];
            rstd[j] = T(1) / std::sqrt(mvar[j] + eps);
        }
    }
    batchnorm_forward(c.out, xhat, c.in, mu, rstd, s.gamma >= 0 ? c.param(s.gamma) : nullptr,
                      s.beta >= 0 ? c.param(s.beta) : nullptr, m, n);
}

template <class T>
T* batchnorm_op_backward(const OpCall<T>& c, T* dinp, T* dout) {
    const Op& op = c.op;
    const idx n = op.n_out, m = c.m;
    const BatchNormSlots s(op);
    const T* xhat = c.scratch;
    const T* rstd = c.scratch + std::size_t(m * n) + n;
    batchnorm_backward(dinp ? dout : nullptr, s.gamma >= 0 ? c.grad(s.gamma) : nullptr,
                       s.beta >= 0 ? c.grad(s.beta) : nullptr, dout, xhat, rstd,
                       s.gamma >= 0 ? c.param(s.gamma) : nullptr,
                       c.training && op.trainable && op.num[kBnInference] == 0, m, n, c.fs->acc.data());
    return dout;  // computed in place
}

template <class T>
OpRow<T> batchnorm_row() {
    return {"batch_normalization", batchnorm_build, batchnorm_buffers, batchnorm_op_forward<T>,
            batchnorm_op_backward<T>, /*training_differs=*/true, /*feature_major=*/false, /*fuses_activation=*/false};
}

// ---- LayerNormalization ----

// out (m, n) = gamma (n,) * xhat + beta (n,), xhat (m, n) = (x - mu_i) * rstd_i with mu_i, var_i the mean and
// biased variance of row i; rstd (m,) = 1 / sqrt(var_i + eps). gamma, beta may be null.
template <class T>
void layernorm_forward(T* out, T* xhat, T* rstd, const T* x, const T* gamma, const T* beta, T eps, idx m, idx n) {
    for (idx i = 0; i < m; ++i) {
        const T* xr = x + i * n;
        double s = 0, q = 0;
        for (idx j = 0; j < n; ++j) s += double(xr[j]);
        const double mu = s / double(n);
        for (idx j = 0; j < n; ++j) q += (double(xr[j]) - mu) * (double(xr[j]) - mu);
        const T r = T(1.0 / std::sqrt(q / double(n) + double(eps)));
        rstd[i] = r;
        for (idx j = 0; j < n; ++j) {
            const T h = T(double(xr[j]) - mu) * r;
            xhat[i * n + j] = h;
            out[i * n + j] = (gamma ? gamma[j] : T(1)) * h + (beta ? beta[j] : T(0));
        }
    }
}

// From out = gamma * xhat + beta, xhat_i = (x_i - mu_i) * rstd_i:
//   dgamma = sum_i dout * xhat;  dbeta = sum_i dout;  dxhat = dout * gamma
//   dx_i = rstd_i * (dxhat_i - mean_j(dxhat_i) - xhat_i * mean_j(dxhat_i * xhat_i))
// dinp may be null or alias dout.
// acc (2n,): the caller's double scratch.
template <class T>
void layernorm_backward(T* dinp, T* dgamma, T* dbeta, const T* dout, const T* xhat, const T* rstd, const T* gamma,
                        idx m, idx n, double* acc) {
    if (dgamma || dbeta) {
        double* sg = acc;
        double* sb = acc + n;
        std::fill(acc, acc + 2 * n, 0.0);
        for (idx i = 0; i < m; ++i)
            for (idx j = 0; j < n; ++j) {
                sg[std::size_t(j)] += double(dout[i * n + j]) * double(xhat[i * n + j]);
                sb[std::size_t(j)] += double(dout[i * n + j]);
            }
        for (idx j = 0; j < n; ++j) {
            if (dgamma) dgamma[j] = T(sg[std::size_t(j)]);
            if (dbeta) dbeta[j] = T(sb[std::size_t(j)]);
        }
    }
    if (!dinp) return;
    for (idx i = 0; i < m; ++i) {
        double a = 0, b = 0;
        for (idx j = 0; j < n; ++j) {
            const double dh = double(dout[i * n + j]) * (gamma ? double(gamma[j]) : 1.0);
            a += dh;
            b += dh * double(xhat[i * n + j]);
        }
        a /= double(n);
        b /= double(n);
        for (idx j = 0; j < n; ++j) {
            const double dh = double(dout[i * n + j]) * (gamma ? double(gamma[j]) : 1.0);
            dinp[i * n + j] = T(double(rstd[i]) * (dh - a - double(xhat[i * n + j]) * b));
        }
    }
}

enum LayerNormNum { kLnEpsilon = 0, kLnScale = 1, kLnCenter = 2 };

inline void layernorm_build(OpBuild& b, OpArgReader& args) {
    check_same_width(b.op, "LayerNormalization");
    const double eps = args.number("epsilon", 1e-3);
    if (!(eps > 0)) fail("epsilon (LayerNormalization)", "a number > 0", std::to_string(eps));
    const bool scale = args.flag("scale", true), center = args.flag("center", true);
    b.op.num = {eps, double(scale), double(center)};
    const idx n = b.op.n_in;
    ParamDecl gamma{"gamma", {n}, args.init("gamma_initializer", {"ones", 0, 0})};
    reg_pair(args, "gamma", &gamma);
    ParamDecl beta{"beta", {n}, args.init("beta_initializer", {"zeros", 0, 0})};
    reg_pair(args, "beta", &beta);
    if (scale) b.params.push_back(gamma);
    if (center) b.params.push_back(beta);
}

inline OpBuffers layernorm_buffers(const Op& op, bool, bool) {
    OpBuffers b;
    b.scratch_per_row = std::size_t(op.n_out) + 1;  // xhat, rstd
    return b;
}

template <class T>
void layernorm_op_forward(const OpCall<T>& c) {
    const Op& op = c.op;
    const idx n = op.n_out;
    const int g = op.num[kLnScale] != 0 ? 0 : -1, bt = op.num[kLnCenter] != 0 ? g + 1 : -1;
    layernorm_forward(c.out, c.scratch, c.scratch + std::size_t(c.m * n), c.in, g >= 0 ? c.param(g) : nullptr,
                      bt >= 0 ? c.param(bt) : nullptr, T(op.num[kLnEpsilon]), c.m, n);
}

template <class T>
T* layernorm_op_backward(const OpCall<T>& c, T* dinp, T* dout) {
    const Op& op = c.op;
    const idx n = op.n_out;
    const int g = op.num[kLnScale] != 0 ? 0 : -1, bt = op.num[kLnCenter] != 0 ? g + 1 : -1;
    layernorm_backward(dinp ? dout : nullptr, g >= 0 ? c.grad(g) : nullptr, bt >= 0 ? c.grad(bt) : nullptr, dout,
                       c.scratch, c.scratch + std::size_t(c.m * n), g >= 0 ? c.param(g) : nullptr, c.m, n,
                       c.fs->acc.data());
    return dout;
}

template <class T>
OpRow<T> layernorm_row() {
    return {"layer_normalization", layernorm_build, layernorm_buffers, layernorm_op_forward<T>,
            layernorm_op_backward<T>, /*training_differs=*/false, /*feature_major=*/false, /*fuses_activation=*/false};
}

// ---- UnitNormalization ----

constexpr double kUnitNormEps = 1e-12;

// out (m, n) = x * inv_i, inv (m,) = 1 / sqrt(max(s_i, eps^2)), s (m,) = sum_j x_ij^2
template <class T>
void unitnorm_forward(T* out, T* s, T* inv, const T* x, idx m, idx n) {
    const double e2 = kUnitNormEps * kUnitNormEps;
    for (idx i = 0; i < m; ++i) {
        double q = 0;
        for (idx j = 0; j < n; ++j) q += double(x[i * n + j]) * double(x[i * n + j]);
        s[i] = T(q);
        inv[i] = T(1.0 / std::sqrt(std::max(q, e2)));
        for (idx j = 0; j < n; ++j) out[i * n + j] = x[i * n + j] * inv[i];
    }
}

// From out = x * inv, inv = s^(-1/2) where s > eps^2 (else constant):
//   dx_i = inv_i * (dout_i - out_i * sum_j(dout_ij out_ij))   (s_i > eps^2);   dx_i = inv_i * dout_i otherwise
template <class T>
void unitnorm_backward(T* dinp, const T* dout, const T* out, const T* s, const T* inv, idx m, idx n) {
    const double e2 = kUnitNormEps * kUnitNormEps;
    for (idx i = 0; i < m; ++i) {
        double d = 0;
        if (double(s[i]) > e2)
            for (idx j = 0; j < n; ++j) d += double(dout[i * n + j]) * double(out[i * n + j]);
        for (idx j = 0; j < n; ++j)
            dinp[i * n + j] = T(double(inv[i]) * (double(dout[i * n + j]) - double(out[i * n + j]) * d));
    }
}

inline void unitnorm_build(OpBuild& b, OpArgReader&) { check_same_width(b.op, "UnitNormalization"); }

inline OpBuffers unitnorm_buffers(const Op&, bool, bool) {
    OpBuffers b;
    b.scratch_per_row = 2;  // s, inv
    return b;
}

template <class T>
void unitnorm_op_forward(const OpCall<T>& c) {
    unitnorm_forward(c.out, c.scratch, c.scratch + c.m, c.in, c.m, c.op.n_out);
}

template <class T>
T* unitnorm_op_backward(const OpCall<T>& c, T* dinp, T* dout) {
    if (!dinp) return dout;
    unitnorm_backward(dout, dout, c.out, c.scratch, c.scratch + c.m, c.m, c.op.n_out);
    return dout;
}

template <class T>
OpRow<T> unitnorm_row() {
    return {"unit_normalization", unitnorm_build, unitnorm_buffers, unitnorm_op_forward<T>, unitnorm_op_backward<T>,
            /*training_differs=*/false, /*feature_major=*/false, /*fuses_activation=*/false};
}

// ---- Normalization (preprocessing) ----

constexpr double kNormalizationEps = 1e-7;  // keras.backend.epsilon()

// num: invert, per_feature, given, then (given) n or 1 means and as many variances.
enum NormalizationNum { kNormInvert = 0, kNormPerFeature = 1, kNormGiven = 2, kNormValues = 3 };

inline void normalization_build(OpBuild& b, OpArgReader& args) {
    check_same_width(b.op, "Normalization");
    const bool invert = args.flag("invert", false);
    const bool per_feature = args.flag("per_feature", true);  // axis=-1; false: axis=None
    const idx n = b.op.n_in, k = per_feature ? n : 1;
    const std::vector<double> mean = args.values("mean"), var = args.values("variance");
    if (mean.empty() != var.empty())
        fail("mean and variance (Normalization)", "both given or neither", mean.empty() ? "variance only" : "mean only");
    b.op.num = {double(invert), double(per_feature), double(!mean.empty())};
    if (!mean.empty()) {
        for (const auto* v : {&mean, &var})
            if (idx(v->size()) != k && v->size() != 1)
                fail(std::string(v == &mean ? "mean" : "variance") + " (Normalization)",
                     "1 or " + std::to_string(k) + " values", std::to_string(v->size()) + " values");
        for (idx j = 0; j < k; ++j) b.op.num.push_back(mean.size() == 1 ? mean[0] : mean[std::size_t(j)]);
        for (idx j = 0; j < k; ++j) {
            const double v = var.size() == 1 ? var[0] : var[std::size_t(j)];
            if (!(v >= 0)) fail("variance (Normalization)", "numbers >= 0", std::to_string(v));
            b.op.num.push_back(v);
        }
        return;
    }
    std::vector<idx> shape = per_feature ? std::vector<idx>{n} : std::vector<idx>{};
    ParamDecl pm{"mean", shape, {"zeros", 0, 0}}, pv{"variance", shape, {"ones", 0, 0}}, pc{"count", {}, {"zeros", 0, 0}};
    pm.state = pv.state = pc.state = true;
    b.params = {pm, pv, pc};
}

inline OpBuffers normalization_buffers(const Op& op, bool, bool) {
    OpBuffers b;
    b.scratch_fixed = 2 * std::size_t(op.n_out);  // the mean and the divisor of each feature
    return b;
}

// out = (x - mean_j) / d_j, or (invert) mean_j + x * d_j, with d_j = max(sqrt(variance_j), 1e-7); any layout
// (fm: x (n, m)). mean, d: (n,).
template <class T>
void normalization_forward(T* out, const T* x, const T* mean, const T* d, bool invert, bool fm, idx m, idx n) {
    for (idx i = 0; i < m; ++i)
        for (idx j = 0; j < n; ++j) {
            const idx at = fm ? j * m + i : i * n + j;
            out[at] = invert ? mean[j] + x[at] * d[j] : (x[at] - mean[j]) / d[j];
        }
}

template <class T>
void normalization_op_forward(const OpCall<T>& c) {
    const Op& op = c.op;
    const idx n = op.n_out;
    const bool per_feature = op.num[kNormPerFeature] != 0, given = op.num[kNormGiven] != 0;
    const idx k = per_feature ? n : 1;
    T* mean = c.scratch;
    T* d = c.scratch + n;
    for (idx j = 0; j < n; ++j) {
        const idx src = per_feature ? j : 0;
        const double mu = given ? op.num[std::size_t(kNormValues + src)] : double(c.param(0)[src]);
        const double var = given ? op.num[std::size_t(kNormValues + k + src)] : double(c.param(1)[src]);
        mean[j] = T(mu);
        d[j] = T(std::max(std::sqrt(var), kNormalizationEps));
    }
    normalization_forward(c.out, c.in, mean, d, op.num[kNormInvert] != 0, c.fm, c.m, n);
}

// From out = (x - mean) / d: dx = dout / d;  invert (out = mean + x d): dx = dout * d.
template <class T>
T* normalization_op_backward(const OpCall<T>& c, T* dinp, T* dout) {
    if (!dinp) return dout;
    const idx n = c.op.n_out, m = c.m;
    const T* d = c.scratch + n;
    const bool invert = c.op.num[kNormInvert] != 0;
    for (idx i = 0; i < m; ++i)
        for (idx j = 0; j < n; ++j) {
            const idx at = c.fm ? j * m + i : i * n + j;
            dout[at] = invert ? dout[at] * d[j] : dout[at] / d[j];
        }
    return dout;
}

template <class T>
OpRow<T> normalization_row() {
    return {"normalization", normalization_build, normalization_buffers, normalization_op_forward<T>,
            normalization_op_backward<T>, /*training_differs=*/false, /*feature_major=*/true,
            /*fuses_activation=*/false};
}

// ---- Rescaling ----

enum RescalingNum { kRescaleScale = 0, kRescaleOffset = 1 };

inline void rescaling_build(OpBuild& b, OpArgReader& args) {
    check_same_width(b.op, "Rescaling");
    b.op.num = {args.number("scale", 1.0), args.number("offset", 0.0)};
}

inline OpBuffers rescaling_buffers(const Op&, bool, bool) { return OpBuffers{}; }

// out = x * scale + offset (elementwise: any layout)
template <class T>
void rescaling_op_forward(const OpCall<T>& c) {
    const T s = T(c.op.num[kRescaleScale]), o = T(c.op.num[kRescaleOffset]);
    const idx count = c.m * c.op.n_out;
    for (idx j = 0; j < count; ++j) c.out[j] = c.in[j] * s + o;
}

// dx = dout * scale
template <class T>
T* rescaling_op_backward(const OpCall<T>& c, T* dinp, T* dout) {
    if (!dinp) return dout;
    const T s = T(c.op.num[kRescaleScale]);
    const idx count = c.m * c.op.n_out;
    for (idx j = 0; j < count; ++j) dout[j] *= s;
    return dout;
}

template <class T>
OpRow<T> rescaling_row() {
    return {"rescaling", rescaling_build, rescaling_buffers, rescaling_op_forward<T>, rescaling_op_backward<T>,
            /*training_differs=*/false, /*feature_major=*/true, /*fuses_activation=*/false};
}

}  // namespace fastnn
