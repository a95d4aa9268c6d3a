// fastnn engine: the noise ops, active only in training (Keras's regularization layers), rows of the op table:
// Dropout, then GaussianNoise, GaussianDropout and AlphaDropout (further down).
//
// Dropout (argument rate in [0, 1)): inverted dropout as Keras: in training each value is kept with probability
// 1 - rate and scaled by 1 / (1 - rate), else zeroed; at inference the op passes its input on (no copy).
// The mask (scale or 0 per value) is the op's scratch, drawn from the dropout stream in buffer order.
#pragma once

#include <algorithm>
#include <cmath>

#include "ops.hpp"
#include "ops_activation.hpp"

namespace fastnn {

// out (m, n) = in (m, n) * mask (m, n), mask_j = [u_j >= rate] / (1 - rate)   (any layout: elementwise)
template <class T>
void dropout_forward(T* out, T* mask, const T* in, double rate, Rng& rng, idx count) {
    if (rate == 0) {
        std::fill(mask, mask + count, T(1));
        std::copy(in, in + count, out);
        return;
    }
    const T scale = T(1.0 / (1.0 - rate));
    for (idx j = 0; j < count; ++j) {
        mask[j] = rng.uniform() >= rate ? scale : T(0);
        out[j] = in[j] * mask[j];
    }
}

// dinp = dout * mask   (from out = in * mask), in place
template <class T>
void dropout_backward(T* dout, const T* mask, idx count) {
    for (idx j = 0; j < count; ++j) dout[j] *= mask[j];
}

enum DropoutNum { kDropoutRate = 0 };

inline void dropout_build(OpBuild& b, OpArgReader& args) {
    check_same_width(b.op, "Dropout");
    const double rate = args.number("rate", 0.0);
    if (!(rate >= 0 && rate < 1)) fail("rate (Dropout)", "a number in [0, 1)", std::to_string(rate));
    b.op.num = {rate};
}

inline OpBuffers dropout_buffers(const Op& op, bool training, bool) {
    OpBuffers b;
    b.out = training ? Buf::Own : Buf::Input;
    b.scratch_per_row = training ? std::size_t(op.n_out) : 0;  // the mask
    return b;
}

template <class T>
void dropout_op_forward(const OpCall<T>& c) {
    if (!c.training) return;  // out is the input
    dropout_forward(c.out, c.scratch, c.in, c.op.num[kDropoutRate], *c.rng, c.m * c.op.n_out);
}

template <class T>
T* dropout_op_backward(const OpCall<T>& c, T* dinp, T* dout) {
    if (dinp) dropout_backward(dout, c.scratch, c.m * c.op.n_out);
    return dout;
}

template <class T>
OpRow<T> dropout_row() {
    return {"dropout", dropout_build, dropout_buffers, dropout_op_forward<T>, dropout_op_backward<T>,
            /*training_differs=*/true, /*feature_major=*/true, /*fuses_activation=*/false};
}

// ---------------------------------------------------------------- GaussianNoise, GaussianDropout, AlphaDropout
// Keras's other regularization layers (keras/src/layers/regularization), active only in training, drawing from
// the dropout stream in buffer order; at inference each passes its input on (no copy).
//   gaussian_noise   (stddev in [0, 1])   out = in + stddev * e,                         e ~ N(0, 1)
//   gaussian_dropout (rate in [0, 1))     out = in * noise, noise = 1 + sqrt(rate / (1 - rate)) * e
//   alpha_dropout    (rate in [0, 1))     out = a * (u >= rate ? in : alpha_p) + b,       u ~ U[0, 1)
//                                         alpha_p = -selu_alpha * selu_scale, a = ((1 - rate)(1 + rate
//                                         alpha_p^2))^-1/2, b = -a alpha_p rate; scratch: a * [u >= rate]

// out (count) = in + stddev * e   (any layout: elementwise; the backward is the identity)
template <class T>
void gaussian_noise_forward(T* out, const T* in, double stddev, Rng& rng, idx count) {
    for (idx j = 0; j < count; ++j) out[j] = in[j] + T(stddev * rng.normal());
}

// out (count) = in * noise, noise = 1 + s * e kept in `noise` for the backward   (any layout)
template <class T>
void gaussian_dropout_forward(T* out, T* noise, const T* in, double rate, Rng& rng, idx count) {
    const double s = std::sqrt(rate / (1.0 - rate));
    for (idx j = 0; j < count; ++j) {
        noise[j] = T(1.0 + s * rng.normal());
        out[j] = in[j] * noise[j];
    }
}

// out (count) = a * (kept ? in : alpha_p) + b; mask = a * kept kept for the backward   (any layout)
template <class T>
void alpha_dropout_forward(T* out, T* mask, const T* in, double rate, Rng& rng, idx count) {
    const double alpha_p = -1.6732632423543772848170429916717 * 1.0507009873554804934193349852946;
    const double a = std::pow((1.0 - rate) * (1.0 + rate * alpha_p * alpha_p), -0.5), b = -a * alpha_p * rate;
    const T dropped = T(a * alpha_p + b), ta = T(a), tb = T(b);
    for (idx j = 0; j < count; ++j) {
        const bool kept = rng.uniform() >= rate;
        mask[j] = kept ? ta : T(0);
        out[j] = kept ? ta * in[j] + tb : dropped;
    }
}

// dinp = dout * factor   (from out = in * noise, or out = a * in + b where kept), in place
template <class T>
void scale_backward(T* dout, const T* factor, idx count) {
    for (idx j = 0; j < count; ++j) dout[j] *= factor[j];
}

inline void gaussian_noise_build(OpBuild& b, OpArgReader& args) {
    check_same_width(b.op, "GaussianNoise");
    const double stddev = args.number("stddev", 0.0);
    if (!(stddev >= 0 && stddev <= 1)) fail("stddev (GaussianNoise)", "a number in [0, 1]", std::to_string(stddev));
    b.op.num = {stddev};
}

inline OpBuffers gaussian_noise_buffers(const Op&, bool training, bool) {
    OpBuffers b;
    b.out = training ? Buf::Own : Buf::Input;
    return b;
}

template <class T>
void gaussian_noise_op_forward(const OpCall<T>& c) {
    if (!c.training) return;  // out is the input
    gaussian_noise_forward(c.out, c.in, c.op.num[0], *c.rng, c.m * c.op.n_out);
}

template <class T>
T* identity_op_backward(const OpCall<T>&, T*, T* dout) {
    return dout;  // dL/din = dL/dout
}

template <class T>
OpRow<T> gaussian_noise_row() {
    return {"gaussian_noise", gaussian_noise_build, gaussian_noise_buffers, gaussian_noise_op_forward<T>,
            identity_op_backward<T>, /*training_differs=*/true, /*feature_major=*/true, /*fuses_activation=*/false};
}

inline void rate_build(OpBuild& b, OpArgReader& args, const char* layer) {
    check_same_width(b.op, layer);
    const double rate = args.number("rate", 0.0);
    if (!(rate >= 0 && rate < 1)) fail(std::string("rate (") + layer + ")", "a number in [0, 1)", std::to_string(rate));
    b.op.num = {rate};
}

inline void gaussian_dropout_build(OpBuild& b, OpArgReader& args) { rate_build(b, args, "GaussianDropout"); }
inline void alpha_dropout_build(OpBuild& b, OpArgReader& args) { rate_build(b, args, "AlphaDropout"); }

template <class T>
void gaussian_dropout_op_forward(const OpCall<T>& c) {
    if (!c.training) return;  // out is the input
    gaussian_dropout_forward(c.out, c.scratch, c.in, c.op.num[0], *c.rng, c.m * c.op.n_out);
}

template <class T>
void alpha_dropout_op_forward(const OpCall<T>& c) {
    if (!c.training) return;  // out is the input
    alpha_dropout_forward(c.out, c.scratch, c.in, c.op.num[0], *c.rng, c.m * c.op.n_out);
}

template <class T>
T* scale_op_backward(const OpCall<T>& c, T* dinp, T* dout) {
    if (dinp) scale_backward(dout, c.scratch, c.m * c.op.n_out);
    return dout;
}

template <class T>
OpRow<T> gaussian_dropout_row() {
    return {"gaussian_dropout", gaussian_dropout_build, dropout_buffers, gaussian_dropout_op_forward<T>,
            scale_op_backward<T>, /*training_differs=*/true, /*feature_major=*/true, /*fuses_activation=*/false};
}

template <class T>
OpRow<T> alpha_dropout_row() {
    return {"alpha_dropout", alpha_dropout_build, dropout_buffers, alpha_dropout_op_forward<T>,
            scale_op_backward<T>, /*training_differs=*/true, /*feature_major=*/true, /*fuses_activation=*/false};
}

}  // namespace fastnn
