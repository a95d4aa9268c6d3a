"""Metrics (Keras 3 names, arguments and values), accumulated by the engine batch by batch.

Each metric is a stateful accumulator in the engine (fastnn/cpp/fastnn/metrics.hpp): a loss's mean, the
accuracies, confusion counts, precision and recall, AUC (ROC and PR, Keras's thresholds and interpolation),
RMSE, R2 and F-scores. In compile(), `metrics=` are unweighted and `weighted_metrics=` receive sample_weight
and class_weight, as in Keras 3. "accuracy" (or "acc") resolves from the output width and the labels alone:
binary accuracy for one output unit, sparse categorical accuracy for integer labels, categorical accuracy
otherwise. A loss object or loss function is a metric too, named by its name.

Used on their own, metrics work as Keras's: `m.update_state(y_true, y_pred, sample_weight=None)`,
`m.result()`, `m.reset_state()`.
"""

import numbers

import numpy as np

from . import losses as losses_module
from ._names import unknown_name_error
from ._validation import check_number


class Metric:
    """A metric the engine accumulates. Subclasses set `kind` (the engine's name) and their arguments."""

    kind = None
    default_name = None
    sparse_labels = False  # reads integer class labels (one column) rather than one column per output

    def __init__(self, name=None, dtype=None):
        if name is not None and not isinstance(name, str):
            raise ValueError(f"name: expected a string, got {name!r}")
        self.name = name or self.default_name
        self._batches = []

    # -- what the engine needs
    def _args(self):
        """The engine's arguments besides kind (threshold, k, ...)."""
        return {}

    def engine_spec(self, weighted=False):
        spec = {"kind": self.kind, "weighted": bool(weighted)}
        spec.update(self._args())
        return spec

    def result_size(self, n_out):
        return 1

    def get_config(self):
        return {"name": self.name, "dtype": None}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    # -- standalone use, as Keras's update_state / result / reset_state
    def update_state(self, y_true, y_pred, sample_weight=None):
        p = np.asarray(y_pred, dtype=np.float64)
        p = p.reshape(len(p), -1) if p.ndim != 2 else p
        y = np.asarray(y_true, dtype=np.float64)
        y = y.reshape(len(y), -1) if not self.sparse_labels else y.reshape(-1, 1)
        if not self.sparse_labels and y.shape != p.shape:
            y = y.reshape(p.shape)
        w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64).reshape(len(p))
        self._batches.append((y, p, w))

    def result(self):
        from . import _core
        if not self._batches:
            return np.float32(0.0) if self.result_size(1) == 1 else np.zeros(0, np.float32)
        weighted = any(w is not None for _, _, w in self._batches)
        y = np.concatenate([b[0] for b in self._batches])
        p = np.concatenate([b[1] for b in self._batches])
        w = np.concatenate([b[2] if b[2] is not None else np.ones(len(b[1])) for b in self._batches]) if weighted \
            else None
        out = _core.metric_eval(self.engine_spec(weighted), y, p, w, max(len(b[1]) for b in self._batches))
        return out[0] if out.size == 1 and self.result_size(p.shape[1]) == 1 else out

    def reset_state(self):
        self._batches = []

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r})"




def _integer(name, value, low):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{name}: expected an integer >= {low}, got {value!r}")
    return int(value)


def _one_threshold(thresholds, default):
    """Keras's `thresholds` (a float or a list of them in [0, 1]); fastnn reports one value per metric."""
    if thresholds is None:
        return default
    if isinstance(thresholds, (list, tuple)):
        if len(thresholds) != 1:
            raise ValueError(f"thresholds: fastnn reports one value per metric, expected one threshold, got "
                             f"{thresholds!r}; use one metric per threshold")
        thresholds = thresholds[0]
    return check_number("thresholds", thresholds, low=0.0, high=1.0)


# ------------------------------------------------------------------ a loss as a metric (Keras's MeanMetricWrapper)

class _LossMetric(Metric):
    kind = "loss_mean"
    loss_class = None
    negate = False

    def __init__(self, name=None, dtype=None, **loss_args):
        super().__init__(name, dtype)
        self._loss = self.loss_class(**loss_args)
        self._loss_args = loss_args

    @property
    def sparse_labels(self):
        return self._loss.engine_name == "sparse_categorical_crossentropy"

    def _args(self):
        return {"loss": self._loss.engine_name, "from_logits": self._loss.from_logits,
                "loss_config": self._loss.engine_config(), "negate": self.negate}

    def get_config(self):
        return {"name": self.name, "dtype": None, **self._loss_args}


class LossMetric(_LossMetric):
    """Any fastnn.losses.Loss tracked as a metric (a loss object or function given to `metrics=`)."""

    def __init__(self, loss, name=None):
        Metric.__init__(self, name or loss.name)
        self._loss = loss
        self._loss_args = {}


def _loss_metric(class_name, loss_class, default_name, params=(), negate=False):
    def __init__(self, name=default_name, dtype=None, **kwargs):
        unknown = set(kwargs) - set(params)
        if unknown:
            raise TypeError(f"{class_name} got unexpected argument(s) {sorted(unknown)}")
        _LossMetric.__init__(self, name, dtype, **kwargs)

    return type(class_name, (_LossMetric,), {"__init__": __init__, "loss_class": loss_class,
                                              "default_name": default_name, "negate": negate})


MeanSquaredError = _loss_metric("MeanSquaredError", losses_module.MeanSquaredError, "mean_squared_error")
MeanAbsoluteError = _loss_metric("MeanAbsoluteError", losses_module.MeanAbsoluteError, "mean_absolute_error")
MeanAbsolutePercentageError = _loss_metric("MeanAbsolutePercentageError", losses_module.MeanAbsolutePercentageError,
                                           "mean_absolute_percentage_error")
MeanSquaredLogarithmicError = _loss_metric("MeanSquaredLogarithmicError", losses_module.MeanSquaredLogarithmicError,
                                           "mean_squared_logarithmic_error")
LogCoshError = _loss_metric("LogCoshError", losses_module.LogCosh, "logcosh")
KLDivergence = _loss_metric("KLDivergence", losses_module.KLDivergence, "kl_divergence")
Poisson = _loss_metric("Poisson", losses_module.Poisson, "poisson")
Hinge = _loss_metric("Hinge", losses_module.Hinge, "hinge")
SquaredHinge = _loss_metric("SquaredHinge", losses_module.SquaredHinge, "squared_hinge")
CategoricalHinge = _loss_metric("CategoricalHinge", losses_module.CategoricalHinge, "categorical_hinge")
# keras.metrics.CosineSimilarity is +cos (the loss is its negative)
CosineSimilarity = _loss_metric("CosineSimilarity", losses_module.CosineSimilarity, "cosine_similarity", ("axis",),
                                negate=True)
BinaryCrossentropy = _loss_metric("BinaryCrossentropy", losses_module.BinaryCrossentropy, "binary_crossentropy",
                                  ("from_logits", "label_smoothing"))
CategoricalCrossentropy = _loss_metric("CategoricalCrossentropy", losses_module.CategoricalCrossentropy,
                                       "categorical_crossentropy", ("from_logits", "label_smoothing", "axis"))
SparseCategoricalCrossentropy = _loss_metric("SparseCategoricalCrossentropy",
                                             losses_module.SparseCategoricalCrossentropy,
                                             "sparse_categorical_crossentropy", ("from_logits", "ignore_class", "axis"))


def _drop_axis(cls):
    # `axis` is accepted for Keras compatibility (only -1) but not passed to the engine twice
    original = cls.__init__

    def __init__(self, name=cls.default_name, dtype=None, axis=-1, **kwargs):
        if axis not in (-1, 1):
            raise ValueError(f"axis: fastnn's outputs are (batch, features), expected -1, got {axis!r}")
        original(self, name, dtype, **kwargs)

    cls.__init__ = __init__


for _cls in (CategoricalCrossentropy, SparseCategoricalCrossentropy):
    _drop_axis(_cls)


# ------------------------------------------------------------------ accuracies and regression metrics

class BinaryAccuracy(Metric):
    kind = "binary_accuracy"
    default_name = "binary_accuracy"

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        super().__init__(name, dtype)
        self.threshold = check_number("threshold", threshold)

    def _args(self):
        return {"threshold": self.threshold}

    def get_config(self):
        return {"name": self.name, "dtype": None, "threshold": self.threshold}


class CategoricalAccuracy(Metric):
    kind = "categorical_accuracy"
    default_name = "categorical_accuracy"


class SparseCategoricalAccuracy(Metric):
    kind = "sparse_categorical_accuracy"
    default_name = "sparse_categorical_accuracy"
    sparse_labels = True


class TopKCategoricalAccuracy(Metric):
    kind = "top_k_categorical_accuracy"
    default_name = "top_k_categorical_accuracy"

    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        super().__init__(name, dtype)
        self.k = _integer("k", k, 1)

    def _args(self):
        return {"k": self.k}

    def get_config(self):
        return {"name": self.name, "dtype": None, "k": self.k}


class SparseTopKCategoricalAccuracy(TopKCategoricalAccuracy):
    kind = "sparse_top_k_categorical_accuracy"
    default_name = "sparse_top_k_categorical_accuracy"
    sparse_labels = True

    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None, from_sorted_ids=False):
        if from_sorted_ids:
            raise ValueError("from_sorted_ids: fastnn's predictions are scores, expected False, got True")
        super().__init__(k, name, dtype)


class RootMeanSquaredError(Metric):
    kind = "root_mean_squared_error"
    default_name = "root_mean_squared_error"


class R2Score(Metric):
    kind = "r2_score"
    default_name = "r2_score"
    _AGGREGATIONS = (None, "uniform_average", "variance_weighted_average")

    def __init__(self, class_aggregation="uniform_average", num_regressors=0, name="r2_score", dtype=None):
        super().__init__(name, dtype)
        if class_aggregation not in self._AGGREGATIONS:
            raise ValueError(f"class_aggregation: expected one of {self._AGGREGATIONS}, got {class_aggregation!r}")
        if num_regressors != 0:
            raise ValueError(f"num_regressors: fastnn computes the plain R2 score, expected 0, got {num_regressors!r}")
        self.class_aggregation = class_aggregation
        self.num_regressors = 0

    def _args(self):
        return {"aggregation": self._AGGREGATIONS.index(self.class_aggregation)}

    def result_size(self, n_out):
        return n_out if self.class_aggregation is None else 1

    def get_config(self):
        return {"name": self.name, "dtype": None, "class_aggregation": self.class_aggregation,
                "num_regressors": self.num_regressors}


class FBetaScore(Metric):
    kind = "fbeta_score"
    default_name = "fbeta_score"
    _AVERAGES = (None, "micro", "macro", "weighted")

    def __init__(self, average=None, beta=1.0, threshold=None, name="fbeta_score", dtype=None):
        super().__init__(name, dtype)
        if average not in self._AVERAGES:
            raise ValueError(f"average: expected one of {self._AVERAGES}, got {average!r}")
        self.average = average
        self.beta = check_number("beta", beta, low=0.0, low_open=True)
        self.threshold = None if threshold is None else check_number("threshold", threshold, low=0.0, high=1.0,
                                                                low_open=True)

    def _args(self):
        return {"average": self._AVERAGES.index(self.average), "beta": self.beta, "threshold": self.threshold}

    def result_size(self, n_out):
        return n_out if self.average is None else 1

    def get_config(self):
        return {"name": self.name, "dtype": None, "average": self.average, "beta": self.beta,
                "threshold": self.threshold}


class F1Score(FBetaScore):
    default_name = "f1_score"

    def __init__(self, average=None, threshold=None, name="f1_score", dtype=None):
        super().__init__(average, 1.0, threshold, name, dtype)

    def get_config(self):
        cfg = super().get_config()
        del cfg["beta"]
        return cfg


# ------------------------------------------------------------------ confusion counts and curves

class _ConfusionCount(Metric):
    def __init__(self, thresholds=None, name=None, dtype=None):
        super().__init__(name, dtype)
        self.thresholds = thresholds
        self._threshold = _one_threshold(thresholds, 0.5)

    def _args(self):
        return {"threshold": self._threshold}

    def get_config(self):
        return {"name": self.name, "dtype": None, "thresholds": self.thresholds}


class TruePositives(_ConfusionCount):
    kind = default_name = "true_positives"


class FalsePositives(_ConfusionCount):
    kind = default_name = "false_positives"


class TrueNegatives(_ConfusionCount):
    kind = default_name = "true_negatives"


class FalseNegatives(_ConfusionCount):
    kind = default_name = "false_negatives"


class _PrecisionRecall(Metric):
    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(name, dtype)
        self.top_k = None if top_k is None else _integer("top_k", top_k, 1)
        self.class_id = None if class_id is None else _integer("class_id", class_id, 0)
        self.thresholds = thresholds
        self._threshold = _one_threshold(thresholds, -1e10 if top_k is not None else 0.5)

    def _args(self):
        return {"threshold": self._threshold, "top_k": self.top_k or 0,
                "class_id": -1 if self.class_id is None else self.class_id}

    def get_config(self):
        return {"name": self.name, "dtype": None, "thresholds": self.thresholds, "top_k": self.top_k,
                "class_id": self.class_id}


class Precision(_PrecisionRecall):
    kind = default_name = "precision"


class Recall(_PrecisionRecall):
    kind = default_name = "recall"


class AUC(Metric):
    kind = default_name = "auc"
    _SUMMATIONS = ("interpolation", "minoring", "majoring")

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation", name=None, dtype=None,
                 thresholds=None, multi_label=False, num_labels=None, label_weights=None, from_logits=False):
        super().__init__(name, dtype)
        self.num_thresholds = _integer("num_thresholds", num_thresholds, 2)
        curve = str(curve).upper()
        if curve not in ("ROC", "PR"):
            raise ValueError(f"curve: expected 'ROC' or 'PR', got {curve!r}")
        summation_method = str(summation_method).lower()
        if summation_method not in self._SUMMATIONS:
            raise ValueError(f"summation_method: expected one of {self._SUMMATIONS}, got {summation_method!r}")
        if thresholds is not None:
            raise ValueError("thresholds: fastnn's AUC uses Keras's evenly spaced thresholds; pass num_thresholds "
                             f"instead, got thresholds={thresholds!r}")
        if multi_label or num_labels is not None or label_weights is not None:
            raise ValueError("multi_label, num_labels, label_weights: fastnn's AUC flattens the outputs into one "
                             "curve (Keras's default multi_label=False); expected their defaults")
        self.curve, self.summation_method, self.from_logits = curve, summation_method, bool(from_logits)

    def _args(self):
        return {"num_thresholds": self.num_thresholds, "pr": self.curve == "PR",
                "summation": self._SUMMATIONS.index(self.summation_method), "from_logits": self.from_logits}

    def get_config(self):
        return {"name": self.name, "dtype": None, "num_thresholds": self.num_thresholds, "curve": self.curve,
                "summation_method": self.summation_method, "from_logits": self.from_logits}


# ------------------------------------------------------------------ functions (per-sample values, as Keras's)

def binary_accuracy(y_true, y_pred, threshold=0.5):
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return np.mean(y_true == (y_pred > threshold), axis=-1)


def categorical_accuracy(y_true, y_pred):
    return (np.argmax(y_true, axis=-1) == np.argmax(y_pred, axis=-1)).astype(np.float32)


def sparse_categorical_accuracy(y_true, y_pred):
    y_true = np.asarray(y_true).reshape(-1)
    return (y_true == np.argmax(y_pred, axis=-1)).astype(np.float32)


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    y_pred = np.asarray(y_pred, dtype=np.float64)
    target = np.argmax(y_true, axis=-1)
    kth = -np.sort(-y_pred, axis=-1)[:, min(k, y_pred.shape[-1]) - 1]
    return (y_pred[np.arange(len(y_pred)), target] >= kth).astype(np.float32)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5):
    y_pred = np.asarray(y_pred, dtype=np.float64)
    target = np.asarray(y_true).reshape(-1).astype(int)
    kth = -np.sort(-y_pred, axis=-1)[:, min(k, y_pred.shape[-1]) - 1]
    return (y_pred[np.arange(len(y_pred)), target] >= kth).astype(np.float32)


_FUNCS = {"binary_accuracy": (binary_accuracy, BinaryAccuracy),
          "categorical_accuracy": (categorical_accuracy, CategoricalAccuracy),
          "sparse_categorical_accuracy": (sparse_categorical_accuracy, SparseCategoricalAccuracy),
          "top_k_categorical_accuracy": (top_k_categorical_accuracy, TopKCategoricalAccuracy),
          "sparse_top_k_categorical_accuracy": (sparse_top_k_categorical_accuracy, SparseTopKCategoricalAccuracy)}

# ------------------------------------------------------------------ names (Keras's keras.metrics.ALL_OBJECTS_DICT)

CLASSES = (MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError, MeanSquaredLogarithmicError,
           LogCoshError, KLDivergence, Poisson, Hinge, SquaredHinge, CategoricalHinge, CosineSimilarity,
           BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy, BinaryAccuracy,
           CategoricalAccuracy, SparseCategoricalAccuracy, TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy,
           RootMeanSquaredError, R2Score, FBetaScore, F1Score, TruePositives, FalsePositives, TrueNegatives,
           FalseNegatives, Precision, Recall, AUC)


def _snake(name):
    out = ""
    for i, ch in enumerate(name):
        if ch.isupper() and i and (not name[i - 1].isupper() or (i + 1 < len(name) and name[i + 1].islower())):
            out += "_"
        out += ch.lower()
    return out


_BY_NAME = {}
for _cls in CLASSES:
    _BY_NAME[_cls.__name__] = _cls
    _BY_NAME[_snake(_cls.__name__)] = _cls
_BY_NAME.update({"bce": BinaryCrossentropy, "mse": MeanSquaredError, "mae": MeanAbsoluteError,
                 "mape": MeanAbsolutePercentageError, "msle": MeanSquaredLogarithmicError, "logcosh": LogCoshError,
                 "log_cosh": LogCoshError, "kld": KLDivergence, "r2": R2Score})
_BY_LOWER = {k.lower(): v for k, v in _BY_NAME.items()}
_ACCURACY = ("accuracy", "acc")


def _from_identifier(identifier):
    """A Metric object (unnamed resolution of "accuracy" aside) for one entry of metrics=."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if isinstance(identifier, losses_module.Loss):
        return LossMetric(identifier)
    if isinstance(identifier, type) and issubclass(identifier, losses_module.Loss):
        return LossMetric(identifier())
    if callable(identifier) and not isinstance(identifier, str):
        for key, (fn, cls) in _FUNCS.items():
            if fn is identifier:
                return cls(name=key)
        if getattr(identifier, "_engine_name", None):
            return LossMetric(losses_module.get(identifier), name=identifier.__name__)
        raise ValueError(f"metrics: expected names such as 'accuracy' or fastnn.metrics objects, got {identifier!r}; "
                         "custom Python metric functions cannot run inside fastnn's engine")
    if not isinstance(identifier, str):
        raise ValueError(f"metrics: expected a list of names or fastnn.metrics objects, got an item {identifier!r}")
    cls = _BY_NAME.get(identifier) or _BY_LOWER.get(identifier.lower())
    if cls is not None:
        return cls(name=identifier)
    loss_key = losses_module.engine_name_of(identifier)
    if loss_key is not None:  # any loss name is a metric too (its mean)
        return LossMetric(losses_module.get(loss_key), name=identifier)
    raise unknown_name_error("metric", identifier, [k for k in _BY_NAME if k.islower()] + list(_ACCURACY))


def resolve(identifier, n_out, sparse_labels):
    """The Metric object for one entry of compile(metrics=[...]), "accuracy" resolved as Keras 3 does."""
    if isinstance(identifier, str) and identifier.lower() in _ACCURACY:
        if n_out == 1:
            return BinaryAccuracy(name=identifier)
        if sparse_labels:
            return SparseCategoricalAccuracy(name=identifier)
        return CategoricalAccuracy(name=identifier)
    return _from_identifier(identifier)


def get(identifier):
    """Validates a metric identifier without resolving "accuracy"; returns it unchanged."""
    if not (isinstance(identifier, str) and identifier.lower() in _ACCURACY):
        _from_identifier(identifier)
    return identifier


def check_fits(metric, sparse_labels, n_out):
    """ValueError naming the metric when it cannot read the loss's targets (class indices vs one column per output)."""
    if n_out == 1 or metric.sparse_labels == sparse_labels:
        return
    if metric.sparse_labels:
        raise ValueError(f"metric '{metric.name}' ({type(metric).__name__}): expected integer class labels, which "
                         "only loss 'sparse_categorical_crossentropy' takes; use its non-sparse form with this loss")
    raise ValueError(f"metric '{metric.name}' ({type(metric).__name__}): expected targets with one column per output "
                     f"({n_out}), but loss 'sparse_categorical_crossentropy' takes integer class labels; use "
                     "a sparse metric (e.g. 'sparse_categorical_accuracy', SparseTopKCategoricalAccuracy)")


def serialize(metric):
    """{"class_name", "config"} for a Metric object (a closed list of classes; loss metrics carry their loss)."""
    if isinstance(metric, LossMetric):
        return {"class_name": "LossMetric", "config": {"name": metric.name,
                                                         "loss": losses_module.serialize(metric._loss)}}
    return {"class_name": type(metric).__name__, "config": metric.get_config()}


def deserialize(config):
    if not isinstance(config, dict) or not isinstance(config.get("config"), dict):
        raise ValueError(f"metric config: expected {{'class_name', 'config'}}, got {str(config)[:80]!r}")
    name = config.get("class_name")
    cfg = dict(config["config"])
    if name == "LossMetric":
        if set(cfg) != {"name", "loss"} or not isinstance(cfg["name"], str):
            raise ValueError("metric config: bad LossMetric")
        return LossMetric(losses_module.deserialize(cfg["loss"]), name=cfg["name"])
    if name not in {c.__name__ for c in CLASSES}:
        raise ValueError(f"metric config: unknown metric class {str(name)[:40]!r}")
    cls = _BY_NAME[name]
    cfg.pop("dtype", None)
    try:
        return cls(**cfg)
    except TypeError as e:
        raise ValueError(f"metric config: {e}") from None
