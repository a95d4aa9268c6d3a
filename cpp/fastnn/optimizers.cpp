// fastnn engine: optimizer updates. Each case quotes the Keras 3 update it implements.
#include "optimizers.hpp"

#include <algorithm>
#include <cmath>

#include "common.hpp"
#include "threads.hpp"

namespace fastnn {

OptConfig opt_defaults(const std::string& name) {
    OptConfig c;
    if (name == "sgd") {
        c.kind = OptKind::SGD;
        c.learning_rate = 0.01;
    } else if (name == "rmsprop") {
        c.kind = OptKind::RMSprop;
    } else if (name == "adagrad") {
        c.kind = OptKind::Adagrad;
    } else if (name == "adadelta") {
        c.kind = OptKind::Adadelta;
        c.rho = 0.95;
    } else if (name == "adam") {
        c.kind = OptKind::Adam;
    } else if (name == "adamw") {
        c.kind = OptKind::AdamW;
        c.weight_decay = 0.004;
    } else if (name == "adamax") {
        c.kind = OptKind::Adamax;
    } else if (name == "nadam") {
        c.kind = OptKind::Nadam;
    } else {
        fail("optimizer", "one of sgd, rmsprop, adagrad, adadelta, adam, adamw, adamax, nadam", "'" + name + "'");
    }
    return c;
}

void opt_validate(const OptConfig& c) {
    auto finite_nonneg = [](const char* what, double v) {
        if (!std::isfinite(v) || v < 0) fail(what, "a finite number >= 0", std::to_string(v));
    };
    auto unit = [](const char* what, double v) {
        if (!(v >= 0 && v < 1)) fail(what, "a number in [0, 1)", std::to_string(v));
    };
    finite_nonneg("learning_rate", c.learning_rate);
    finite_nonneg("momentum", c.momentum);
    finite_nonneg("epsilon", c.epsilon);
    finite_nonneg("initial_accumulator_value", c.initial_accumulator_value);
    finite_nonneg("weight_decay", c.weight_decay);
    finite_nonneg("clipnorm", c.clipnorm);
    finite_nonneg("clipvalue", c.clipvalue);
    finite_nonneg("global_clipnorm", c.global_clipnorm);
    schedule_validate(c.schedule);
    if (c.momentum >= 1) fail("momentum", "a number in [0, 1)", std::to_string(c.momentum));
    if ((c.clipnorm > 0) + (c.clipvalue > 0) + (c.global_clipnorm > 0) > 1)
        fail("gradient clipping", "only one of clipnorm, clipvalue and global_clipnorm (as Keras)", "several");
    unit("rho", c.rho);
    unit("beta_1", c.beta_1);
    unit("beta_2", c.beta_2);
}

SchedKind schedule_kind(const std::string& name) {
    static const std::pair<const char*, SchedKind> kinds[] = {
        {"ExponentialDecay", SchedKind::ExponentialDecay}, {"InverseTimeDecay", SchedKind::InverseTimeDecay},
        {"PiecewiseConstantDecay", SchedKind::PiecewiseConstantDecay}, {"PolynomialDecay", SchedKind::PolynomialDecay},
        {"CosineDecay", SchedKind::CosineDecay}, {"CosineDecayRestarts", SchedKind::CosineDecayRestarts}};
    std::string all;
    for (const auto& [k, v] : kinds) {
        if (name == k) return v;
        all += all.empty() ? k : std::string(", ") + k;
    }
    fail("learning-rate schedule", "one of " + all, "'" + name + "'");
}

void schedule_validate(const Schedule& s) {
    if (s.kind == SchedKind::None) return;
    auto finite = [](const char* what, double v) {
        if (!std::isfinite(v)) fail(what, "a finite number", std::to_string(v));
    };
    if (s.kind == SchedKind::PiecewiseConstantDecay) {
        if (s.boundaries.size() + 1 != s.values.size())
            fail("boundaries and values (PiecewiseConstantDecay)", "one more value than boundaries",
                 std::to_string(s.boundaries.size()) + " boundaries and " + std::to_string(s.values.size()) + " values");
        for (double v : s.boundaries) finite("boundaries (PiecewiseConstantDecay)", v);
        for (std::size_t i = 1; i < s.boundaries.size(); ++i)
            if (!(s.boundaries[i] > s.boundaries[i - 1]))
                fail("boundaries (PiecewiseConstantDecay)", "strictly increasing numbers", "a list that is not");
        for (double v : s.values)
            if (!std::isfinite(v) || v < 0) fail("values (PiecewiseConstantDecay)", "finite numbers >= 0", std::to_string(v));
        return;
    }
    finite("initial_learning_rate", s.initial_learning_rate);
    const char* steps = s.kind == SchedKind::CosineDecayRestarts ? "first_decay_steps" : "decay_steps";
    if (!(std::isfinite(s.decay_steps) && s.decay_steps > 0)) fail(steps, "a number > 0", std::to_string(s.decay_steps));
    finite("decay_rate", s.decay_rate);
    finite("end_learning_rate", s.end_learning_rate);
    finite("power", s.power);
    finite("alpha", s.alpha);
    finite("warmup_target", s.warmup_target);
    if (!(std::isfinite(s.warmup_steps) && s.warmup_steps >= 0))
        fail("warmup_steps", "a number >= 0", std::to_string(s.warmup_steps));
    if (!(std::isfinite(s.t_mul) && s.t_mul > 0)) fail("t_mul", "a number > 0", std::to_string(s.t_mul));
    finite("m_mul", s.m_mul);
}

double Schedule::lr_at(double step) const {
    constexpr double kPi = 3.14159265358979323846;
    switch (kind) {
        case SchedKind::None:
            return 0.0;
        case SchedKind::ExponentialDecay: {  // lr0 * rate^(step / decay_steps)
            double p = step / decay_steps;
            if (staircase) p = std::floor(p);
            return initial_learning_rate * std::pow(decay_rate, p);
        }
        case SchedKind::InverseTimeDecay: {  // lr0 / (1 + rate * step / decay_steps)
            double p = step / decay_steps;
            if (staircase) p = std::floor(p);
            return initial_learning_rate / (1.0 + decay_rate * p);
        }
        case SchedKind::PiecewiseConstantDecay: {  // values[i] for boundaries[i-1] < step <= boundaries[i]
            std::size_t i = 0;
            while (i < boundaries.size() && step > boundaries[i]) ++i;
            return values[i];
        }
        case SchedKind::PolynomialDecay: {  // (lr0 - end) (1 - step / steps)^power + end
            double steps = decay_steps, t = step;
            if (cycle) steps *= step == 0 ? 1.0 : std::ceil(step / decay_steps);
            else t = std::min(t, decay_steps);
            return (initial_learning_rate - end_learning_rate) * std::pow(1.0 - t / steps, power) + end_learning_rate;
        }
        case SchedKind::CosineDecay: {
            auto decay = [&](double t, double from) {
                const double cosine = 0.5 * (1.0 + std::cos(kPi * t / decay_steps));
                return from * ((1 - alpha) * cosine + alpha);
            };
            if (!has_warmup) return decay(std::min(step, decay_steps), initial_learning_rate);
            const double t = std::min(step, decay_steps + warmup_steps);
            if (t < warmup_steps)  // linear warmup from lr0 to warmup_target
                return (warmup_target - initial_learning_rate) * (t / warmup_steps) + initial_learning_rate;
            return decay(t - warmup_steps, warmup_target);
        }
        case SchedKind::CosineDecayRestarts: {  // SGDR (Loshchilov & Hutter), Keras's closed form
            double frac = step / decay_steps, i_restart;
            if (t_mul == 1.0) {
                i_restart = std::floor(frac);
                frac -= i_restart;
            } else {
                i_restart = std::floor(std::log(1.0 - frac * (1.0 - t_mul)) / std::log(t_mul));
                const double sum_r = (1.0 - std::pow(t_mul, i_restart)) / (1.0 - t_mul);
                frac = (frac - sum_r) / std::pow(t_mul, i_restart);
            }
            const double cosine = 0.5 * std::pow(m_mul, i_restart) * (1.0 + std::cos(kPi * frac));
            return initial_learning_rate * ((1 - alpha) * cosine + alpha);
        }
    }
    return 0.0;
}

template <class T>
void Optimizer<T>::reset(std::size_t n) {
    iterations = 0;
    u_product = 1.0;
    const T acc0 = cfg.kind == OptKind::Adagrad ? T(cfg.initial_accumulator_value) : T(0);
    s1.assign(n, acc0);
    s2.assign(n, T(0));
    s3.assign(n, T(0));
}

template <class T>
static double sq_norm(const T* g, std::size_t n) {
    double s = 0;
    for (std::size_t i = 0; i < n; ++i) s += double(g[i]) * g[i];
    return s;
}

// A loop header over every index i of the trainable ranges (one range when nothing is frozen).
#define FASTNN_EACH_TRAINABLE(i) \
    for (const Span r_ : ranges)  /* a copy: the bounds are locals the loop can keep in registers */ \
        FASTNN_PARALLEL_FOR(r_.size) \
        for (std::size_t i = r_.offset; i < r_.offset + r_.size; ++i)

template <class T>
void Optimizer<T>::step(T* w, T* g, const std::vector<Span>& tensors, const std::vector<Span>& ranges) {
    const OptConfig& c = cfg;
    if (c.clipvalue > 0) {
        const T cv = T(c.clipvalue);
        for (const Span& r : ranges)
            for (std::size_t i = r.offset; i < r.offset + r.size; ++i) g[i] = std::min(cv, std::max(-cv, g[i]));
    }
    if (c.clipnorm > 0)
        for (const Span& s : tensors) {
            const double norm = std::sqrt(sq_norm(g + s.offset, s.size));
            if (norm > c.clipnorm) {
                const T f = T(c.clipnorm / norm);
                for (std::size_t i = 0; i < s.size; ++i) g[s.offset + i] *= f;
            }
        }
    if (c.global_clipnorm > 0) {
        double sq = 0;
        for (const Span& r : ranges) sq += sq_norm(g + r.offset, r.size);
        const double norm = std::sqrt(sq);
        if (norm > c.global_clipnorm) {
            const T f = T(c.global_clipnorm / norm);
            for (const Span& r : ranges)
                for (std::size_t i = r.offset; i < r.offset + r.size; ++i) g[i] *= f;
        }
    }
    const double lr_d = lr_at(iterations);
    const T lr = T(lr_d);
    if (c.weight_decay > 0) {  // variable.assign(variable - variable * wd * lr)
        const T f = T(c.weight_decay) * lr;
        for (const Span& r : ranges)
            for (std::size_t i = r.offset; i < r.offset + r.size; ++i) w[i] -= w[i] * f;
    }
    ++iterations;
    const double t = double(iterations);
    const T eps = T(c.epsilon);
    T* m = s1.data();
    T* v = s2.data();
    T* x = s3.data();
    switch (c.kind) {
        case OptKind::SGD: {
            const T mu = T(c.momentum);
            if (c.momentum == 0) {
                FASTNN_EACH_TRAINABLE(i) w[i] -= lr * g[i];
            } else if (c.nesterov) {  // m = mu m - lr g; w += mu m - lr g
                FASTNN_EACH_TRAINABLE(i) {
                    m[i] = mu * m[i] - lr * g[i];
                    w[i] += mu * m[i] - lr * g[i];
                }
            } else {  // m = mu m - lr g; w += m
                FASTNN_EACH_TRAINABLE(i) {
                    m[i] = mu * m[i] - lr * g[i];
                    w[i] += m[i];
                }
            }
            break;
        }
        case OptKind::RMSprop: {
            // velocity = rho v + (1 - rho) g^2; denominator = v (- avg_grad^2 when centered) + eps;
            // increment = lr g / sqrt(denominator); with momentum: mom = momentum mom + increment, w -= mom
            const T rho = T(c.rho), mu = T(c.momentum);
            T* vel = m;
            T* mom = v;
            T* avg = x;
            FASTNN_EACH_TRAINABLE(i) {
                vel[i] = rho * vel[i] + (T(1) - rho) * g[i] * g[i];
                T denom = vel[i] + eps;
                if (c.centered) {
                    avg[i] = rho * avg[i] + (T(1) - rho) * g[i];
                    denom = vel[i] - avg[i] * avg[i] + eps;
                }
                const T inc = lr * g[i] / std::sqrt(denom);
                if (c.momentum > 0) {
                    mom[i] = mu * mom[i] + inc;
                    w[i] -= mom[i];
                } else {
                    w[i] -= inc;
                }
            }
            break;
        }
        case OptKind::Adagrad:  // acc += g^2; w -= lr g / sqrt(acc + eps)
            FASTNN_EACH_TRAINABLE(i) {
                m[i] += g[i] * g[i];
                w[i] -= lr * g[i] / std::sqrt(m[i] + eps);
            }
            break;
        case OptKind::Adadelta: {
            // Eg = rho Eg + (1 - rho) g^2; d = -sqrt(Ed + eps) / sqrt(Eg + eps) g;
            // Ed = rho Ed + (1 - rho) d^2; w += lr d
            const T rho = T(c.rho);
            FASTNN_EACH_TRAINABLE(i) {
                m[i] = rho * m[i] + (T(1) - rho) * g[i] * g[i];
                const T d = -std::sqrt(v[i] + eps) / std::sqrt(m[i] + eps) * g[i];
                v[i] = rho * v[i] + (T(1) - rho) * d * d;
                w[i] += lr * d;
            }
            break;
        }
        case OptKind::Adam:
        case OptKind::AdamW: {
            // alpha = lr sqrt(1 - b2^t) / (1 - b1^t); m += (g - m)(1 - b1); v += (g^2 - v)(1 - b2);
            // amsgrad: v_hat = max(v_hat, v); w -= alpha m / (sqrt(v) + eps)
            const T b1 = T(c.beta_1), b2 = T(c.beta_2);
            const T alpha = T(lr_d * std::sqrt(1 - std::pow(c.beta_2, t)) / (1 - std::pow(c.beta_1, t)));
            FASTNN_EACH_TRAINABLE(i) {
                m[i] += (g[i] - m[i]) * (T(1) - b1);
                v[i] += (g[i] * g[i] - v[i]) * (T(1) - b2);
                T vv = v[i];
                if (c.amsgrad) {
                    x[i] = std::max(x[i], v[i]);
                    vv = x[i];
                }
                w[i] -= alpha * m[i] / (std::sqrt(vv) + eps);
            }
            break;
        }
        case OptKind::Adamax: {
            // m += (g - m)(1 - b1); u = max(b2 u, |g|); w -= lr m / ((1 - b1^t)(u + eps))
            const T b1 = T(c.beta_1), b2 = T(c.beta_2);
            const T bc = T(1 - std::pow(c.beta_1, t));
            FASTNN_EACH_TRAINABLE(i) {
                m[i] += (g[i] - m[i]) * (T(1) - b1);
                v[i] = std::max(b2 * v[i], std::fabs(g[i]));
                w[i] -= lr * m[i] / (bc * (v[i] + eps));
            }
            break;
        }
        case OptKind::Nadam: {
            // u_t = b1 (1 - 0.5 * 0.96^t); u_t1 likewise at t + 1; u_prod_t = u_prod * u_t;
            // m_hat = u_t1 m / (1 - u_prod_t u_t1) + (1 - u_t) g / (1 - u_prod_t); v_hat = v / (1 - b2^t)
            const double u_t = c.beta_1 * (1.0 - 0.5 * std::pow(0.96, t));
            const double u_t1 = c.beta_1 * (1.0 - 0.5 * std::pow(0.96, t + 1));
            const double u_prod_t = u_product * u_t;
            const double u_prod_t1 = u_prod_t * u_t1;
            u_product = u_prod_t;
            const T b1 = T(c.beta_1), b2 = T(c.beta_2);
            const T cm = T(u_t1 / (1 - u_prod_t1)), cg = T((1 - u_t) / (1 - u_prod_t));
            const T cv = T(1.0 / (1 - std::pow(c.beta_2, t)));
            FASTNN_EACH_TRAINABLE(i) {
                m[i] += (g[i] - m[i]) * (T(1) - b1);
                v[i] += (g[i] * g[i] - v[i]) * (T(1) - b2);
                const T m_hat = cm * m[i] + cg * g[i];
                const T v_hat = v[i] * cv;
                w[i] -= lr * m_hat / (std::sqrt(v_hat) + eps);
            }
            break;
        }
    }
}

template class Optimizer<float>;
template class Optimizer<double>;

#undef FASTNN_EACH_TRAINABLE

}  // namespace fastnn
