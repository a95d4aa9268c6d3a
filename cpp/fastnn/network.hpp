// fastnn engine: Network<T>, a stack of ops (rows of the op table, op_table.hpp) and its training loop.
//
// Parameters live in one flat buffer (params_), gradients and optimizer slots share its layout, so an
// optimizer step is one loop over the trainable parameters. Every tensor has a ParamSpec (op, name, shape,
// offset, trainable, regularizer): a Dense op owns kernel (n_in, n_out) then bias (n_out,), Keras's
// get_weights() order. The loop holds no per-kind branch: each op runs through its row's functions.
//
// One training step: forward and loss, backward (parameter gradients, then the regularizers' gradients on the
// trainable tensors), the gradient hook on the flat gradient buffer (unset by default; where an allreduce
// goes), then the optimizer: its learning rate for this step is lr_at(iterations) (a schedule when one is set),
// and it updates the trainable tensors only (frozen ones get no update, no weight decay, no clipping share).
//
// Training runs whole epochs (or chunks of batches) per call: shuffle, gather, forward, loss, backward,
// update and running metrics, with every buffer allocated before the step loop. The caller supplies an
// interrupt check polled after every batch; training then stops with the weights of the last completed step.
//
// Concurrency: predict/evaluate may run from several threads at once (each call has its own workspace and
// holds a shared lock, taken before the op list is read); a training step holds the exclusive lock, so readers see
// the weights between two complete steps. When given an interrupt check (Python's main thread), predict/evaluate
// poll it between batches with the shared lock released (the check takes the GIL), so a concurrent training step
// may run between two of their batches; a structural change meanwhile ends them with an error. A second concurrent
// training call on the same network is refused.
//
// Exception safety: every entry point leaves the network usable after any exception, std::bad_alloc included.
// add_op, compile and the workspaces (ensure) are all-or-nothing; MemoryError messages (OutOfMemory) say what ran
// out. tests/test_fault_injection.py fails every allocation of every call in turn to prove it.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <vector>

#include "common.hpp"
#include "metrics.hpp"
#include "optimizers.hpp"
#include "bf16.hpp"
#include "random.hpp"
#include "op_table.hpp"
#include "small.hpp"

namespace fastnn {

// Per-call buffers sized for `cap` rows.
template <class T>
struct Workspace {
    idx cap = 0;
    int key[4] = {-1, -1, -1, -1};  // first op, last op, training, keep_last_z: what the buffers were made for
    std::vector<std::vector<T>> zbuf, abuf, sbuf;
    std::vector<const T*> in;  // input of each op during the last forward
    std::vector<T*> Z, A, S;   // pre-activation, output and scratch of each op
    std::vector<T> d0, d1;     // backward ping-pong buffers
    std::uint64_t pass = 0;    // the last forward pass's id (bf16.hpp: weights converted once per pass)
    std::vector<T> xb, yb, wb; // gathered batch
    std::vector<T> xt, yt;     // the batch transposed, for the feature-major path (small networks)
    const T *t_src_x = nullptr, *t_src_y = nullptr;  // what xt/yt hold: source rows, count and training run
    idx t_rows = 0;
    std::uint64_t t_run = 0;
    FmScratch<T> fm;
};

enum class Status { Done = 0, Interrupted = 1, NonFinite = 2 };

template <class T>
class Network {
public:
    explicit Network(std::uint64_t seed);

    // Appends an op of kind `kind` (a row name of op_table, e.g. "dense") taking n_in features and giving n_out
    // (the units of a Dense; n_in again for ops that keep the width); its row reads and checks args.
    void add_op(const std::string& kind, idx n_in, idx n_out, const OpArgs& args);
    void compile(const LossSpec& loss, const OptConfig& opt, const std::vector<MetricSpec>& metrics);

    const std::vector<Op>& ops() const { return ops_; }
    const std::vector<ParamSpec>& param_specs() const { return specs_; }
    const OpRow<T>& row(int i) const { return op_table<T>()[std::size_t(ops_[std::size_t(i)].kind)]; }
    // Freezes (false) or unfreezes an op: its non-state tensors leave or join the optimizer step, and ops that
    // behave differently when frozen (BatchNormalization) see it.
    void set_trainable(int i, bool trainable);
    // Called on the flat gradient buffer (n values) after the backward pass and before the update, e.g. to average
    // the gradients of several processes (distributed.hpp). It runs with the GIL released and may throw (the step
    // is then not applied). With a hook, a step whose loss is non-finite under stop_on_nonfinite hands the hook a
    // gradient of NaN, and a step stops as non-finite when the hook returns a non-finite first gradient: a
    // collective hook thus makes every participant stop at the same step.
    using GradHook = std::function<void(T* grads, std::size_t n)>;
    void set_gradient_hook(GradHook hook);
    idx n_in() const { return ops_.empty() ? 0 : ops_.front().n_in; }
    idx n_out() const { return ops_.empty() ? 0 : ops_.back().n_out; }
    idx target_cols() const;  // columns of y expected by the loss
    bool compiled() const { return compiled_; }
    bool training() const { return training_; }
    std::size_t n_params() const { return params_.size(); }

    // Weights of op i: every tensor of its spans, state included, in its row's order (copies); set_weights checks
    // count and sizes.
    std::vector<std::vector<T>> get_weights(int i) const;
    void set_weights(int i, const std::vector<const T*>& tensors, const std::vector<std::size_t>& sizes);

    // Inference through ops [first, last] (dropout inactive). out: (n, ops[last].n_out).
    // check_finite: refuse NaN and infinity in x (each batch is scanned just before its forward pass, while it is
    // in cache), with a ValueError naming the first bad value's row and column.
    // interrupted (may be empty) is polled between batches, outside the lock: Interrupted means it returned true
    // and out is incomplete.
    Status predict(T* out, const T* x, idx n, idx batch, int first, int last, bool check_finite = false,
                   const std::function<bool()>& interrupted = {}) const;

    // One gradient computation without update: returns the loss (with regularization), fills grads_.
    double forward_backward(const T* x, const T* y, const T* w, idx m);
    const std::vector<T>& grads() const { return grads_; }

    // One step on one batch; returns [loss, metrics...].
    std::vector<double> train_on_batch(const T* x, const T* y, const T* w, idx m);

    // An epoch is begin_epoch, then train_batches over [b0, b1) in one or several calls, then epoch_logs.
    void begin_epoch(idx n, bool shuffle, idx batch);
    Status train_batches(const T* X, const T* Y, const T* W, idx n, idx batch, idx b0, idx b1,
                         const std::function<bool()>& interrupted, bool stop_on_nonfinite, idx* batches_done);
    std::vector<double> epoch_logs() const;
    // Whole epochs in one call; appends each completed epoch's [loss, metrics...] to logs.
    Status train_epochs(const T* X, const T* Y, const T* W, idx n, idx batch, bool shuffle, idx epochs,
                        const std::function<bool()>& interrupted, bool stop_on_nonfinite,
                        std::vector<std::vector<double>>* logs);

    // [loss, metrics...] into *result (left unchanged when interrupted).
    Status evaluate(const T* X, const T* Y, const T* W, idx n, idx batch, std::vector<double>* result,
                    const std::function<bool()>& interrupted = {}) const;

    void set_learning_rate(double lr);
    // Training layout: 0 row-major, 1 feature-major, -1 automatic (feature-major when every layer is small). Either
    // way, a network holding an op that the feature-major layout does not implement trains row-major.
    // For tests that check the two paths against each other.
    void set_layout(int layout);
    bool feature_major() const { return fm_; }
    double learning_rate() const { return opt_.lr_at(opt_.iterations); }
    const MetricSet& metrics() const { return metrics_; }
    // The running metric states of the current epoch (one flat array, MetricSet layout; mergeable by addition).
    const std::vector<double>& epoch_metric_state() const { return ep_mstate_; }
    Optimizer<T>& optimizer() { return opt_; }
    std::shared_mutex& mutex() const { return mtx_; }
    // The shuffling and dropout generators' states (saved with a model so resumed training repeats exactly).
    std::array<std::uint64_t, 8> rng_state() const;
    void set_rng_state(const std::array<std::uint64_t, 8>& st);

private:
    void check_trainable() const;
    void require_idle(const char* what) const;  // RuntimeError while a training call runs
    void begin_epoch_locked(idx n, bool shuffle, idx batch);
    Status train_batches_locked(const T* X, const T* Y, const T* W, idx n, idx batch, idx b0, idx b1,
                                const std::function<bool()>& interrupted, bool stop_on_nonfinite, idx* batches_done);
    OpCall<T> call(Workspace<T>& ws, int i, idx m, bool training, bool fm) const;
    void update_trainable_spans();
    bool choose_feature_major() const;
    // Makes ws ready for batches of up to cap rows: all or nothing (on failure ws is left empty, not half-made).
    void ensure(Workspace<T>& ws, idx cap, bool training, int first, int last, bool keep_last_z) const;
    void ensure_into(Workspace<T>& ws, idx cap, bool training, int first, int last, bool keep_last_z) const;
    bool poll_unlocked(std::shared_lock<std::shared_mutex>& lock, const std::function<bool()>& interrupted,
                       std::uint64_t version, const char* what) const;
    static constexpr std::size_t kPoolSize = 4;
    // Inference workspaces are kept for reuse (fresh buffers would cost page faults on every call); each
    // concurrent predict/evaluate takes its own.
    struct PooledWorkspace {
        const Network& net;
        std::unique_ptr<Workspace<T>> ws;
        explicit PooledWorkspace(const Network& n) : net(n) {
            std::lock_guard<std::mutex> g(net.pool_mtx_);
            if (net.pool_.empty()) {
                ws = std::make_unique<Workspace<T>>();
            } else {
                ws = std::move(net.pool_.back());
                net.pool_.pop_back();
            }
        }
        ~PooledWorkspace() {
            std::lock_guard<std::mutex> g(net.pool_mtx_);
            if (net.pool_.size() < kPoolSize) net.pool_.push_back(std::move(ws));  // (capacity reserved: no allocation)
        }
    };
    // fm: the feature-major layout of small.hpp (x is then X^T).
    void forward(Workspace<T>& ws, const T* x, idx m, bool training, int first, int last, bool fm = false) const;
    // Loss (sum over rows of w_i L_i, regularization excluded); writes the gradient of the batch-mean loss
    // with respect to the last op's output (or its logits when fused) into ws.d0.
    double loss_and_grad(Workspace<T>& ws, const T* y, const T* w, idx m, bool want_grad, bool fm = false) const;
    void backward(Workspace<T>& ws, idx m, bool fm = false);
    // Training forward pass and loss on row-major x, y (in the layout the network trains in); returns the batch
    // loss with regularization and leaves dL/d(output) in ws.d0.
    double forward_loss(Workspace<T>& ws, const T* x, const T* y, const T* w, idx m);
    void backward_all(Workspace<T>& ws, idx m);
    template <class F>
    void for_each_regularized(F&& f) const;
    double regularization() const;
    void add_regularization_grad();
    void accumulate_metrics(Workspace<T>& ws, const T* y, const T* w, idx m, double* state, bool fm) const;
    double step(Workspace<T>& ws, const T* x, const T* y, const T* w, idx m, bool stop_on_nonfinite, bool* nonfinite);

    std::vector<Op> ops_;
    std::vector<ParamSpec> specs_;  // every parameter tensor, in layer order
    std::vector<Span> train_spans_, train_ranges_;  // the trainable tensors, and the same merged where adjacent
    GradHook grad_hook_;
    std::vector<T> params_, grads_;
    Optimizer<T> opt_;
    Rng init_rng_, shuffle_rng_;
    mutable Rng dropout_rng_;  // drawn only by training calls, which hold the exclusive lock

    bool compiled_ = false;
    LossSpec loss_;
    bool fused_ = false;  // softmax + CE or sigmoid + BCE on the last op: loss taken from its logits
    bool fm_ = false;     // every layer small: train in the feature-major layout (small.hpp)
    int layout_ = -1;     // see set_layout
    MetricSet metrics_;

    Workspace<T> train_ws_;
    std::vector<idx> perm_;
    std::uint64_t run_ = 0;  // training calls so far (a cache key: data is fixed only within one call)
    bool shuffle_ = false;
    double ep_loss_ = 0, ep_count_ = 0;
    std::vector<double> ep_mstate_;

    mutable std::shared_mutex mtx_;
    mutable std::mutex pool_mtx_;
    mutable std::vector<std::unique_ptr<Workspace<T>>> pool_;
    std::atomic<bool> training_{false};
    std::uint64_t version_ = 0;  // bumped by every structural change (under the exclusive lock)
    std::uint64_t weights_version_ = 0;  // bumped by every write to params_ (under the exclusive lock)
    // The bfloat16 copy of params_ that inference under the mixed_bfloat16 policy reads (bf16.hpp): made by the
    // first inference pass after a weight change, then shared by every pass until the next one. Passes hold the
    // shared lock and weights change only under the exclusive one, so no pass reads the copy while it is remade.
    mutable std::mutex copy16_mtx_;
    mutable Bf16Weights copy16_;
    mutable std::uint64_t copy16_version_ = ~std::uint64_t(0);
    const Bf16Weights* weights_copy16() const;
};

// Rosenblatt's perceptron rule on a step unit (Raschka's textbook class): targets in {-1, +1},
// w = [bias, weights...]; per sample: update = eta * (target - predict(x)); w[1:] += update x; w[0] += update.
// Returns the number of misclassified samples (non-zero updates) of each epoch.
template <class T>
std::vector<std::int64_t> perceptron_fit(T* w, const T* X, const T* y, idx n, idx d, double eta, int epochs,
                                         const std::function<bool()>& interrupted);

}  // namespace fastnn
