// fastnn engine: the rectifier ops of Keras's activation layers, rows of the op table (Softmax is the Activation
// op with softmax; Identity is no op at all).
//
//   relu   (ReLU, LeakyReLU)  out = min(in, max_value) for in > threshold, negative_slope * (in - threshold)
//                             otherwise (Keras's relu(x, negative_slope, max_value, threshold); LeakyReLU is
//                             threshold 0 without max_value). Arguments max_value (absent: none), negative_slope,
//                             threshold.
//   elu    (ELU)              out = in for in > 0, alpha * (exp(in) - 1) otherwise. Argument alpha.
//   prelu  (PReLU)            out = in for in > 0, alpha_j * in otherwise, with a trainable alpha (n,) per
//                             feature j (Keras's weight "alpha", zeros by default). Arguments alpha_initializer,
//                             alpha_l1, alpha_l2.
// All keep the width; relu and elu are elementwise, so one loop serves both layouts; prelu indexes alpha by the
// feature: [i * n + j] row-major, [j * m + i] feature-major.
#pragma once

#include <cmath>
#include <limits>

#include "ops.hpp"
#include "ops_activation.hpp"

namespace fastnn {

// ---------------------------------------------------------------- relu
// out (count) = in > threshold ? min(in, max_value) : slope * (in - threshold)   (any layout: elementwise)
template <class T>
void relu_forward(T* out, const T* in, double max_value, double slope, double threshold, idx count) {
    const T mx = T(max_value), s = T(slope), th = T(threshold);
    for (idx j = 0; j < count; ++j) {
        const T x = in[j];
        out[j] = x > th ? std::min(x, mx) : s * (x - th);
    }
}

// dinp (count) = dout * (in > threshold ? [in < max_value] : slope)   (from the forward line above); in place ok
template <class T>
void relu_backward(T* dinp, const T* in, const T* dout, double max_value, double slope, double threshold,
                   idx count) {
    const T mx = T(max_value), s = T(slope), th = T(threshold);
    for (idx j = 0; j < count; ++j) {
        const T x = in[j];
        dinp[j] = dout[j] * (x > th ? (x < mx ? T(1) : T(0)) : s);
    }
}

enum ReluNum { kReluMax = 0, kReluSlope, kReluThreshold };

inline void relu_build(OpBuild& b, OpArgReader& args) {
    check_same_width(b.op, "ReLU");
    const double inf = std::numeric_limits<double>::infinity();
    const double mx = args.number("max_value", inf);  // absent: no cap
    if (!(mx >= 0)) fail("max_value (ReLU)", "a number >= 0 or None", std::to_string(mx));
    const double slope = args.number_in("negative_slope", 0.0, 0.0, 1e300, "a finite number >= 0");
    const double th = args.number_in("threshold", 0.0, 0.0, 1e300, "a finite number >= 0");
    b.op.num = {mx, slope, th};
}

inline OpBuffers same_width_buffers(const Op&, bool, bool) {
    OpBuffers b;
    b.out = Buf::Own;
    return b;
}

template <class T>
void relu_op_forward(const OpCall<T>& c) {
    const auto& v = c.op.num;
    relu_forward(c.out, c.in, v[kReluMax], v[kReluSlope], v[kReluThreshold], c.m * c.op.n_out);
}

template <class T>
T* relu_op_backward(const OpCall<T>& c, T* dinp, T* dout) {
    if (!dinp) return dout;
    const auto& v = c.op.num;
    relu_backward(dout, c.in, dout, v[kReluMax], v[kReluSlope], v[kReluThreshold], c.m * c.op.n_out);
    return dout;
}

template <class T>
OpRow<T> relu_row() {
    return {"relu", relu_build, same_width_buffers, relu_op_forward<T>, relu_op_backward<T>,
            /*training_differs=*/false, /*feature_major=*/true, /*fuses_activation=*/false};
}

// ---------------------------------------------------------------- elu
// out (count) = in > 0 ? in : alpha * (exp(in) - 1)   (any layout: elementwise)
template <class T>
void elu_forward(T* out, const T* in, double alpha, idx count) {
    const T a = T(alpha);
    for (idx j = 0; j < count; ++j) out[j] = in[j] > T(0) ? in[j] : a * std::expm1(in[j]);
}

// dinp (count) = dout * (in > 0 ? 1 : alpha * exp(in))   (from out = alpha * (exp(in) - 1)); in place ok
template <class T>
void elu_backward(T* dinp, const T* in, const T* dout, double alpha, idx count) {
    const T a = T(alpha);
    for (idx j = 0; j < count; ++j) dinp[j] = dout[j] * (in[j] > T(0) ? T(1) : a * std::exp(in[j]));
}

inline void elu_build(OpBuild& b, OpArgReader& args) {
    check_same_width(b.op, "ELU");
    b.op.num = {args.number("alpha", 1.0)};
}

template <class T>
void elu_op_forward(const OpCall<T>& c) {
    elu_forward(c.out, c.in, c.op.num[0], c.m * c.op.n_out);
}

template <class T>
T* elu_op_backward(const OpCall<T>& c, T* dinp, T* dout) {
    if (!dinp) return dout;
    elu_backward(dout, c.in, dout, c.op.num[0], c.m * c.op.n_out);
    return dout;
}

template <class T>
OpRow<T> elu_row() {
    return {"elu", elu_build, same_width_buffers, elu_op_forward<T>, elu_op_backward<T>,
            /*training_differs=*/false, /*feature_major=*/true, /*fuses_activation=*/false};
}

// ---------------------------------------------------------------- prelu
// out (m, n) = in > 0 ? in : alpha[j] * in   (row-major; the feature-major call swaps the roles of m and n)
// alpha (n)
template <class T>
void prelu_forward(T* out, const T* in, const T* alpha, idx m, idx n, bool fm) {
    for (idx i = 0; i < m; ++i)
        for (idx j = 0; j < n; ++j) {
            const std::size_t k = fm ? std::size_t(j) * m + i : std::size_t(i) * n + j;
            out[k] = in[k] > T(0) ? in[k] : alpha[j] * in[k];
        }
}

// From out = in > 0 ? in : alpha[j] * in:
//   dalpha[j] = sum_i dout[i, j] * min(in[i, j], 0)        (overwritten)
//   dinp[i, j] = dout[i, j] * (in > 0 ? 1 : alpha[j])       (when dinp; in place ok)
template <class T>
void prelu_backward(T* dinp, T* dalpha, const T* in, const T* alpha, const T* dout, idx m, idx n, bool fm) {
    for (idx j = 0; j < n; ++j) dalpha[j] = T(0);
    for (idx i = 0; i < m; ++i)
        for (idx j = 0; j < n; ++j) {
            const std::size_t k = fm ? std::size_t(j) * m + i : std::size_t(i) * n + j;
            const T x = in[k], g = dout[k];
            if (x <= T(0)) dalpha[j] += g * x;
            if (dinp) dinp[k] = x > T(0) ? g : alpha[j] * g;
        }
}

inline void prelu_build(OpBuild& b, OpArgReader& args) {
    check_same_width(b.op, "PReLU");
    ParamDecl alpha{"alpha", {b.op.n_in}, args.init("alpha_initializer", {"zeros", 0, 0})};
    alpha.l1 = args.number_in("alpha_l1", 0.0, 0.0, 1e300, "a finite number >= 0");
    alpha.l2 = args.number_in("alpha_l2", 0.0, 0.0, 1e300, "a finite number >= 0");
    b.params.push_back(alpha);
}

template <class T>
void prelu_op_forward(const OpCall<T>& c) {
    prelu_forward(c.out, c.in, c.param(0), c.m, c.op.n_out, c.fm);
}

template <class T>
T* prelu_op_backward(const OpCall<T>& c, T* dinp, T* dout) {
    prelu_backward(dinp ? dout : static_cast<T*>(nullptr), c.grad(0), c.in, c.param(0), dout, c.m, c.op.n_out, c.fm);
    return dout;
}

template <class T>
OpRow<T> prelu_row() {
    return {"prelu", prelu_build, same_width_buffers, prelu_op_forward<T>, prelu_op_backward<T>,
            /*training_differs=*/false, /*feature_major=*/true, /*fuses_activation=*/false};
}

}  // namespace fastnn
