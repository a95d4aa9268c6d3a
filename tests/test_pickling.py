"""Models pickle and copy (pickle, copy.copy, copy.deepcopy, joblib, multiprocessing spawn): the copy holds the
weights, optimizer state and generator state, is independent of the original and trains on bitwise like it."""

import copy
import multiprocessing
import pickle

import numpy as np
import pytest

import fastnn
from fastnn.errors import ModelFileError
from fastnn.layers import Dense, Dropout, Input
from _extras import require


def _data(n=96, d=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    return X, (X[:, 0] - X[:, 1] > 0).astype(np.float64)


def _model(dtype="float32", optimizer="adam", functional=False, compiled=True, seed=3):
    fastnn.utils.set_random_seed(seed)
    if functional:
        x = Input(shape=(4,))
        h = Dropout(0.2)(Dense(8, activation="relu")(x))
        model = fastnn.Model(inputs=x, outputs=Dense(1, activation="sigmoid")(h), dtype=dtype)
    else:
        model = fastnn.Sequential([Dense(8, activation="relu", input_shape=(4,)), Dropout(0.2),
                                   Dense(1, activation="sigmoid")], dtype=dtype)
    if compiled:
        model.compile(optimizer=optimizer, loss="binary_crossentropy", metrics=["accuracy"])
    return model


def _same_weights(a, b):
    wa, wb = a.get_weights(), b.get_weights()
    return len(wa) == len(wb) and all(x.dtype == y.dtype and np.array_equal(x, y) for x, y in zip(wa, wb))


def _continue(model, epochs=3):
    X, y = _data()
    return model.fit(X, y, epochs=epochs, batch_size=16, verbose=0).history


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("optimizer", ["adam", "nadam", fastnn.optimizers.SGD(0.05, momentum=0.9, nesterov=True)])
@pytest.mark.parametrize("functional", [False, True])
def test_pickled_copy_trains_on_bitwise_like_the_original(dtype, optimizer, functional):
    model = _model(dtype, copy.deepcopy(optimizer), functional)
    _continue(model, 2)  # optimizer moments, iteration count and generator state are all in use now
    clone = pickle.loads(pickle.dumps(model))
    assert clone is not model and type(clone) is type(model) and clone.name == model.name
    assert clone.dtype == dtype and _same_weights(model, clone)
    assert clone.optimizer.get_config() == model.optimizer.get_config()
    assert clone.optimizer.iterations == model.optimizer.iterations > 0
    h_model, h_clone = _continue(model), _continue(clone)
    assert h_model == h_clone
    assert _same_weights(model, clone)


def test_a_changed_learning_rate_travels():
    model = _model()
    _continue(model, 1)
    model.optimizer.learning_rate = 0.0123
    clone = pickle.loads(pickle.dumps(model))
    assert clone.optimizer.learning_rate == pytest.approx(0.0123)
    assert _continue(model) == _continue(clone)


def test_copy_made_inside_fit_callbacks_resumes_the_run():
    """A copy taken in on_epoch_end of epoch 2 of 5, trained 3 epochs, ends where the original's 5 epochs end."""
    model = _model()
    taken = {}

    def on_epoch_end(epoch, logs):
        if epoch == 1:
            taken["pickled"] = pickle.loads(pickle.dumps(model))
            taken["deep"] = copy.deepcopy(model)

    X, y = _data()
    model.fit(X, y, epochs=5, batch_size=16, verbose=0,
              callbacks=[fastnn.callbacks.LambdaCallback(on_epoch_end=on_epoch_end)])
    for clone in taken.values():
        clone.fit(X, y, epochs=3, batch_size=16, verbose=0)
        assert _same_weights(model, clone)


@pytest.mark.parametrize("how", [copy.copy, copy.deepcopy, lambda m: pickle.loads(pickle.dumps(m))])
def test_copies_are_independent(how):
    model = _model()
    _continue(model, 1)
    before = [w.copy() for w in model.get_weights()]
    clone = how(model)
    _continue(clone, 2)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    assert not _same_weights(model, clone)
    model.set_weights([np.zeros_like(w) for w in before])
    assert not np.array_equal(clone.get_weights()[0], model.get_weights()[0])


def test_uncompiled_and_unbuilt_models_copy():
    model = _model(compiled=False)
    clone = copy.deepcopy(model)
    assert not clone.compiled and _same_weights(model, clone)
    X, _ = _data()
    np.testing.assert_array_equal(model.predict(X, verbose=0), clone.predict(X, verbose=0))

    lazy = fastnn.Sequential([Dense(3, activation="tanh"), Dense(1)], name="lazy")
    lazy.compile(optimizer="sgd", loss="mse")
    clone = pickle.loads(pickle.dumps(lazy))
    assert not clone.built and clone.compiled and clone.name == "lazy"
    assert [l.get_config()["units"] for l in clone.layers] == [3, 1]
    clone.fit(X, X[:, 0], epochs=1, verbose=0)  # builds on first use
    assert clone.built and not lazy.built
    assert copy.copy(fastnn.Sequential(name="empty")).layers == []


def test_a_shared_weights_view_copies_as_an_independent_model():
    model = _model()
    _continue(model, 1)
    view = fastnn.Model(inputs=model.input, outputs=model.layers[0].output)
    clone = pickle.loads(pickle.dumps(view))
    X, _ = _data()
    np.testing.assert_array_equal(clone.predict(X, verbose=0), view.predict(X, verbose=0))
    _continue(model, 1)
    assert not np.array_equal(clone.predict(X, verbose=0), view.predict(X, verbose=0))


def test_the_pickle_holds_the_model_file_bytes_and_is_checked():
    model = _model()
    func, (data,) = model.__reduce__()
    assert isinstance(data, bytes)
    header_len = int.from_bytes(data[:8], "little")
    import json
    header = json.loads(data[8:8 + header_len])  # the safetensors header, with the JSON config in its metadata
    assert json.loads(header["__metadata__"]["fastnn"])["kind"] == "model"
    assert "weights.0.0" in header and "optimizer.slot0" in header
    damaged = bytearray(data)
    damaged[-3] ^= 0x40  # a flipped bit in the weights
    with pytest.raises(ModelFileError, match="checksum"):
        func(bytes(damaged))
    with pytest.raises(ModelFileError):
        func(data[:40])


def test_joblib_dump_load_and_parallel(tmp_path):
    joblib = require("joblib")
    model = _model()
    _continue(model, 1)
    joblib.dump(model, tmp_path / "m.joblib")
    clone = joblib.load(tmp_path / "m.joblib")
    assert _same_weights(model, clone)
    X, _ = _data()
    expected = model.predict(X, verbose=0)
    got = joblib.Parallel(n_jobs=2, backend="loky")(joblib.delayed(_predict)(model, X[i::2]) for i in range(2))
    np.testing.assert_array_equal(got[0], expected[0::2])
    np.testing.assert_array_equal(got[1], expected[1::2])


def _predict(model, X):
    return model.predict(X, verbose=0)


def _train_in_worker(model, threads):
    fastnn.set_num_threads(threads)
    _continue(model, 3)
    return model


def test_multiprocessing_spawn_round_trip():
    model = _model(dtype="float64")
    _continue(model, 1)
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        trained = pool.apply(_train_in_worker, (model, fastnn.get_num_threads()))
    _continue(model, 3)
    assert _same_weights(model, trained)
    assert trained.optimizer.iterations == model.optimizer.iterations


def test_unpickling_without_an_in_memory_file_uses_a_temporary_file(monkeypatch, tmp_path):
    import os
    import tempfile
    model = _model()
    data = pickle.dumps(model)
    monkeypatch.delattr(os, "memfd_create", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    clone = pickle.loads(data)
    assert _same_weights(model, clone)
    assert list(tmp_path.iterdir()) == []  # removed at once
