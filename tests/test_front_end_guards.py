"""Front-end behaviours found in review: a compiled view leaves its owner's settings, frozen layers stay frozen, every
metric form saves and loads, Sequential models keep their Input shape in files, failed add/pop leave a consistent
model, class weights weigh training only, optimizer objects are not shared between engines, History subclasses
run, and tampered files raise ModelFileError."""

import numpy as np
import pytest

import fastnn
from fastnn import Dense, Flatten, Input, Model, Sequential
from fastnn.errors import ModelFileError
from fastnn.saving import read_model_file, write_model_file


def _data(n=64, d=3, seed=0):
    rng = np.random.RandomState(seed)
    x = rng.rand(n, d).astype(np.float32)
    return x, (x.sum(axis=1) > d / 2).astype(np.float32)


def _model(**compile_kw):
    fastnn.utils.set_random_seed(0)
    m = Sequential([Dense(4, activation="relu", input_shape=(3,)), Dense(1, activation="sigmoid")])
    m.compile(**({"optimizer": "adam", "loss": "binary_crossentropy"} | compile_kw))
    return m


def test_a_view_compiled_leaves_its_owner_compile_settings():
    m = _model(metrics=["mae"])
    view = Model(inputs=m.input, outputs=m.output)
    view.compile("sgd", "mse")  # the view trains in an engine of its own (the weights stay shared)
    x, y = _data()
    assert m.evaluate(x, y, verbose=0, return_dict=True).keys() == {"loss", "mae"}
    assert view.evaluate(x, y, verbose=0, return_dict=True).keys() == {"loss"}


def test_frozen_layers_are_not_ignored():
    m = Sequential([Dense(4, input_shape=(3,)), Dense(1)])
    m.layers[0].trainable = False
    m.compile("adam", "mse")
    before = m.layers[0].get_weights()
    x, y = _data()
    m.fit(x, y, epochs=2, verbose=0)
    for a, b in zip(m.layers[0].get_weights(), before):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("metric", ["accuracy", fastnn.metrics.BinaryAccuracy, fastnn.metrics.BinaryAccuracy(),
                                    fastnn.metrics.binary_accuracy])
def test_every_metric_form_saves_and_loads(tmp_path, metric):
    m = _model(metrics=[metric])
    x, y = _data()
    m.fit(x, y, epochs=2, verbose=0)
    m.save(tmp_path / "m.fnn")
    loaded = fastnn.load_model(tmp_path / "m.fnn")
    assert loaded.metrics_names == m.metrics_names
    assert loaded.evaluate(x, y, verbose=0) == m.evaluate(x, y, verbose=0)


def test_sequential_keeps_its_input_shape_in_files(tmp_path):
    m = Sequential([Input(shape=(4, 3)), Flatten(), Dense(2)])
    x = np.random.RandomState(1).rand(8, 4, 3).astype(np.float32)
    m.save(tmp_path / "m.fnn")
    loaded = fastnn.load_model(tmp_path / "m.fnn")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), m.predict(x, verbose=0))
    assert fastnn.models.clone_model(m).predict(x, verbose=0).shape == (8, 2)


def test_a_failed_add_leaves_the_model_as_it_was():
    m = Sequential([Dense(3, input_shape=(2,))])
    with pytest.raises(ValueError, match="expected an input of 5 features"):
        m.add(Dense(2, input_dim=5))
    assert len(m.layers) == 1 and m.predict(np.zeros((1, 2)), verbose=0).shape == (1, 3)
    m.compile("adam", "mse")
    with pytest.raises(ValueError, match="step"):
        m.add(Dense(1, activation="step"))
    assert len(m.layers) == 1
    m.fit(np.zeros((4, 2)), np.zeros((4, 3)), verbose=0)  # still trainable


def test_pop_down_to_no_dense_layer_unbuilds():
    m = Sequential([fastnn.Dropout(0.1, input_shape=(2,)), Dense(3)])
    m.pop()
    assert not m.built and [type(l).__name__ for l in m.layers] == ["Dropout"]


def test_class_weight_weighs_training_batches_only():
    x, y = _data(n=100)
    m = _model(optimizer=fastnn.optimizers.SGD(learning_rate=0.0))
    h = m.fit(x, y, epochs=1, validation_split=0.3, class_weight={0: 10.0, 1: 1.0}, verbose=0)
    assert h.history["val_loss"][0] == pytest.approx(m.evaluate(x[70:], y[70:], verbose=0), rel=1e-6)


def test_an_optimizer_object_drives_one_model():
    opt = fastnn.optimizers.SGD(learning_rate=0.1)
    a, b = _model(optimizer=opt), _model(optimizer=opt)
    a.optimizer.learning_rate = 0.0
    assert b.optimizer.learning_rate == pytest.approx(0.1) and b.optimizer is not a.optimizer


def test_history_subclasses_are_called():
    seen = []

    class MyHistory(fastnn.callbacks.History):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(epoch)
            super().on_epoch_end(epoch, logs)

    x, y = _data()
    _model().fit(x, y, epochs=3, verbose=0, callbacks=[MyHistory()])
    assert seen == [0, 1, 2]


@pytest.mark.parametrize("tamper, message", [
    (lambda t, c: t.update(evil=np.zeros(2, np.float32)), "unexpected tensors"),
    (lambda t, c: c.update(rng_state=["\u00b2"] * 8), "bad generator state"),
    (lambda t, c: c["optimizer_state"].update(iterations=10 ** 30), "iteration count"),
    (lambda t, c: c["optimizer_state"].update(u_product=True), "u_product"),
])
def test_tampered_files_raise_model_file_error(tmp_path, tamper, message):
    m = _model()
    x, y = _data()
    m.fit(x, y, epochs=1, verbose=0)
    m.save(tmp_path / "m.fnn")
    tensors, config = read_model_file(tmp_path / "m.fnn")
    tamper(tensors, config)
    write_model_file(tmp_path / "bad.fnn", tensors, config)
    with pytest.raises(ModelFileError, match=message):
        fastnn.load_model(tmp_path / "bad.fnn")


def test_numpy_scalars_are_accepted_as_hyperparameters(tmp_path):
    fastnn.utils.set_random_seed(np.int64(1))
    m = Sequential([Dense(1, input_shape=(2,), kernel_regularizer=fastnn.regularizers.L2(np.float32(0.01)))])
    m.compile(fastnn.optimizers.Adam(learning_rate=np.float64(0.01), beta_1=np.float32(0.9)), "mse")
    m.fit(np.zeros((4, 2)), np.zeros(4), verbose=0)
    m.save(tmp_path / "m.fnn")  # the config is plain JSON
    assert fastnn.load_model(tmp_path / "m.fnn").optimizer.get_config()["beta_1"] == pytest.approx(0.9)
    assert fastnn.Perceptron(eta=np.float32(0.1)).eta == pytest.approx(0.1)


def test_csv_logger_keeps_validation_columns_with_validation_freq(tmp_path):
    x, y = _data()
    path = tmp_path / "log.csv"
    _model().fit(x, y, epochs=4, validation_split=0.25, validation_freq=2, verbose=0,
                 callbacks=[fastnn.callbacks.CSVLogger(str(path))])
    rows = path.read_text().splitlines()
    assert rows[0] == "epoch,loss,val_loss"
    assert rows[1].endswith(",NA") and not rows[2].endswith(",NA")
