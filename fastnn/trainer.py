"""The training loop of fastnn models (as Keras keeps it in its Trainer): compile, fit, evaluate, predict and the
per-batch calls, over the engine a model has built.

`Trainer` is a mixin of `fastnn.models.Model`: it reads the model's structure only through `self._net` (the engine
network), `self._first` / `self._last` (the span of engine ops the model covers), `self._op_layers`, `self._n_in` /
`self._n_out`, `self._flatten_shape()`, `self._ensure_built` / `self._require_built` (which also bring the engine
up to date with layers shared with other models, `self._sync()`), `self._is_view()` and `self._build`. The main
path of `fit` is one engine call per epoch (or per chunk of batches when a progress bar or a batch-level callback
needs to hear from it); Python never loops over samples or batches.

Trainable flags are read at compile (as in Keras 3): each op of the engine is frozen or not by its layer's and the
model's `trainable`; a change afterwards takes effect at the next compile, and fit / train_on_batch warn once.
"""

import collections
import contextlib
import math
import time
import warnings

import numpy as np

from . import _limits, callbacks as callbacks_module, config, losses, metrics as metrics_module, optimizers
from ._validation import as_features, as_sample_weight, as_targets, check_fraction, check_int, to_array
from .layers import ENGINE_LAYERS
from .progress import resolve_verbose

# What _check_batch_memory keeps per engine span and compile (net, first, last, compiled, n_ops): the parts that do
# not depend on the batch, their total, and the workspace bytes per sample in inference and in training.
_MemoryPlan = collections.namedtuple("_MemoryPlan", "net first last compiled n_ops parts fixed per_row")


class Trainer:
    """compile / fit / evaluate / predict / train_on_batch / test_on_batch for a model with an engine."""

    # ---------------------------------------------------------------- compile
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None, weighted_metrics=None,
                run_eagerly=False, steps_per_execution=1, jit_compile="auto", auto_scale_loss=True):
        """Sets the optimizer, loss and metrics (Keras names; compile() without an optimizer means RMSprop).

        `metrics` are unweighted; `weighted_metrics` receive sample_weight and class_weight (Keras 3's rule)."""
        if self._engine is not None and self._engine.busy():
            raise RuntimeError(f"compile: model {self.name!r} is being trained (fit or train_on_batch is running, in "
                               "another thread or in one of its callbacks); its structure cannot change until it "
                               "returns")
        if loss_weights is not None:
            raise ValueError("loss_weights: fastnn models have one output; expected None")
        # Everything is checked before anything changes: a failed compile leaves the model as it was.
        new_optimizer = optimizers.get(optimizer)
        if new_optimizer._net is not None and not (self.built and new_optimizer._net is self._net):
            # An optimizer object drives one engine (its learning_rate reads and writes it): another model gets a copy.
            new_optimizer = optimizers.deserialize(optimizers.serialize(new_optimizer))
            new_optimizer._distributed = getattr(optimizer, "_distributed", False)
        new_loss = losses.get(loss)
        metrics, weighted_metrics = _metric_list(metrics), _metric_list(weighted_metrics)
        for what, entries in (("metrics", metrics), ("weighted_metrics", weighted_metrics)):
            if len(entries) > _limits.MAX_METRICS:
                raise ValueError(f"{what}: expected at most {_limits.MAX_METRICS} metrics, got {len(entries)}")
        for m in metrics + weighted_metrics:
            metrics_module.get(m)  # validates names now, resolves "accuracy" when built
        previous = (self.optimizer, self.loss, self._metric_ids, self._weighted_metric_ids, self._metric_names,
                    self.compiled, self._engine_compiled)
        self.optimizer, self.loss = new_optimizer, new_loss
        self._metric_ids, self._weighted_metric_ids = metrics, weighted_metrics
        self.compiled = True
        self._engine_compiled = False
        if self.built:
            try:
                self._compile_engine()
            except BaseException:
                (self.optimizer, self.loss, self._metric_ids, self._weighted_metric_ids, self._metric_names,
                 self.compiled, self._engine_compiled) = previous
                raise

    def _compile_engine(self):
        if self._is_view():
            # A view of another model's engine gets an engine of its own to train: its layers' weights move there
            # (still shared: the other model takes them back when it next runs). _build compiles it.
            self._build(self._n_in, private=True)
            return
        net = self._net
        _limits.check_memory(_limits.training_bytes(net.n_params, np.dtype(net.dtype).itemsize, True),
                             f"compile: model {self.name!r} ({net.n_params:,} parameters)",
                             "use fewer units or inputs")
        loss_name = self.loss.engine_name
        for layer in self._op_layers:
            if getattr(layer, "activation_name", None) == "step":
                raise ValueError(f"layer {layer.name!r}: activation 'step' has no gradient, so a model using it "
                                 "cannot be trained by gradient descent; use fastnn.Perceptron for the perceptron rule")
        sparse = loss_name == "sparse_categorical_crossentropy"
        resolved = [(metrics_module.resolve(m, self._n_out, sparse), False) for m in self._metric_ids]
        resolved += [(metrics_module.resolve(m, self._n_out, sparse), True) for m in self._weighted_metric_ids]
        for m, _ in resolved:
            metrics_module.check_fits(m, sparse, self._n_out)
        state = self._trainable_state()
        for k, (_, trainable) in enumerate(state):  # frozen ops: no update, no weight decay, no regularization
            net.set_trainable(self._first + k, trainable)
        net.compile(loss_name, self.loss.from_logits, self.optimizer.engine_name, self.optimizer.engine_config(),
                    [m.engine_spec(weighted) for m, weighted in resolved], self.loss.engine_config())
        self._metric_names = _log_names(resolved)
        self._metric_sizes = [m.result_size(self._n_out) for m, _ in resolved]
        self._metric_objects = [m for m, _ in resolved]
        self.optimizer._attach(net)
        self._compiled_trainable = state
        self._engine_compiled = True

    def _trainable_state(self):
        """Per engine op: its layer and whether this model trains it (the model's and the layer's flags)."""
        return [(layer, bool(self.trainable and layer.trainable)) for layer in self._op_layers]

    def _warn_if_trainable_changed(self):
        """As Keras 3: the trainable flags of the last compile() hold until the next one; a change since warns once."""
        compiled = getattr(self, "_compiled_trainable", None)
        now = self._trainable_state()
        if compiled is None or [f for _, f in compiled] == [f for _, f in now]:
            return
        changed = [layer.name for (layer, a), (_, b) in zip(compiled, now) if a != b]
        warnings.warn("A layer's `trainable` state has changed since the model was compiled; the change takes effect "
                      f"when the model is compiled again (model.compile(...)). Changed layers: {changed}",
                      UserWarning, stacklevel=3)
        self._compiled_trainable = now

    def _require_compiled(self, what):
        if not self.compiled:
            raise ValueError(f"{what}: the model must be compiled first: call model.compile(optimizer=..., loss=...)")
        self._require_built(what)
        for layer in self._unready:  # Normalization without adapt() or mean=
            layer._check_ready()
        if not self._engine_compiled:
            self._compile_engine()

    @property
    def metrics_names(self):
        return ["loss"] + list(self._metric_names)

    def _group(self, values):
        """The engine's flat [loss, metric values...] as one entry per name (an array for per-output metrics)."""
        values = list(values)
        out, at = [values[0]], 1
        for size in self._metric_sizes:
            out.append(values[at] if size == 1 else np.array(values[at:at + size], dtype=np.float32))
            at += size
        return out

    # ---------------------------------------------------------------- data
    def _x(self, x, name="x"):
        return as_features(x, self._n_in, self._net.dtype, name, flatten=self._flatten_shape())

    def _y(self, y, n, name="y"):
        sparse = self.loss.engine_name == "sparse_categorical_crossentropy"
        return as_targets(y, n, self._n_out, self._net.dtype, sparse, name)

    def _weights_for(self, y, sample_weight, class_weight, n):
        sw = as_sample_weight(sample_weight, n, self._net.dtype)
        if class_weight is None:
            return sw
        if not isinstance(class_weight, dict):
            raise ValueError(f"class_weight: expected a dict {{class index: weight}}, got {type(class_weight).__name__}")
        if self.loss.engine_name == "sparse_categorical_crossentropy":
            classes = y[:, 0].astype(np.int64)
        elif y.shape[1] > 1:
            classes = np.argmax(y, axis=1)
        else:
            classes = np.rint(y[:, 0]).astype(np.int64)
        cw = np.ones(n, dtype=self._net.dtype)
        for k, v in class_weight.items():
            if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
                raise ValueError(f"class_weight: expected non-negative integer class indices as keys, got {k!r}")
            if not isinstance(v, (int, float, np.number)) or not math.isfinite(v) or v < 0:
                raise ValueError(f"class_weight: expected finite weights >= 0, got {v!r} for class {k}")
            with np.errstate(over="ignore"):
                if not np.isfinite(np.asarray(v, dtype=cw.dtype)):
                    raise ValueError(f"class_weight: expected finite weights >= 0, got {v!r} for class {k}, which is "
                                     f"too large for {cw.dtype} (it becomes infinity)")
            cw[classes == k] = v
        return cw if sw is None else np.ascontiguousarray(sw * cw)

    def _check_batch_memory(self, rows, batch_size, training, what):
        """MemoryError before the engine allocates its workspace for batches of min(batch_size, rows) samples,
        when it would not fit in memory beside the model's own buffers."""
        rows = min(rows, batch_size)
        net = self._net
        # What does not depend on the batch is read once per engine, span and compile (op_info builds a dict per
        # op: reading the widths on every call cost more than a one-sample prediction); the parts are listed only
        # to refuse.
        plan = getattr(self, "_memory_plan", None)
        if plan is None or plan.net is not net or plan.first != self._first or plan.last != self._last \
                or plan.compiled != self._engine_compiled or plan.n_ops != net.n_ops:
            widths = [int(net.op_info(i)["n_out"]) for i in range(self._first, self._last + 1)]
            itemsize = 4 if net.dtype == "float32" else 8
            parts = _limits.training_bytes(net.n_params, itemsize, self._engine_compiled)
            per_row = tuple(_limits.activation_values(widths, self._n_in, 1, t) * itemsize for t in (False, True))
            plan = self._memory_plan = _MemoryPlan(net, self._first, self._last, self._engine_compiled, net.n_ops,
                                                   parts, sum(b for _, b in parts), per_row)
        activations = rows * plan.per_row[bool(training)]
        limit = _limits.physical_memory()
        if limit is not None and plan.fixed + activations > limit:
            parts = plan.parts + [(f"activations of a batch of {rows} samples", activations)]
            _limits.check_memory(parts, f"{what}: model {self.name!r}", "use a smaller batch_size")

    @staticmethod
    def _batch_size(batch_size, name="batch_size"):
        return 32 if batch_size is None else check_int(batch_size, name, 1)

    # ---------------------------------------------------------------- training
    @contextlib.contextmanager
    def _training(self, what):
        """Holds the engine's training lock: a second fit/train_on_batch on the same weights fails at once."""
        lock = self._engine.training
        if not lock.acquire(blocking=False):
            raise RuntimeError(f"{what}: model {self.name!r} is already being trained (fit or train_on_batch is "
                               "running in another thread); two training calls on one model cannot run at once: "
                               "wait for the first one, or train a copy (fastnn.models.clone_model)")
        try:
            yield
        finally:
            lock.release()

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, class_weight=None, sample_weight=None, initial_epoch=0,
            steps_per_epoch=None, validation_steps=None, validation_batch_size=None, validation_freq=1):
        """Trains for `epochs` epochs; returns a History (also stored as model.history).

        Ctrl-C (KeyboardInterrupt) stops training after the current batch: the weights are those of the last
        completed optimizer step, model.history holds the completed epochs, and fit can be called again."""
        if self.compiled and not self.built and x is not None:
            self._ensure_built(x)
        self._require_compiled("fit")
        self._sync(write=True)
        self._warn_if_trainable_changed()
        with self._training("fit"):
            return self._fit(x, y, batch_size, epochs, verbose, callbacks, validation_split, validation_data, shuffle,
                             class_weight, sample_weight, initial_epoch, steps_per_epoch, validation_steps,
                             validation_batch_size, validation_freq)

    def _fit(self, x, y, batch_size, epochs, verbose, callbacks, validation_split, validation_data, shuffle,
             class_weight, sample_weight, initial_epoch, steps_per_epoch, validation_steps, validation_batch_size,
             validation_freq):
        if steps_per_epoch is not None or validation_steps is not None:
            raise ValueError("steps_per_epoch / validation_steps: fastnn trains on arrays, one pass per epoch; "
                             "expected None")
        batch_size = self._batch_size(batch_size)
        epochs = check_int(epochs, "epochs", 0)
        initial_epoch = check_int(initial_epoch, "initial_epoch", 0)
        validation_split = check_fraction(validation_split, "validation_split")
        validation_freq = check_int(validation_freq, "validation_freq", 1)
        verbose = resolve_verbose(verbose)
        x = self._x(x)
        y = self._y(y, x.shape[0])
        sw = as_sample_weight(sample_weight, x.shape[0], self._net.dtype)
        val = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
                raise ValueError("validation_data: expected a tuple (x_val, y_val) or (x_val, y_val, sample_weight), "
                                 f"got {type(validation_data).__name__}")
            xv = self._x(validation_data[0], "validation_data x")
            yv = self._y(validation_data[1], xv.shape[0], "validation_data y")
            swv = (as_sample_weight(validation_data[2], xv.shape[0], self._net.dtype, "validation_data sample_weight")
                   if len(validation_data) == 3 else None)
            val = (xv, yv, swv)
        elif validation_split > 0:
            split_at = int(math.floor(x.shape[0] * (1.0 - validation_split)))
            if split_at < 1 or split_at >= x.shape[0]:
                raise ValueError(f"validation_split: {validation_split} of {x.shape[0]} samples leaves an empty "
                                 "training or validation set")
            val = (x[split_at:], y[split_at:], None if sw is None else sw[split_at:])
            x, y, sw = x[:split_at], y[:split_at], None if sw is None else sw[:split_at]
        sw = self._weights_for(y, sw, class_weight, x.shape[0])  # after the split: class weights weigh training only
        val_bs = self._batch_size(validation_batch_size, "validation_batch_size") if validation_batch_size else batch_size

        n = x.shape[0]
        self._check_batch_memory(n, batch_size, True, "fit")
        if val is not None:
            self._check_batch_memory(val[0].shape[0], val_bs, False, "fit (validation)")
        steps = (n + batch_size - 1) // batch_size
        dist = _distributed_module(self)  # None unless trained with a fastnn.distributed.DistributedOptimizer
        if dist is not None:
            dist._check_fit(n, batch_size)
            verbose = verbose if dist._chief() else 0
        cbs = callbacks_module.CallbackList(callbacks, add_history=True, add_progbar=verbose != 0, model=self,
                                            verbose=verbose, epochs=epochs, steps=steps)
        self._fit_has_validation = val is not None  # read by CSVLogger (History.params stays as Keras's)
        history = cbs.history
        self.history = history  # filled epoch by epoch, so an interrupted fit leaves the completed epochs here
        history_logs = None
        stop_on_nan = "terminate_on_nan" in cbs.engine_flags()
        user_batch_hooks = any(cb._implements_batch_hooks("train") for cb in cbs.callbacks
                               if not isinstance(cb, callbacks_module.ProgbarLogger))
        hooks = cbs.needs_batch_hooks("train")
        names = self.metrics_names
        net = self._net
        self.stop_training = False
        warned_nan = False
        cbs.on_train_begin()
        # A callback that restored a backup (BackupAndRestore) sets the epoch to resume from, as in Keras 3.
        initial_epoch = self.__dict__.pop("_initial_epoch", None) or initial_epoch
        logs = {}
        # (Distributed: always epoch by epoch, so that every rank, with or without a progress bar, averages the
        # logs at the same points.)
        if (val is None and not hooks and dist is None
                and all(type(cb) is callbacks_module.History for cb in cbs.callbacks)):
            # Nothing to run between epochs: every epoch in one engine call, History filled afterwards.
            status, epoch_logs, exc = net.train_epochs(x, y, sw, batch_size, bool(shuffle), epochs - initial_epoch,
                                                       stop_on_nan)
            epoch_logs = [self._group(values) for values in epoch_logs]
            history.record_epochs(initial_epoch, names, epoch_logs)
            if epoch_logs:
                logs = dict(zip(names, epoch_logs[-1]))
            self.history = history
            if exc is not None:
                raise exc
            bad = [k for k, values in enumerate(epoch_logs) if not math.isfinite(values[0])]
            if bad:
                _warn_non_finite(initial_epoch + bad[0], epoch_logs[bad[0]][0])
            cbs.on_train_end(logs)
            return history
        for epoch in range(initial_epoch, epochs):
            cbs.on_epoch_begin(epoch)
            net.begin_epoch(n, bool(shuffle), batch_size)
            status = self._run_epoch(net, x, y, sw, batch_size, steps, cbs, hooks, user_batch_hooks, stop_on_nan,
                                     names)
            # (Distributed: the training metrics from the ranks' merged states; the validation logs averaged below.)
            logs = dict(zip(names, self._group(net.epoch_logs() if dist is None else dist._merge_epoch_logs(net))))
            if val is not None and (epoch + 1) % validation_freq == 0:
                vals = self._group(net.evaluate(val[0], val[1], val[2], val_bs))
                logs.update({"val_" + k: v for k, v in zip(names, vals)})
            if dist is not None:
                logs = dist._average_logs(logs)
            if status == 2:
                self.stop_training = True
            elif not math.isfinite(logs["loss"]) and not warned_nan and not stop_on_nan:
                _warn_non_finite(epoch, logs["loss"])
                warned_nan = True
            cbs.on_epoch_end(epoch, logs)
            history_logs = logs
            if self.stop_training:
                break
        cbs.on_train_end(history_logs if history_logs is not None else logs)
        self.history = history
        return history

    def _run_epoch(self, net, x, y, sw, batch_size, steps, cbs, hooks, user_batch_hooks, stop_on_nan, names):
        if not hooks:
            status, _ = net.train_batches(x, y, sw, batch_size, 0, steps, stop_on_nan, True)
            return status
        # Batch-level hooks: every batch for user callbacks, else chunks of about 50 ms for the progress bar.
        b, chunk, status = 0, 1, 0
        while b < steps:
            cbs.on_train_batch_begin(b)
            t0 = time.perf_counter()
            status, done = net.train_batches(x, y, sw, batch_size, b, min(steps, b + chunk), stop_on_nan, True)
            b += done + (status == 2)  # a batch with a non-finite loss was run (its step not applied): report it
            cbs.on_train_batch_end(b - 1, dict(zip(names, self._group(net.epoch_logs()))))
            if status != 0 or self.stop_training:
                break
            if not user_batch_hooks:
                dt = max(time.perf_counter() - t0, 1e-6)
                chunk = int(min(steps, max(1, chunk * 0.05 / dt)))
        return status

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
                 callbacks=None, return_dict=False):
        """Loss (and metrics) on (x, y): a scalar without metrics, else [loss, *metrics] (or a dict)."""
        if self.compiled and not self.built and x is not None:
            self._ensure_built(x)
        self._require_compiled("evaluate")
        batch_size = self._batch_size(batch_size)
        verbose = resolve_verbose(verbose)
        x = self._x(x)
        y = self._y(y, x.shape[0])
        sw = as_sample_weight(sample_weight, x.shape[0], self._net.dtype)
        steps_n = (x.shape[0] + batch_size - 1) // batch_size
        cbs = callbacks_module.CallbackList(callbacks, add_progbar=verbose != 0, model=self, verbose=verbose,
                                            epochs=1, steps=steps_n)
        cbs.on_test_begin()
        self._check_batch_memory(x.shape[0], batch_size, False, "evaluate")
        values = self._group(self._net.evaluate(x, y, sw, batch_size))
        logs = dict(zip(self.metrics_names, values))
        if verbose:
            cbs.on_test_batch_end(steps_n - 1, dict(logs))
        cbs.on_test_end(logs)
        if return_dict:
            return logs
        return values[0] if len(values) == 1 else list(values)

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """The model's outputs for x, always 2-D (samples, outputs)."""
        if verbose == 0 and callbacks is None and self._engine is not None and type(x) is np.ndarray \
                and x.ndim == 2 and x.shape[0] > 0 and x.flags.c_contiguous and x.dtype == self._engine.np_dtype \
                and (batch_size is None or (type(batch_size) is int and 0 < batch_size <= _limits.MAX_INDEX)):
            # Fast path for an array the engine takes as it is: the width and finiteness checks run in C++.
            if self._engine.moves != self._seen_moves:  # layers shared with another model moved since
                self._sync()
            self._check_batch_memory(x.shape[0], batch_size or 32, False, "predict")
            try:
                return self._net.predict(x, batch_size or 32, self._first, self._last, config.check_finite())
            except ValueError:
                pass  # fall through: the full checks below give the detailed message
        self._ensure_built(x)
        batch_size = self._batch_size(batch_size)
        verbose = resolve_verbose(verbose)
        x = self._x(x)
        steps_n = (x.shape[0] + batch_size - 1) // batch_size
        cbs = None
        if verbose or callbacks:
            cbs = callbacks_module.CallbackList(callbacks, add_progbar=verbose != 0, model=self, verbose=verbose,
                                                epochs=1, steps=steps_n)
            cbs.on_predict_begin()
        self._check_batch_memory(x.shape[0], batch_size, False, "predict")
        out = self._net.predict(x, batch_size, self._first, self._last)
        if cbs is not None:
            cbs.on_predict_batch_end(steps_n - 1, {})
            cbs.on_predict_end()
        return out


    def predict_on_batch(self, x):
        return self.predict(x, batch_size=max(1, len(to_array(x, "x"))), verbose=0)

    def activations(self, x):
        """The output of every layer (InputLayer excluded) for x, as a list of 2-D arrays."""
        self._ensure_built(x)
        xa = self._x(x)
        self._check_batch_memory(xa.shape[0], 1024, False, "activations")
        outs, op = [], self._first - 1
        for layer in self._chain:
            n_ops = len(layer._op_layers) if isinstance(layer, Trainer) else int(isinstance(layer, ENGINE_LAYERS))
            if n_ops:  # a nested model: the output of its last op
                op += n_ops
                outs.append(self._net.predict(xa, 1024, self._first, op))
            else:
                outs.append(outs[-1] if outs else xa)
        return outs

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One optimizer step on one batch; returns the loss (and metrics) of that batch."""
        if self.compiled and not self.built:
            self._ensure_built(x)
        self._require_compiled("train_on_batch")
        self._sync(write=True)
        self._warn_if_trainable_changed()
        x = self._x(x)
        y = self._y(y, x.shape[0])
        sw = self._weights_for(y, sample_weight, class_weight, x.shape[0])
        self._check_batch_memory(x.shape[0], x.shape[0], True, "train_on_batch")
        with self._training("train_on_batch"):
            values = self._group(self._net.train_on_batch(x, y, sw))
        if return_dict:
            return dict(zip(self.metrics_names, values))
        return values[0] if len(values) == 1 else list(values)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        return self.evaluate(x, y, batch_size=max(1, len(to_array(x, "x"))), verbose=0, sample_weight=sample_weight,
                             return_dict=return_dict)


def _log_names(resolved):
    """Log names as Keras 3's CompileMetrics.result(): repeats get _1, _2, ...; a weighted metric whose name is taken
    becomes weighted_<name>."""
    names, counters = [], {}
    for m, weighted in resolved:
        name = m.name
        if name in counters:
            if weighted:
                name = f"weighted_{m.name}"
            if name in counters:
                counters[name] += 1
                name = f"{name}_{counters[name] - 1}"
            else:
                counters[name] = 1
        else:
            counters[name] = 1
        names.append(name)
    return names


def _metric_list(metrics):
    if metrics is None:
        return []
    if isinstance(metrics, dict):
        return list(metrics.values())
    if isinstance(metrics, (str, metrics_module.Metric)) or callable(metrics):
        return [metrics]
    return list(metrics)


def _distributed_module(model):
    if not getattr(model.optimizer, "_distributed", False):
        return None
    from . import distributed
    return distributed


def _warn_non_finite(epoch, loss):
    """The one warning of a fit whose loss became NaN or infinite (epoch: 0-based, shown 1-based as Keras does)."""
    warnings.warn(f"Epoch {epoch + 1}: the training loss is {loss}; the learning rate may be too high (use the "
                  "TerminateOnNaN callback to stop at the first non-finite batch)", RuntimeWarning, stacklevel=4)

