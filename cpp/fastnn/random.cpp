// fastnn engine: weight initializers (Keras 3 formulas; see random.hpp).
#include "random.hpp"

namespace fastnn {

namespace {
constexpr double kTruncStd = 0.87962566103423978;

double truncated_normal(Rng& rng) {
    for (;;) {
        const double x = rng.normal();
        if (x >= -2.0 && x <= 2.0) return x;
    }
}

// Variance-scaling family: (scale, fan mode) by name; returns false for the non-scaling initializers.
bool variance_scaling(const std::string& name, double* scale, int* mode, bool* uniform) {
    // mode 0: fan_avg, 1: fan_in
    if (name == "glorot_uniform") { *scale = 1; *mode = 0; *uniform = true; return true; }
    if (name == "glorot_normal") { *scale = 1; *mode = 0; *uniform = false; return true; }
    if (name == "he_uniform") { *scale = 2; *mode = 1; *uniform = true; return true; }
    if (name == "he_normal") { *scale = 2; *mode = 1; *uniform = false; return true; }
    if (name == "lecun_uniform") { *scale = 1; *mode = 1; *uniform = true; return true; }
    if (name == "lecun_normal") { *scale = 1; *mode = 1; *uniform = false; return true; }
    return false;
}
}  // namespace

void init_validate(const InitSpec& s) {
    double scale;
    int mode;
    bool uniform;
    if (variance_scaling(s.name, &scale, &mode, &uniform) || s.name == "zeros" || s.name == "ones") return;
    if (s.name == "constant" || s.name == "random_normal" || s.name == "truncated_normal" ||
        s.name == "random_uniform") {
        if (!std::isfinite(s.a) || !std::isfinite(s.b)) fail("initializer " + s.name, "finite arguments", "NaN or inf");
        if ((s.name == "random_normal" || s.name == "truncated_normal") && s.b < 0)
            fail("stddev", "a number >= 0", std::to_string(s.b));
        if (s.name == "random_uniform" && s.b < s.a) fail("maxval", "a number >= minval", std::to_string(s.b));
        return;
    }
    fail("initializer",
         "one of glorot_uniform, glorot_normal, he_uniform, he_normal, lecun_uniform, lecun_normal, "
         "random_normal, truncated_normal, random_uniform, zeros, ones, constant",
         "'" + s.name + "'");
}

template <class T>
void initialize(T* w, std::size_t n, std::size_t fan_in, std::size_t fan_out, const InitSpec& s, Rng& rng) {
    double scale;
    int mode;
    bool uniform;
    if (variance_scaling(s.name, &scale, &mode, &uniform)) {
        const double fan = mode == 0 ? (double(fan_in) + double(fan_out)) / 2.0 : double(fan_in);
        const double var = scale / std::max(1.0, fan);
        if (uniform) {
            const double limit = std::sqrt(3.0 * var);
            for (std::size_t i = 0; i < n; ++i) w[i] = T(limit * (2.0 * rng.uniform() - 1.0));
        } else {
            const double stddev = std::sqrt(var) / kTruncStd;
            for (std::size_t i = 0; i < n; ++i) w[i] = T(stddev * truncated_normal(rng));
        }
    } else if (s.name == "zeros" || s.name == "ones" || s.name == "constant") {
        const T v = s.name == "zeros" ? T(0) : s.name == "ones" ? T(1) : T(s.a);
        for (std::size_t i = 0; i < n; ++i) w[i] = v;
    } else if (s.name == "random_normal") {
        for (std::size_t i = 0; i < n; ++i) w[i] = T(s.a + s.b * rng.normal());
    } else if (s.name == "truncated_normal") {
        for (std::size_t i = 0; i < n; ++i) w[i] = T(s.a + s.b * truncated_normal(rng));
    } else if (s.name == "random_uniform") {
        for (std::size_t i = 0; i < n; ++i) w[i] = T(s.a + (s.b - s.a) * rng.uniform());
    } else {
        init_validate(s);  // throws for the unknown name
    }
}

template void initialize<float>(float*, std::size_t, std::size_t, std::size_t, const InitSpec&, Rng&);
template void initialize<double>(double*, std::size_t, std::size_t, std::size_t, const InitSpec&, Rng&);

}  // namespace fastnn
