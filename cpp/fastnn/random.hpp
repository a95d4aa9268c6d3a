// fastnn engine: the seeded generator and the weight initializers.
//
// Rng is xoshiro256** (Blackman & Vigna) seeded through splitmix64; Rng(seed, stream) gives independent
// sub-streams, so weight init, shuffling and dropout never consume each other's numbers.
// Initializers follow Keras 3 (keras/src/initializers): glorot/he/lecun uniform use limit sqrt(3 * scale / n);
// the *_normal ones draw a normal truncated at 2 standard deviations with stddev
// sqrt(scale / n) / 0.87962566103423978 (the stddev of a unit normal truncated to [-2, 2]).
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <string>

#include "common.hpp"

namespace fastnn {

class Rng {
public:
    explicit Rng(std::uint64_t seed = 0, std::uint64_t stream = 0) { reseed(seed, stream); }

    void reseed(std::uint64_t seed, std::uint64_t stream) {
        std::uint64_t x = seed ^ (0x9E3779B97F4A7C15ull * (stream + 1));
        for (auto& s : s_) s = splitmix64(x);
    }

    std::uint64_t next() {
        const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
        const std::uint64_t t = s_[1] << 17;
        s_[2] ^= s_[0];
        s_[3] ^= s_[1];
        s_[1] ^= s_[2];
        s_[0] ^= s_[3];
        s_[2] ^= t;
        s_[3] = rotl(s_[3], 45);
        return result;
    }

    double uniform() { return double(next() >> 11) * 0x1.0p-53; }  // [0, 1)

    double normal() {  // Box-Muller, one value per call
        double u1 = uniform();
        while (u1 <= 0.0) u1 = uniform();
        const double u2 = uniform();
        return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
    }

    std::uint64_t below(std::uint64_t n) {  // unbiased integer in [0, n) (Lemire's method)
        __uint128_t m = __uint128_t(next()) * n;
        std::uint64_t l = std::uint64_t(m);
        if (l < n) {
            const std::uint64_t t = -n % n;
            while (l < t) {
                m = __uint128_t(next()) * n;
                l = std::uint64_t(m);
            }
        }
        return std::uint64_t(m >> 64);
    }

    std::array<std::uint64_t, 4> state() const { return {s_[0], s_[1], s_[2], s_[3]}; }
    void set_state(const std::array<std::uint64_t, 4>& st) {
        if (!(st[0] | st[1] | st[2] | st[3])) fail("generator state", "not all zero", "all zero");
        for (int i = 0; i < 4; ++i) s_[i] = st[i];
    }

private:
    static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
    static std::uint64_t splitmix64(std::uint64_t& x) {
        std::uint64_t z = (x += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    std::uint64_t s_[4];
};

// Sub-stream ids.
enum Stream : std::uint64_t { kStreamInit = 1, kStreamShuffle = 2, kStreamDropout = 3 };

struct InitSpec {
    std::string name = "glorot_uniform";
    double a = 0.0;  // constant: value; random_normal/truncated_normal: mean; random_uniform: minval
    double b = 0.0;  // random_normal: stddev; random_uniform: maxval
};

// Fills the n values of w as `spec` says, for a tensor with these fans (Keras's compute_fans).
template <class T>
void initialize(T* w, std::size_t n, std::size_t fan_in, std::size_t fan_out, const InitSpec& spec, Rng& rng);

void init_validate(const InitSpec& spec);

}  // namespace fastnn
