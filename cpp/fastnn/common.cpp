// fastnn engine: name tables (the closed lists of activations, losses and metrics) and the error helper.
#include "common.hpp"

#include <cstdio>
#include <utility>

#include <unistd.h>

namespace fastnn {

void fail(const std::string& what, const std::string& expected, const std::string& got) {
    throw std::invalid_argument(what + ": expected " + expected + ", got " + got);
}

std::string human_bytes(double bytes) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    int u = 0;
    while (bytes >= 1024 && u < 6) {
        bytes /= 1024;
        ++u;
    }
    char buf[64];
    std::snprintf(buf, sizeof buf, u ? "%.2f %s" : "%.0f %s", bytes, units[u]);
    return buf;
}

void out_of_memory(const std::string& what, double bytes) {
    throw OutOfMemory("out of memory: " + what + " needs " + human_bytes(bytes));
}

void check_alloc(const std::string& what, double bytes) {
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    const double phys = pages > 0 && page > 0 ? double(pages) * double(page) : 1e18;
    if (bytes > phys)
        throw OutOfMemory("out of memory: " + what + " needs " + human_bytes(bytes) + ", more than this machine's " +
                          human_bytes(phys));
}

namespace {
const std::pair<const char*, Act> kActs[] = {
    {"linear", Act::Linear},       {"relu", Act::Relu},       {"leaky_relu", Act::LeakyRelu},
    {"elu", Act::Elu},             {"selu", Act::Selu},       {"gelu", Act::Gelu},
    {"swish", Act::Swish},         {"silu", Act::Swish},      {"sigmoid", Act::Sigmoid},
    {"hard_sigmoid", Act::HardSigmoid}, {"tanh", Act::Tanh},  {"softplus", Act::Softplus},
    {"softsign", Act::Softsign},   {"softmax", Act::Softmax}, {"step", Act::Step},
};
const std::pair<const char*, Loss> kLosses[] = {
    {"mse", Loss::MSE},
    {"mae", Loss::MAE},
    {"huber", Loss::Huber},
    {"binary_crossentropy", Loss::BCE},
    {"categorical_crossentropy", Loss::CCE},
    {"sparse_categorical_crossentropy", Loss::SparseCCE},
    {"hinge", Loss::Hinge},
    {"squared_hinge", Loss::SquaredHinge},
    {"log_cosh", Loss::LogCosh},
    {"kl_divergence", Loss::KLD},
    {"poisson", Loss::Poisson},
    {"mean_absolute_percentage_error", Loss::MAPE},
    {"mean_squared_logarithmic_error", Loss::MSLE},
    {"categorical_hinge", Loss::CategoricalHinge},
    {"cosine_similarity", Loss::CosineSimilarity},
};
const std::pair<const char*, Metric> kMetrics[] = {
    {"loss_mean", Metric::LossMean},
    {"binary_accuracy", Metric::BinaryAccuracy},
    {"categorical_accuracy", Metric::CategoricalAccuracy},
    {"sparse_categorical_accuracy", Metric::SparseCategoricalAccuracy},
    {"top_k_categorical_accuracy", Metric::TopK},
    {"sparse_top_k_categorical_accuracy", Metric::SparseTopK},
    {"root_mean_squared_error", Metric::RMSE},
    {"true_positives", Metric::TruePositives},
    {"false_positives", Metric::FalsePositives},
    {"true_negatives", Metric::TrueNegatives},
    {"false_negatives", Metric::FalseNegatives},
    {"precision", Metric::Precision},
    {"recall", Metric::Recall},
    {"auc", Metric::AUC},
    {"r2_score", Metric::R2},
    {"fbeta_score", Metric::FBeta},
};

template <class E, std::size_t N>
E lookup(const std::pair<const char*, E> (&table)[N], const std::string& name, const char* what) {
    std::string all;
    for (const auto& [k, v] : table) {
        if (name == k) return v;
        all += all.empty() ? k : std::string(", ") + k;
    }
    fail(what, "one of " + all, "'" + name + "'");
}
}  // namespace

Act act_from_name(const std::string& name) { return lookup(kActs, name, "activation"); }
Loss loss_from_name(const std::string& name) { return lookup(kLosses, name, "loss"); }
Metric metric_from_name(const std::string& name) { return lookup(kMetrics, name, "metric"); }

template <class E, std::size_t N>
const char* name_of(const std::pair<const char*, E> (&table)[N], E e) {
    for (const auto& [k, v] : table)
        if (v == e) return k;
    return "?";
}

const char* act_name(Act a) { return name_of(kActs, a); }
const char* metric_name(Metric m) { return name_of(kMetrics, m); }
const char* loss_name(Loss l) { return name_of(kLosses, l); }

}  // namespace fastnn
