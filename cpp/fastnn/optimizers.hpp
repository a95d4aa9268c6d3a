// fastnn engine: optimizers, one loop over the flat parameter buffer (Keras 3 update formulas and defaults).
//
// Order of one step (Keras 3 BaseOptimizer.apply): clip gradients (clipvalue elementwise, clipnorm per
// tensor, global_clipnorm over all), decoupled weight decay w -= w * weight_decay * lr, then the update.
// Sources: keras/src/optimizers/{sgd,rmsprop,adagrad,adadelta,adam,adamw,adamax,nadam}.py;
// Adam: Kingma & Ba 2015; Nadam: Dozat 2016 with Keras 3's momentum schedule 0.96^t.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace fastnn {

enum class OptKind { SGD, RMSprop, Adagrad, Adadelta, Adam, AdamW, Adamax, Nadam };

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
    double lr_at(std::int64_t it) const { return schedule ? schedule(it) : cfg.learning_rate; }
    // One update of the parameters w from the gradients g (clipped in place), over the trainable tensors only:
    // `tensors` for per-tensor clipping, `ranges` the same values merged into contiguous ranges for the loops.
    void step(T* w, T* g, const std::vector<Span>& tensors, const std::vector<Span>& ranges);
};

}  // namespace fastnn
