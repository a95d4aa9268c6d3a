// fastnn engine: the network, its forward and backward passes, and the training loop (see network.hpp).
#include "network.hpp"

#include <algorithm>
#include <type_traits>
#include <cmath>
#include <cstdio>
#include <limits>
#include <mutex>
#include <unistd.h>

#include "bf16.hpp"
#include "losses.hpp"
#include "threads.hpp"

namespace fastnn {

namespace {

std::string count_str(double n) {
    char buf[32];
    std::snprintf(buf, sizeof buf, n < 1e6 ? "%.0f" : "%.3g", n);
    return buf;
}

// RAII guard for "one training call at a time".
struct TrainingGuard {
    std::atomic<bool>& flag;
    explicit TrainingGuard(std::atomic<bool>& f) : flag(f) {
        bool expected = false;
        if (!flag.compare_exchange_strong(expected, true))
            throw std::runtime_error("this model is already being trained in another thread: "
                                     "two fit/train_on_batch calls on one model cannot run at once");
    }
    ~TrainingGuard() { flag = false; }
};

}  // namespace

template <class T>
Network<T>::Network(std::uint64_t seed)
    : init_rng_(seed, kStreamInit), shuffle_rng_(seed, kStreamShuffle), dropout_rng_(seed, kStreamDropout) {
    pool_.reserve(kPoolSize);  // PooledWorkspace's destructor must not allocate
}

template <class T>
void Network<T>::add_op(const std::string& kind, idx n_in, idx n_out, const OpArgs& args) {
    require_idle("add a layer");
    const int k = op_kind<T>(kind);
    const OpRow<T>& r = op_table<T>()[std::size_t(k)];
    if (n_in < 1) fail(std::string("input size of ") + r.name, "an integer >= 1", std::to_string(n_in));
    if (!ops_.empty() && ops_.back().n_out != n_in)
        fail(std::string("input size of ") + r.name, std::to_string(ops_.back().n_out) + " (the previous layer's output)",
             std::to_string(n_in));
    OpBuild b;
    b.op.kind = k;
    b.op.n_in = n_in;
    b.op.n_out = n_out;
    b.op.args = args;
    // compute_dtype, the one argument every op takes: "bfloat16" runs its products on bfloat16 operands.
    OpArgs row_args = args;
    if (const auto it = row_args.str.find("compute_dtype"); it != row_args.str.end()) {
        if (it->second == "bfloat16" && std::is_same_v<T, float>) b.op.bf16 = true;
        else if (it->second != (std::is_same_v<T, float> ? "float32" : "float64"))
            fail(std::string("compute_dtype of ") + r.name,
                 std::is_same_v<T, float> ? "'float32' or 'bfloat16'" : "'float64'", "'" + it->second + "'");
        row_args.str.erase(it);
    }
    OpArgReader reader(row_args, r.name);
    r.build(b, reader);
    reader.finish();
    double count = double(params_.size());
    for (const ParamDecl& d : b.params) {
        double size = 1;
        for (idx e : d.shape) size *= double(e);
        count += size;
    }
    if (count > double(std::numeric_limits<int>::max()))
        throw OutOfMemory("out of memory: " + count_str(count) + " parameters is above fastnn's limit of " +
                          std::to_string(std::numeric_limits<int>::max()) + " for one model");
    check_alloc("the weights and gradients of " + count_str(count) + " parameters", 2 * count * sizeof(T));

    std::unique_lock lock(mtx_);
    b.op.first_param = int(specs_.size());
    b.op.n_params = int(b.params.size());
    const int op_index = int(ops_.size());
    // All or nothing: every allocation happens before the network changes; a failure restores the sizes
    // (shrinking does not allocate) and the initializer's generator, so the network is as it was.
    const std::size_t old = params_.size(), old_specs = specs_.size();
    const Rng init_before = init_rng_;
    std::size_t off = old;
    try {
    ops_.reserve(ops_.size() + 1);
    const std::size_t n_specs = specs_.size() + b.params.size();
    specs_.reserve(n_specs);
    train_spans_.reserve(n_specs);  // update_trainable_spans() then never allocates
    train_ranges_.reserve(n_specs);
    params_.resize(std::size_t(count));
    grads_.resize(std::size_t(count));
    for (const ParamDecl& d : b.params) {
        ParamSpec p;
        p.op = op_index;
        p.name = d.name;
        p.shape = d.shape;
        p.offset = off;
        p.size = 1;
        for (idx e : d.shape) p.size *= std::size_t(e);
        p.trainable = !d.state;
        p.state = d.state;
        p.l1 = d.l1;
        p.l2 = d.l2;
        // Keras's compute_fans: (fan_in, fan_out) = shape for a 2-D shape; a 1-D shape (n,) has both n; () has 1.
        const std::size_t fan_in = d.shape.empty() ? 1 : std::size_t(d.shape.front());
        const std::size_t fan_out = d.shape.empty() ? 1 : std::size_t(d.shape.back());
        initialize(params_.data() + off, p.size, fan_in, fan_out, d.init, init_rng_);
        off += p.size;
        specs_.push_back(std::move(p));
    }
    } catch (const std::bad_alloc&) {
        specs_.erase(specs_.begin() + std::ptrdiff_t(old_specs), specs_.end());
        params_.resize(old);
        grads_.resize(old);
        init_rng_ = init_before;
        out_of_memory("the weights and gradients of layer " + std::to_string(op_index) + " (" +
                          count_str(count - double(old)) + " parameters)",
                      2 * (count - double(old)) * sizeof(T));
    }
    std::fill(grads_.begin(), grads_.end(), T(0));
    ops_.push_back(std::move(b.op));  // (capacity reserved above: no allocation)
    ++weights_version_;
    update_trainable_spans();
    compiled_ = false;
    ++version_;
}

// The trainable tensors as spans (for per-tensor clipping) and merged into as few ranges as possible (the
// optimizer's loops): with nothing frozen, one range covers the whole buffer.
template <class T>
void Network<T>::update_trainable_spans() {
    train_spans_.clear();
    train_ranges_.clear();
    for (const ParamSpec& p : specs_) {
        if (!p.trainable || p.size == 0) continue;
        train_spans_.push_back({p.offset, p.size});
        if (!train_ranges_.empty() && train_ranges_.back().offset + train_ranges_.back().size == p.offset)
            train_ranges_.back().size += p.size;
        else
            train_ranges_.push_back({p.offset, p.size});
    }
}

template <class T>
void Network<T>::set_trainable(int i, bool trainable) {
    require_idle("change trainable");
    if (i < 0 || i >= int(ops_.size())) fail("layer index", "0.." + std::to_string(int(ops_.size()) - 1), std::to_string(i));
    std::unique_lock lock(mtx_);
    Op& op = ops_[std::size_t(i)];
    op.trainable = trainable;
    for (int k = 0; k < op.n_params; ++k) {
        ParamSpec& p = specs_[std::size_t(op.first_param + k)];
        p.trainable = trainable && !p.state;
    }
    update_trainable_spans();
}

template <class T>
void Network<T>::set_gradient_hook(GradHook hook) {
    require_idle("set the gradient hook");
    std::unique_lock lock(mtx_);
    grad_hook_ = std::move(hook);
}

template <class T>
idx Network<T>::target_cols() const {
    return loss_.kind == Loss::SparseCCE ? 1 : n_out();
}

template <class T>
void Network<T>::compile(const LossSpec& loss, const OptConfig& opt, const std::vector<MetricSpec>& metrics) {
    require_idle("compile");
    if (ops_.empty()) throw std::invalid_argument("the model has no layers: add a Dense layer before compile()");
    opt_validate(opt);
    loss_validate(loss);
    for (const MetricSpec& m : metrics) {
        if (metric_takes_sparse_labels(m) != (loss.kind == Loss::SparseCCE) && n_out() != 1)
            fail(std::string("metric '") + (m.kind == Metric::LossMean ? loss_name(m.loss.kind) : metric_name(m.kind)) +
                     "'",
                 metric_takes_sparse_labels(m)
                     ? "integer class labels, which only loss 'sparse_categorical_crossentropy' takes"
                     : "targets with one column per output, which 'sparse_categorical_crossentropy' does not take",
                 "loss '" + std::string(loss_name(loss.kind)) + "'");
    }
    MetricSet checked;
    checked.assign(metrics, n_out());
    std::unique_lock lock(mtx_);
    // All or nothing: the new optimizer state and metric accumulators are made first (a failure releases them and
    // leaves the network compiled as it was, or not at all), then moved in.
    const double n = double(params_.size());
    check_alloc("the optimizer state of " + count_str(n) + " parameters", 5 * n * sizeof(T));
    Optimizer<T> fresh;
    std::vector<double> mstate;
    try {
        fresh.cfg = opt;
        fresh.reset(params_.size());
        mstate.assign(std::size_t(checked.state_size()), 0.0);
    } catch (const std::bad_alloc&) {
        out_of_memory("the optimizer state of " + count_str(n) + " parameters", 3 * n * sizeof(T));
    }
    loss_ = loss;
    const Op& last = ops_.back();
    const bool has_act = row(int(ops_.size()) - 1).fuses_activation;
    fused_ = has_act && !loss.logits &&
             ((last.act == Act::Softmax && (loss.kind == Loss::CCE || loss.kind == Loss::SparseCCE)) ||
              (last.act == Act::Sigmoid && loss.kind == Loss::BCE));
    metrics_ = std::move(checked);
    ep_mstate_.swap(mstate);  // begin_epoch then never allocates it
    fm_ = choose_feature_major();
    train_ws_ = Workspace<T>();
    opt_ = std::move(fresh);
    compiled_ = true;
}

template <class T>
void Network<T>::check_trainable() const {
    if (!compiled_) throw std::invalid_argument("the model must be compiled before training: call compile()");
    for (std::size_t i = 0; i < ops_.size(); ++i)
        if (row(int(i)).fuses_activation && ops_[i].act == Act::Step)
            fail("activation of layer " + std::to_string(i),
                 "a differentiable activation for gradient training ('step' has no gradient; use "
                 "fastnn.Perceptron for the perceptron rule)",
                 "'step'");
}

template <class T>
std::vector<std::vector<T>> Network<T>::get_weights(int i) const {
    if (i < 0 || i >= int(ops_.size())) fail("layer index", "0.." + std::to_string(int(ops_.size()) - 1), std::to_string(i));
    std::shared_lock lock(mtx_);
    const Op& op = ops_[std::size_t(i)];
    std::vector<std::vector<T>> out;
    for (int k = 0; k < op.n_params; ++k) {
        const ParamSpec& p = specs_[std::size_t(op.first_param + k)];
        out.emplace_back(params_.begin() + std::ptrdiff_t(p.offset), params_.begin() + std::ptrdiff_t(p.offset + p.size));
    }
    return out;
}

template <class T>
void Network<T>::set_weights(int i, const std::vector<const T*>& tensors, const std::vector<std::size_t>& sizes) {
    if (i < 0 || i >= int(ops_.size())) fail("layer index", "0.." + std::to_string(int(ops_.size()) - 1), std::to_string(i));
    const Op& op = ops_[std::size_t(i)];
    if (tensors.size() != std::size_t(op.n_params) || sizes.size() != tensors.size())
        fail("weights", std::to_string(op.n_params) + " arrays", std::to_string(tensors.size()));
    for (int k = 0; k < op.n_params; ++k) {
        const ParamSpec& p = specs_[std::size_t(op.first_param + k)];
        if (sizes[std::size_t(k)] != p.size) fail(p.name, std::to_string(p.size) + " values", std::to_string(sizes[std::size_t(k)]));
    }
    std::unique_lock lock(mtx_);
    for (int k = 0; k < op.n_params; ++k) {
        const ParamSpec& p = specs_[std::size_t(op.first_param + k)];
        std::copy(tensors[std::size_t(k)], tensors[std::size_t(k)] + p.size, params_.begin() + std::ptrdiff_t(p.offset));
    }
    ++weights_version_;
}

template <class T>
void Network<T>::ensure(Workspace<T>& ws, idx cap, bool training, int first, int last, bool keep_last_z) const {
    const std::size_t L = ops_.size();
    const int key[4] = {first, last, int(training), int(keep_last_z)};
    if (ws.cap >= cap && ws.Z.size() == L && std::equal(key, key + 4, ws.key)) return;
    // All or nothing: the old buffers are released, the new ones made in `fresh` and moved in once all exist. A
    // failure leaves ws empty (cap 0), which the next call rebuilds.
    ws = Workspace<T>();
    double values = 0, widest = double(n_in());
    for (int i = first; i <= last; ++i) {
        const Op& op = ops_[std::size_t(i)];
        const OpBuffers b = row(i).buffers(op, training, i == last && keep_last_z);
        widest = std::max(widest, double(op.n_out));
        values += double(cap) * double(op.n_out) * ((b.z == Buf::Own) + (b.out == Buf::Own)) +
                  double(cap) * double(b.scratch_per_row) + double(b.scratch_fixed);
    }
    if (training) values += double(cap) * (4 * widest + 2 * double(n_in()) + 2 * double(n_out()) + 4);
    const std::string what = std::string(training ? "training" : "inference") + " buffers for a batch of " +
                             count_str(double(cap)) + " samples";
    check_alloc(what, values * sizeof(T));
    try {
        Workspace<T> fresh;
        ensure_into(fresh, cap, training, first, last, keep_last_z);
        std::copy(key, key + 4, fresh.key);
        ws = std::move(fresh);
    } catch (const std::bad_alloc&) {
        out_of_memory(what, values * sizeof(T));
    }
}

template <class T>
void Network<T>::ensure_into(Workspace<T>& ws, idx cap, bool training, int first, int last, bool keep_last_z) const {
    const std::size_t L = ops_.size();
    ws.cap = cap;
    ws.zbuf.assign(L, {});
    ws.abuf.assign(L, {});
    ws.sbuf.assign(L, {});
    ws.in.assign(L, nullptr);
    ws.Z.assign(L, nullptr);
    ws.A.assign(L, nullptr);
    ws.S.assign(L, nullptr);
    idx width = n_in();
    for (int i = first; i <= last; ++i) {
        const Op& op = ops_[std::size_t(i)];
        const std::size_t sz = std::size_t(cap * op.n_out);
        width = std::max(width, op.n_out);
        const OpBuffers b = row(i).buffers(op, training, i == last && keep_last_z);
        if (b.z == Buf::Own) {
            ws.zbuf[i].resize(sz);
            ws.Z[i] = ws.zbuf[i].data();
        }
        if (b.out == Buf::Own) {
            ws.abuf[i].resize(sz);
            ws.A[i] = ws.abuf[i].data();
        } else if (b.out == Buf::Z) {
            ws.A[i] = ws.Z[i];
        }  // Buf::Input: set by forward to the op's input
        const std::size_t ss = std::size_t(cap) * b.scratch_per_row + b.scratch_fixed;
        if (ss) {
            ws.sbuf[i].resize(ss);
            ws.S[i] = ws.sbuf[i].data();
        }
    }
    if (training) {
        ws.xt.resize(std::size_t(cap * n_in()));
        ws.yt.resize(std::size_t(cap * std::max<idx>(target_cols(), 1)));
        ws.fm.ensure(cap, width);
        ws.d0.resize(std::size_t(cap * width));
        ws.d1.resize(std::size_t(cap * width));
        ws.xb.resize(std::size_t(cap * n_in()));
        ws.yb.resize(std::size_t(cap * std::max<idx>(target_cols(), 1)));
        ws.wb.resize(std::size_t(cap));
    }
}

// The call record of op i over the workspace's buffers. The parameter buffer is handed over writable: only a
// training forward (under the exclusive lock) writes to it, and only to its state tensors.
template <class T>
OpCall<T> Network<T>::call(Workspace<T>& ws, int i, idx m, bool training, bool fm) const {
    const Op& op = ops_[std::size_t(i)];
    return OpCall<T>{op,
                     specs_.data() + op.first_param,
                     const_cast<T*>(params_.data()),
                     const_cast<T*>(grads_.data()),
                     ws.in[i],
                     ws.Z[i],
                     ws.A[i],
                     ws.S[i],
                     m,
                     training,
                     fm,
                     false,
                     &dropout_rng_,
                     &ws.fm};
}

template <class T>
const Bf16Weights* Network<T>::weights_copy16() const {
    if constexpr (!std::is_same_v<T, float>) {
        return nullptr;
    } else {
        if (bf16_isa() == Bf16Isa::None ||
            std::none_of(ops_.begin(), ops_.end(), [](const Op& op) { return op.bf16; }))
            return nullptr;
        std::lock_guard<std::mutex> g(copy16_mtx_);
        if (copy16_version_ != weights_version_) {
            // The one-row product's layout for every 2-D kernel of a bfloat16 op.
            std::vector<Bf16Weights::Kernel> kernels;
            for (const ParamSpec& p : specs_)
                if (ops_[std::size_t(p.op)].bf16 && p.shape.size() == 2)
                    kernels.push_back({p.offset, std::size_t(p.shape[0]), std::size_t(p.shape[1]), 0});
            copy16_version_ = ~std::uint64_t(0);
            copy16_.make(params_.data(), params_.size(), kernels);
            copy16_version_ = weights_version_;
        }
        return &copy16_;
    }
}

template <class T>
void Network<T>::forward(Workspace<T>& ws, const T* x, idx m, bool training, int first, int last, bool fm) const {
    const T* in = x;
    ws.pass = bf16_new_pass();
    const Bf16Weights* copy16 = training ? nullptr : weights_copy16();
    for (int i = first; i <= last; ++i) {
        ws.in[i] = in;
        const OpRow<T>& r = row(i);
        const OpBuffers b = r.buffers(ops_[std::size_t(i)], training, false);
        // Pointers to the op's input, where its buffers are the input (set here: the input moves per call).
        if (b.z == Buf::Input) ws.Z[i] = const_cast<T*>(in);
        if (b.out == Buf::Input) ws.A[i] = const_cast<T*>(in);
        Bf16Scope<T> bf16(ops_[std::size_t(i)].bf16, params_.data(), params_.size(), ws.pass, copy16);
        r.forward(call(ws, i, m, training, fm));
        in = ws.A[i];
    }
}

template <class T>
double Network<T>::loss_and_grad(Workspace<T>& ws, const T* y, const T* w, idx m, bool want_grad, bool fm) const {
    const int last = int(ops_.size()) - 1;
    const T* p = fused_ ? ws.Z[last] : ws.A[last];
    LossSpec spec = loss_;
    spec.logits = fused_ || loss_.logits;
    if (fm && fused_ && loss_.kind == Loss::BCE && loss_.smoothing == 0)
        return fm_bce_fused(ws.yt.data(), ws.Z[last], ws.A[last], w, want_grad ? ws.d0.data() : nullptr, m, n_out(),
                            T(1) / T(m), ws.fm);
    if (fm)
        return fm_loss(spec, ws.yt.data(), y, p, w, want_grad ? ws.d0.data() : nullptr, m,
                       n_out(), T(1) / T(m), ws.fm);
    return loss_rows(spec, y, p, w, want_grad ? ws.d0.data() : nullptr, m, n_out(),
                     T(1) / T(m));
}

template <class T>
void Network<T>::backward(Workspace<T>& ws, idx m, bool fm) {
    // ws.d0 holds dL/dA[last] (or dL/dZ[last] when fused); each op leaves dL/d(its input) in g.
    T* g = ws.d0.data();
    T* spare = ws.d1.data();
    const int last = int(ops_.size()) - 1;
    for (int i = last; i >= 0; --i) {
        OpCall<T> c = call(ws, i, m, true, fm);
        c.skip_act = i == last && fused_;
        Bf16Scope<T> bf16(ops_[std::size_t(i)].bf16, params_.data(), params_.size(), ws.pass);
        T* r = row(i).backward(c, i > 0 ? spare : nullptr, g);
        if (r == spare) std::swap(g, spare);
    }
}

// Calls f(offset, n, l1, l2) for every regularized trainable tensor.
template <class T>
template <class F>
void Network<T>::for_each_regularized(F&& f) const {
    for (const ParamSpec& p : specs_)
        if (p.trainable && (p.l1 != 0 || p.l2 != 0)) f(p.offset, p.size, p.l1, p.l2);
}

// The penalty l1 * sum|w| + l2 * sum w^2 over the regularized tensors (Keras 3 regularizers).
template <class T>
double Network<T>::regularization() const {
    double total = 0;
    for_each_regularized([&](std::size_t off, std::size_t n, double l1, double l2) {
        const T* w = params_.data() + off;
        double s1 = 0, s2 = 0;
        for (std::size_t j = 0; j < n; ++j) {
            s1 += std::fabs(double(w[j]));
            s2 += double(w[j]) * w[j];
        }
        total += l1 * s1 + l2 * s2;
    });
    return total;
}

// Adds the penalty's gradient, 2 l2 w + l1 sign(w), to the gradients (the value was taken in forward_loss).
template <class T>
void Network<T>::add_regularization_grad() {
    for_each_regularized([&](std::size_t off, std::size_t n, double l1, double l2) {
        const T* w = params_.data() + off;
        T* dw = grads_.data() + off;
        for (std::size_t j = 0; j < n; ++j) dw[j] += T(2 * l2) * w[j] + T(l1) * T((w[j] > T(0)) - (w[j] < T(0)));
    });
}

template <class T>
void Network<T>::accumulate_metrics(Workspace<T>& ws, const T* y, const T* w, idx m, double* state,
                                    bool fm) const {
    if (metrics_.empty()) return;
    const T* p = ws.A[ops_.size() - 1];
    if (fm) {
        transpose(ws.fm.rows_a.data(), p, n_out(), m);
        p = ws.fm.rows_a.data();
    }
    metrics_.update(state, y, p, w, m);
}

template <class T>
double Network<T>::forward_loss(Workspace<T>& ws, const T* x, const T* y, const T* w, idx m) {
    const int last = int(ops_.size()) - 1;
    if (fm_) {
        // Within one training call, an unshuffled full batch is the same data every epoch: transpose it once.
        if (!(ws.t_src_x == x && ws.t_src_y == y && ws.t_rows == m && ws.t_run == run_)) {
            transpose(ws.xt.data(), x, m, n_in());
            transpose(ws.yt.data(), y, m, target_cols());
            ws.t_src_x = x;
            ws.t_src_y = y;
            ws.t_rows = m;
            ws.t_run = run_;
        }
        x = ws.xt.data();
    }
    ++weights_version_;  // a training pass moves state tensors (BatchNormalization's statistics)
    forward(ws, x, m, true, 0, last, fm_);
    return loss_and_grad(ws, y, w, m, true, fm_) / double(m) + regularization();
}

template <class T>
void Network<T>::backward_all(Workspace<T>& ws, idx m) {
    backward(ws, m, fm_);
    add_regularization_grad();
}

template <class T>
double Network<T>::forward_backward(const T* x, const T* y, const T* w, idx m) {
    check_trainable();
    if (m < 1) fail("x", "at least one sample", "0 samples");
    TrainingGuard guard(training_);
    ++run_;
    std::unique_lock lock(mtx_);
    ensure(train_ws_, m, true, 0, int(ops_.size()) - 1, true);
    const double loss = forward_loss(train_ws_, x, y, w, m);
    backward_all(train_ws_, m);
    return loss;
}

// One optimizer step on rows [x, y, w] of m samples; returns the batch loss (with regularization).
template <class T>
double Network<T>::step(Workspace<T>& ws, const T* x, const T* y, const T* w, idx m, bool stop_on_nonfinite,
                        bool* nonfinite) {
    std::unique_lock lock(mtx_);
    const double loss = forward_loss(ws, x, y, w, m);
    *nonfinite = !std::isfinite(loss);
    if (grad_hook_) {
        if (*nonfinite && stop_on_nonfinite)
            std::fill(grads_.begin(), grads_.end(), std::numeric_limits<T>::quiet_NaN());
        else
            backward_all(ws, m);
        grad_hook_(grads_.data(), grads_.size());
        // The first trainable gradient (every backward pass writes it): NaN when any participant's loss was not.
        if (stop_on_nonfinite && !train_ranges_.empty() && !std::isfinite(grads_[train_ranges_.front().offset]))
            *nonfinite = true;
    } else if (!(*nonfinite && stop_on_nonfinite)) {
        backward_all(ws, m);
    }
    if (*nonfinite && stop_on_nonfinite) return loss;  // keep the weights of the last finite step
    opt_.step(params_.data(), grads_.data(), train_spans_, train_ranges_);
    ++weights_version_;
    return loss;
}

template <class T>
std::vector<double> Network<T>::train_on_batch(const T* x, const T* y, const T* w, idx m) {
    check_trainable();
    TrainingGuard guard(training_);
    ++run_;
    ensure(train_ws_, m, true, 0, int(ops_.size()) - 1, true);
    std::vector<double> state(std::size_t(metrics_.state_size()), 0.0), out(metrics_.result_size() + 1);
    bool nonfinite = false;  // (every allocation is above: once the step is taken, nothing can fail)
    out[0] = step(train_ws_, x, y, w, m, false, &nonfinite);
    accumulate_metrics(train_ws_, y, w, m, state.data(), fm_);
    metrics_.results(state.data(), out.data() + 1);
    return out;
}

template <class T>
void Network<T>::begin_epoch(idx n, bool shuffle, idx batch) {
    check_trainable();
    TrainingGuard guard(training_);
    begin_epoch_locked(n, shuffle, batch);
}

// The caller holds the training guard.
template <class T>
void Network<T>::begin_epoch_locked(idx n, bool shuffle, idx batch) {
    // One batch holding every sample has the same gradient in any order: it is not shuffled.
    if (n < 0) fail("number of samples", "an integer >= 0", std::to_string(n));
    // Checked and sized only when n changes: the check's message and its query of the machine's memory cost more
    // than a whole epoch of a small network (W1: 1500 samples in 7 us).
    if (perm_.size() != std::size_t(n)) {
        check_alloc("the shuffling order of " + count_str(double(n)) + " samples", double(n) * sizeof(idx));
        try {
            perm_.resize(std::size_t(n));  // (strong guarantee: on bad_alloc perm_ is unchanged)
        } catch (const std::bad_alloc&) {
            out_of_memory("the shuffling order of " + count_str(double(n)) + " samples", double(n) * sizeof(idx));
        }
    }
    shuffle_ = shuffle && !(batch >= n);
    if (shuffle_) {  // Fisher-Yates from the identity (perm_ is read only when shuffling)
        for (idx i = 0; i < n; ++i) perm_[i] = i;
        for (idx i = n - 1; i > 0; --i) std::swap(perm_[i], perm_[shuffle_rng_.below(std::uint64_t(i + 1))]);
    }
    ep_loss_ = ep_count_ = 0;
    ep_mstate_.assign(std::size_t(metrics_.state_size()), 0.0);
}

template <class T>
Status Network<T>::train_batches(const T* X, const T* Y, const T* W, idx n, idx batch, idx b0, idx b1,
                                 const std::function<bool()>& interrupted, bool stop_on_nonfinite,
                                 idx* batches_done) {
    check_trainable();
    TrainingGuard guard(training_);
    ++run_;
    return train_batches_locked(X, Y, W, n, batch, b0, b1, interrupted, stop_on_nonfinite, batches_done);
}

// The caller holds the training guard; run_ identifies the calling training run (see forward_loss).
template <class T>
Status Network<T>::train_batches_locked(const T* X, const T* Y, const T* W, idx n, idx batch, idx b0, idx b1,
                                        const std::function<bool()>& interrupted, bool stop_on_nonfinite,
                                        idx* batches_done) {
    if (idx(perm_.size()) != n) fail("number of samples", std::to_string(perm_.size()) + " (begin_epoch)", std::to_string(n));
    if (batch < 1) fail("batch_size", "an integer >= 1", std::to_string(batch));
    const idx nb = (n + batch - 1) / batch;
    if (b0 < 0 || b0 > b1) fail("first batch", "an index in [0, last batch]", std::to_string(b0));
    b1 = std::min(b1, nb);
    const idx cap = std::min(batch, n);
    ensure(train_ws_, cap, true, 0, int(ops_.size()) - 1, true);
    Workspace<T>& ws = train_ws_;
    const idx nx = n_in(), ny = target_cols();
    *batches_done = 0;
    for (idx b = b0; b < b1; ++b) {
        const idx start = b * batch, m = std::min(batch, n - start);
        const T *xb = X + start * nx, *yb = Y + start * ny, *wb = W ? W + start : nullptr;
        if (shuffle_) {  // gather the batch's rows (the data itself is never copied whole)
            // In parallel: the rows are scattered over the data set, and the threads wait for memory side by side.
            FASTNN_PARALLEL_FOR(m * nx)
            for (idx r = 0; r < m; ++r) {
                const idx s = perm_[start + r];
                if (r + 4 < m) {  // the row 4 ahead, line by line: a row starts where no prefetcher can guess
                    const char* next = reinterpret_cast<const char*>(X + perm_[start + r + 4] * nx);
                    for (idx off = 0; off < nx * idx(sizeof(T)); off += 64) __builtin_prefetch(next + off);
                }
                std::copy(X + s * nx, X + (s + 1) * nx, ws.xb.data() + r * nx);
                std::copy(Y + s * ny, Y + (s + 1) * ny, ws.yb.data() + r * ny);
                if (W) ws.wb[r] = W[s];
            }
            xb = ws.xb.data();
            yb = ws.yb.data();
            wb = W ? ws.wb.data() : nullptr;
            ws.t_src_x = nullptr;  // the gather buffer holds new rows: the transposed copy is stale
        }
        bool nonfinite = false;
        const double loss = step(ws, xb, yb, wb, m, stop_on_nonfinite, &nonfinite);
        if (nonfinite && stop_on_nonfinite) {
            ep_loss_ += loss * double(m);
            ep_count_ += double(m);
            return Status::NonFinite;
        }
        ep_loss_ += loss * double(m);  // Keras's loss tracker: batch means weighted by batch size
        ep_count_ += double(m);
        accumulate_metrics(ws, yb, wb, m, ep_mstate_.data(), fm_);
        ++*batches_done;
        if (interrupted && interrupted()) return Status::Interrupted;
    }
    return Status::Done;
}

template <class T>
std::vector<double> Network<T>::epoch_logs() const {
    std::vector<double> out{ep_count_ > 0 ? ep_loss_ / ep_count_ : std::nan("")};
    if (ep_mstate_.size() == std::size_t(metrics_.state_size()))
        for (double v : metrics_.results(ep_mstate_.data())) out.push_back(v);
    return out;
}

template <class T>
Status Network<T>::train_epochs(const T* X, const T* Y, const T* W, idx n, idx batch, bool shuffle, idx epochs,
                                const std::function<bool()>& interrupted, bool stop_on_nonfinite,
                                std::vector<std::vector<double>>* logs) {
    check_trainable();
    if (batch < 1) fail("batch_size", "an integer >= 1", std::to_string(batch));
    TrainingGuard guard(training_);  // held for the whole run: nothing may change the network between epochs
    ++run_;
    const idx nb = (n + batch - 1) / batch;
    for (idx e = 0; e < epochs; ++e) {
        begin_epoch_locked(n, shuffle, batch);
        idx done = 0;
        const Status st = train_batches_locked(X, Y, W, n, batch, 0, nb, interrupted, stop_on_nonfinite, &done);
        if (st != Status::Interrupted) logs->push_back(epoch_logs());  // an interrupted epoch is not complete
        if (st != Status::Done) return st;
    }
    return Status::Done;
}

// Polls `interrupted` between two batches of predict/evaluate without holding the shared lock (the poll takes the
// GIL, which a thread waiting for the exclusive lock may hold); true when the call must stop. A structural change
// made meanwhile (version_) ends the call with an error rather than running over buffers made for other ops.
template <class T>
bool Network<T>::poll_unlocked(std::shared_lock<std::shared_mutex>& lock, const std::function<bool()>& interrupted,
                               std::uint64_t version, const char* what) const {
    if (!interrupted) return false;
    lock.unlock();
    const bool stop = interrupted();
    lock.lock();
    if (!stop && version_ != version)
        throw std::runtime_error(std::string("the model's layers changed during ") + what);
    return stop;
}

template <class T>
Status Network<T>::predict(T* out, const T* x, idx n, idx batch, int first, int last, bool check_finite,
                           const std::function<bool()>& interrupted) const {
    std::shared_lock lock(mtx_);  // before the op list is read
    if (ops_.empty()) throw std::invalid_argument("the model has no layers");
    if (first < 0 || last >= int(ops_.size()) || first > last)
        fail("layer range", "0 <= first <= last < " + std::to_string(ops_.size()),
             std::to_string(first) + ".." + std::to_string(last));
    if (batch < 1) fail("batch_size", "an integer >= 1", std::to_string(batch));
    if (n == 0) return Status::Done;
    PooledWorkspace pooled(*this);
    Workspace<T>& ws = *pooled.ws;
    const idx cap = std::min(batch, n);
    ensure(ws, cap, false, first, last, false);
    const idx nx = ops_[std::size_t(first)].n_in, no = ops_[std::size_t(last)].n_out;
    const std::uint64_t version = version_;
    for (idx start = 0; start < n; start += batch) {
        const idx m = std::min(batch, n - start);
        const T* xb = x + start * nx;
        if (check_finite) {
            const idx bad = find_non_finite(xb, m * nx);
            if (bad >= 0)
                throw std::invalid_argument(
                    "x: expected finite numbers, got NaN or infinity (first at index (" +
                    std::to_string(start + bad / nx) + ", " + std::to_string(bad % nx) +
                    ")); clean the data, or call fastnn.config.set_check_finite(False) to skip this scan");
        }
        forward(ws, xb, m, false, first, last);
        std::copy(ws.A[last], ws.A[last] + m * no, out + start * no);
        if (start + batch < n && poll_unlocked(lock, interrupted, version, "predict")) return Status::Interrupted;
    }
    return Status::Done;
}

template <class T>
Status Network<T>::evaluate(const T* X, const T* Y, const T* W, idx n, idx batch, std::vector<double>* result,
                            const std::function<bool()>& interrupted) const {
    std::shared_lock lock(mtx_);  // before the op list is read
    if (!compiled_) throw std::invalid_argument("the model must be compiled before evaluate(): call compile()");
    if (batch < 1) fail("batch_size", "an integer >= 1", std::to_string(batch));
    const int last = int(ops_.size()) - 1;
    PooledWorkspace pooled(*this);
    Workspace<T>& ws = *pooled.ws;
    const idx cap = std::max<idx>(1, std::min(batch, n));
    ensure(ws, cap, false, 0, last, true);
    const idx nx = n_in(), ny = target_cols();
    std::vector<double> state(std::size_t(metrics_.state_size()), 0.0), out(metrics_.result_size() + 1);
    double total = 0;
    const std::uint64_t version = version_;
    for (idx start = 0; start < n; start += batch) {
        const idx m = std::min(batch, n - start);
        const T* y = Y + start * ny;
        const T* w = W ? W + start : nullptr;
        forward(ws, X + start * nx, m, false, 0, last);
        total += loss_and_grad(ws, y, w, m, false);
        accumulate_metrics(ws, y, w, m, state.data(), false);
        if (start + batch < n && poll_unlocked(lock, interrupted, version, "evaluate")) return Status::Interrupted;
    }
    out[0] = n > 0 ? total / double(n) + regularization() : std::nan("");
    metrics_.results(state.data(), out.data() + 1);
    result->swap(out);
    return Status::Done;
}

template <class T>
std::array<std::uint64_t, 8> Network<T>::rng_state() const {
    std::shared_lock lock(mtx_);
    const auto a = shuffle_rng_.state(), b = dropout_rng_.state();
    return {a[0], a[1], a[2], a[3], b[0], b[1], b[2], b[3]};
}

template <class T>
void Network<T>::set_rng_state(const std::array<std::uint64_t, 8>& st) {
    require_idle("set the generator state");
    if (!(st[0] | st[1] | st[2] | st[3]) || !(st[4] | st[5] | st[6] | st[7]))
        fail("generator state", "two non-zero xoshiro256** states", "an all-zero state");
    std::unique_lock lock(mtx_);
    shuffle_rng_.set_state({st[0], st[1], st[2], st[3]});
    dropout_rng_.set_state({st[4], st[5], st[6], st[7]});
}

template <class T>
void Network<T>::require_idle(const char* what) const {
    if (training_) throw std::runtime_error(std::string("cannot ") + what + " while the model is being trained");
}

template <class T>
bool Network<T>::choose_feature_major() const {
    bool implemented = true, small = true;  // every op implemented feature-major, and small
    for (std::size_t i = 0; i < ops_.size(); ++i) {
        const Op& op = ops_[i];
        implemented = implemented && row(int(i)).feature_major;
        small = small && op.n_in <= kSmallWidth && op.n_out <= kSmallWidth;
    }
    if (!implemented) return false;  // an op without a feature-major version: the network trains row-major
    return layout_ >= 0 ? layout_ == 1 : small;
}

template <class T>
void Network<T>::set_layout(int layout) {
    require_idle("change the layout");
    if (layout < -1 || layout > 1) fail("layout", "-1 (automatic), 0 (rows) or 1 (features)", std::to_string(layout));
    std::unique_lock lock(mtx_);
    layout_ = layout;
    ++version_;
    if (compiled_) {
        fm_ = choose_feature_major();
        train_ws_ = Workspace<T>();
    }
}

template <class T>
void Network<T>::set_learning_rate(double lr) {
    if (!std::isfinite(lr) || lr < 0) fail("learning_rate", "a finite number >= 0", std::to_string(lr));
    if (opt_.cfg.schedule.kind != SchedKind::None)
        fail("learning_rate", "no change: the optimizer follows a learning-rate schedule", std::to_string(lr));
    std::unique_lock lock(mtx_);
    opt_.cfg.learning_rate = lr;
}

template <class T>
std::vector<std::int64_t> perceptron_fit(T* w, const T* X, const T* y, idx n, idx d, double eta, int epochs,
                                         const std::function<bool()>& interrupted) {
    if (!(std::isfinite(eta) && eta > 0)) fail("eta", "a finite number > 0", std::to_string(eta));
    if (epochs < 0) fail("epochs", "an integer >= 0", std::to_string(epochs));
    std::vector<std::int64_t> errors;
    for (int e = 0; e < epochs; ++e) {
        std::int64_t err = 0;
        for (idx i = 0; i < n; ++i) {
            const T* xi = X + i * d;
            T net = w[0];
            for (idx j = 0; j < d; ++j) net += w[j + 1] * xi[j];
            const T out = net >= T(0) ? T(1) : T(-1);  // the step unit, on {-1, +1}
            const T update = T(eta) * (y[i] - out);
            w[0] += update;
            for (idx j = 0; j < d; ++j) w[j + 1] += update * xi[j];
            err += update != T(0);
        }
        errors.push_back(err);
        if (interrupted && interrupted()) break;
    }
    return errors;
}

template class Network<float>;
template class Network<double>;
template std::vector<std::int64_t> perceptron_fit<float>(float*, const float*, const float*, idx, idx, double, int,
                                                         const std::function<bool()>&);
template std::vector<std::int64_t> perceptron_fit<double>(double*, const double*, const double*, idx, idx, double,
                                                          int, const std::function<bool()>&);

}  // namespace fastnn
