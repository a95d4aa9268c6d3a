"""The activation layers (Keras 3 names, arguments and defaults): Softmax, ReLU, LeakyReLU, PReLU, ELU, and the
Identity placeholder. Each is one op of the engine's table (cpp/fastnn/ops_activation.hpp); PReLU has a trainable
slope per feature (its weight "alpha", zeros at first).

Formulas (Keras's keras/src/activations and keras/src/layers/activations):
  ReLU       f(x) = min(x, max_value) for x > threshold, negative_slope * (x - threshold) otherwise
  LeakyReLU  f(x) = x for x >= 0, negative_slope * x otherwise (ReLU's op with threshold 0, no max_value)
  PReLU      f(x) = x for x >= 0, alpha_j * x otherwise, alpha_j learned per feature j
  ELU        f(x) = x for x > 0, alpha * (exp(x) - 1) otherwise
  Softmax    f(x)_j = exp(x_j) / sum_k exp(x_k), over the features (axis -1)
"""

import math
import numbers
import warnings

from . import initializers, regularizers
from .layers import Layer


def _number(value, name, layer, minimum=None, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or \
            (minimum is not None and value < minimum):
        what = "a finite number" + (f" >= {minimum}" if minimum is not None else "")
        raise ValueError(f"{name} ({layer}): expected {what}{' or None' if allow_none else ''}, got {value!r}")
    return float(value)


class Softmax(Layer):
    """Softmax over the features of each sample (axis=-1: fastnn's samples are 1-D)."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)) and len(axis) == 1:
            axis = axis[0]
        if isinstance(axis, bool) or axis not in (-1, 1):
            raise ValueError(f"axis (Softmax): fastnn samples are 1-D, so the softmax runs over the features; "
                             f"expected -1 (or 1), got {axis!r}")
        self.axis = axis

    def _engine_op(self):
        return "activation", {"activation": "softmax"}

    def get_config(self):
        cfg = super().get_config()
        cfg["axis"] = self.axis
        return cfg


class ReLU(Layer):
    """Rectified linear unit with Keras's options: a cap (max_value), a slope below the threshold."""

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        self.max_value = _number(max_value, "max_value", "ReLU", 0.0, allow_none=True)
        self.negative_slope = _number(negative_slope, "negative_slope", "ReLU", 0.0)
        self.threshold = _number(threshold, "threshold", "ReLU", 0.0)

    def _engine_op(self):
        args = {"negative_slope": self.negative_slope, "threshold": self.threshold}
        if self.max_value is not None:
            args["max_value"] = self.max_value
        return "relu", args

    def get_config(self):
        cfg = super().get_config()
        cfg.update(max_value=self.max_value, negative_slope=self.negative_slope, threshold=self.threshold)
        return cfg


class LeakyReLU(Layer):
    """x for x >= 0, negative_slope * x otherwise (Keras 3's default slope 0.3)."""

    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:
            negative_slope = kwargs.pop("alpha")
            warnings.warn("Argument `alpha` is deprecated. Use `negative_slope` instead.", stacklevel=2)
        super().__init__(**kwargs)
        self.negative_slope = _number(negative_slope, "negative_slope", "LeakyReLU", 0.0)

    def _engine_op(self):
        return "relu", {"negative_slope": self.negative_slope, "threshold": 0.0}

    def get_config(self):
        cfg = super().get_config()
        cfg["negative_slope"] = self.negative_slope
        return cfg


class PReLU(Layer):
    """Parametric ReLU: x for x >= 0, alpha * x otherwise, with one trainable alpha per feature."""

    def __init__(self, alpha_initializer="Zeros", alpha_regularizer=None, alpha_constraint=None, shared_axes=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.alpha_initializer = initializers.get(alpha_initializer)
        self.alpha_regularizer = regularizers.get(alpha_regularizer)
        if alpha_constraint is not None:
            raise ValueError(f"alpha_constraint (PReLU): not supported by fastnn, expected None, got "
                             f"{alpha_constraint!r}")
        if shared_axes is not None:
            raise ValueError(f"shared_axes (PReLU): fastnn samples are 1-D (one alpha per feature), expected None, "
                             f"got {shared_axes!r}")

    def _engine_op(self):
        reg = self.alpha_regularizer
        return "prelu", {"alpha_initializer": self.alpha_initializer.engine_spec(),
                         "alpha_l1": reg.l1 if reg else 0.0, "alpha_l2": reg.l2 if reg else 0.0}

    def _weight_shapes(self):
        return [] if self._input_size is None else [(self._input_size,)]

    @property
    def alpha(self):
        w = self.get_weights()
        return w[0] if w else None

    def get_config(self):
        cfg = super().get_config()
        cfg.update(alpha_initializer=initializers.serialize(self.alpha_initializer),
                   alpha_regularizer=self.alpha_regularizer.get_config() if self.alpha_regularizer else None,
                   alpha_constraint=None, shared_axes=None)
        return cfg


class ELU(Layer):
    """Exponential linear unit: x for x > 0, alpha * (exp(x) - 1) otherwise."""

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = _number(alpha, "alpha", "ELU")

    def _engine_op(self):
        return "elu", {"alpha": self.alpha}

    def get_config(self):
        cfg = super().get_config()
        cfg["alpha"] = self.alpha
        return cfg


class Identity(Layer):
    """A placeholder that passes its input on unchanged (no op in the engine)."""
