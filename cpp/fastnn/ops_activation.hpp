// fastnn engine: the Activation op (Keras's Activation layer: out = act(in)), a row of the op table.
//
// Arguments: activation (name). No weights. Kernels: activations.hpp (row-major), small.hpp (feature-major).
#pragma once

#include "activations.hpp"
#include "ops.hpp"
#include "small.hpp"

namespace fastnn {

// Ops that keep the width: the requested n_out must be n_in.
inline void check_same_width(const Op& op, const char* what) {
    if (op.n_out != op.n_in)
        fail(std::string("output size of ") + what, std::to_string(op.n_in) + " (its input size)",
             std::to_string(op.n_out));
}

inline void activation_build(OpBuild& b, OpArgReader& args) {
    check_same_width(b.op, "Activation");
    b.op.act = act_from_name(args.text("activation", "linear"));
}

inline OpBuffers activation_buffers(const Op&, bool, bool) {
    OpBuffers b;
    b.z = Buf::Input;  // z is the input: the loss may take it as logits
    b.out = Buf::Own;
    return b;
}

template <class T>
void activation_op_forward(const OpCall<T>& c) {
    if (c.fm) fm_act_forward(c.op.act, c.out, c.in, c.m, c.op.n_out, *c.fs);
    else act_forward(c.op.act, c.out, c.in, c.m, c.op.n_out);
}

template <class T>
T* activation_op_backward(const OpCall<T>& c, T* dinp, T* dout) {
    if (!dinp || c.skip_act) return dout;  // skip_act: dout is already dL/dz = dL/din
    // in place: dout becomes act'(in) * dout
    if (c.fm) fm_act_backward(c.op.act, dout, c.in, c.out, dout, c.m, c.op.n_out, *c.fs);
    else act_backward(c.op.act, dout, c.in, c.out, dout, c.m, c.op.n_out);
    return dout;
}

template <class T>
OpRow<T> activation_row() {
    return {"activation", activation_build, activation_buffers, activation_op_forward<T>,
            activation_op_backward<T>, /*training_differs=*/false, /*feature_major=*/true,
            /*fuses_activation=*/true};
}

}  // namespace fastnn
