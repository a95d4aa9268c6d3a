"""The noise layers (Keras 3's regularization layers beside Dropout): GaussianNoise, GaussianDropout, AlphaDropout.
Active only in training; at inference each passes its input on unchanged. Each is one op of the engine's table
(cpp/fastnn/ops_noise.hpp), drawing from the engine's seeded dropout stream (fastnn.utils.set_random_seed makes
runs repeatable; a layer's own `seed=` is accepted for Keras compatibility and not used, as Dropout's).

Formulas (keras/src/layers/regularization), in training, for each value x:
  GaussianNoise    x + stddev * e,                          e ~ N(0, 1)
  GaussianDropout  x * (1 + sqrt(rate / (1 - rate)) * e),   e ~ N(0, 1)
  AlphaDropout     a * (x if u >= rate else alpha_p) + b,   u ~ U[0, 1), alpha_p = -1.6732632... * 1.0507009...,
                   a = ((1 - rate) * (1 + rate * alpha_p^2))^-1/2, b = -a * alpha_p * rate
"""

import math
import numbers

from .layers import Layer


def _seed(seed, layer):
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        raise ValueError(f"seed ({layer}): expected None or an integer, got {seed!r}")
    return None if seed is None else int(seed)


def _fraction(value, name, layer, upper_open=True):
    ok = not isinstance(value, bool) and isinstance(value, numbers.Real) and math.isfinite(value) and \
        0 <= value and (value < 1 if upper_open else value <= 1)
    if not ok:
        raise ValueError(f"{name} ({layer}): expected a number in [0, {'1)' if upper_open else '1]'}, got {value!r}")
    return float(value)


class GaussianNoise(Layer):
    """Adds zero-centred Gaussian noise of standard deviation `stddev` (in [0, 1], as Keras) in training."""

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.stddev = _fraction(stddev, "stddev", "GaussianNoise", upper_open=False)
        self.seed = _seed(seed, type(self).__name__)

    def _engine_op(self):
        return "gaussian_noise", {"stddev": self.stddev}

    def get_config(self):
        cfg = super().get_config()
        cfg.update(stddev=self.stddev, seed=self.seed)
        return cfg


class GaussianDropout(Layer):
    """Multiplies by 1-centred Gaussian noise of standard deviation sqrt(rate / (1 - rate)) in training."""

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = _fraction(rate, "rate", "GaussianDropout")
        self.seed = _seed(seed, type(self).__name__)

    def _engine_op(self):
        return "gaussian_dropout", {"rate": self.rate}

    def get_config(self):
        cfg = super().get_config()
        cfg.update(rate=self.rate, seed=self.seed)
        return cfg


class AlphaDropout(Layer):
    """Dropout that keeps the mean and variance of SELU activations: dropped values are set to SELU's negative
    saturation, then an affine map restores the statistics (Klambauer et al., 2017)."""

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = _fraction(rate, "rate", "AlphaDropout")
        if noise_shape is not None:
            raise ValueError(f"noise_shape (AlphaDropout): not supported by fastnn, expected None, got {noise_shape!r}")
        self.seed = _seed(seed, type(self).__name__)

    def _engine_op(self):
        return "alpha_dropout", {"rate": self.rate}

    def get_config(self):
        cfg = super().get_config()
        cfg.update(rate=self.rate, seed=self.seed, noise_shape=None)
        return cfg
