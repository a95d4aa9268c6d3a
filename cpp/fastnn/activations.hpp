// fastnn engine: activation functions and their derivatives (Keras 3 definitions).
//
// act_forward(a, z, rows, cols):          a = f(z), elementwise (softmax: per row).
// act_backward(dz, z, a, dout, rows, cols): dz = f'(z) * dout (softmax: Jacobian-vector product per row).
// z and a may alias for the forward pass; dz may alias dout.
// Formulas: leaky_relu slope 0.2 (keras.activations.leaky_relu), elu alpha 1, selu (Klambauer et al. 2017),
// gelu exact (erf form, Keras 3 default), hard_sigmoid = clip(x/6 + 1/2, 0, 1) (Keras 3), step = [x >= 0].
#pragma once

#include <algorithm>
#include <cmath>

#include "common.hpp"
#include "vmath.hpp"

#define FASTNN_SIMD _Pragma("omp simd")

namespace fastnn {

constexpr double kLeakySlope = 0.2;
constexpr double kSeluAlpha = 1.6732632423543772848170429916717;
constexpr double kSeluScale = 1.0507009873554804934193349852946;

template <class T>
FASTNN_INLINE T sigmoid(T x) {
    // Stable on both sides and branch-free (vectorizes): e = exp(-|x|) never overflows;
    // sigmoid(+-1000) is exactly 1 or 0.
    const T e = vexp(-std::fabs(x));
    const T r = T(1) / (T(1) + e);
    return x >= T(0) ? r : e * r;
}

template <class T>
FASTNN_INLINE T softplus(T x) {
    return std::max(x, T(0)) + vlog1p(vexp(-std::fabs(x)));
}

template <class T>
void softmax_rows(T* a, const T* z, idx rows, idx cols) {
    for (idx r = 0; r < rows; ++r) {
        const T* zr = z + r * cols;
        T* ar = a + r * cols;
        T m = zr[0];
        for (idx c = 1; c < cols; ++c) m = std::max(m, zr[c]);
        T s = 0;
        for (idx c = 0; c < cols; ++c) {
            ar[c] = vexp(zr[c] - m);
            s += ar[c];
        }
        const T inv = T(1) / s;
        for (idx c = 0; c < cols; ++c) ar[c] *= inv;
    }
}

template <class T>
void act_forward(Act act, T* a, const T* z, idx rows, idx cols) {
    const idx n = rows * cols;
    switch (act) {
        case Act::Linear:
            if (a != z) std::copy(z, z + n, a);
            return;
        case Act::Relu:
            FASTNN_SIMD
            for (idx i = 0; i < n; ++i) a[i] = z[i] < T(0) ? T(0) : z[i];  // NaN stays NaN
            return;
        case Act::LeakyRelu:
            FASTNN_SIMD
            for (idx i = 0; i < n; ++i) a[i] = z[i] > T(0) ? z[i] : T(kLeakySlope) * z[i];
            return;
        case Act::Elu:
            FASTNN_SIMD
            for (idx i = 0; i < n; ++i) a[i] = z[i] > T(0) ? z[i] : std::expm1(z[i]);
            return;
        case Act::Selu:
            FASTNN_SIMD
            for (idx i = 0; i < n; ++i)
                a[i] = T(kSeluScale) * (z[i] > T(0) ? z[i] : T(kSeluAlpha) * std::expm1(z[i]));
            return;
        case Act::Gelu:
            FASTNN_SIMD
            for (idx i = 0; i < n; ++i) a[i] = T(0.5) * z[i] * (T(1) + std::erf(z[i] * T(M_SQRT1_2)));
            return;
        case Act::Swish:
            FASTNN_SIMD
            for (idx i = 0; i < n; ++i) a[i] = z[i] * sigmoid(z[i]);
            return;
        case Act::Sigmoid:
            FASTNN_SIMD
            for (idx i = 0; i < n; ++i) a[i] = sigmoid(z[i]);
            return;
        case Act::HardSigmoid:
            FASTNN_SIMD
            for (idx i = 0; i < n; ++i) {
                const T v = z[i] / T(6) + T(0.5);
                a[i] = v < T(0) ? T(0) : (v > T(1) ? T(1) : v);  // NaN stays NaN
            }
            return;
        case Act::Tanh:
            FASTNN_SIMD
            for (idx i = 0; i < n; ++i) a[i] = std::tanh(z[i]);
            return;
        case Act::Softplus:
            FASTNN_SIMD
            for (idx i = 0; i < n; ++i) a[i] = softplus(z[i]);
            return;
        case Act::Softsign:
            FASTNN_SIMD
            for (idx i = 0; i < n; ++i) a[i] = z[i] / (T(1) + std::fabs(z[i]));
            return;
        case Act::Softmax:
            softmax_rows(a, z, rows, cols);
            return;
        case Act::Step:
            FASTNN_SIMD
            for (idx i = 0; i < n; ++i) a[i] = z[i] >= T(0) ? T(1) : T(0);
            return;
    }
}

// Backward: each case differentiates the forward line above it in act_forward.
template <class T>
void act_backward(Act act, T* dz, const T* z, const T* a, const T* dout, idx rows, idx cols) {
    const idx n = rows * cols;
    switch (act) {
        case Act::Linear:
            if (dz != dout) std::copy(dout, dout + n, dz);
            return;
        case Act::Relu:  // a = max(z, 0)
            FASTNN_SIMD
            for (idx i = 0; i < n; ++i) dz[i] = z[i] > T(0) ? dout[i] : T(0);
            return;
        case Act::LeakyRelu:
            FASTNN_SIMD
            for (idx i = 0; i < n; ++i) dz[i] = z[i] > T(0) ? dout[i] : T(kLeakySlope) * dout[i];
            return;
        case Act::Elu:  // a = z > 0 ? z : exp(z) - 1
            FASTNN_SIMD
            for (idx i = 0; i < n; ++i) dz[i] = z[i] > T(0) ? dout[i] : std::exp(z[i]) * dout[i];
            return;
        case Act::Selu:
            FASTNN_SIMD
            for (idx i = 0; i < n; ++i)
                dz[i] = T(kSeluScale) * (z[i] > T(0) ? T(1) : T(kSeluAlpha) * std::exp(z[i])) * dout[i];
            return;
        case Act::Gelu: {  // a = z * Phi(z): a' = Phi(z) + z * phi(z)
            const T inv_sqrt_2pi = T(0.39894228040143267794);
            FASTNN_SIMD
            for (idx i = 0; i < n; ++i) {
                const T x = z[i];
                const T cdf = T(0.5) * (T(1) + std::erf(x * T(M_SQRT1_2)));
                dz[i] = (cdf + x * inv_sqrt_2pi * std::exp(T(-0.5) * x * x)) * dout[i];
            }
            return;
        }
        case Act::Swish:  // a = z s(z): a' = s + z s (1 - s)
            FASTNN_SIMD
            for (idx i = 0; i < n; ++i) {
                const T s = sigmoid(z[i]);
                dz[i] = (s + z[i] * s * (T(1) - s)) * dout[i];
            }
            return;
        case Act::Sigmoid:  // a' = a (1 - a)
            FASTNN_SIMD
            for (idx i = 0; i < n; ++i) dz[i] = a[i] * (T(1) - a[i]) * dout[i];
            return;
        case Act::HardSigmoid:
            FASTNN_SIMD
            for (idx i = 0; i < n; ++i) dz[i] = (z[i] > T(-3) && z[i] < T(3)) ? dout[i] / T(6) : T(0);
            return;
        case Act::Tanh:  // a' = 1 - a^2
            FASTNN_SIMD
            for (idx i = 0; i < n; ++i) dz[i] = (T(1) - a[i] * a[i]) * dout[i];
            return;
        case Act::Softplus:  // a' = sigmoid(z)
            FASTNN_SIMD
            for (idx i = 0; i < n; ++i) dz[i] = sigmoid(z[i]) * dout[i];
            return;
        case Act::Softsign: {  // a' = 1 / (1 + |z|)^2
            FASTNN_SIMD
            for (idx i = 0; i < n; ++i) {
                const T d = T(1) + std::fabs(z[i]);
                dz[i] = dout[i] / (d * d);
            }
            return;
        }
        case Act::Softmax:  // dz_j = a_j (g_j - sum_k g_k a_k)
            for (idx r = 0; r < rows; ++r) {
                const T* ar = a + r * cols;
                const T* gr = dout + r * cols;
                T* dr = dz + r * cols;
                T dot = 0;
                for (idx c = 0; c < cols; ++c) dot += gr[c] * ar[c];
                for (idx c = 0; c < cols; ++c) dr[c] = ar[c] * (gr[c] - dot);
            }
            return;
        case Act::Step:
            throw std::invalid_argument(
                "activation 'step' has no gradient: it can be used for prediction and by the Perceptron rule, "
                "not in a layer trained by gradient descent");
    }
}

}  // namespace fastnn
