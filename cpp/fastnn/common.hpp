// fastnn engine: shared vocabulary.
//
// Conventions used throughout cpp/fastnn:
//  - matrices are row-major (rows = samples, cols = features), passed as a pointer plus sizes;
//  - kernels take the output first, inputs next, sizes last (as llm.c);
//  - gradients carry a `d` prefix (dW, db, dz, dout);
//  - a caller mistake throws std::invalid_argument (ValueError in Python); nothing here aborts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

namespace fastnn {

using idx = std::ptrdiff_t;

enum class Act {
    Linear, Relu, LeakyRelu, Elu, Selu, Gelu, Swish, Sigmoid, HardSigmoid, Tanh, Softplus, Softsign,
    Softmax, Step
};

enum class Loss {
    MSE, MAE, Huber, BCE, CCE, SparseCCE, Hinge, SquaredHinge,
    LogCosh, KLD, Poisson, MAPE, MSLE, CategoricalHinge, CosineSimilarity
};

// Metric kinds (see metrics.hpp): a loss's mean, accuracies, confusion counts and the curves built on them.
enum class Metric {
    LossMean, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy, TopK, SparseTopK, RMSE,
    TruePositives, FalsePositives, TrueNegatives, FalseNegatives, Precision, Recall, AUC, R2, FBeta
};


Act act_from_name(const std::string& name);
const char* act_name(Act a);
Loss loss_from_name(const std::string& name);
Metric metric_from_name(const std::string& name);
const char* metric_name(Metric m);
const char* loss_name(Loss l);

// Throws std::invalid_argument with "<what>: expected <expected>, got <got>".
[[noreturn]] void fail(const std::string& what, const std::string& expected, const std::string& got);

// Running out of memory, saying what ran out: a std::bad_alloc (MemoryError in Python) whose message reads
// "out of memory: <what> needs <bytes>", e.g. "optimizer state for 1.2e+09 parameters needs 4.47 GiB".
class OutOfMemory : public std::bad_alloc {
public:
    explicit OutOfMemory(std::string msg) : msg_(std::move(msg)) {}
    const char* what() const noexcept override { return msg_.c_str(); }

private:
    std::string msg_;
};
[[noreturn]] void out_of_memory(const std::string& what, double bytes);
// Refuses (OutOfMemory) a request of `bytes` above the machine's physical memory, before allocating: an
// overcommitting kernel would otherwise grant it and kill the process when the pages are touched. The limits of
// fastnn/_limits.py are checked in Python first; this is the engine's own backstop for direct _core calls.
void check_alloc(const std::string& what, double bytes);
std::string human_bytes(double bytes);

}  // namespace fastnn
