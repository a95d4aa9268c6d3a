// fastnn engine: the noise ops, active only in training (Keras's regularization layers), rows of the op table.
//
// Dropout (argument rate in [0, 1)): inverted dropout as Keras: in training each value is kept with probability
// 1 - rate and scaled by 1 / (1 - rate), else zeroed; at inference the op passes its input on (no copy).
// The mask (scale or 0 per value) is the op's scratch, drawn from the dropout stream in buffer order.
#pragma once

#include <algorithm>

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

}  // namespace fastnn
