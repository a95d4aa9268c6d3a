// fastnn engine: the Dense op (Keras's Dense: out = act(in @ kernel + bias)), a row of the op table.
//
// Arguments: units = n_out; activation (name, default "linear"); use_bias (default true); kernel_initializer,
// bias_initializer ((name, a, b)); kernel_l1, kernel_l2, bias_l1, bias_l2 (regularization factors >= 0).
// Weights in Keras's order: kernel (n_in, n_out), bias (n_out,).
// Kernels: dense.hpp (row-major, one GEMM each) and small.hpp (feature-major).
#pragma once

#include "activations.hpp"
#include "dense.hpp"
#include "ops.hpp"
#include "small.hpp"

namespace fastnn {

inline void dense_build(OpBuild& b, OpArgReader& args) {
    Op& op = b.op;
    if (op.n_out < 1) fail("units", "an integer >= 1", std::to_string(op.n_out));
    op.act = act_from_name(args.text("activation", "linear"));
    const bool use_bias = args.flag("use_bias", true);
    auto reg = [&](const char* key) { return args.number_in(key, 0.0, 0.0, 1e300, "a finite number >= 0"); };
    ParamDecl kernel{"kernel", {op.n_in, op.n_out}, args.init("kernel_initializer", {"glorot_uniform", 0, 0})};
    kernel.l1 = reg("kernel_l1");
    kernel.l2 = reg("kernel_l2");
    b.params.push_back(kernel);
    const InitSpec binit = args.init("bias_initializer", {"zeros", 0, 0});
    const double b_l1 = reg("bias_l1"), b_l2 = reg("bias_l2");
    if (use_bias) {
        ParamDecl bias{"bias", {op.n_out}, binit};
        bias.l1 = b_l1;
        bias.l2 = b_l2;
        b.params.push_back(bias);
    }
}

inline OpBuffers dense_buffers(const Op& op, bool training, bool keep_z) {
    // Inference computes the activation in place (less memory traffic), except where the loss needs the logits.
    OpBuffers b;
    b.z = Buf::Own;
    b.out = op.act == Act::Linear || (!training && !keep_z) ? Buf::Z : Buf::Own;
    return b;
}

template <class T>
void dense_op_forward(const OpCall<T>& c) {
    const Op& op = c.op;
    const T* b = op.n_params > 1 ? c.param(1) : nullptr;
    if (c.fm) {
        fm_dense_forward(c.z, c.in, c.param(0), b, c.m, op.n_in, op.n_out);
        fm_act_forward(op.act, c.out, c.z, c.m, op.n_out, *c.fs);
    } else {
        dense_forward(c.z, c.out, c.in, c.param(0), b, op.act, c.m, op.n_in, op.n_out);
    }
}

template <class T>
T* dense_op_backward(const OpCall<T>& c, T* dinp, T* dout) {
    const Op& op = c.op;
    if (!c.skip_act && op.act != Act::Linear) {  // dout becomes dz
        if (c.fm) fm_act_backward(op.act, dout, c.z, c.out, dout, c.m, op.n_out, *c.fs);
        else act_backward(op.act, dout, c.z, c.out, dout, c.m, op.n_out);
    }
    T* db = op.n_params > 1 ? c.grad(1) : nullptr;
    if (c.fm) fm_dense_backward(dinp, c.grad(0), db, dout, c.in, c.param(0), c.m, op.n_in, op.n_out);
    else dense_backward(dinp, c.grad(0), db, dout, c.in, c.param(0), c.m, op.n_in, op.n_out);
    return dinp;
}

template <class T>
OpRow<T> dense_row() {
    return {"dense", dense_build, dense_buffers, dense_op_forward<T>, dense_op_backward<T>,
            /*training_differs=*/false, /*feature_major=*/true, /*fuses_activation=*/true};
}

}  // namespace fastnn
