"""Tests of fastnn.callbacks, driven through CallbackList the way fit drives it.

A small fake model stands in for fastnn's: it has `stop_training`, a weights
list that "training" changes every epoch, an optimizer with a settable
`learning_rate`, and `save`/`save_weights` that write small files.
"""

import csv
import math
import os

import numpy as np
import pytest

from fastnn.callbacks import (
    CSVLogger,
    Callback,
    CallbackList,
    EarlyStopping,
    History,
    LambdaCallback,
    LearningRateScheduler,
    ModelCheckpoint,
    ProgbarLogger,
    ReduceLROnPlateau,
    TerminateOnNaN,
)


class FakeOptimizer:
    def __init__(self, learning_rate=0.01):
        self._lr = float(learning_rate)

    @property
    def learning_rate(self):
        return self._lr

    @learning_rate.setter
    def learning_rate(self, value):
        self._lr = float(value)


class FakeModel:
    def __init__(self, learning_rate=0.01):
        self.stop_training = False
        self.optimizer = FakeOptimizer(learning_rate)
        self.weights = [np.zeros((2, 3)), np.zeros(3)]
        self.history = None
        self.saved = []  # (kind, path)

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        self.weights = [np.array(w, copy=True) for w in weights]

    def train_one_epoch(self, epoch):
        # Weights carry the epoch they were reached at.
        self.weights = [np.full((2, 3), float(epoch)), np.full(3, float(epoch))]

    def save(self, path):
        with open(path, "w") as f:
            f.write("model")
        self.saved.append(("model", path))

    def save_weights(self, path):
        with open(path, "w") as f:
            f.write("weights")
        self.saved.append(("weights", path))


def run_fit(model, callbacks, epoch_logs, steps=4, verbose=0, batch_logs=None):
    """Mimics fit's loop: one epoch per entry of `epoch_logs`, stopping when
    a callback sets model.stop_training. Returns (History, epochs run)."""
    epochs = len(epoch_logs)
    cbs = CallbackList(
        callbacks,
        add_history=True,
        add_progbar=verbose != 0,
        model=model,
        verbose=verbose,
        epochs=epochs,
        steps=steps,
    )
    model.stop_training = False
    cbs.on_train_begin()
    logs = None
    run = 0
    for epoch in range(epochs):
        cbs.on_epoch_begin(epoch)
        model.train_one_epoch(epoch)
        if cbs.needs_batch_hooks() and batch_logs is not None:
            for batch, blogs in enumerate(batch_logs[epoch]):
                cbs.on_train_batch_end(batch, dict(blogs))
        logs = dict(epoch_logs[epoch])
        cbs.on_epoch_end(epoch, logs)
        run += 1
        if model.stop_training:
            break
    cbs.on_train_end(logs)
    return cbs.history, run


def val_losses(*values):
    return [{"loss": 1.0, "val_loss": v} for v in values]


# ----------------------------------------------------------------- Callback


def test_base_callback_hooks_are_noops_and_set_model_params():
    cb = Callback()
    model = FakeModel()
    cb.set_model(model)
    cb.set_params({"epochs": 3})
    assert cb.model is model
    assert cb.params == {"epochs": 3}
    for name in ("on_train_begin", "on_train_end", "on_test_begin",
                 "on_test_end", "on_predict_begin", "on_predict_end"):
        assert getattr(cb, name)({}) is None
    for name in ("on_epoch_begin", "on_epoch_end", "on_batch_begin",
                 "on_batch_end", "on_train_batch_begin", "on_train_batch_end",
                 "on_test_batch_begin", "on_test_batch_end",
                 "on_predict_batch_begin", "on_predict_batch_end"):
        assert getattr(cb, name)(0, {}) is None


def test_train_batch_hooks_forward_to_legacy_batch_hooks():
    seen = []

    class Legacy(Callback):
        def on_batch_begin(self, batch, logs=None):
            seen.append(("begin", batch))

        def on_batch_end(self, batch, logs=None):
            seen.append(("end", batch, logs["loss"]))

    cbs = CallbackList([Legacy()], model=FakeModel())
    cbs.on_train_batch_begin(2)
    cbs.on_train_batch_end(2, {"loss": np.float32(0.5)})
    assert seen == [("begin", 2), ("end", 2, 0.5)]


def test_needs_batch_hooks_detects_overridden_batch_methods():
    class EpochOnly(Callback):
        def on_epoch_end(self, epoch, logs=None):
            pass

    class TrainBatch(Callback):
        def on_train_batch_end(self, batch, logs=None):
            pass

    class LegacyBatch(Callback):
        def on_batch_begin(self, batch, logs=None):
            pass

    class TestBatch(Callback):
        def on_test_batch_end(self, batch, logs=None):
            pass

    model = FakeModel()
    assert not CallbackList([EpochOnly()], add_history=True, model=model).needs_batch_hooks()
    assert CallbackList([TrainBatch()], model=model).needs_batch_hooks()
    assert CallbackList([LegacyBatch()], model=model).needs_batch_hooks()
    test_only = CallbackList([TestBatch()], model=model)
    assert not test_only.needs_batch_hooks()
    assert test_only.needs_batch_hooks("test")
    assert not test_only.needs_batch_hooks("predict")
    with pytest.raises(ValueError, match="mode"):
        test_only.needs_batch_hooks("eval")


def test_needs_batch_hooks_for_builtin_callbacks(tmp_path):
    model = FakeModel()
    quiet = [
        EarlyStopping(),
        ReduceLROnPlateau(),
        LearningRateScheduler(lambda e, lr: lr),
        TerminateOnNaN(),
        CSVLogger(tmp_path / "log.csv"),
        ModelCheckpoint(tmp_path / "m.fnn"),
        LambdaCallback(on_epoch_end=lambda e, logs: None),
    ]
    common = dict(model=model, epochs=2, steps=4)
    assert not CallbackList(quiet, add_history=True, **common).needs_batch_hooks()
    assert not CallbackList(quiet, add_progbar=True, verbose=2, **common).needs_batch_hooks()
    assert CallbackList(quiet, add_progbar=True, verbose=1, **common).needs_batch_hooks()
    every_3 = ModelCheckpoint(tmp_path / "m.fnn", save_freq=3)
    assert CallbackList([every_3], **common).needs_batch_hooks()
    per_batch = LambdaCallback(on_train_batch_end=lambda b, logs: None)
    assert CallbackList([per_batch], **common).needs_batch_hooks()


def test_callbacklist_rejects_non_callbacks():
    with pytest.raises(TypeError, match="callbacks"):
        CallbackList([EarlyStopping(), "early_stopping"])
    with pytest.raises(TypeError, match="callbacks"):
        CallbackList(42)


def test_callbacklist_defaults_params_model_and_engine_flags():
    model = FakeModel()
    user = EarlyStopping()
    cbs = CallbackList([user, TerminateOnNaN()], add_history=True,
                       add_progbar=True, model=model, verbose=2, epochs=5, steps=7)
    kinds = [type(cb) for cb in cbs.callbacks]
    assert kinds == [EarlyStopping, TerminateOnNaN, History, ProgbarLogger]
    assert model.history is cbs.history
    for cb in cbs:
        assert cb.model is model
        assert cb.params == {"verbose": 2, "epochs": 5, "steps": 7}
    assert cbs.engine_flags() == {"terminate_on_nan"}
    assert CallbackList([user]).engine_flags() == set()
    assert TerminateOnNaN.engine_flag == "terminate_on_nan"
    # no progress bar when not asked for
    assert not any(isinstance(cb, ProgbarLogger) for cb in
                   CallbackList(None, add_history=True, model=model))


def test_user_history_is_reused_not_duplicated():
    model = FakeModel()
    mine = History()
    cbs = CallbackList([mine], add_history=True, model=model, epochs=1, steps=1)
    assert cbs.history is mine
    assert sum(isinstance(cb, History) for cb in cbs) == 1


def test_callbacklist_append_sets_model_and_params():
    model = FakeModel()
    cbs = CallbackList(model=model, epochs=3, steps=2)
    cb = Callback()
    cbs.append(cb)
    assert len(cbs) == 1 and cb.model is model and cb.params["epochs"] == 3


def test_epoch_logs_are_shared_and_made_python_floats():
    seen = []
    model = FakeModel(learning_rate=0.5)
    cbs = CallbackList(
        [ReduceLROnPlateau(monitor="loss"),
         LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(dict(logs)))],
        add_history=True, model=model, epochs=1, steps=1,
    )
    logs = {"val_loss": np.float32(0.25), "loss": np.float64(0.5)}
    cbs.on_epoch_end(0, logs)
    # Callbacks later in the list see what earlier ones added, and so does
    # the caller (fit passes the same dict to on_train_end), as in Keras.
    assert seen == [{"loss": 0.5, "val_loss": 0.25, "learning_rate": 0.5}]
    assert logs["learning_rate"] == 0.5
    assert all(type(v) is float for v in logs.values())
    assert list(cbs.history.history) == ["loss", "val_loss", "learning_rate"]


# ----------------------------------------------------------------- History


def test_history_records_every_epoch():
    model = FakeModel()
    logs = [{"loss": 1.0 - 0.1 * e, "accuracy": 0.5 + 0.1 * e} for e in range(3)]
    history, run = run_fit(model, None, logs, steps=4)
    assert run == 3
    assert history.epoch == [0, 1, 2]
    assert history.history["loss"] == pytest.approx([1.0, 0.9, 0.8])
    assert history.history["accuracy"] == pytest.approx([0.5, 0.6, 0.7])
    assert set(history.history) == {"loss", "accuracy"}
    assert history.params == {"verbose": 0, "epochs": 3, "steps": 4}
    assert model.history is history


# ----------------------------------------------------------- EarlyStopping


def test_early_stopping_stops_after_patience_and_restores_best():
    model = FakeModel()
    es = EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    history, run = run_fit(model, [es], val_losses(1.0, 0.8, 0.9, 0.85, 0.95, 0.7))
    assert run == 4  # epochs 0..3; no improvement at 2 and 3
    assert es.stopped_epoch == 3
    assert es.best == 0.8 and es.best_epoch == 1
    assert history.history["val_loss"] == [1.0, 0.8, 0.9, 0.85]
    np.testing.assert_array_equal(model.weights[0], np.full((2, 3), 1.0))
    np.testing.assert_array_equal(model.weights[1], np.full(3, 1.0))


def test_early_stopping_keras_docstring_example():
    # Constant loss, patience=3: only 4 epochs are run.
    model = FakeModel()
    es = EarlyStopping(monitor="loss", patience=3)
    history, run = run_fit(model, [es], [{"loss": 0.5}] * 10)
    assert run == 4 and len(history.history["loss"]) == 4
    assert es.stopped_epoch == 3
    # without restore_best_weights the last weights are kept
    np.testing.assert_array_equal(model.weights[1], np.full(3, 3.0))


def test_early_stopping_patience_zero_stops_at_first_non_improvement():
    model = FakeModel()
    es = EarlyStopping()
    _, run = run_fit(model, [es], val_losses(1.0, 0.9, 0.95, 0.5))
    assert run == 3 and es.stopped_epoch == 2


def test_early_stopping_auto_mode_maximizes_accuracy():
    model = FakeModel()
    es = EarlyStopping(monitor="val_accuracy", patience=1)
    logs = [{"val_accuracy": a} for a in (0.5, 0.7, 0.6, 0.9)]
    _, run = run_fit(model, [es], logs)
    assert run == 3 and es.best == 0.7
    es_acc = EarlyStopping(monitor="acc", patience=0)
    _, run = run_fit(FakeModel(), [es_acc], [{"acc": a} for a in (0.5, 0.6, 0.55)])
    assert run == 3 and es_acc.best == 0.6


def test_early_stopping_explicit_mode_overrides_name():
    model = FakeModel()
    es = EarlyStopping(monitor="val_loss", mode="max", patience=0)
    _, run = run_fit(model, [es], val_losses(0.5, 0.6, 0.4, 0.9))
    assert run == 3 and es.best == 0.6


def test_early_stopping_min_delta():
    model = FakeModel()
    es = EarlyStopping(monitor="val_loss", min_delta=0.1, patience=2)
    # 0.95 and 0.91 are below the best, but not by 0.1
    _, run = run_fit(model, [es], val_losses(1.0, 0.95, 0.91, 0.5))
    assert run == 3 and es.best == 1.0 and es.stopped_epoch == 2
    assert es.min_delta == 0.1  # the user's value is kept positive


def test_early_stopping_baseline_never_beaten_restores_best_of_the_set():
    model = FakeModel()
    es = EarlyStopping(monitor="val_loss", baseline=0.5, patience=3,
                       restore_best_weights=True)
    _, run = run_fit(model, [es], val_losses(0.9, 0.7, 0.8, 0.75, 0.6, 0.4))
    assert run == 3 and es.stopped_epoch == 2
    np.testing.assert_array_equal(model.weights[1], np.full(3, 1.0))


def test_early_stopping_baseline_beaten_keeps_training():
    model = FakeModel()
    es = EarlyStopping(monitor="val_loss", baseline=0.5, patience=1)
    _, run = run_fit(model, [es], val_losses(0.4, 0.3, 0.2, 0.1))
    assert run == 4 and es.stopped_epoch == 0


def test_early_stopping_restores_best_even_without_stopping():
    model = FakeModel()
    es = EarlyStopping(monitor="val_loss", patience=10, restore_best_weights=True)
    _, run = run_fit(model, [es], val_losses(0.9, 0.3, 0.5, 0.6))
    assert run == 4 and es.stopped_epoch == 0
    np.testing.assert_array_equal(model.weights[0], np.full((2, 3), 1.0))


def test_early_stopping_start_from_epoch():
    model = FakeModel()
    es = EarlyStopping(monitor="val_loss", patience=0, start_from_epoch=2)
    # rising during warm-up is ignored; monitoring starts at epoch 2
    _, run = run_fit(model, [es], val_losses(0.1, 0.5, 0.9, 0.8, 0.85, 0.1))
    assert run == 5 and es.stopped_epoch == 4 and es.best == 0.8


def test_early_stopping_missing_monitor_warns_and_does_not_stop():
    model = FakeModel()
    es = EarlyStopping(monitor="val_loss", patience=0)
    with pytest.warns(UserWarning, match="`val_loss` which is not available. "
                                         "Available metrics are: loss"):
        _, run = run_fit(model, [es], [{"loss": 1.0}, {"loss": 2.0}])
    assert run == 2 and not model.stop_training


def test_early_stopping_unknown_metric_in_auto_mode_raises():
    es = EarlyStopping(monitor="my_score")
    with pytest.raises(ValueError, match="monitor=my_score.*mode='max'"):
        run_fit(FakeModel(), [es], [{"my_score": 1.0}])
    # with an explicit mode it works
    es = EarlyStopping(monitor="my_score", mode="max", patience=0)
    _, run = run_fit(FakeModel(), [es], [{"my_score": s} for s in (1.0, 0.5, 2.0)])
    assert run == 2


def test_early_stopping_unknown_mode_warns_and_falls_back_to_auto():
    with pytest.warns(UserWarning, match="mode maximize is unknown"):
        es = EarlyStopping(mode="maximize")
    assert es.mode == "auto"


def test_early_stopping_is_reusable_and_verbose(capsys):
    es = EarlyStopping(monitor="loss", patience=2, verbose=1,
                       restore_best_weights=True)
    _, run = run_fit(FakeModel(), [es], [{"loss": v} for v in (0.5, 0.6, 0.7)])
    assert run == 3
    out = capsys.readouterr().out
    assert "Epoch 3: early stopping" in out
    assert "Restoring model weights from the end of the best epoch: 1." in out
    # second fit with higher losses: best is reset, not carried over
    model = FakeModel()
    _, run = run_fit(model, [es], [{"loss": v} for v in (5.0, 4.0, 3.0)])
    assert run == 3 and es.stopped_epoch == 0 and es.best == 3.0
    np.testing.assert_array_equal(model.weights[1], np.full(3, 2.0))


# ---------------------------------------------------------- ModelCheckpoint


def test_model_checkpoint_save_best_only_formats_names(tmp_path):
    model = FakeModel()
    path = tmp_path / "w.{epoch:02d}-{val_loss:.2f}.fnn"
    mc = ModelCheckpoint(path, monitor="val_loss", save_best_only=True)
    run_fit(model, [mc], val_losses(0.5, 0.6, 0.4, 0.45, 0.123))
    assert sorted(os.listdir(tmp_path)) == [
        "w.01-0.50.fnn", "w.03-0.40.fnn", "w.05-0.12.fnn"]
    assert [kind for kind, _ in model.saved] == ["model"] * 3
    assert mc.best == 0.123


def test_model_checkpoint_saves_every_epoch_by_default(tmp_path):
    model = FakeModel()
    mc = ModelCheckpoint(str(tmp_path / "e{epoch}.fnn"))
    run_fit(model, [mc], val_losses(0.5, 0.6, 0.7))
    assert sorted(os.listdir(tmp_path)) == ["e1.fnn", "e2.fnn", "e3.fnn"]


def test_model_checkpoint_fixed_name_is_overwritten_on_improvement(tmp_path):
    model = FakeModel()
    target = tmp_path / "best.fnn"
    mc = ModelCheckpoint(target, save_best_only=True, save_weights_only=True)
    run_fit(model, [mc], val_losses(0.5, 0.6, 0.4, 0.7))
    assert os.listdir(tmp_path) == ["best.fnn"]
    assert target.read_text() == "weights"
    assert model.saved == [("weights", str(target))] * 2


def test_model_checkpoint_max_mode_and_initial_threshold(tmp_path):
    model = FakeModel()
    mc = ModelCheckpoint(tmp_path / "{epoch}.fnn", monitor="val_accuracy",
                         save_best_only=True, initial_value_threshold=0.6)
    logs = [{"val_accuracy": a} for a in (0.5, 0.7, 0.65, 0.8)]
    run_fit(model, [mc], logs)
    assert sorted(os.listdir(tmp_path)) == ["2.fnn", "4.fnn"]
    mc_min = ModelCheckpoint(tmp_path / "m{epoch}.fnn", mode="min",
                             monitor="val_accuracy", save_best_only=True)
    run_fit(FakeModel(), [mc_min], logs)
    assert sorted(p for p in os.listdir(tmp_path) if p.startswith("m")) == ["m1.fnn"]


def test_model_checkpoint_missing_monitor_warns_and_saves(tmp_path):
    mc = ModelCheckpoint(tmp_path / "x{epoch}.fnn", save_best_only=True)
    with pytest.warns(UserWarning, match="only with val_loss available"):
        run_fit(FakeModel(), [mc], [{"loss": 1.0}, {"loss": 2.0}])
    assert sorted(os.listdir(tmp_path)) == ["x1.fnn", "x2.fnn"]


def test_model_checkpoint_creates_folders(tmp_path):
    mc = ModelCheckpoint(tmp_path / "run" / "{epoch}" / "model.fnn")
    run_fit(FakeModel(), [mc], val_losses(0.5, 0.4))
    assert (tmp_path / "run" / "1" / "model.fnn").is_file()
    assert (tmp_path / "run" / "2" / "model.fnn").is_file()


def test_model_checkpoint_bad_format_field_names_filepath(tmp_path):
    mc = ModelCheckpoint(tmp_path / "{epoch}-{val_acc:.2f}.fnn")
    with pytest.raises(ValueError, match="filepath.*val_acc"):
        run_fit(FakeModel(), [mc], val_losses(0.5))


def test_model_checkpoint_integer_save_freq(tmp_path):
    model = FakeModel()
    mc = ModelCheckpoint(tmp_path / "e{epoch}-b{batch}.fnn", save_freq=3)
    batch_logs = [[{"loss": 1.0}] * 4, [{"loss": 1.0}] * 4]
    run_fit(model, [mc], val_losses(0.5, 0.4), steps=4, batch_logs=batch_logs)
    # 8 batches in all: saves after the 3rd and 6th (batch 3 of epoch 1
    # is batch index 2 of epoch 2, 1-based 2 in the name); never at epoch end
    assert sorted(os.listdir(tmp_path)) == ["e1-b3.fnn", "e2-b2.fnn"]


def test_model_checkpoint_integer_save_freq_with_chunked_hooks(tmp_path):
    mc = ModelCheckpoint(tmp_path / "b{batch}.fnn", save_freq=4)
    cbs = CallbackList([mc], model=FakeModel(), epochs=1, steps=12)
    cbs.on_train_begin()
    cbs.on_epoch_begin(0)
    for batch in (3, 7, 11):  # the engine reports once per chunk of 4
        cbs.on_train_batch_end(batch, {"loss": 0.5})
    assert sorted(os.listdir(tmp_path)) == ["b12.fnn", "b4.fnn", "b8.fnn"]


def test_model_checkpoint_argument_errors(tmp_path):
    with pytest.raises(ValueError, match="save_freq"):
        ModelCheckpoint(tmp_path / "m.fnn", save_freq="batch")
    with pytest.raises(ValueError, match="save_freq"):
        ModelCheckpoint(tmp_path / "m.fnn", save_freq=0)
    with pytest.raises(TypeError, match="filepath"):
        ModelCheckpoint(3)


def test_model_checkpoint_verbose_messages(tmp_path, capsys):
    path = tmp_path / "m.fnn"
    mc = ModelCheckpoint(path, save_best_only=True, verbose=1)
    run_fit(FakeModel(), [mc], val_losses(0.5, 0.6))
    out = capsys.readouterr().out
    assert f"Epoch 1: val_loss improved from inf to 0.50000, saving model to {path}" in out
    assert "Epoch 2: val_loss did not improve from 0.50000" in out


# -------------------------------------------------------- ReduceLROnPlateau


def lrs_seen_per_epoch(model, callbacks, logs):
    seen = []
    record = LambdaCallback(
        on_epoch_end=lambda epoch, _: seen.append(model.optimizer.learning_rate))
    history, _ = run_fit(model, list(callbacks) + [record], logs)
    return seen, history


def test_reduce_lr_after_patience():
    model = FakeModel(learning_rate=1.0)
    cb = ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=2)
    seen, history = lrs_seen_per_epoch(model, [cb], val_losses(*[1.0] * 7))
    # best at epoch 0; no improvement at 1, 2 -> reduce; 3, 4 -> reduce; ...
    assert seen == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.125]
    # logs carry the rate in force during the epoch, as in Keras
    assert history.history["learning_rate"] == [1.0, 1.0, 1.0, 0.5, 0.5, 0.25, 0.25]


def test_reduce_lr_improvement_resets_wait():
    model = FakeModel(learning_rate=1.0)
    cb = ReduceLROnPlateau(factor=0.5, patience=2)
    seen, _ = lrs_seen_per_epoch(model, [cb], val_losses(1.0, 1.0, 0.5, 0.5, 0.5))
    assert seen == [1.0, 1.0, 1.0, 1.0, 0.5]


def test_reduce_lr_min_delta():
    model = FakeModel(learning_rate=1.0)
    cb = ReduceLROnPlateau(factor=0.5, patience=1, min_delta=0.1)
    seen, _ = lrs_seen_per_epoch(model, [cb], val_losses(1.0, 0.95, 0.5))
    assert seen == [1.0, 0.5, 0.5]


def test_reduce_lr_respects_min_lr():
    model = FakeModel(learning_rate=1.0)
    cb = ReduceLROnPlateau(factor=0.5, patience=1, min_lr=0.3)
    seen, _ = lrs_seen_per_epoch(model, [cb], val_losses(*[1.0] * 5))
    assert seen == [1.0, 0.5, 0.3, 0.3, 0.3]


def test_reduce_lr_cooldown():
    model = FakeModel(learning_rate=1.0)
    cb = ReduceLROnPlateau(factor=0.5, patience=2, cooldown=2)
    seen, _ = lrs_seen_per_epoch(model, [cb], val_losses(*[1.0] * 8))
    # reduce at 2 (cooldown 2: the counter runs down at 3 and 4, and waiting
    # resumes at 4); 4, 5 -> reduce; then the same again
    assert seen == [1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25]
    no_cooldown = ReduceLROnPlateau(factor=0.5, patience=2)
    seen, _ = lrs_seen_per_epoch(FakeModel(learning_rate=1.0), [no_cooldown],
                                 val_losses(*[1.0] * 8))
    assert seen == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.125, 0.125]


def test_reduce_lr_auto_mode_acc_is_maximized(capsys):
    model = FakeModel(learning_rate=0.1)
    cb = ReduceLROnPlateau(monitor="val_acc", patience=1, verbose=1)
    seen, _ = lrs_seen_per_epoch(model, [cb], [{"val_acc": a} for a in (0.5, 0.6, 0.55)])
    assert seen == pytest.approx([0.1, 0.1, 0.01])
    assert "Epoch 3: ReduceLROnPlateau reducing learning rate to" in capsys.readouterr().out


def test_reduce_lr_missing_monitor_warns():
    model = FakeModel(learning_rate=1.0)
    cb = ReduceLROnPlateau(patience=0)
    with pytest.warns(UserWarning, match="`val_loss` which is not available"):
        seen, _ = lrs_seen_per_epoch(model, [cb], [{"loss": 1.0}] * 3)
    assert seen == [1.0, 1.0, 1.0]


def test_reduce_lr_rejects_factor_of_one_or_more():
    with pytest.raises(ValueError, match="factor >= 1.0. Received factor=1.5"):
        ReduceLROnPlateau(factor=1.5)


# ---------------------------------------------------- LearningRateScheduler


def test_lr_scheduler_two_argument_schedule():
    model = FakeModel(learning_rate=1.0)
    cb = LearningRateScheduler(lambda epoch, lr: lr * 0.5 if epoch > 0 else lr)
    seen, history = lrs_seen_per_epoch(model, [cb], [{"loss": 1.0}] * 4)
    assert seen == [1.0, 0.5, 0.25, 0.125]
    assert history.history["learning_rate"] == [1.0, 0.5, 0.25, 0.125]


def test_lr_scheduler_one_argument_schedule(capsys):
    model = FakeModel(learning_rate=1.0)
    cb = LearningRateScheduler(lambda epoch: 0.1 * (epoch + 1), verbose=1)
    seen, _ = lrs_seen_per_epoch(model, [cb], [{"loss": 1.0}] * 3)
    assert seen == pytest.approx([0.1, 0.2, 0.3])
    assert "Epoch 2: LearningRateScheduler setting learning rate to 0.2." in \
        capsys.readouterr().out


def test_lr_scheduler_accepts_numpy_floats():
    model = FakeModel(learning_rate=1.0)
    cb = LearningRateScheduler(lambda epoch, lr: np.float32(0.5))
    seen, _ = lrs_seen_per_epoch(model, [cb], [{"loss": 1.0}])
    assert seen == [0.5] and type(model.optimizer.learning_rate) is float


def test_lr_scheduler_rejects_non_float_output():
    cb = LearningRateScheduler(lambda epoch, lr: 1)
    with pytest.raises(ValueError, match="should be a float. Got: 1"):
        run_fit(FakeModel(), [cb], [{"loss": 1.0}])


def test_lr_scheduler_does_not_hide_type_errors_in_schedule():
    def broken(epoch, lr):
        return lr + "x"

    with pytest.raises(TypeError):
        run_fit(FakeModel(), [LearningRateScheduler(broken)], [{"loss": 1.0}])


def test_lr_scheduler_requires_callable():
    with pytest.raises(TypeError, match="schedule"):
        LearningRateScheduler(0.1)


# ----------------------------------------------------------- TerminateOnNaN


def test_terminate_on_nan_at_epoch_end(capsys):
    model = FakeModel()
    history, run = run_fit(model, [TerminateOnNaN()],
                           [{"loss": 1.0}, {"loss": float("nan")}, {"loss": 0.5}])
    assert run == 2 and model.stop_training
    assert math.isnan(history.history["loss"][1])
    assert "Epoch 2: Invalid loss, terminating training" in capsys.readouterr().out


def test_terminate_on_nan_at_batch_end(capsys):
    model = FakeModel()
    cb = TerminateOnNaN()
    cbs = CallbackList([cb], model=model, epochs=1, steps=8)
    cbs.on_train_begin()
    cbs.on_train_batch_end(2, {"loss": 0.7})
    assert not model.stop_training
    cbs.on_train_batch_end(3, {"loss": np.float32(np.inf)})
    assert model.stop_training
    # the epoch-end check does not repeat the message
    cbs.on_epoch_end(0, {"loss": float("inf")})
    out = capsys.readouterr().out
    assert out.count("Invalid loss") == 1
    assert "Batch 3: Invalid loss, terminating training" in out


def test_terminate_on_nan_ignores_finite_and_missing_losses():
    model = FakeModel()
    _, run = run_fit(model, [TerminateOnNaN()], [{"loss": 1e30}, {"val_loss": 1.0}])
    assert run == 2 and not model.stop_training


def test_terminate_on_nan_raise_error():
    cb = TerminateOnNaN(raise_error=True)
    with pytest.raises(RuntimeError, match="NaN or Inf loss encountered at epoch 1"):
        run_fit(FakeModel(), [cb], [{"loss": float("nan")}])


# ---------------------------------------------------------------- CSVLogger


def read_rows(path, delimiter=","):
    with open(path, newline="") as f:
        return list(csv.reader(f, delimiter=delimiter))


def test_csv_logger_writes_header_and_rows(tmp_path):
    path = tmp_path / "log.csv"
    logs = [{"loss": 0.5, "accuracy": 0.75, "val_loss": 0.625},
            {"loss": 0.25, "accuracy": 0.875, "val_loss": 0.5}]
    run_fit(FakeModel(), [CSVLogger(path)], logs)
    rows = read_rows(path)
    assert rows == [["epoch", "accuracy", "loss", "val_loss"],
                    ["0", "0.75", "0.5", "0.625"],
                    ["1", "0.875", "0.25", "0.5"]]


def test_csv_logger_rows_are_flushed_each_epoch(tmp_path):
    path = tmp_path / "log.csv"
    line_counts = []
    reader = LambdaCallback(
        on_epoch_end=lambda epoch, logs: line_counts.append(len(read_rows(path))))
    run_fit(FakeModel(), [CSVLogger(path), reader], [{"loss": 1.0}] * 3)
    assert line_counts == [2, 3, 4]


def test_csv_logger_separator_and_missing_values(tmp_path):
    path = tmp_path / "log.csv"
    logs = [{"loss": 0.5, "val_loss": 0.6}, {"loss": 0.4}]
    run_fit(FakeModel(), [CSVLogger(path, separator=";")], logs)
    assert read_rows(path, ";") == [["epoch", "loss", "val_loss"],
                                    ["0", "0.5", "0.6"], ["1", "0.4", "NA"]]


def test_csv_logger_append_and_overwrite(tmp_path):
    path = tmp_path / "log.csv"
    run_fit(FakeModel(), [CSVLogger(path)], [{"loss": 1.0}, {"loss": 0.5}])
    run_fit(FakeModel(), [CSVLogger(path, append=True)], [{"loss": 0.25}])
    assert read_rows(path) == [["epoch", "loss"], ["0", "1.0"], ["1", "0.5"],
                               ["0", "0.25"]]
    run_fit(FakeModel(), [CSVLogger(path)], [{"loss": 0.125}])
    assert read_rows(path) == [["epoch", "loss"], ["0", "0.125"]]


def test_csv_logger_append_to_new_file_writes_header(tmp_path):
    path = tmp_path / "new.csv"
    run_fit(FakeModel(), [CSVLogger(path, append=True)], [{"loss": 1.0}])
    assert read_rows(path) == [["epoch", "loss"], ["0", "1.0"]]


def test_csv_logger_closes_file_at_train_end(tmp_path):
    logger = CSVLogger(tmp_path / "log.csv")
    run_fit(FakeModel(), [logger], [{"loss": 1.0}])
    assert logger.csv_file.closed


def test_csv_logger_argument_errors(tmp_path):
    with pytest.raises(ValueError, match="separator"):
        CSVLogger(tmp_path / "x.csv", separator=", ")
    with pytest.raises(TypeError, match="filename"):
        CSVLogger(None)


# ----------------------------------------------------------- LambdaCallback


def test_lambda_callback_calls_given_functions():
    events = []
    cb = LambdaCallback(
        on_train_begin=lambda logs: events.append("train_begin"),
        on_epoch_begin=lambda epoch, logs: events.append(f"epoch_begin {epoch}"),
        on_train_batch_end=lambda batch, logs: events.append(f"batch {batch} {logs['loss']}"),
        on_epoch_end=lambda epoch, logs: events.append(f"epoch_end {epoch} {logs['loss']}"),
        on_train_end=lambda logs: events.append(f"train_end {logs['loss']}"),
    )
    batch_logs = [[{"loss": 0.5}, {"loss": 0.25}], [{"loss": 0.125}]]
    run_fit(FakeModel(), [cb], [{"loss": 1.0}, {"loss": 2.0}], batch_logs=batch_logs)
    assert events == [
        "train_begin",
        "epoch_begin 0", "batch 0 0.5", "batch 1 0.25", "epoch_end 0 1.0",
        "epoch_begin 1", "batch 0 0.125", "epoch_end 1 2.0",
        "train_end 2.0",
    ]


def test_lambda_callback_positional_logs_and_extra_hooks():
    events = []
    # logs reach epoch hooks by position, so any parameter name works
    cb = LambdaCallback(on_epoch_end=lambda e, l: events.append((e, l["loss"])),
                        on_test_end=lambda l: events.append(("test", l["loss"])))
    cbs = CallbackList([cb], model=FakeModel())
    cbs.on_epoch_end(0, {"loss": 1.0})
    cbs.on_test_end({"loss": 2.0})
    assert events == [(0, 1.0), ("test", 2.0)]
    assert not cbs.needs_batch_hooks()


def test_lambda_callback_argument_errors():
    with pytest.raises(TypeError, match="on_epoch_end"):
        LambdaCallback(on_epoch_end="print")
    with pytest.raises(TypeError, match="on_epoch_ned"):
        LambdaCallback(on_epoch_ned=lambda e, l: None)
