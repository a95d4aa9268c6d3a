// fastnn engine: optimizers, one loop over the flat parameter buffer (Keras 3 update formulas and defaults).
//
// Order of one step (Keras 3 BaseOptimizer.apply): clip gradients (clipvalue elementwise, clipnorm per
// tensor, global_clipnorm over all), decoupled weight decay w -= w * weight_decay * lr, then the update.
// Sources: keras/src/optimizers/{sgd,rmsprop,adagrad,adadelta,adam,adamw,adamax,nadam}.py;
// Adam: Kingma & Ba 2015; Nadam: Dozat 2016 with Keras 3's momentum schedule 0.96^t.
// A learning-rate schedule (keras/src/optimizers/schedules/learning_rate_schedule.py) is evaluated at every step
// at the optimizer's iteration count before the step (Keras's _get_current_learning_rate).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace fastnn {

enum class OptKind { SGD, RMSprop, Adagrad, Adadelta, Adam, AdamW, Adamax, Nadam };

enum class SchedKind { None, ExponentialDecay, InverseTimeDecay, PiecewiseConstantDecay, PolynomialDecay,
                       CosineDecay, CosineDecayRestarts };

// Keras's schedules with their constructor arguments; kind None = the constant OptConfig::learning_rate.
struct Schedule {
    SchedKind kind = SchedKind::None;
    double initial_learning_rate = 0.0;
    double decay_steps = 1.0;  // first_decay_steps for CosineDecayRestarts
    double decay_rate = 0.0;
    bool staircase = false;
    double end_learning_rate = 0.0001;
    double power = 1.0;
    bool cycle = false;
    double alpha = 0.0;
    bool has_warmup = false;  // CosineDecay: warmup_target given
    double warmup_target = 0.0;
    double warmup_steps = 0.0;
    double t_mul = 2.0, m_mul = 1.0;
    std::vector<double> boundaries, values;  // PiecewiseConstantDecay

    // The learning rate at optimizer step `step` (0 for the first update).
    double lr_at(double step) const;
};

// Keras 3's schedule names ("ExponentialDecay", ...); throws invalid_argument for an unknown name.
SchedKind schedule_kind(const std::string& name);
// Checks the arguments (decay_steps > 0, one more value than boundaries, ...); throws invalid_argument naming them.
void schedule_validate(const Schedule& s);

struct OptConfig {
    OptKind kind = OptKind::RMSprop;
    double learning_rate = 0.001;
    double momentum = 0.0;
    bool nesterov = false;
    double rho = 0.9;
    bool centered = false;
    double epsilon = 1e-7;
    double initial_accumulator_value = 0.1;
    double beta_1 = 0.9;
    double beta_2 = 0.999;
    bool amsgrad = false;
    double weight_decay = 0.0;
    double clipnorm = 0.0;  // 0 = off
    double clipvalue = 0.0;
    double global_clipnorm = 0.0;
    Schedule schedule;  // when set, the learning rate of every step (learning_rate is then unused)
};

// Keras 3 defaults for `name`; throws invalid_argument for an unknown name.
OptConfig opt_defaults(const std::string& name);
// Checks ranges (learning rate finite and >= 0, betas in [0, 1), ...); throws invalid_argument naming the field.
void opt_validate(const OptConfig& cfg);

// A parameter tensor inside the flat buffer: [offset, offset + size).
struct Span {
    std::size_t offset, size;
};

template <class T>
class Optimizer {
public:
    OptConfig cfg;
    std::int64_t iterations = 0;
    double u_product = 1.0;         // Nadam's running product of momentum-schedule terms
    // Slots, laid out as the parameters: SGD momentum; RMSprop velocity, momentum, average gradient; Adagrad
    // accumulator; Adadelta accumulated gradient and update; Adam(W) m, v, v_hat; Adamax m, u; Nadam m, v.
    std::vector<T> s1, s2, s3;
    // The learning rate at a step: unset means cfg.learning_rate at every step (a schedule sets it).
    std::function<double(std::int64_t iterations)> schedule;

    void reset(std::size_t n_params);
    // The learning rate of the step that starts after `it` completed steps (Keras: the schedule at iterations).
    // cfg.schedule (Keras's schedules) comes first, then the hook, then the constant.
    double lr_at(std::int64_t it) const {
        if (cfg.schedule.kind != SchedKind::None) return cfg.schedule.lr_at(double(it));
        return schedule ? schedule(it) : cfg.learning_rate;
    }
    // One update of the parameters w from the gradients g (clipped in place), over the trainable tensors only:
    // `tensors` for per-tensor clipping, `ranges` the same values merged into contiguous ranges for the loops.
    void step(T* w, T* g, const std::vector<Span>& tensors, const std::vector<Span>& ranges);
};

}  // namespace fastnn
