// fastnn engine: what an op is (the vocabulary of the op table, see op_table.hpp).
//
// An op is one forward/backward pair over (batch, features) buffers plus what the network needs to run it
// without knowing its kind: its parameter tensors (ParamSpec: a name, a shape and an offset in the network's
// flat buffer; trainable or not; its regularizer), the buffers it wants (its pre-activation z, its output, a
// per-call scratch), whether it behaves differently in training, and whether the feature-major layout of
// small.hpp implements it. Non-trainable state (BatchNormalization's moving statistics, Normalization's mean and
// variance) is a ParamSpec with `state` set: it lives in the flat buffer (so weights, files and bindings see it)
// but the optimizer never touches it.
//
// Layouts: row-major buffers are (m, n) with m samples; in the feature-major layout (OpCall::fm) every buffer
// an op sees is the transpose, (n, m).
#pragma once

#include <cmath>
#include <cstddef>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common.hpp"
#include "random.hpp"
#include "small.hpp"

namespace fastnn {

// An op's arguments by name, as add_op receives them (the binding converts a Python dict).
struct OpArgs {
    std::map<std::string, double> num;        // numbers and booleans
    std::map<std::string, std::string> str;   // names (activation, ...)
    std::map<std::string, InitSpec> init;     // initializers (name, a, b)
    std::map<std::string, std::vector<double>> values;  // lists of numbers (Normalization's mean, ...)
};

// One parameter tensor of one op, inside the flat parameter buffer [offset, offset + size).
struct ParamSpec {
    int op = 0;
    std::string name;          // Keras's weight name: "kernel", "bias", "gamma", "beta", "moving_mean", ...
    std::vector<idx> shape;
    std::size_t offset = 0, size = 0;
    bool trainable = true;     // false: frozen (no update, no weight decay, no regularization)
    bool state = false;        // written by the op's forward pass in training (never trainable)
    double l1 = 0, l2 = 0;     // Keras's L1L2 regularizer on this tensor
};

// A parameter tensor as an op's build() declares it; the network allocates and initializes it.
struct ParamDecl {
    std::string name;
    std::vector<idx> shape;
    InitSpec init;
    bool state = false;
    double l1 = 0, l2 = 0;
};

// One op of a network. `num` holds the numeric arguments its row's build() stored, in an order that row names
// (e.g. Dropout's rate is num[0]).
struct Op {
    int kind = 0;              // its row in op_table()
    idx n_in = 0, n_out = 0;
    Act act = Act::Linear;     // the activation applied to its output (rows with fuses_activation)
    std::vector<double> num;
    bool trainable = true;
    bool bf16 = false;         // its products take bfloat16 operands (the mixed_bfloat16 policy, bf16.hpp)
    int first_param = 0, n_params = 0;  // its ParamSpecs: the network's specs [first_param, first_param + n_params)
    OpArgs args;               // the arguments as given, reported back by op_specs
};

// Reads an op's arguments with defaults and checks; every key given must be read (a misspelt key is an error).
class OpArgReader {
public:
    OpArgReader(const OpArgs& a, std::string op_name) : a_(a), op_(std::move(op_name)) {}
    double number(const std::string& key, double dflt) {
        used_.insert(key);
        const auto it = a_.num.find(key);
        if (it == a_.num.end()) return dflt;
        if (!std::isfinite(it->second)) fail(what(key), "a finite number", std::to_string(it->second));
        return it->second;
    }
    double number_in(const std::string& key, double dflt, double lo, double hi, const char* range) {
        const double v = number(key, dflt);
        if (!(v >= lo && v <= hi)) fail(what(key), range, std::to_string(v));
        return v;
    }
    bool flag(const std::string& key, bool dflt) { return number(key, dflt ? 1.0 : 0.0) != 0.0; }
    std::string text(const std::string& key, const std::string& dflt) {
        used_.insert(key);
        const auto it = a_.str.find(key);
        return it == a_.str.end() ? dflt : it->second;
    }
    InitSpec init(const std::string& key, const InitSpec& dflt) {
        used_.insert(key);
        const auto it = a_.init.find(key);
        const InitSpec s = it == a_.init.end() ? dflt : it->second;
        init_validate(s);
        return s;
    }
    std::vector<double> values(const std::string& key) {
        used_.insert(key);
        const auto it = a_.values.find(key);
        if (it == a_.values.end()) return {};
        for (double v : it->second)
            if (!std::isfinite(v)) fail(what(key), "finite numbers", std::to_string(v));
        return it->second;
    }
    std::string what(const std::string& key) const { return key + " (" + op_ + ")"; }
    // Refuses any argument that build() did not read.
    void finish() const {
        std::string known;
        for (const auto& k : used_) known += (known.empty() ? "" : ", ") + k;
        auto check = [&](const std::string& k) {
            if (!used_.count(k)) fail("argument of " + op_, known.empty() ? "no arguments" : "one of " + known, "'" + k + "'");
        };
        for (const auto& kv : a_.num) check(kv.first);
        for (const auto& kv : a_.str) check(kv.first);
        for (const auto& kv : a_.init) check(kv.first);
        for (const auto& kv : a_.values) check(kv.first);
    }

private:
    const OpArgs& a_;
    std::string op_;
    std::set<std::string> used_;
};

// What a row's build() receives and fills: the op (n_in set; n_out as requested) and its parameter tensors.
struct OpBuild {
    Op op;
    std::vector<ParamDecl> params;
};

// The buffers an op wants for one call configuration.
enum class Buf { None, Own, Input, Z };  // none; its own (cap x width); the op's input; the op's z buffer
struct OpBuffers {
    Buf z = Buf::None;             // pre-activation (Own or Input)
    Buf out = Buf::Own;            // output (Own, Z or Input: an identity op passes its input on)
    std::size_t scratch_per_row = 0, scratch_fixed = 0;  // scratch values: cap * per_row + fixed
};

// One call of an op's forward or backward: the network fills it from its buffers.
template <class T>
struct OpCall {
    const Op& op;
    const ParamSpec* specs;  // the op's n_params specs
    T* w;                    // the flat parameter buffer (written only by training forwards of state ops)
    T* dw;                   // the flat gradient buffer (backward only)
    const T* in;             // input (m, n_in), or (n_in, m) when fm
    T* z;                    // pre-activation (m, n_out), when the op asked for one
    T* out;                  // output (m, n_out)
    T* scratch;              // the op's scratch, kept from forward to backward
    idx m;
    bool training;           // a training forward (batch statistics, dropout masks, ...)
    bool fm;                 // feature-major layout
    bool skip_act;           // backward: dout is already dL/dz (the loss took the logits z)
    Rng* rng;                // the dropout/noise stream (training only)
    FmScratch<T>* fs;        // shared scratch of the feature-major path
    T* param(int k) const { return w + specs[k].offset; }
    T* grad(int k) const { return dw + specs[k].offset; }
};

template <class T>
struct OpRow {
    const char* name;        // the kind's name for add_op ("dense", "activation", "dropout", ...)
    // Reads and checks the arguments, sets op.n_out/act/num, declares the parameter tensors in Keras's order.
    void (*build)(OpBuild& b, OpArgReader& args);
    // The buffers it wants; keep_z: the loss will read this (last) op's z.
    OpBuffers (*buffers)(const Op& op, bool training, bool keep_z);
    void (*forward)(const OpCall<T>& c);
    // dout (m, n_out): dL/dout, which the op may overwrite; dinp (m, n_in): where dL/din may go, null when
    // nobody needs it (the first op). Returns where dL/din is: dinp, or dout when an op of equal width computed
    // it in place. Parameter gradients go to c.grad(k) (overwritten, not accumulated).
    T* (*backward)(const OpCall<T>& c, T* dinp, T* dout);
    bool training_differs;   // forward differs between training and inference
    bool feature_major;      // implemented in the feature-major layout (else the network trains row-major)
    bool fuses_activation;   // op.act applies to its output; a fused loss may take z as logits
};

}  // namespace fastnn
