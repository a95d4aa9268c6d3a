"""Losses (Keras 3 names, arguments and reductions), computed by the C++ engine.

compile() takes a loss as a string ("mse", "binary_crossentropy", "kld", ...), a Loss object (for from_logits,
label_smoothing, delta) or one of the functions below. Per-sample losses are averaged over the output axis (mse,
mae, huber, binary cross-entropy, hinges, log_cosh, poisson, mape, msle) or summed (categorical ones,
kl_divergence, cosine_similarity), then averaged over the batch with sample weights.
"""

import numpy as np

from . import _core
from ._names import unknown_name_error
from ._validation import check_number

ENGINE_NAMES = ("mse", "mae", "huber", "binary_crossentropy", "categorical_crossentropy",
                "sparse_categorical_crossentropy", "hinge", "squared_hinge", "log_cosh", "kl_divergence", "poisson",
                "mean_absolute_percentage_error", "mean_squared_logarithmic_error", "categorical_hinge",
                "cosine_similarity")
# Keras 3's string names (function and class names, and the aliases of keras.losses.ALL_OBJECTS_DICT).
ALIASES = {
    "mean_squared_error": "mse", "mean_absolute_error": "mae", "huber_loss": "huber", "bce": "binary_crossentropy",
    "meansquarederror": "mse", "meanabsoluteerror": "mae", "binarycrossentropy": "binary_crossentropy",
    "categoricalcrossentropy": "categorical_crossentropy",
    "sparsecategoricalcrossentropy": "sparse_categorical_crossentropy", "squaredhinge": "squared_hinge",
    "logcosh": "log_cosh", "kld": "kl_divergence", "kullback_leibler_divergence": "kl_divergence",
    "kldivergence": "kl_divergence", "mape": "mean_absolute_percentage_error",
    "meanabsolutepercentageerror": "mean_absolute_percentage_error", "msle": "mean_squared_logarithmic_error",
    "meansquaredlogarithmicerror": "mean_squared_logarithmic_error", "categoricalhinge": "categorical_hinge",
    "cosinesimilarity": "cosine_similarity",
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

    def engine_config(self):
        """The arguments the engine needs besides the name and from_logits (delta, label_smoothing)."""
        return {}

    def __call__(self, y_true, y_pred, sample_weight=None):
        p = np.asarray(y_pred, dtype=np.float64)
        p2 = p.reshape(len(p), -1) if p.ndim != 2 else p
        y = np.asarray(y_true, dtype=np.float64)
        y2 = y.reshape(len(y), -1) if self.engine_name != "sparse_categorical_crossentropy" else y.reshape(-1, 1)
        if y2.shape[1] != p2.shape[1] and self.engine_name != "sparse_categorical_crossentropy":
            y2 = y2.reshape(p2.shape)
        sw = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64).reshape(-1)
        return _core.loss_forward(self.engine_name, y2, p2, sw, self.from_logits, self.engine_config())

    def get_config(self):
        cfg = {"name": self.name}
        if self.engine_name in CROSSENTROPIES:
            cfg["from_logits"] = self.from_logits
        cfg.update(self.engine_config())
        return cfg

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({args})"




class MeanSquaredError(Loss):
    engine_name = "mse"

    def __init__(self, name="mean_squared_error", reduction="sum_over_batch_size", dtype=None):
        super().__init__(name, False, reduction)


class MeanAbsoluteError(Loss):
    engine_name = "mae"

    def __init__(self, name="mean_absolute_error", reduction="sum_over_batch_size", dtype=None):
        super().__init__(name, False, reduction)


class MeanAbsolutePercentageError(Loss):
    engine_name = "mean_absolute_percentage_error"

    def __init__(self, name="mean_absolute_percentage_error", reduction="sum_over_batch_size", dtype=None):
        super().__init__(name, False, reduction)


class MeanSquaredLogarithmicError(Loss):
    engine_name = "mean_squared_logarithmic_error"

    def __init__(self, name="mean_squared_logarithmic_error", reduction="sum_over_batch_size", dtype=None):
        super().__init__(name, False, reduction)


class Huber(Loss):
    engine_name = "huber"

    def __init__(self, delta=1.0, name="huber_loss", reduction="sum_over_batch_size", dtype=None):
        self.delta = check_number("delta", delta, low=0.0, low_open=True)
        super().__init__(name, False, reduction)

    def engine_config(self):
        return {"delta": self.delta}


class LogCosh(Loss):
    engine_name = "log_cosh"

    def __init__(self, name="log_cosh", reduction="sum_over_batch_size", dtype=None):
        super().__init__(name, False, reduction)


class KLDivergence(Loss):
    engine_name = "kl_divergence"

    def __init__(self, name="kl_divergence", reduction="sum_over_batch_size", dtype=None):
        super().__init__(name, False, reduction)


class Poisson(Loss):
    engine_name = "poisson"

    def __init__(self, name="poisson", reduction="sum_over_batch_size", dtype=None):
        super().__init__(name, False, reduction)


class CosineSimilarity(Loss):
    engine_name = "cosine_similarity"

    def __init__(self, axis=-1, name="cosine_similarity", reduction="sum_over_batch_size", dtype=None):
        _check_axis(axis)
        super().__init__(name, False, reduction)


class BinaryCrossentropy(Loss):
    engine_name = "binary_crossentropy"

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, name="binary_crossentropy",
                 reduction="sum_over_batch_size", dtype=None):
        self.label_smoothing = check_number("label_smoothing", label_smoothing, low=0.0, high=1.0)
        _check_axis(axis)
        super().__init__(name, from_logits, reduction)

    def engine_config(self):
        return {"label_smoothing": self.label_smoothing}


class CategoricalCrossentropy(Loss):
    engine_name = "categorical_crossentropy"

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, name="categorical_crossentropy",
                 reduction="sum_over_batch_size", dtype=None):
        self.label_smoothing = check_number("label_smoothing", label_smoothing, low=0.0, high=1.0)
        _check_axis(axis)
        super().__init__(name, from_logits, reduction)

    def engine_config(self):
        return {"label_smoothing": self.label_smoothing}


class SparseCategoricalCrossentropy(Loss):
    engine_name = "sparse_categorical_crossentropy"

    def __init__(self, from_logits=False, ignore_class=None, name="sparse_categorical_crossentropy",
                 reduction="sum_over_batch_size", dtype=None):
        if ignore_class is not None:
            raise ValueError(f"ignore_class: not supported by fastnn, got {ignore_class!r}")
        super().__init__(name, from_logits, reduction)


class Hinge(Loss):
    engine_name = "hinge"

    def __init__(self, name="hinge", reduction="sum_over_batch_size", dtype=None):
        super().__init__(name, False, reduction)


class SquaredHinge(Loss):
    engine_name = "squared_hinge"

    def __init__(self, name="squared_hinge", reduction="sum_over_batch_size", dtype=None):
        super().__init__(name, False, reduction)


class CategoricalHinge(Loss):
    engine_name = "categorical_hinge"

    def __init__(self, name="categorical_hinge", reduction="sum_over_batch_size", dtype=None):
        super().__init__(name, False, reduction)


def _check_axis(axis):
    if axis not in (-1, 1):
        raise ValueError(f"axis: fastnn's outputs are (batch, features), expected -1, got {axis!r}")


_classes = {c.engine_name: c for c in (
    MeanSquaredError, MeanAbsoluteError, Huber, BinaryCrossentropy, CategoricalCrossentropy,
    SparseCategoricalCrossentropy, Hinge, SquaredHinge, LogCosh, KLDivergence, Poisson, MeanAbsolutePercentageError,
    MeanSquaredLogarithmicError, CategoricalHinge, CosineSimilarity)}
_default_names = {"mse": "mean_squared_error", "mae": "mean_absolute_error", "huber": "huber_loss",
                  **{n: n for n in ENGINE_NAMES if n not in ("mse", "mae", "huber")}}
# Class names are accepted as strings too, as Keras's losses.get does.
_CLASS_NAMES = {cls.__name__.lower(): key for key, cls in _classes.items()}


def _make(engine_name, public, params=()):
    def loss(y_true, y_pred, **kwargs):
        unknown = set(kwargs) - set(params)
        if unknown:
            raise TypeError(f"{public}() got unexpected argument(s) {sorted(unknown)}")
        return _classes[engine_name](**kwargs)(y_true, y_pred)

    loss.__name__ = public
    loss._engine_name = engine_name
    return loss


mean_squared_error = mse = _make("mse", "mean_squared_error")
mean_absolute_error = mae = _make("mae", "mean_absolute_error")
mean_absolute_percentage_error = mape = _make("mean_absolute_percentage_error", "mean_absolute_percentage_error")
mean_squared_logarithmic_error = msle = _make("mean_squared_logarithmic_error", "mean_squared_logarithmic_error")
huber = _make("huber", "huber", ("delta",))
log_cosh = logcosh = _make("log_cosh", "log_cosh")
kl_divergence = kld = _make("kl_divergence", "kl_divergence")
poisson = _make("poisson", "poisson")
cosine_similarity = _make("cosine_similarity", "cosine_similarity", ("axis",))
binary_crossentropy = _make("binary_crossentropy", "binary_crossentropy", ("from_logits", "label_smoothing", "axis"))
categorical_crossentropy = _make("categorical_crossentropy", "categorical_crossentropy",
                                 ("from_logits", "label_smoothing", "axis"))
sparse_categorical_crossentropy = _make("sparse_categorical_crossentropy", "sparse_categorical_crossentropy",
                                        ("from_logits",))
hinge = _make("hinge", "hinge")
squared_hinge = _make("squared_hinge", "squared_hinge")
categorical_hinge = _make("categorical_hinge", "categorical_hinge")


def engine_name_of(identifier):
    """The engine name for a loss string (any of Keras's spellings), or None."""
    key = identifier.lower()
    key = ALIASES.get(key, key)
    key = _CLASS_NAMES.get(key, key)
    return key if key in _classes else None


def get(identifier):
    """A Loss object for a name, a Loss object or one of this module's functions."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if callable(identifier) and getattr(identifier, "_engine_name", None):
        return _classes[identifier._engine_name]()
    if isinstance(identifier, str):
        key = engine_name_of(identifier)
        if key is not None:
            return _classes[key]()
        raise unknown_name_error("loss", identifier, ENGINE_NAMES + tuple(ALIASES)[:3])
    if identifier is None:
        raise ValueError("loss: expected a loss such as 'mse' or 'binary_crossentropy', got None "
                         "(pass loss= to compile())")
    raise ValueError(f"loss: expected a name, a fastnn.losses.Loss or a fastnn.losses function, got {identifier!r}; "
                     "custom Python loss functions cannot run inside fastnn's C++ engine")


def serialize(loss):
    out = {"name": loss.engine_name, "from_logits": loss.from_logits}
    out.update(loss.engine_config())
    if loss.name != _default_names[loss.engine_name]:
        out["display_name"] = loss.name
    return out


def deserialize(config):
    """A Loss from serialize()'s dict: a closed list of names and arguments."""
    if not isinstance(config, dict) or config.get("name") not in _classes:
        raise ValueError(f"loss config: expected one of {', '.join(ENGINE_NAMES)}, got {config!r}")
    extra = set(config) - {"name", "from_logits", "delta", "label_smoothing", "display_name"}
    if extra:
        raise ValueError(f"loss config: unexpected key(s) {sorted(extra)}")
    cls = _classes[config["name"]]
    kwargs = {}
    if config["name"] in CROSSENTROPIES:
        kwargs["from_logits"] = bool(config.get("from_logits", False))
    for key in ("delta", "label_smoothing"):
        if key in config:
            kwargs[key] = config[key]
    if "display_name" in config:
        if not isinstance(config["display_name"], str):
            raise ValueError(f"loss config: display_name must be a string, got {config['display_name']!r}")
        kwargs["name"] = config["display_name"]
    try:
        return cls(**kwargs)
    except TypeError as e:
        raise ValueError(f"loss config: {e}") from None
