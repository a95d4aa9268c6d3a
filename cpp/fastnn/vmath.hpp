// fastnn engine: exp and log that compilers vectorize (branch-free, no library calls).
//
// float: Cephes expf/logf polynomials (S. Moshier), within 2 ulp over the normal range; exp underflows to exactly
// 0 below -87.3 and saturates at +inf above 88.7, so sigmoid(-1000) is exactly 0. double: the C library (the
// float64 path is for accuracy, not speed).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace fastnn {

#define FASTNN_INLINE inline __attribute__((always_inline))

FASTNN_INLINE float bits_to_float(std::uint32_t b) { return __builtin_bit_cast(float, b); }
FASTNN_INLINE std::uint32_t float_to_bits(float f) { return __builtin_bit_cast(std::uint32_t, f); }

FASTNN_INLINE float vexp(float x) {
    const float hi = 88.7228391f, lo = -87.3365448f;
    float xc = x > hi ? hi : (x < lo ? lo : x);
    xc = xc == xc ? xc : 0.0f;  // NaN: compute on 0 (no undefined float->int cast), return NaN below
    // n = round(x / ln 2) by the 1.5 * 2^23 trick (exact without SSE4 rounding instructions)
    const float n = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = xc - n * 0.693359375f;
    r = r + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    const float scale = bits_to_float(std::uint32_t(std::int32_t(n) + 127) << 23);
    // Above hi, n = 128 makes scale +inf; below lo the result is flushed to exactly 0.
    const float y = p * scale * (x < lo ? 0.0f : 1.0f);
    return x == x ? y : x;
}

// Natural log for x > 0 (finite); callers guarantee the domain.
FASTNN_INLINE float vlog(float x) {
    const std::uint32_t b = float_to_bits(x);
    float e = float(std::int32_t((b >> 23) & 0xff) - 126);
    float m = bits_to_float((b & 0x807fffffu) | 0x3f000000u);  // mantissa in [0.5, 1)
    const float small = m < 0.707106781186547524f ? 1.0f : 0.0f;  // arithmetic select: vectorizes everywhere
    e -= small;
    m = m + small * m - 1.0f;
    const float z = m * m;
    float y = 7.0376836292e-2f;
    y = y * m - 1.1514610310e-1f;
    y = y * m + 1.1676998740e-1f;
    y = y * m - 1.2420140846e-1f;
    y = y * m + 1.4249322787e-1f;
    y = y * m - 1.6668057665e-1f;
    y = y * m + 2.0000714765e-1f;
    y = y * m - 2.4999993993e-1f;
    y = y * m + 3.3333331174e-1f;
    y = y * m * z;
    y += -2.12194440e-4f * e;
    y += -0.5f * z;
    return m + y + 0.693359375f * e;
}

// log(1 + e) for e >= 0, accurate for small e (the u - 1 correction of Goldberg's log1p).
FASTNN_INLINE float vlog1p(float e) {
    const float u = 1.0f + e;
    const float d = u - 1.0f;
    const float l = vlog(u) * (e / (d == 0.0f ? 1.0f : d));  // both sides computed: a select, no branch
    return d == 0.0f ? e : l;
}

// Index of the first NaN or infinity among p[0..n), or -1: a vectorized pass, then a scalar search only on failure.
template <class T>
std::ptrdiff_t find_non_finite(const T* p, std::ptrdiff_t n) {
    // x * 0 is 0 for finite x and NaN for NaN or infinity, so the sum is 0 exactly when all are finite.
    T acc = 0;
#pragma omp simd reduction(+ : acc)
    for (std::ptrdiff_t i = 0; i < n; ++i) acc += p[i] * T(0);
    if (acc == T(0)) return -1;
    std::ptrdiff_t i = 0;
    while (std::isfinite(p[i])) ++i;
    return i;
}

inline double vexp(double x) { return std::exp(x); }
inline double vlog(double x) { return std::log(x); }
inline double vlog1p(double x) { return std::log1p(x); }

}  // namespace fastnn
