"""Metrics tracked during training (Keras 3 names); computed by the engine as sample-weighted means.

"accuracy" (or "acc") resolves as Keras resolves it: binary accuracy for one output unit or a binary
cross-entropy loss, sparse categorical accuracy for integer labels, categorical accuracy otherwise. The name a
metric was given is the name it has in the logs and in History.
"""

import numpy as np

from ._names import unknown_name_error

ENGINE_NAMES = ("binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy", "mae", "mse")
_ALIASES = {"mean_absolute_error": "mae", "mean_squared_error": "mse"}
_ACCURACY = ("accuracy", "acc")


class Metric:
    engine_name = None

    def __init__(self, name=None, dtype=None):
        self.name = name or self.default_name

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r})"


class BinaryAccuracy(Metric):
    engine_name = "binary_accuracy"
    default_name = "binary_accuracy"

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        if threshold != 0.5:
            raise ValueError(f"threshold: fastnn's BinaryAccuracy uses 0.5, got {threshold!r}")
        super().__init__(name)


class CategoricalAccuracy(Metric):
    engine_name = "categorical_accuracy"
    default_name = "categorical_accuracy"


class SparseCategoricalAccuracy(Metric):
    engine_name = "sparse_categorical_accuracy"
    default_name = "sparse_categorical_accuracy"


class MeanAbsoluteError(Metric):
    engine_name = "mae"
    default_name = "mean_absolute_error"


class MeanSquaredError(Metric):
    engine_name = "mse"
    default_name = "mean_squared_error"


def binary_accuracy(y_true, y_pred, threshold=0.5):
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return np.mean(y_true == (y_pred > threshold), axis=-1)


def categorical_accuracy(y_true, y_pred):
    return (np.argmax(y_true, axis=-1) == np.argmax(y_pred, axis=-1)).astype(np.float32)


def sparse_categorical_accuracy(y_true, y_pred):
    y_true = np.asarray(y_true).reshape(-1)
    return (y_true == np.argmax(y_pred, axis=-1)).astype(np.float32)


_FUNCS = {"binary_accuracy": binary_accuracy, "categorical_accuracy": categorical_accuracy,
          "sparse_categorical_accuracy": sparse_categorical_accuracy}


def resolve(identifier, loss_name, n_out, sparse_labels):
    """(log name, engine metric name) for one entry of compile(metrics=[...])."""
    if isinstance(identifier, Metric):
        return identifier.name, identifier.engine_name
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        m = identifier()
        return m.name, m.engine_name
    if callable(identifier) and not isinstance(identifier, str):
        for key, fn in _FUNCS.items():
            if fn is identifier:
                return key, key
        raise ValueError(f"metrics: expected names such as 'accuracy' or fastnn.metrics objects, got {identifier!r}; "
                         "custom Python metric functions cannot run inside fastnn's engine")
    if not isinstance(identifier, str):
        raise ValueError(f"metrics: expected a list of names or fastnn.metrics objects, got an item {identifier!r}")
    key = identifier.lower()
    if key in _ACCURACY:
        if n_out == 1 or loss_name == "binary_crossentropy":
            return identifier, "binary_accuracy"
        if sparse_labels or loss_name == "sparse_categorical_crossentropy":
            return identifier, "sparse_categorical_accuracy"
        return identifier, "categorical_accuracy"
    engine = _ALIASES.get(key, key)
    if engine in ENGINE_NAMES:
        return identifier, engine
    raise unknown_name_error("metric", identifier, ENGINE_NAMES + _ACCURACY + tuple(_ALIASES))


def get(identifier):
    """Validates a metric identifier without resolving "accuracy"; returns it unchanged."""
    resolve(identifier, None, 2, False)
    return identifier
