// fastnn engine: the op table. A network is a list of ops; each op's kind is a row here, and the network, the
// weight accessors, the files and the bindings run every op through its row, never by naming its kind.
//
// How to add an op (a layer):
//  1. In its family's file (ops_dense.hpp, ops_activation.hpp, ops_noise.hpp, ops_normalization.hpp, or a new
//     ops_<family>.hpp), write the kernels as plain functions, output first, inputs next, sizes last, a shape
//     comment per pointer (llm.c style), the backward quoting the forward line it differentiates; then the four
//     row functions (ops.hpp, OpRow): build (read arguments with OpArgReader, set op.n_out/num/act, declare the
//     parameter tensors in Keras's weight order), buffers (z/out/scratch it needs), forward and backward (over
//     OpCall), and a `<name>_row<T>()` returning the OpRow with its flags (training_differs, feature_major:
//     false makes any network holding the op train row-major, fuses_activation).
//  2. Add that row to op_table() below (append: the index is the kind id only inside one process).
//  3. tests/reference.py: a float64 NumPy forward and backward of the op; tests comparing the engine with it
//     (tests/test_normalization_ops.py shows the pattern: `_core.Network`, add_op(kind, n_in, n_out, args),
//     predict, forward_backward, a central-difference gradient check in float64, both layouts where both run).
//  4. fastnn/layers.py: its Python class (Keras 3 name, arguments, defaults) with `_engine_op()` returning
//     (kind, args) and `_weight_shapes()`; add it to ENGINE_LAYERS, and its config keys to the closed list
//     `_LAYER_KEYS` of fastnn/models.py (files load only listed classes and keys).
#pragma once

#include <string>
#include <vector>

#include "ops.hpp"
#include "ops_activation.hpp"
#include "ops_dense.hpp"
#include "ops_noise.hpp"
#include "ops_normalization.hpp"
#include "ops_rectifiers.hpp"

namespace fastnn {

template <class T>
const std::vector<OpRow<T>>& op_table() {
    static const std::vector<OpRow<T>> table = {
        dense_row<T>(),
        activation_row<T>(),
        dropout_row<T>(),
        batchnorm_row<T>(),
        layernorm_row<T>(),
        unitnorm_row<T>(),
        normalization_row<T>(),
        rescaling_row<T>(),
        relu_row<T>(),
        elu_row<T>(),
        prelu_row<T>(),
        gaussian_noise_row<T>(),
        gaussian_dropout_row<T>(),
        alpha_dropout_row<T>(),
    };
    return table;
}

// The row index of kind `name`; ValueError naming the known kinds otherwise.
template <class T>
int op_kind(const std::string& name) {
    const auto& t = op_table<T>();
    std::string known;
    for (std::size_t k = 0; k < t.size(); ++k) {
        if (name == t[k].name) return int(k);
        known += (k ? ", " : "") + std::string(t[k].name);
    }
    fail("op kind", "one of " + known, "'" + name + "'");
}

}  // namespace fastnn
