"""Callbacks: hooks into fit/evaluate/predict with Keras 3 names and behaviour.

`fit` drives them through a `CallbackList`:

    cbs = CallbackList(callbacks, add_history=True, add_progbar=verbose != 0,
                       model=model, verbose=verbose, epochs=epochs, steps=steps)
    cbs.on_train_begin()
    for epoch in ...:
        cbs.on_epoch_begin(epoch)
        ... cbs.on_train_batch_end(batch, logs)   # only if cbs.needs_batch_hooks()
        cbs.on_epoch_end(epoch, logs)             # logs: {"loss": ..., "val_loss": ...}
    cbs.on_train_end(logs)

Batches run inside the C++ engine, so batch-level hooks cost a return to Python;
the engine makes those returns only when some callback needs them (a progress
bar with verbose=1, or a user callback that overrides a batch method). Batch
`logs` hold running means over the epoch so far, as in Keras.

What callbacks rely on from the model: `stop_training` (bool attribute),
`optimizer.learning_rate` (settable float), `get_weights()`/`set_weights()`,
`save(path)`, `save_weights(path)`, and the `history` attribute.
Epoch numbers are 0-based in hooks and 1-based in messages and file names.
"""

import collections.abc
import csv
import inspect
import json
import math
import numbers
import os
import re
import shutil
import warnings

import numpy as np

from fastnn.progress import Progbar, resolve_verbose

__all__ = [
    "Callback",
    "CallbackList",
    "History",
    "ProgbarLogger",
    "EarlyStopping",
    "ModelCheckpoint",
    "ReduceLROnPlateau",
    "LearningRateScheduler",
    "TerminateOnNaN",
    "CSVLogger",
    "BackupAndRestore",
    "LambdaCallback",
]

_TRAIN_BATCH_HOOKS = (
    "on_batch_begin",
    "on_batch_end",
    "on_train_batch_begin",
    "on_train_batch_end",
)
_BATCH_HOOKS = {
    "train": _TRAIN_BATCH_HOOKS,
    "test": ("on_test_batch_begin", "on_test_batch_end"),
    "predict": ("on_predict_batch_begin", "on_predict_batch_end"),
}


def _default(method):
    """Marks a base-class hook, so that overriding it can be detected."""
    method._fastnn_default = True
    return method


class Callback:
    """Base class of callbacks: every hook is a no-op.

    Subclass it and override the hooks you need. `self.model` is the model
    being trained and `self.params` a dict such as
    `{"verbose": 1, "epochs": 10, "steps": 32}`.
    """

    # Behaviour the C++ engine implements itself when this callback is
    # present (e.g. "terminate_on_nan"); None for ordinary callbacks.
    engine_flag = None

    def __init__(self):
        self.params = None
        self._model = None

    def set_params(self, params):
        self.params = params

    def set_model(self, model):
        self._model = model

    @property
    def model(self):
        return self._model

    def _overrides(self, name):
        """Whether `name` is overridden (in a subclass or on the instance)."""
        return not getattr(getattr(self, name), "_fastnn_default", False)

    def _implements_batch_hooks(self, mode="train"):
        """Whether this callback needs per-batch calls during `mode`
        ("train", "test" or "predict")."""
        return any(self._overrides(name) for name in _BATCH_HOOKS[mode])

    @_default
    def on_batch_begin(self, batch, logs=None):
        """A backwards compatibility alias for `on_train_batch_begin`."""

    @_default
    def on_batch_end(self, batch, logs=None):
        """A backwards compatibility alias for `on_train_batch_end`."""

    @_default
    def on_epoch_begin(self, epoch, logs=None):
        """Called at the start of an epoch (0-based `epoch`)."""

    @_default
    def on_epoch_end(self, epoch, logs=None):
        """Called at the end of an epoch with the epoch's metrics, validation
        ones prefixed with `val_`, e.g. `{"loss": 0.2, "val_loss": 0.3}`."""

    @_default
    def on_train_batch_begin(self, batch, logs=None):
        """Called before a training batch."""
        self.on_batch_begin(batch, logs=logs)

    @_default
    def on_train_batch_end(self, batch, logs=None):
        """Called after a training batch with running means of the metrics."""
        self.on_batch_end(batch, logs=logs)

    @_default
    def on_test_batch_begin(self, batch, logs=None):
        """Called before a batch in `evaluate` (and validation)."""

    @_default
    def on_test_batch_end(self, batch, logs=None):
        """Called after a batch in `evaluate` (and validation)."""

    @_default
    def on_predict_batch_begin(self, batch, logs=None):
        """Called before a batch in `predict`."""

    @_default
    def on_predict_batch_end(self, batch, logs=None):
        """Called after a batch in `predict`."""

    @_default
    def on_train_begin(self, logs=None):
        """Called at the beginning of training."""

    @_default
    def on_train_end(self, logs=None):
        """Called at the end of training with the last epoch's logs."""

    @_default
    def on_test_begin(self, logs=None):
        """Called at the beginning of evaluation or validation."""

    @_default
    def on_test_end(self, logs=None):
        """Called at the end of evaluation or validation."""

    @_default
    def on_predict_begin(self, logs=None):
        """Called at the beginning of prediction."""

    @_default
    def on_predict_end(self, logs=None):
        """Called at the end of prediction."""


def _flatten_callbacks(callbacks):
    if callbacks is None:
        return []
    if isinstance(callbacks, Callback):
        return [callbacks]
    if not isinstance(callbacks, (list, tuple)):
        raise TypeError(
            "Argument `callbacks` must be a list of Callback instances. "
            f"Received: callbacks={callbacks!r} "
            f"(of type {type(callbacks).__name__})"
        )
    flat = []
    for item in callbacks:
        if isinstance(item, (list, tuple)):
            flat.extend(_flatten_callbacks(item))
        elif isinstance(item, Callback):
            flat.append(item)
        else:
            raise TypeError(
                "Argument `callbacks` must contain only Callback instances "
                "(subclasses of fastnn.callbacks.Callback). Received an "
                f"element of type {type(item).__name__}: {item!r}"
            )
    return flat


def _pythonify_logs(logs):
    """Sorted copy of `logs` with NumPy scalars turned into Python floats and
    nested dicts flattened, as Keras does before calling callbacks."""
    result = {}
    for key, value in sorted(logs.items()):
        if isinstance(value, dict):
            result.update(_pythonify_logs(value))
            continue
        if isinstance(value, (numbers.Number, np.generic)) or (
            isinstance(value, np.ndarray) and value.ndim == 0
        ):
            try:
                value = float(value)
            except (TypeError, ValueError):
                pass
        result[key] = value
    return result


def _normalize_logs(logs):
    """Pythonifies `logs` in place (callbacks share and may extend the same
    dict, as in Keras) and returns it; `None` becomes a new dict."""
    if logs is None:
        return {}
    clean = _pythonify_logs(logs)
    logs.clear()
    logs.update(clean)
    return logs


class CallbackList(Callback):
    """Container calling a list of callbacks together.

    Args:
        callbacks: A Callback, or a list of them, or None.
        add_history: Add a `History` callback unless one is in `callbacks`.
        add_progbar: Add a `ProgbarLogger` unless one is in `callbacks`.
        model: The model the callbacks act on.
        **params: Given to every callback through `set_params`, e.g.
            `verbose=1, epochs=10, steps=32`.
    """

    def __init__(
        self,
        callbacks=None,
        add_history=False,
        add_progbar=False,
        model=None,
        **params,
    ):
        super().__init__()
        self.callbacks = _flatten_callbacks(callbacks)
        self._add_default_callbacks(add_history, add_progbar)
        self.set_model(model)
        self.set_params(params)

    def _add_default_callbacks(self, add_history, add_progbar):
        self._history = None
        self._progbar = None
        for cb in self.callbacks:
            if isinstance(cb, History) and self._history is None:
                self._history = cb
            elif isinstance(cb, ProgbarLogger) and self._progbar is None:
                self._progbar = cb
        # History goes before the progress bar, both after user callbacks, so
        # they see what user callbacks add to the logs (e.g. learning_rate).
        if self._history is None and add_history:
            self._history = History()
            self.callbacks.append(self._history)
        if self._progbar is None and add_progbar:
            self._progbar = ProgbarLogger()
            self.callbacks.append(self._progbar)

    @property
    def history(self):
        """The `History` callback of this list (None without add_history)."""
        return self._history

    def append(self, callback):
        for cb in _flatten_callbacks(callback):
            self.callbacks.append(cb)
            if self._model is not None:
                cb.set_model(self._model)
            if self.params:
                cb.set_params(self.params)

    def __iter__(self):
        return iter(self.callbacks)

    def __len__(self):
        return len(self.callbacks)

    def set_params(self, params):
        self.params = params
        if params:
            for callback in self.callbacks:
                callback.set_params(params)

    def set_model(self, model):
        if model is None:
            return
        super().set_model(model)
        if self._history is not None:
            model.history = self._history
        for callback in self.callbacks:
            callback.set_model(model)

    def needs_batch_hooks(self, mode="train"):
        """Whether any callback needs batch-level calls during `mode`
        ("train", "test" or "predict"). When False the engine may run a whole
        epoch in one call without returning to Python."""
        if mode not in _BATCH_HOOKS:
            raise ValueError(
                "Argument `mode` must be one of 'train', 'test' or 'predict'. "
                f"Received: mode={mode!r}"
            )
        return any(cb._implements_batch_hooks(mode) for cb in self.callbacks)

    def engine_flags(self):
        """The set of `engine_flag`s of the callbacks (e.g.
        {"terminate_on_nan"}): behaviour the engine implements itself."""
        return {cb.engine_flag for cb in self.callbacks if cb.engine_flag}

    def _call(self, name, *args, logs=None):
        # As Keras: `logs` goes by keyword to batch hooks, by position to the
        # others (so LambdaCallback functions may name it as they like).
        logs = _normalize_logs(logs)
        batch_hook = "batch" in name
        for callback in self.callbacks:
            hook = getattr(callback, name)
            if batch_hook:
                hook(*args, logs=logs)
            else:
                hook(*args, logs)

    def on_batch_begin(self, batch, logs=None):
        self._call("on_batch_begin", batch, logs=logs)

    def on_batch_end(self, batch, logs=None):
        self._call("on_batch_end", batch, logs=logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._call("on_epoch_begin", epoch, logs=logs)

    def on_epoch_end(self, epoch, logs=None):
        self._call("on_epoch_end", epoch, logs=logs)

    def on_train_batch_begin(self, batch, logs=None):
        self._call("on_train_batch_begin", batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        self._call("on_train_batch_end", batch, logs=logs)

    def on_test_batch_begin(self, batch, logs=None):
        self._call("on_test_batch_begin", batch, logs=logs)

    def on_test_batch_end(self, batch, logs=None):
        self._call("on_test_batch_end", batch, logs=logs)

    def on_predict_batch_begin(self, batch, logs=None):
        self._call("on_predict_batch_begin", batch, logs=logs)

    def on_predict_batch_end(self, batch, logs=None):
        # Prediction outputs are passed through untouched.
        logs = {} if logs is None else logs
        for callback in self.callbacks:
            callback.on_predict_batch_end(batch, logs=logs)

    def on_train_begin(self, logs=None):
        self._call("on_train_begin", logs=logs)

    def on_train_end(self, logs=None):
        self._call("on_train_end", logs=logs)

    def on_test_begin(self, logs=None):
        self._call("on_test_begin", logs=logs)

    def on_test_end(self, logs=None):
        self._call("on_test_end", logs=logs)

    def on_predict_begin(self, logs=None):
        self._call("on_predict_begin", logs=logs)

    def on_predict_end(self, logs=None):
        self._call("on_predict_end", logs=logs)


class History(Callback):
    """Records the epoch logs; `fit` returns it.

    Attributes:
        history: dict mapping each metric name to its list of per-epoch values.
        epoch: list of the epoch indices seen (0-based).
        params: the fit parameters (`verbose`, `epochs`, `steps`).
    """

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)
        if self.model is not None:
            self.model.history = self

    def record_epochs(self, first_epoch, names, rows):
        """Appends many epochs at once (rows of values in `names` order), as on_epoch_end would one by one."""
        if not rows:
            return
        self.epoch.extend(range(first_epoch, first_epoch + len(rows)))
        for k in sorted(range(len(names)), key=lambda i: names[i]):
            self.history.setdefault(names[k], []).extend(float(row[k]) if np.ndim(row[k]) == 0 else row[k]
                                                          for row in rows)
        if self.model is not None:
            self.model.history = self


class ProgbarLogger(Callback):
    """Prints "Epoch i/n" and drives a `Progbar` with the metrics.

    Added by `fit`/`evaluate`/`predict` when `verbose != 0`. During `fit`
    validation is silent; in `evaluate` and `predict` the bar shows the test
    or prediction steps.
    """

    def __init__(self):
        super().__init__()
        self.seen = 0
        self.progbar = None
        self.target = None
        self.verbose = 1
        self.epochs = 1
        self._called_in_fit = False

    def set_params(self, params):
        super().set_params(params)
        self.verbose = resolve_verbose(params.get("verbose", 1))
        self.epochs = params.get("epochs", 1) or 1
        self.target = params.get("steps")

    def _implements_batch_hooks(self, mode="train"):
        if mode == "test" and self._called_in_fit:
            return False
        return self.verbose == 1

    def on_train_begin(self, logs=None):
        self._called_in_fit = True

    def on_train_end(self, logs=None):
        self._called_in_fit = False

    def on_test_begin(self, logs=None):
        if not self._called_in_fit:
            self._reset_progbar()
            self._maybe_init_progbar()

    def on_predict_begin(self, logs=None):
        self._reset_progbar()
        self._maybe_init_progbar()

    def on_epoch_begin(self, epoch, logs=None):
        self._reset_progbar()
        self._maybe_init_progbar()
        if self.verbose and self.epochs > 1:
            print(f"Epoch {epoch + 1}/{self.epochs}", flush=True)

    def on_train_batch_end(self, batch, logs=None):
        self._update_progbar(batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        if not self._called_in_fit:
            self._update_progbar(batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        # Predictions are not metrics: only the step count is shown.
        self._update_progbar(batch, None)

    def on_epoch_end(self, epoch, logs=None):
        self._finalize_progbar(logs)

    def on_test_end(self, logs=None):
        if not self._called_in_fit:
            self._finalize_progbar(logs)

    def on_predict_end(self, logs=None):
        self._finalize_progbar(logs)

    def _reset_progbar(self):
        self.seen = 0
        self.progbar = None

    def _maybe_init_progbar(self):
        if self.progbar is None:
            self.progbar = Progbar(
                target=self.target, verbose=self.verbose, unit_name="step"
            )

    def _update_progbar(self, batch, logs):
        logs = logs or {}
        self._maybe_init_progbar()
        self.seen = batch + 1
        # The engine reports running means: show them as given.
        self.progbar.stateful_metrics.update(logs.keys())
        if self.verbose == 1:
            self.progbar.update(self.seen, list(logs.items()), finalize=False)

    def _finalize_progbar(self, logs):
        logs = logs or {}
        self._maybe_init_progbar()
        if self.target is None:
            self.target = self.seen
            self.progbar.target = self.target
        self.progbar.stateful_metrics.update(logs.keys())
        self.progbar.update(self.target, list(logs.items()), finalize=True)


# Direction of metrics for mode="auto", by name (without the "val_" prefix).
_MIN_METRICS = frozenset({
    "loss", "mse", "mae", "mape", "msle", "rmse", "mean_squared_error",
    "mean_absolute_error", "mean_absolute_percentage_error",
    "mean_squared_logarithmic_error", "root_mean_squared_error",
    "binary_crossentropy", "categorical_crossentropy",
    "sparse_categorical_crossentropy", "hinge", "squared_hinge",
    "categorical_hinge", "kl_divergence", "kld", "poisson", "log_cosh",
    "logcosh", "huber",
})
_MAX_METRICS = frozenset({
    "acc", "accuracy", "binary_accuracy", "categorical_accuracy",
    "sparse_categorical_accuracy", "top_k_categorical_accuracy",
    "sparse_top_k_categorical_accuracy", "auc", "precision", "recall",
    "f1_score", "fbeta_score", "r2_score",
})


def _metric_direction(monitor, model):
    """"min", "max" or None for a monitored name, as Keras's mode="auto"."""
    name = monitor[4:] if monitor.startswith("val_") else monitor
    if name in _MIN_METRICS:
        return "min"
    if name in _MAX_METRICS or name.endswith("accuracy"):
        return "max"
    # Metric objects of the model may declare their direction.
    for metric in getattr(model, "metrics", None) or ():
        if getattr(metric, "name", None) == name:
            direction = getattr(metric, "_direction", None)
            if direction in ("up", "down"):
                return "max" if direction == "up" else "min"
    return None


class _MonitorMixin:
    """Improvement test shared by EarlyStopping and ModelCheckpoint."""

    def _check_mode(self, mode):
        if mode not in ("auto", "min", "max"):
            warnings.warn(
                f"{type(self).__name__} mode {mode} is unknown, "
                "fallback to auto mode.",
                stacklevel=3,
            )
            mode = "auto"
        return mode

    def _set_monitor_op(self):
        direction = self.mode
        if direction == "auto":
            direction = _metric_direction(self.monitor, self.model)
        if direction is None:
            raise ValueError(
                f"{type(self).__name__} callback received "
                f"monitor={self.monitor}, but fastnn isn't able to "
                "automatically determine whether that metric should be "
                "maximized or minimized. Pass `mode='max'` in order to "
                "monitor based on the highest metric value, or pass "
                "`mode='min'` in order to use the lowest value."
            )
        self._direction = direction
        self.monitor_op = np.less if direction == "min" else np.greater

    def _worst_value(self):
        return math.inf if self._direction == "min" else -math.inf

    def _is_improvement(self, monitor_value, reference_value):
        if reference_value is None:
            return True
        # min_delta moves the value against the improvement direction.
        delta = -self.min_delta if self._direction == "min" else self.min_delta
        return bool(self.monitor_op(monitor_value - delta, reference_value))


class EarlyStopping(_MonitorMixin, Callback):
    """Stops training when a monitored metric has stopped improving.

    Args:
        monitor: Quantity to be monitored. Defaults to "val_loss".
        min_delta: Minimum change counting as an improvement.
        patience: Number of epochs with no improvement after which training
            is stopped.
        verbose: 0 (silent) or 1 (prints when the callback acts).
        mode: "auto", "min" or "max"; "auto" infers the direction from the
            name (losses are minimized, accuracies maximized).
        baseline: Value the monitored quantity must improve on; until it does,
            training stops after `patience` epochs.
        restore_best_weights: Whether to restore the weights of the best epoch
            at the end of training (also when training ran to completion).
        start_from_epoch: Number of warm-up epochs during which nothing is
            monitored.
    """

    def __init__(
        self,
        monitor="val_loss",
        min_delta=0,
        patience=0,
        verbose=0,
        mode="auto",
        baseline=None,
        restore_best_weights=False,
        start_from_epoch=0,
    ):
        super().__init__()
        self.monitor = monitor
        self.patience = patience
        self.verbose = verbose
        self.baseline = baseline
        self.min_delta = abs(min_delta)
        self.wait = 0
        self.stopped_epoch = 0
        self.restore_best_weights = restore_best_weights
        self.best_weights = None
        self.best_epoch = 0
        self.start_from_epoch = start_from_epoch
        self.mode = self._check_mode(mode)
        self.monitor_op = None
        self.best = None

    def on_train_begin(self, logs=None):
        # Instances may be reused across fits.
        self.wait = 0
        self.stopped_epoch = 0
        self.best_weights = None
        self.best_epoch = 0
        if self.monitor_op is not None:
            self.best = self._worst_value()

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
            self.best = self._worst_value()

        current = self.get_monitor_value(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            # Until something improves, the current weights are the best.
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch

        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            # Restart the wait only when the baseline is beaten too.
            if self.baseline is None or self._is_improvement(
                current, self.baseline
            ):
                self.wait = 0
            return

        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(
                    "Restoring model weights from the end of the best epoch: "
                    f"{self.best_epoch + 1}."
                )
            self.model.set_weights(self.best_weights)

    def get_monitor_value(self, logs):
        logs = logs or {}
        value = logs.get(self.monitor)
        if value is None:
            warnings.warn(
                f"Early stopping conditioned on metric `{self.monitor}` "
                "which is not available. "
                f"Available metrics are: {','.join(logs.keys())}",
                stacklevel=2,
            )
        return value


class ModelCheckpoint(_MonitorMixin, Callback):
    """Saves the model or its weights at some frequency.

    Args:
        filepath: Path to save to (str or os.PathLike). It may hold format
            fields filled from the epoch (1-based) and the epoch logs, e.g.
            "w.{epoch:02d}-{val_loss:.2f}.fnn"; with `save_freq` an integer,
            `{batch}` (1-based) is available too.
        monitor: The metric used by `save_best_only`.
        verbose: 0 (silent) or 1 (prints when saving or skipping).
        save_best_only: Save only when `monitor` improves on the best value
            seen (or on `initial_value_threshold`).
        save_weights_only: Save with `model.save_weights(path)` instead of
            `model.save(path)`.
        mode: "auto", "min" or "max" (see EarlyStopping).
        save_freq: "epoch", or an integer number of batches between saves.
        initial_value_threshold: Initial "best" value of `monitor` for
            `save_best_only`.
    """

    def __init__(
        self,
        filepath,
        monitor="val_loss",
        verbose=0,
        save_best_only=False,
        save_weights_only=False,
        mode="auto",
        save_freq="epoch",
        initial_value_threshold=None,
    ):
        super().__init__()
        if not isinstance(filepath, (str, os.PathLike)):
            raise TypeError(
                "Argument `filepath` must be a string or an os.PathLike. "
                f"Received: filepath={filepath!r} "
                f"(of type {type(filepath).__name__})"
            )
        if save_freq != "epoch" and not (
            isinstance(save_freq, numbers.Integral)
            and not isinstance(save_freq, bool)
            and save_freq > 0
        ):
            raise ValueError(
                f"Unrecognized save_freq: {save_freq!r}. Expected save_freq "
                "are 'epoch' or a positive integer number of batches."
            )
        self.filepath = os.fspath(filepath)
        from .saving_keras import format_for_save  # the suffix names the format: refused now, not after an epoch
        format_for_save(self.filepath, weights_only=bool(save_weights_only))
        self.monitor = monitor
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.save_freq = save_freq
        self.mode = self._check_mode(mode)
        self.min_delta = 0
        self.best = initial_value_threshold
        self.monitor_op = None
        self._current_epoch = 0
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = -1

    def _implements_batch_hooks(self, mode="train"):
        return mode == "train" and self.save_freq != "epoch"

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch
        self._last_batch_seen = -1

    def on_train_batch_end(self, batch, logs=None):
        if self._should_save_on_batch(batch):
            self._save_model(self._current_epoch, batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save_model(epoch, None, logs)

    def _should_save_on_batch(self, batch):
        if self.save_freq == "epoch":
            return False
        # Batch hooks may come once per chunk of batches: count them all.
        if batch <= self._last_batch_seen:  # a new epoch
            added = batch + 1
        else:
            added = batch - self._last_batch_seen
        self._batches_seen_since_last_saving += added
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            return True
        return False

    def _should_save_model(self, epoch, logs, filepath):
        if not self.save_best_only:
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: saving model to {filepath}")
            return True
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(
                f"Can save best model only with {self.monitor} available.",
                stacklevel=3,
            )
            return True
        if self.monitor_op is None:
            self._set_monitor_op()
            if self.best is None:
                self.best = self._worst_value()
        best_str = "None" if self.best is None else f"{self.best:.5f}"
        if self._is_improvement(current, self.best):
            if self.verbose > 0:
                print(
                    f"\nEpoch {epoch + 1}: {self.monitor} improved from "
                    f"{best_str} to {current:.5f}, saving model to {filepath}"
                )
            self.best = current
            return True
        if self.verbose > 0:
            print(
                f"\nEpoch {epoch + 1}: {self.monitor} did not improve "
                f"from {best_str}"
            )
        return False

    def _save_model(self, epoch, batch, logs):
        logs = logs or {}
        filepath = self._get_file_path(epoch, batch, logs)
        if not self._should_save_model(epoch, logs, filepath) or not _chief():
            return
        if os.path.isdir(filepath):
            raise ValueError(
                "Please specify a non-directory filepath for ModelCheckpoint. "
                f"Filepath used is an existing directory: {filepath}"
            )
        dirname = os.path.dirname(filepath)
        if dirname:
            os.makedirs(dirname, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(filepath)
        else:
            self.model.save(filepath)
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: finished saving model to {filepath}")

    def _get_file_path(self, epoch, batch, logs):
        fields = dict(logs)
        fields["epoch"] = epoch + 1
        if batch is not None and "batch" not in logs:
            fields["batch"] = batch + 1
        try:
            return self.filepath.format(**fields)
        except (KeyError, IndexError) as e:
            raise ValueError(
                f'Failed to format this callback filepath: "{self.filepath}". '
                f"Reason: no value for {e}. Available fields: "
                f"{', '.join(fields)}"
            ) from None


class ReduceLROnPlateau(Callback):
    """Reduces the learning rate when a metric has stopped improving.

    Args:
        monitor: Quantity to be monitored.
        factor: Factor by which the learning rate is reduced
            (`new_lr = lr * factor`); must be < 1.
        patience: Number of epochs with no improvement after which the
            learning rate is reduced.
        verbose: 0 (quiet) or 1 (prints when reducing).
        mode: "auto", "min" or "max"; "auto" maximizes names containing
            "acc" and minimizes the others, as Keras.
        min_delta: Threshold for a change to count as an improvement.
        cooldown: Number of epochs after a reduction during which no
            reduction happens (and no waiting is counted).
        min_lr: Lower bound on the learning rate.

    The epoch logs gain a "learning_rate" entry, as in Keras.
    """

    def __init__(
        self,
        monitor="val_loss",
        factor=0.1,
        patience=10,
        verbose=0,
        mode="auto",
        min_delta=1e-4,
        cooldown=0,
        min_lr=0.0,
    ):
        super().__init__()
        if factor >= 1.0:
            raise ValueError(
                "ReduceLROnPlateau does not support a factor >= 1.0. "
                f"Received factor={factor}"
            )
        self.monitor = monitor
        self.factor = factor
        self.min_lr = min_lr
        self.min_delta = min_delta
        self.patience = patience
        self.verbose = verbose
        self.cooldown = cooldown
        self.cooldown_counter = 0
        self.wait = 0
        self.best = 0
        self.mode = mode
        self.monitor_op = None
        self._reset()

    def _reset(self):
        if self.mode not in ("auto", "min", "max"):
            warnings.warn(
                f"Learning rate reduction mode {self.mode} is unknown, "
                "fallback to auto mode.",
                stacklevel=3,
            )
            self.mode = "auto"
        if self.mode == "min" or (
            self.mode == "auto" and "acc" not in self.monitor
        ):
            self.monitor_op = lambda a, b: np.less(a, b - self.min_delta)
            self.best = math.inf
        else:
            self.monitor_op = lambda a, b: np.greater(a, b + self.min_delta)
            self.best = -math.inf
        self.cooldown_counter = 0
        self.wait = 0

    def on_train_begin(self, logs=None):
        self._reset()

    def in_cooldown(self):
        return self.cooldown_counter > 0

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        logs["learning_rate"] = float(self.model.optimizer.learning_rate)
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(
                "Learning rate reduction is conditioned on metric "
                f"`{self.monitor}` which is not available. Available metrics "
                f"are: {','.join(logs.keys())}.",
                stacklevel=2,
            )
            return

        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0

        if self.monitor_op(current, self.best):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience:
                old_lr = float(self.model.optimizer.learning_rate)
                if old_lr > np.float32(self.min_lr):
                    new_lr = max(old_lr * self.factor, self.min_lr)
                    self.model.optimizer.learning_rate = new_lr
                    if self.verbose > 0:
                        print(
                            f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing "
                            f"learning rate to {new_lr}."
                        )
                    self.cooldown_counter = self.cooldown
                    self.wait = 0


def _accepts_two_positional(fn):
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return True
    try:
        signature.bind(0, 0.0)
    except TypeError:
        return False
    return True


class LearningRateScheduler(Callback):
    """Sets the learning rate at the start of every epoch.

    Args:
        schedule: A function `schedule(epoch, lr) -> new_lr` (epoch 0-based,
            lr the current float learning rate), or `schedule(epoch)`.
        verbose: 0 (quiet) or 1 (prints the new rate every epoch).

    The epoch logs gain a "learning_rate" entry, as in Keras.
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise TypeError(
                "Argument `schedule` must be a callable schedule(epoch, lr) "
                f"or schedule(epoch). Received: schedule={schedule!r}"
            )
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        if not hasattr(optimizer, "learning_rate"):
            raise ValueError('Optimizer must have a "learning_rate" attribute.')
        lr = float(optimizer.learning_rate)
        if _accepts_two_positional(self.schedule):
            lr = self.schedule(epoch, lr)
        else:
            lr = self.schedule(epoch)
        if isinstance(lr, np.ndarray) and lr.ndim == 0:
            lr = lr[()]
        if not isinstance(lr, (float, np.floating)):
            raise ValueError(
                "The output of the `schedule` function should be a float. "
                f"Got: {lr!r}"
            )
        optimizer.learning_rate = float(lr)
        if self.verbose > 0:
            print(
                f"\nEpoch {epoch + 1}: LearningRateScheduler setting "
                f"learning rate to {float(lr)}."
            )

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)


def _is_invalid_loss(loss):
    try:
        loss = float(loss)
    except (TypeError, ValueError):
        return False
    return math.isnan(loss) or math.isinf(loss)


class TerminateOnNaN(Callback):
    """Stops training when the loss becomes NaN or infinite.

    With `raise_error=True` a RuntimeError is raised at once instead of the
    graceful stop (which lets `on_train_end` of other callbacks run).
    When this callback is present the engine also checks the loss after every
    batch and ends the epoch at the first invalid one, so it needs no
    batch-level calls from Python.
    """

    engine_flag = "terminate_on_nan"

    def __init__(self, raise_error=False):
        super().__init__()
        self.raise_error = raise_error
        self._terminated = False

    def _implements_batch_hooks(self, mode="train"):
        return False

    def on_train_begin(self, logs=None):
        self._terminated = False

    def _terminate(self, unit, index, loss):
        if self.raise_error:
            raise RuntimeError(
                f"NaN or Inf loss encountered at {unit.lower()} {index}. "
                f"Loss value: {loss}. Terminating training immediately."
            )
        if not self._terminated:  # one message, not one per hook
            print(f"{unit} {index}: Invalid loss, terminating training")
        self._terminated = True
        self.model.stop_training = True

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and _is_invalid_loss(loss):
            self._terminate("Batch", batch, loss)

    def on_epoch_end(self, epoch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and _is_invalid_loss(loss):
            self._terminate("Epoch", epoch + 1, loss)


class CSVLogger(Callback):
    """Streams epoch results to a CSV file.

    The header is "epoch" followed by the sorted metric names; one row per
    epoch (epoch 0-based, as Keras), flushed at once.

    Args:
        filename: Path of the CSV file (str or os.PathLike).
        separator: String separating the fields.
        append: Append to an existing file (writing no second header)
            instead of overwriting it.
    """

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        if not isinstance(filename, (str, os.PathLike)):
            raise TypeError(
                "Argument `filename` must be a string or an os.PathLike. "
                f"Received: filename={filename!r} "
                f"(of type {type(filename).__name__})"
            )
        if not isinstance(separator, str) or len(separator) != 1:
            raise ValueError(
                "Argument `separator` must be a one-character string. "
                f"Received: separator={separator!r}"
            )
        self.sep = separator
        self.filename = os.fspath(filename)
        self.append = append
        self.writer = None
        self.keys = None
        self.append_header = True
        self.csv_file = None

    def on_train_begin(self, logs=None):
        self.append_header = True
        if not _chief():
            return
        if self.append:
            if os.path.exists(self.filename):
                with open(self.filename, "r", newline="") as f:
                    self.append_header = not bool(len(f.readline()))
            mode = "a"
        else:
            mode = "w"
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.csv_file = open(self.filename, mode, newline="")
        self.writer = None
        self.keys = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if not _chief():
            return

        def handle_value(value):
            if isinstance(value, str):
                return value
            if isinstance(value, np.ndarray) and value.ndim == 0:
                return value
            if isinstance(value, collections.abc.Iterable):
                return f'"[{", ".join(map(str, value))}]"'
            return value

        if self.keys is None:
            self.keys = sorted(logs.keys())
            # With validation_freq > 1 the first epoch has no val_ values yet: keep their columns (as Keras 3).
            if getattr(self.model, "_fit_has_validation", False) and not any(k.startswith("val_") for k in self.keys):
                self.keys.extend("val_" + k for k in list(self.keys))

        if self.writer is None:

            class CustomDialect(csv.excel):
                delimiter = self.sep

            self.writer = csv.DictWriter(
                self.csv_file,
                fieldnames=["epoch"] + self.keys,
                dialect=CustomDialect,
            )
            if self.append_header:
                self.writer.writeheader()

        row = {"epoch": epoch}
        row.update((key, handle_value(logs.get(key, "NA"))) for key in self.keys)
        self.writer.writerow(row)
        self.csv_file.flush()

    def on_train_end(self, logs=None):
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.writer = None


class BackupAndRestore(Callback):
    """Backs up the training state so that a run killed mid-way resumes where it was (Keras 3's callback).

    At the end of each epoch (or every `save_freq` batches) the model is saved in `backup_dir` with its weights,
    optimizer state, learning rate and random generators' state, and the number of completed epochs. When fit is
    called again with the same callback arguments, training resumes from the last backup: the weights and state are
    restored and the epochs already done are skipped. With save_freq="epoch", a single process resumed this way ends
    bitwise equal to a run that was never interrupted. At the end of a completed fit the backup is deleted
    (delete_checkpoint=True). Under fastnn.distributed, rank 0 writes and reads the backup and sends it to the others.

    Args:
        backup_dir: Folder for the backup (used by nothing else).
        save_freq: "epoch", or an integer number of batches between backups (a batch backup resumes at the start
            of its epoch with the weights of that batch, as in Keras), or False (no backups, restore only).
        double_checkpoint: Keep the previous backup too, and fall back to it if the last one cannot be read.
        delete_checkpoint: Delete the backup when fit completes.
    """

    _META = "training_metadata.json"

    def __init__(self, backup_dir, save_freq="epoch", double_checkpoint=False, delete_checkpoint=True):
        super().__init__()
        if not backup_dir:
            raise ValueError("Empty `backup_dir` argument passed")
        if not isinstance(backup_dir, (str, os.PathLike)):
            raise TypeError(f"Argument `backup_dir` must be a string or an os.PathLike. Received: "
                            f"backup_dir={backup_dir!r} (of type {type(backup_dir).__name__})")
        if not (save_freq == "epoch" or save_freq is False) and not (isinstance(save_freq, numbers.Integral) and
                                                     not isinstance(save_freq, bool) and save_freq > 0):
            raise ValueError(f"Invalid value for argument `save_freq`. Received: save_freq={save_freq!r}. "
                             "Expected either 'epoch', a positive integer or False.")
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq
        self.double_checkpoint = bool(double_checkpoint)
        self.delete_checkpoint = bool(delete_checkpoint)
        self._current_epoch = 0
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = -1
        self._saves = 0

    def _implements_batch_hooks(self, mode="train"):
        return mode == "train" and self.save_freq not in ("epoch", False)

    # ---- restore
    def on_train_begin(self, logs=None):
        dist = _distributed()
        found = None
        if dist is None or dist.rank() == 0:
            found = self._read_latest()
        if dist is not None:
            found = dist.broadcast(found is not None and found[0], 0)
            if found is False:
                found = None
            else:
                dist.broadcast_weights(self.model, 0)
                found = (found,)
        elif found is not None:
            found = (found[0],)
        if found is not None:
            self._current_epoch = int(found[0])
            self.model._initial_epoch = self._current_epoch

    def _read_latest(self):
        """Restores the last readable backup into the model; returns (epoch,) or None when there is none."""
        meta_path = os.path.join(self.backup_dir, self._META)
        candidates = [meta_path, meta_path + ".bkp"] if self.double_checkpoint else [meta_path]
        error = None
        for path in candidates:
            if not os.path.exists(path):
                continue
            try:
                return self._restore(path)
            except (OSError, ValueError) as e:
                error = e
        if error is not None:
            raise ValueError(f"BackupAndRestore: cannot restore the backup in {self.backup_dir!r}: {error}")
        return None

    def _restore(self, meta_path):
        from . import models as models_module
        from . import saving
        with open(meta_path, "r") as f:
            meta = json.load(f)
        if not (isinstance(meta, dict) and isinstance(meta.get("epoch"), int) and meta["epoch"] >= 0 and
                isinstance(meta.get("file"), str) and re.fullmatch(r"backup-\d+\.fnn", meta["file"])):
            raise ValueError(f"{meta_path}: not a BackupAndRestore metadata file")
        path = os.path.join(self.backup_dir, meta["file"])
        tensors, cfg = saving.read_model_file(path)
        model = self.model
        model.load_weights(path)
        net = model._net
        state = cfg.get("optimizer_state")
        if state is not None:
            slots = [tensors.get(f"optimizer.slot{k}") for k in range(3)]
            if any(t is None or t.shape != (net.n_params,) for t in slots):
                raise ValueError(f"{path}: optimizer state of another model")
            net.set_optimizer_state({"iterations": int(state["iterations"]), "u_product": float(state["u_product"]),
                                     "slots": slots})
        lr = (((cfg.get("compile") or {}).get("optimizer") or {}).get("config") or {}).get("learning_rate")
        if isinstance(lr, (int, float)) and not isinstance(lr, bool):
            model.optimizer.learning_rate = lr
        models_module._restore_rng(model, cfg.get("rng_state"), path)
        return (meta["epoch"],)

    # ---- back up
    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        self._current_epoch = epoch + 1
        self._last_batch_seen = -1
        if self.save_freq == "epoch":
            self._save()

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq in ("epoch", False):
            return
        added = batch + 1 if batch <= self._last_batch_seen else batch - self._last_batch_seen
        self._last_batch_seen = batch
        self._batches_seen_since_last_saving += added
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            self._save()

    def _save(self):
        if not _chief():
            return
        os.makedirs(self.backup_dir, exist_ok=True)
        meta_path = os.path.join(self.backup_dir, self._META)
        self._saves += 1
        name = f"backup-{os.getpid()}{self._saves:06d}.fnn"
        # The model file first (written atomically), then the metadata naming it (atomic rename): a process killed
        # at any moment leaves a metadata file that names a complete backup.
        self.model.save(os.path.join(self.backup_dir, name))
        previous = None
        if os.path.exists(meta_path):
            try:
                with open(meta_path, "r") as f:
                    previous = json.load(f).get("file")
            except (OSError, ValueError, AttributeError):
                previous = None
            if self.double_checkpoint:
                os.replace(meta_path, meta_path + ".bkp")
        tmp = meta_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"epoch": self._current_epoch, "batch": max(self._last_batch_seen, 0), "file": name}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, meta_path)
        keep = {name}
        if self.double_checkpoint and previous:
            keep.add(previous)
        for entry in os.listdir(self.backup_dir):
            if re.fullmatch(r"backup-\d+\.fnn", entry) and entry not in keep:
                try:
                    os.remove(os.path.join(self.backup_dir, entry))
                except OSError:
                    pass

    def on_train_end(self, logs=None):
        if self.delete_checkpoint and _chief() and os.path.isdir(self.backup_dir):
            shutil.rmtree(self.backup_dir)


class LambdaCallback(Callback):
    """A callback built from plain functions.

    `on_epoch_begin`/`on_epoch_end` take `(epoch, logs)`,
    `on_train_begin`/`on_train_end` take `(logs)`, and
    `on_train_batch_begin`/`on_train_batch_end` take `(batch, logs)`.
    Any other hook can be given by name in `**kwargs`, e.g.
    `on_test_end=fn`.
    """

    def __init__(
        self,
        on_epoch_begin=None,
        on_epoch_end=None,
        on_train_begin=None,
        on_train_end=None,
        on_train_batch_begin=None,
        on_train_batch_end=None,
        **kwargs,
    ):
        super().__init__()
        hooks = dict(
            on_epoch_begin=on_epoch_begin,
            on_epoch_end=on_epoch_end,
            on_train_begin=on_train_begin,
            on_train_end=on_train_end,
            on_train_batch_begin=on_train_batch_begin,
            on_train_batch_end=on_train_batch_end,
        )
        for name in kwargs:
            if not (name.startswith("on_") and callable(getattr(Callback, name, None))):
                raise TypeError(
                    f"LambdaCallback got an unexpected keyword argument "
                    f"`{name}`: extra arguments must name a Callback hook, "
                    "such as on_test_end or on_predict_batch_end."
                )
        hooks.update(kwargs)
        for name, fn in hooks.items():
            if fn is None:
                continue
            if not callable(fn):
                raise TypeError(
                    f"Argument `{name}` of LambdaCallback must be callable. "
                    f"Received: {name}={fn!r}"
                )
            setattr(self, name, fn)


def _chief():
    """False on the ranks other than 0 of a distributed run: they neither print nor write files."""
    import sys
    dist = sys.modules.get("fastnn.distributed")
    return dist is None or dist._chief()


def _distributed():
    """fastnn.distributed when a distributed run is on (more than one rank), else None."""
    import sys
    dist = sys.modules.get("fastnn.distributed")
    return dist if dist is not None and dist.is_initialized() and dist.size() > 1 else None
