"""Every callback's effect inside a real fit: EarlyStopping (restore_best_weights, bitwise), ModelCheckpoint
(save_best_only files that load), ReduceLROnPlateau and LearningRateScheduler (the engine uses the new rate),
TerminateOnNaN (stops at the first non-finite batch, weights finite), CSVLogger and LambdaCallback.

The validation target is half the training target: a linear model trained by SGD first approaches it, then
passes it, so the validation loss falls for a few epochs and then rises (best epoch 3 of 0..)."""

import csv

import numpy as np
import pytest

import fastnn
from fastnn import Sequential
from fastnn.callbacks import (CSVLogger, EarlyStopping, LambdaCallback, LearningRateScheduler, ModelCheckpoint,
                              ReduceLROnPlateau, TerminateOnNaN)
from fastnn.layers import Dense

RNG = np.random.default_rng(0)
X = RNG.normal(size=(40, 3))
Y = X @ np.array([1.0, 2.0, 3.0]) + 0.5
VAL = (X, 0.5 * Y)


def linear_model(lr=0.02):
    fastnn.utils.set_random_seed(0)
    model = Sequential([Dense(1, input_shape=(3,))], dtype="float64")
    model.compile(optimizer=fastnn.optimizers.SGD(learning_rate=lr), loss="mse", metrics=["mae"])
    return model


class Recorder(LambdaCallback):
    """Keeps a copy of the weights and logs at the end of every epoch."""

    def __init__(self):
        super().__init__()
        self.weights, self.logs = [], []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append(self.model.get_weights())
        self.logs.append(dict(logs))


def same_weights(a, b):
    return len(a) == len(b) and all(np.array_equal(p, q) for p, q in zip(a, b))


def numpy_sgd(x, y, lrs, batch_size):
    """The linear model's weights after one epoch per learning rate in `lrs` (batches in order, mse)."""
    kernel, bias = linear_model().get_weights()
    for lr in lrs:
        for start in range(0, len(x), batch_size):
            xb, yb = x[start:start + batch_size], y[start:start + batch_size]
            g = 2 * (xb @ kernel[:, 0] + bias[0] - yb) / len(xb)
            kernel, bias = kernel - lr * (xb.T @ g)[:, None], bias - lr * g.sum()
    return kernel, bias


@pytest.fixture
def no_finite_check():
    fastnn.config.set_check_finite(False)
    yield
    fastnn.config.set_check_finite(True)


def test_early_stopping_restores_the_best_epochs_weights_bitwise():
    model, rec = linear_model(), Recorder()
    stop = EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    history = model.fit(X, Y, epochs=50, batch_size=8, shuffle=False, verbose=0, validation_data=VAL,
                        callbacks=[rec, stop])
    val = history.history["val_loss"]
    best = int(np.argmin(val))
    assert best == 3 and len(val) == best + 3  # stopped after `patience` epochs without improvement
    assert stop.stopped_epoch == best + 2 and stop.best_epoch == best
    assert same_weights(model.get_weights(), rec.weights[best])
    assert not same_weights(model.get_weights(), rec.weights[-1])


def test_early_stopping_without_restore_keeps_the_last_weights(capsys):
    model, rec = linear_model(), Recorder()
    stop = EarlyStopping(monitor="val_loss", patience=2, verbose=1)
    model.fit(X, Y, epochs=50, batch_size=8, shuffle=False, verbose=0, validation_data=VAL, callbacks=[rec, stop])
    assert same_weights(model.get_weights(), rec.weights[-1])
    assert "Epoch 6: early stopping" in capsys.readouterr().out


def test_early_stopping_on_a_training_metric_with_mode_max():
    model = linear_model()
    stop = EarlyStopping(monitor="mae", mode="max", patience=1)
    history = model.fit(X, Y, epochs=20, verbose=0, callbacks=[stop])
    assert len(history.history["loss"]) == 2  # mae falls from the start: no improvement in "max" mode


def test_model_checkpoint_save_best_only_writes_the_best_model(tmp_path):
    path = tmp_path / "best.keras"
    model, rec = linear_model(), Recorder()
    check = ModelCheckpoint(str(path), monitor="val_loss", save_best_only=True)
    history = model.fit(X, Y, epochs=8, batch_size=8, shuffle=False, verbose=0, validation_data=VAL,
                        callbacks=[rec, check])
    best = int(np.argmin(history.history["val_loss"]))
    loaded = fastnn.models.load_model(path)
    assert same_weights(loaded.get_weights(), rec.weights[best])
    assert check.best == history.history["val_loss"][best]
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), _predict_with(rec.weights[best]))


def _predict_with(weights):
    model = linear_model()
    model.set_weights(weights)
    return model.predict(X, verbose=0)


def test_model_checkpoint_every_epoch_with_formatted_names(tmp_path):
    model, rec = linear_model(), Recorder()
    pattern = str(tmp_path / "ckpt-{epoch:02d}-{loss:.3f}.keras")
    model.fit(X, Y, epochs=3, batch_size=8, shuffle=False, verbose=0, callbacks=[rec, ModelCheckpoint(pattern)])
    files = sorted(tmp_path.iterdir())
    assert [f.name for f in files] == [f"ckpt-{e + 1:02d}-{rec.logs[e]['loss']:.3f}.keras" for e in range(3)]
    for f, weights in zip(files, rec.weights):
        assert same_weights(fastnn.models.load_model(f).get_weights(), weights)


def test_model_checkpoint_weights_only_loads_into_a_new_model(tmp_path):
    path = tmp_path / "w.weights.h5"
    model = linear_model()
    model.fit(X, Y, epochs=2, verbose=0, callbacks=[ModelCheckpoint(str(path), monitor="loss",
                                                                     save_weights_only=True)])
    fresh = linear_model()
    fresh.load_weights(path)
    assert same_weights(fresh.get_weights(), model.get_weights())


def test_reduce_lr_on_plateau_changes_the_rate_the_engine_uses():
    model, rec = linear_model(lr=0.05), Recorder()
    reduce = ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, min_delta=1e9)  # nothing improves
    history = model.fit(X, Y, epochs=3, batch_size=40, shuffle=False, verbose=0, callbacks=[reduce, rec])
    # Epoch 0 sets the best value; epochs 1 and 2 fail to improve and halve the rate at their end.
    assert history.history["learning_rate"] == pytest.approx([0.05, 0.05, 0.025], rel=1e-12)
    assert model.optimizer.learning_rate == pytest.approx(0.0125, rel=1e-12)
    kernel, bias = numpy_sgd(X, Y, [0.05, 0.05, 0.025], 40)
    np.testing.assert_allclose(model.get_weights()[0], kernel, rtol=1e-12)
    np.testing.assert_allclose(model.get_weights()[1], bias, rtol=1e-12)


def test_reduce_lr_on_plateau_respects_min_lr():
    model = linear_model(lr=0.05)
    model.fit(X, Y, epochs=6, verbose=0,
              callbacks=[ReduceLROnPlateau(monitor="loss", factor=0.1, patience=1, min_delta=1e9, min_lr=0.001)])
    assert model.optimizer.learning_rate == pytest.approx(0.001)


def test_learning_rate_scheduler_sets_the_rate_each_epoch(capsys):
    model = linear_model(lr=0.04)
    sched = LearningRateScheduler(lambda epoch, lr: lr if epoch == 0 else lr / 2, verbose=1)
    history = model.fit(X, Y, epochs=3, batch_size=8, shuffle=False, verbose=0, callbacks=[sched])
    assert history.history["learning_rate"] == pytest.approx([0.04, 0.02, 0.01], rel=1e-12)
    kernel, bias = numpy_sgd(X, Y, [0.04, 0.02, 0.01], 8)
    np.testing.assert_allclose(model.get_weights()[0], kernel, rtol=1e-12)
    np.testing.assert_allclose(model.get_weights()[1], bias, rtol=1e-12)
    assert "Epoch 3: LearningRateScheduler setting learning rate to 0.01." in capsys.readouterr().out


def test_learning_rate_scheduler_with_a_one_argument_schedule():
    model = linear_model()
    model.fit(X, Y, epochs=2, verbose=0, callbacks=[LearningRateScheduler(lambda epoch: 0.001 * (epoch + 1))])
    assert model.optimizer.learning_rate == pytest.approx(0.002)


def test_terminate_on_nan_stops_at_the_first_bad_batch_with_finite_weights(no_finite_check, capsys):
    y = Y.copy()
    y[20] = np.nan  # sample 20 is in batch 2 (batches of 8, in order)
    model = linear_model()
    history = model.fit(X, y, epochs=5, batch_size=8, shuffle=False, verbose=0, callbacks=[TerminateOnNaN()])
    assert len(history.history["loss"]) == 1 and np.isnan(history.history["loss"][0])
    assert all(np.isfinite(w).all() for w in model.get_weights())
    reference = linear_model()
    reference.fit(X[:16], Y[:16], epochs=1, batch_size=8, shuffle=False, verbose=0)  # the two good batches
    assert same_weights(model.get_weights(), reference.get_weights())
    assert "Invalid loss, terminating training" in capsys.readouterr().out


def test_terminate_on_nan_reports_the_bad_batch_to_batch_callbacks(no_finite_check):
    y = Y.copy()
    y[20] = np.nan
    seen = []
    watch = LambdaCallback(on_train_batch_end=lambda batch, logs: seen.append((batch, logs["loss"])))
    linear_model().fit(X, y, epochs=3, batch_size=8, shuffle=False, verbose=0, callbacks=[TerminateOnNaN(), watch])
    assert [b for b, _ in seen] == [0, 1, 2]
    assert np.isfinite(seen[1][1]) and np.isnan(seen[2][1])


def test_training_without_terminate_on_nan_warns_and_continues(no_finite_check):
    y = Y.copy()
    y[20] = np.inf
    with pytest.warns(RuntimeWarning, match="the training loss is"):
        history = linear_model().fit(X, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    assert len(history.history["loss"]) == 2


def test_csv_logger_writes_one_row_per_epoch(tmp_path):
    path = tmp_path / "log.csv"
    model = linear_model()
    history = model.fit(X, Y, epochs=3, verbose=0, validation_data=VAL, callbacks=[CSVLogger(str(path))])
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["epoch", "loss", "mae", "val_loss", "val_mae"]
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    for key in ("loss", "mae", "val_loss", "val_mae"):
        assert [float(r[key]) for r in rows] == history.history[key]
    model.fit(X, Y, epochs=1, verbose=0, validation_data=VAL, callbacks=[CSVLogger(str(path), append=True)])
    with open(path, newline="") as f:
        assert len(list(csv.DictReader(f))) == 4


def test_lambda_callback_hooks_run_in_order_with_logs():
    events = []
    cb = LambdaCallback(
        on_train_begin=lambda logs: events.append("train_begin"),
        on_epoch_begin=lambda epoch, logs: events.append(f"epoch_begin {epoch}"),
        on_train_batch_end=lambda batch, logs: events.append(f"batch {batch}"),
        on_epoch_end=lambda epoch, logs: events.append(f"epoch_end {epoch} {sorted(logs)}"),
        on_train_end=lambda logs: events.append("train_end"))
    history = linear_model().fit(X, Y, epochs=2, batch_size=16, verbose=0, validation_split=0.2, callbacks=[cb])
    keys = ["loss", "mae", "val_loss", "val_mae"]
    assert events == ["train_begin",
                      "epoch_begin 0", "batch 0", "batch 1", f"epoch_end 0 {keys}",
                      "epoch_begin 1", "batch 0", "batch 1", f"epoch_end 1 {keys}",
                      "train_end"]
    assert len(history.history["loss"]) == 2


def test_a_callback_can_stop_training():
    stopper = LambdaCallback(on_epoch_end=lambda epoch, logs: setattr(model, "stop_training", epoch == 1))
    model = linear_model()
    history = model.fit(X, Y, epochs=10, verbose=0, callbacks=[stopper])
    assert history.epoch == [0, 1]
