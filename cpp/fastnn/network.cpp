// fastnn engine: the network, its forward and backward passes, and the training loop (see network.hpp).
#include "network.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>
#include <unistd.h>

#include "activations.hpp"
#include "dense.hpp"
#include "losses.hpp"

namespace fastnn {

namespace {

// Refuse parameter counts that cannot fit in memory before allocating (an overcommitting kernel would
// otherwise accept the allocation and kill the process when the pages are touched).
void check_alloc(std::size_t count, std::size_t elem_size) {
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    const double phys = pages > 0 && page > 0 ? double(pages) * double(page) : 1e18;
    if (double(count) * double(elem_size) > phys / 2) throw std::bad_alloc();
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
    : init_rng_(seed, kStreamInit), shuffle_rng_(seed, kStreamShuffle), dropout_rng_(seed, kStreamDropout) {}

template <class T>
void Network<T>::add_dense(idx n_in, idx n_out, Act act, bool use_bias, const InitSpec& kinit,
                           const InitSpec& binit, double k_l1, double k_l2, double b_l1, double b_l2) {
    require_idle("add a layer");
    if (n_in < 1) fail("input size of Dense", "an integer >= 1", std::to_string(n_in));
    if (n_out < 1) fail("units", "an integer >= 1", std::to_string(n_out));
    if (!ops_.empty() && ops_.back().n_out != n_in)
        fail("input size of Dense", std::to_string(ops_.back().n_out) + " (the previous layer's output)",
             std::to_string(n_in));
    for (double r : {k_l1, k_l2, b_l1, b_l2})
        if (!std::isfinite(r) || r < 0) fail("regularization factor", "a finite number >= 0", std::to_string(r));
    init_validate(kinit);
    if (use_bias) init_validate(binit);
    const double count = double(n_in) * double(n_out) + (use_bias ? double(n_out) : 0.0) + double(params_.size());
    if (count > double(std::numeric_limits<int>::max())) throw std::bad_alloc();
    check_alloc(std::size_t(count) * 4, sizeof(T));  // parameters, gradients, two optimizer slots

    OpSpec op;
    op.kind = OpKind::Dense;
    op.n_in = n_in;
    op.n_out = n_out;
    op.act = act;
    op.use_bias = use_bias;
    op.k_l1 = k_l1;
    op.k_l2 = k_l2;
    op.b_l1 = b_l1;
    op.b_l2 = b_l2;
    op.w_off = params_.size();
    op.b_off = op.w_off + std::size_t(n_in * n_out);
    std::unique_lock lock(mtx_);
    params_.resize(op.b_off + (use_bias ? std::size_t(n_out) : 0));
    initialize(params_.data() + op.w_off, std::size_t(n_in * n_out), std::size_t(n_in), std::size_t(n_out), kinit,
               init_rng_);
    spans_.push_back({op.w_off, std::size_t(n_in * n_out)});
    if (use_bias) {
        // A 1-D shape (n,) has fan_in = fan_out = n (Keras's compute_fans).
        initialize(params_.data() + op.b_off, std::size_t(n_out), std::size_t(n_out), std::size_t(n_out), binit,
                   init_rng_);
        spans_.push_back({op.b_off, std::size_t(n_out)});
    }
    grads_.assign(params_.size(), T(0));
    ops_.push_back(op);
    compiled_ = false;
}

// Appends an op without parameters (Activation, Dropout) whose width n must continue the stack.
template <class T>
void Network<T>::add_shape_op(OpKind kind, idx n, Act act, double rate) {
    require_idle("add a layer");
    const std::string what = kind == OpKind::Activation ? "Activation" : "Dropout";
    if (n < 1) fail("input size of " + what, "an integer >= 1", std::to_string(n));
    if (!ops_.empty() && ops_.back().n_out != n)
        fail("input size of " + what, std::to_string(ops_.back().n_out) + " (the previous layer's output)",
             std::to_string(n));
    OpSpec op;
    op.kind = kind;
    op.n_in = op.n_out = n;
    op.act = act;
    op.rate = rate;
    std::unique_lock lock(mtx_);
    ops_.push_back(op);
    compiled_ = false;
}

template <class T>
void Network<T>::add_activation(idx n, Act act) {
    add_shape_op(OpKind::Activation, n, act, 0.0);
}

template <class T>
void Network<T>::add_dropout(idx n, double rate) {
    if (!(rate >= 0 && rate < 1)) fail("rate (Dropout)", "a number in [0, 1)", std::to_string(rate));
    add_shape_op(OpKind::Dropout, n, Act::Linear, rate);
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
    loss_ = loss;
    const OpSpec& last = ops_.back();
    const bool has_act = last.kind != OpKind::Dropout;
    fused_ = has_act && !loss.logits &&
             ((last.act == Act::Softmax && (loss.kind == Loss::CCE || loss.kind == Loss::SparseCCE)) ||
              (last.act == Act::Sigmoid && loss.kind == Loss::BCE));
    metrics_ = checked;
    fm_ = choose_feature_major();
    train_ws_ = Workspace<T>();
    opt_.cfg = opt;
    opt_.reset(params_.size());
    compiled_ = true;
}

template <class T>
void Network<T>::check_trainable() const {
    if (!compiled_) throw std::invalid_argument("the model must be compiled before training: call compile()");
    for (std::size_t i = 0; i < ops_.size(); ++i)
        if (ops_[i].kind != OpKind::Dropout && ops_[i].act == Act::Step)
            fail("activation of layer " + std::to_string(i),
                 "a differentiable activation for gradient training ('step' has no gradient; use "
                 "fastnn.Perceptron for the perceptron rule)",
                 "'step'");
}

template <class T>
std::vector<std::vector<T>> Network<T>::get_weights(int i) const {
    if (i < 0 || i >= int(ops_.size())) fail("layer index", "0.." + std::to_string(ops_.size() - 1), std::to_string(i));
    std::shared_lock lock(mtx_);
    const OpSpec& op = ops_[i];
    std::vector<std::vector<T>> out;
    if (op.kind != OpKind::Dense) return out;
    out.emplace_back(params_.begin() + op.w_off, params_.begin() + op.w_off + op.n_in * op.n_out);
    if (op.use_bias) out.emplace_back(params_.begin() + op.b_off, params_.begin() + op.b_off + op.n_out);
    return out;
}

template <class T>
void Network<T>::set_weights(int i, const std::vector<const T*>& tensors, const std::vector<std::size_t>& sizes) {
    if (i < 0 || i >= int(ops_.size())) fail("layer index", "0.." + std::to_string(ops_.size() - 1), std::to_string(i));
    const OpSpec& op = ops_[i];
    const std::size_t want = op.kind != OpKind::Dense ? 0 : op.use_bias ? 2 : 1;
    if (tensors.size() != want) fail("weights", std::to_string(want) + " arrays", std::to_string(tensors.size()));
    if (want == 0) return;
    if (sizes[0] != std::size_t(op.n_in * op.n_out))
        fail("kernel", std::to_string(op.n_in * op.n_out) + " values", std::to_string(sizes[0]));
    if (want == 2 && sizes[1] != std::size_t(op.n_out))
        fail("bias", std::to_string(op.n_out) + " values", std::to_string(sizes[1]));
    std::unique_lock lock(mtx_);
    std::copy(tensors[0], tensors[0] + sizes[0], params_.begin() + op.w_off);
    if (want == 2) std::copy(tensors[1], tensors[1] + sizes[1], params_.begin() + op.b_off);
}

template <class T>
void Network<T>::ensure(Workspace<T>& ws, idx cap, bool training, int first, int last, bool keep_last_z) const {
    const std::size_t L = ops_.size();
    const int key[4] = {first, last, int(training), int(keep_last_z)};
    if (ws.cap >= cap && ws.Z.size() == L && std::equal(key, key + 4, ws.key)) return;
    std::copy(key, key + 4, ws.key);
    ws.cap = cap;
    ws.zbuf.assign(L, {});
    ws.abuf.assign(L, {});
    ws.mask.assign(L, {});
    ws.in.assign(L, nullptr);
    ws.Z.assign(L, nullptr);
    ws.A.assign(L, nullptr);
    idx width = n_in();
    for (int i = first; i <= last; ++i) {
        const OpSpec& op = ops_[i];
        const std::size_t sz = std::size_t(cap * op.n_out);
        width = std::max(width, op.n_out);
        if (op.kind == OpKind::Dense) {
            ws.zbuf[i].resize(sz);
            ws.Z[i] = ws.zbuf[i].data();
            // Inference computes the activation in place (less memory traffic), except where the loss of
            // evaluate() needs the last op's logits.
            if (op.act == Act::Linear || (!training && !(i == last && keep_last_z))) {
                ws.A[i] = ws.Z[i];
            } else {
                ws.abuf[i].resize(sz);
                ws.A[i] = ws.abuf[i].data();
            }
        } else if (op.kind == OpKind::Activation) {
            ws.abuf[i].resize(sz);
            ws.A[i] = ws.abuf[i].data();
        } else if (training) {  // Dropout: identity at inference
            ws.abuf[i].resize(sz);
            ws.mask[i].resize(sz);
            ws.A[i] = ws.abuf[i].data();
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

template <class T>
void Network<T>::forward(Workspace<T>& ws, const T* x, idx m, bool training, int first, int last, bool fm) const {
    const T* in = x;
    for (int i = first; i <= last; ++i) {
        const OpSpec& op = ops_[i];
        ws.in[i] = in;
        switch (op.kind) {
            case OpKind::Dense:
                if (fm) {
                    fm_dense_forward(ws.Z[i], in, params_.data() + op.w_off,
                                     op.use_bias ? params_.data() + op.b_off : nullptr, m, op.n_in, op.n_out);
                    fm_act_forward(op.act, ws.A[i], ws.Z[i], m, op.n_out, ws.fm);
                } else {
                    dense_forward(ws.Z[i], ws.A[i], in, params_.data() + op.w_off,
                                  op.use_bias ? params_.data() + op.b_off : nullptr, op.act, m, op.n_in, op.n_out);
                }
                break;
            case OpKind::Activation:
                ws.Z[i] = const_cast<T*>(in);
                if (fm) fm_act_forward(op.act, ws.A[i], in, m, op.n_out, ws.fm);
                else act_forward(op.act, ws.A[i], in, m, op.n_out);
                break;
            case OpKind::Dropout:
                if (training && op.rate > 0) {
                    // Inverted dropout: keep with probability 1 - rate, scale kept values by 1 / (1 - rate).
                    const T scale = T(1.0 / (1.0 - op.rate));
                    T* mk = ws.mask[i].data();
                    T* a = ws.A[i];
                    Rng& rng = dropout_rng_;
                    for (idx j = 0; j < m * op.n_out; ++j) {
                        mk[j] = rng.uniform() >= op.rate ? scale : T(0);
                        a[j] = in[j] * mk[j];
                    }
                } else if (training) {
                    std::fill(ws.mask[i].begin(), ws.mask[i].begin() + m * op.n_out, T(1));
                    std::copy(in, in + m * op.n_out, ws.A[i]);
                } else {
                    ws.A[i] = const_cast<T*>(in);
                }
                break;
        }
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
        return fm_loss(spec, ws.yt.data(), p, w, want_grad ? ws.d0.data() : nullptr, m,
                       n_out(), T(1) / T(m), ws.fm);
    return loss_rows(spec, y, p, w, want_grad ? ws.d0.data() : nullptr, m, n_out(),
                     T(1) / T(m));
}

template <class T>
void Network<T>::backward(Workspace<T>& ws, idx m, bool fm) {
    // ws.d0 holds dL/dA[last] (or dL/dZ[last] when fused).
    T* g = ws.d0.data();
    T* spare = ws.d1.data();
    const int last = int(ops_.size()) - 1;
    for (int i = last; i >= 0; --i) {
        const OpSpec& op = ops_[i];
        const bool skip_act = (i == last && fused_) || op.act == Act::Linear;
        switch (op.kind) {
            case OpKind::Dense: {
                if (!skip_act) {  // g becomes dz
                    if (fm) fm_act_backward(op.act, g, ws.Z[i], ws.A[i], g, m, op.n_out, ws.fm);
                    else act_backward(op.act, g, ws.Z[i], ws.A[i], g, m, op.n_out);
                }
                T* dW = grads_.data() + op.w_off;
                T* db = op.use_bias ? grads_.data() + op.b_off : nullptr;
                const T* W = params_.data() + op.w_off;
                if (fm) fm_dense_backward(i > 0 ? spare : nullptr, dW, db, g, ws.in[i], W, m, op.n_in, op.n_out);
                else dense_backward(i > 0 ? spare : nullptr, dW, db, g, ws.in[i], W, m, op.n_in, op.n_out);
                std::swap(g, spare);
                break;
            }
            case OpKind::Activation:
                if (!skip_act) {
                    if (fm) fm_act_backward(op.act, g, ws.Z[i], ws.A[i], g, m, op.n_out, ws.fm);
                    else act_backward(op.act, g, ws.Z[i], ws.A[i], g, m, op.n_out);
                }
                break;
            case OpKind::Dropout: {
                const T* mk = ws.mask[i].data();
                for (idx j = 0; j < m * op.n_out; ++j) g[j] *= mk[j];
                break;
            }
        }
    }
}

// Calls f(w, dw, n, l1, l2) for every regularized parameter tensor.
template <class T>
template <class F>
void Network<T>::for_each_regularized(F&& f) const {
    for (const OpSpec& op : ops_) {
        if (op.kind != OpKind::Dense) continue;
        if (op.k_l1 != 0 || op.k_l2 != 0) f(op.w_off, std::size_t(op.n_in * op.n_out), op.k_l1, op.k_l2);
        if (op.use_bias && (op.b_l1 != 0 || op.b_l2 != 0)) f(op.b_off, std::size_t(op.n_out), op.b_l1, op.b_l2);
    }
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
    if (*nonfinite && stop_on_nonfinite) return loss;  // keep the weights of the last finite step
    backward_all(ws, m);
    opt_.step(params_.data(), grads_.data(), params_.size(), spans_);
    return loss;
}

template <class T>
std::vector<double> Network<T>::train_on_batch(const T* x, const T* y, const T* w, idx m) {
    check_trainable();
    TrainingGuard guard(training_);
    ++run_;
    ensure(train_ws_, m, true, 0, int(ops_.size()) - 1, true);
    bool nonfinite = false;
    const double loss = step(train_ws_, x, y, w, m, false, &nonfinite);
    std::vector<double> state(std::size_t(metrics_.state_size()), 0.0);
    accumulate_metrics(train_ws_, y, w, m, state.data(), fm_);
    std::vector<double> out{loss};
    for (double v : metrics_.results(state.data())) out.push_back(v);
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
    shuffle_ = shuffle && !(batch >= n);
    perm_.resize(std::size_t(n));
    for (idx i = 0; i < n; ++i) perm_[i] = i;
    if (shuffle_)  // Fisher-Yates
        for (idx i = n - 1; i > 0; --i) std::swap(perm_[i], perm_[shuffle_rng_.below(std::uint64_t(i + 1))]);
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
            for (idx r = 0; r < m; ++r) {
                const idx s = perm_[start + r];
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

template <class T>
void Network<T>::predict(T* out, const T* x, idx n, idx batch, int first, int last, bool check_finite) const {
    if (ops_.empty()) throw std::invalid_argument("the model has no layers");
    if (first < 0 || last >= int(ops_.size()) || first > last)
        fail("layer range", "0 <= first <= last < " + std::to_string(ops_.size()),
             std::to_string(first) + ".." + std::to_string(last));
    if (batch < 1) fail("batch_size", "an integer >= 1", std::to_string(batch));
    if (n == 0) return;
    PooledWorkspace pooled(*this);
    Workspace<T>& ws = *pooled.ws;
    const idx cap = std::min(batch, n);
    ensure(ws, cap, false, first, last, false);
    const idx nx = ops_[first].n_in, no = ops_[last].n_out;
    std::shared_lock lock(mtx_);
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
    }
}

template <class T>
std::vector<double> Network<T>::evaluate(const T* X, const T* Y, const T* W, idx n, idx batch) const {
    if (!compiled_) throw std::invalid_argument("the model must be compiled before evaluate(): call compile()");
    if (batch < 1) fail("batch_size", "an integer >= 1", std::to_string(batch));
    const int last = int(ops_.size()) - 1;
    PooledWorkspace pooled(*this);
    Workspace<T>& ws = *pooled.ws;
    const idx cap = std::max<idx>(1, std::min(batch, n));
    ensure(ws, cap, false, 0, last, true);
    const idx nx = n_in(), ny = target_cols();
    std::vector<double> state(std::size_t(metrics_.state_size()), 0.0);
    double total = 0;
    std::shared_lock lock(mtx_);
    for (idx start = 0; start < n; start += batch) {
        const idx m = std::min(batch, n - start);
        const T* y = Y + start * ny;
        const T* w = W ? W + start : nullptr;
        forward(ws, X + start * nx, m, false, 0, last);
        total += loss_and_grad(ws, y, w, m, false);
        accumulate_metrics(ws, y, w, m, state.data(), false);
    }
    const double reg = regularization();
    std::vector<double> out{n > 0 ? total / double(n) + reg : std::nan("")};
    for (double v : metrics_.results(state.data())) out.push_back(v);
    return out;
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
    if (layout_ >= 0) return layout_ == 1;
    bool small = true;
    for (const OpSpec& op : ops_) small = small && op.n_in <= kSmallWidth && op.n_out <= kSmallWidth;
    return small;
}

template <class T>
void Network<T>::set_layout(int layout) {
    require_idle("change the layout");
    if (layout < -1 || layout > 1) fail("layout", "-1 (automatic), 0 (rows) or 1 (features)", std::to_string(layout));
    std::unique_lock lock(mtx_);
    layout_ = layout;
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
