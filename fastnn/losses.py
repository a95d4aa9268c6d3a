"""Losses (Keras 3 names and reductions), computed by the C++ engine.

compile() takes a loss as a string ("mse", "binary_crossentropy", ...), a Loss object (for from_logits) or one of
the functions below. Per-sample losses are averaged over the output axis (mse, mae, huber, binary
cross-entropy, hinges) or summed (categorical ones), then averaged over the batch with sample weights.
"""

import numpy as np

from . import _core
from ._names import unknown_name_error

ENGINE_NAMES = ("mse", "mae", "huber", "binary_crossentropy", "categorical_crossentropy",
                "sparse_categorical_crossentropy", "hinge", "squared_hinge")
ALIASES = {
    "mean_squared_error": "mse", "mean_absolute_error": "mae", "huber_loss": "huber",
    "meansquarederror": "mse", "meanabsoluteerror": "mae", "binarycrossentropy": "binary_crossentropy",
    "categoricalcrossentropy": "categorical_crossentropy",
    "sparsecategoricalcrossentropy": "sparse_categorical_crossentropy", "squaredhinge": "squared_hinge",
}
CROSSENTROPIES = ("binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy")


class Loss:
    """A loss the engine computes. `engine_name` is its name in the core, `from_logits` as in Keras."""

    engine_name = None

    def __init__(self, name=None, from_logits=False, reduction="sum_over_batch_size"):
        if reduction not in ("sum_over_batch_size", "auto", None):
            raise ValueError(f"reduction: expected 'sum_over_batch_size', got {reduction!r}")
        if from_logits and self.engine_name not in CROSSENTROPIES:
            raise ValueError(f"from_logits: only the cross-entropy losses take it, got it for {self.engine_name}")
        self.from_logits = bool(from_logits)
        self.name = name or _default_names[self.engine_name]

    def __call__(self, y_true, y_pred, sample_weight=None):
        p = np.asarray(y_pred, dtype=np.float64)
        p2 = p.reshape(len(p), -1) if p.ndim != 2 else p
        y = np.asarray(y_true, dtype=np.float64)
        y2 = y.reshape(len(y), -1) if self.engine_name != "sparse_categorical_crossentropy" else y.reshape(-1, 1)
        if y2.shape[1] != p2.shape[1] and self.engine_name != "sparse_categorical_crossentropy":
            y2 = y2.reshape(p2.shape)
        sw = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64).reshape(-1)
        return _core.loss_forward(self.engine_name, y2, p2, sw, self.from_logits)

    def get_config(self):
        return {"name": self.name, "from_logits": self.from_logits}

    def __repr__(self):
        return f"{type(self).__name__}(from_logits={self.from_logits})"


class MeanSquaredError(Loss):
    engine_name = "mse"

    def __init__(self, name="mean_squared_error", reduction="sum_over_batch_size"):
        super().__init__(name, False, reduction)


class MeanAbsoluteError(Loss):
    engine_name = "mae"

    def __init__(self, name="mean_absolute_error", reduction="sum_over_batch_size"):
        super().__init__(name, False, reduction)


class Huber(Loss):
    engine_name = "huber"

    def __init__(self, delta=1.0, name="huber_loss", reduction="sum_over_batch_size"):
        if delta != 1.0:
            raise ValueError(f"delta: fastnn's Huber loss uses delta=1.0, got {delta!r}")
        super().__init__(name, False, reduction)


class BinaryCrossentropy(Loss):
    engine_name = "binary_crossentropy"

    def __init__(self, from_logits=False, label_smoothing=0.0, name="binary_crossentropy",
                 reduction="sum_over_batch_size", axis=-1):
        _no_smoothing(label_smoothing)
        super().__init__(name, from_logits, reduction)


class CategoricalCrossentropy(Loss):
    engine_name = "categorical_crossentropy"

    def __init__(self, from_logits=False, label_smoothing=0.0, name="categorical_crossentropy",
                 reduction="sum_over_batch_size", axis=-1):
        _no_smoothing(label_smoothing)
        super().__init__(name, from_logits, reduction)


class SparseCategoricalCrossentropy(Loss):
    engine_name = "sparse_categorical_crossentropy"

    def __init__(self, from_logits=False, ignore_class=None, name="sparse_categorical_crossentropy",
                 reduction="sum_over_batch_size"):
        if ignore_class is not None:
            raise ValueError(f"ignore_class: not supported by fastnn, got {ignore_class!r}")
        super().__init__(name, from_logits, reduction)


class Hinge(Loss):
    engine_name = "hinge"

    def __init__(self, name="hinge", reduction="sum_over_batch_size"):
        super().__init__(name, False, reduction)


class SquaredHinge(Loss):
    engine_name = "squared_hinge"

    def __init__(self, name="squared_hinge", reduction="sum_over_batch_size"):
        super().__init__(name, False, reduction)


def _no_smoothing(label_smoothing):
    if label_smoothing:
        raise ValueError(f"label_smoothing: not supported by fastnn, expected 0, got {label_smoothing!r}")


_classes = {c.engine_name: c for c in (MeanSquaredError, MeanAbsoluteError, Huber, BinaryCrossentropy,
                                       CategoricalCrossentropy, SparseCategoricalCrossentropy, Hinge, SquaredHinge)}
_default_names = {"mse": "mean_squared_error", "mae": "mean_absolute_error", "huber": "huber_loss",
                  "binary_crossentropy": "binary_crossentropy", "categorical_crossentropy": "categorical_crossentropy",
                  "sparse_categorical_crossentropy": "sparse_categorical_crossentropy", "hinge": "hinge",
                  "squared_hinge": "squared_hinge"}


def _make(engine_name, public):
    def loss(y_true, y_pred, from_logits=False):
        kw = {"from_logits": from_logits} if engine_name in CROSSENTROPIES else {}
        return _classes[engine_name](**kw)(y_true, y_pred)

    loss.__name__ = public
    loss._engine_name = engine_name
    return loss


mean_squared_error = mse = _make("mse", "mean_squared_error")
mean_absolute_error = mae = _make("mae", "mean_absolute_error")
huber = _make("huber", "huber")
binary_crossentropy = _make("binary_crossentropy", "binary_crossentropy")
categorical_crossentropy = _make("categorical_crossentropy", "categorical_crossentropy")
sparse_categorical_crossentropy = _make("sparse_categorical_crossentropy", "sparse_categorical_crossentropy")
hinge = _make("hinge", "hinge")
squared_hinge = _make("squared_hinge", "squared_hinge")


def get(identifier):
    """A Loss object for a name, a Loss object or one of this module's functions."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if callable(identifier) and getattr(identifier, "_engine_name", None):
        return _classes[identifier._engine_name]()
    if isinstance(identifier, str):
        key = identifier.lower()
        key = ALIASES.get(key, key)
        if key in _classes:
            return _classes[key]()
        raise unknown_name_error("loss", identifier, ENGINE_NAMES + tuple(ALIASES)[:3])
    if identifier is None:
        raise ValueError("loss: expected a loss such as 'mse' or 'binary_crossentropy', got None "
                         "(pass loss= to compile())")
    raise ValueError(f"loss: expected a name, a fastnn.losses.Loss or a fastnn.losses function, got {identifier!r}; "
                     "custom Python loss functions cannot run inside fastnn's C++ engine")


def serialize(loss):
    return {"name": loss.engine_name, "from_logits": loss.from_logits}


def deserialize(config):
    if not isinstance(config, dict) or config.get("name") not in _classes:
        raise ValueError(f"loss config: expected one of {', '.join(ENGINE_NAMES)}, got {config!r}")
    cls = _classes[config["name"]]
    return cls(from_logits=bool(config.get("from_logits", False))) if config["name"] in CROSSENTROPIES else cls()
