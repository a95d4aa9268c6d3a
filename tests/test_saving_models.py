"""model.save / fastnn.models.load_model and save_weights / load_weights: bitwise round trips, training that
continues exactly where it stopped (optimizer state restored), and files crafted to be wrong or hostile, which
must raise fastnn.errors.ModelFileError (a ValueError) before anything is built."""

import copy

import numpy as np
import pytest

import fastnn
from fastnn import Input, Model, Sequential
from fastnn.errors import ModelFileError
from fastnn.layers import Dense, Dropout
from fastnn.models import load_model
from fastnn.saving import read_model_file, write_model_file

RNG = np.random.default_rng(0)
X = RNG.normal(size=(48, 4))
Y = (X[:, 0] - X[:, 1] > 0).astype(np.float64)


def sequential(dtype="float32", optimizer="adam", dropout=0.25):
    fastnn.utils.set_random_seed(0)
    model = Sequential([Dense(8, input_shape=(4,), activation="relu"), Dropout(dropout),
                        Dense(1, activation="sigmoid")], dtype=dtype)
    if optimizer is not None:
        model.compile(optimizer=optimizer, loss="binary_crossentropy", metrics=["accuracy"])
    return model


def functional(dtype="float32", optimizer="adam"):
    fastnn.utils.set_random_seed(0)
    x = Input(shape=(4,))
    h = Dense(6, activation="tanh", kernel_regularizer=fastnn.regularizers.l2(0.01))(x)
    out = Dense(1, activation="sigmoid", use_bias=False)(h)
    model = Model(inputs=x, outputs=out, dtype=dtype)
    if optimizer is not None:
        model.compile(optimizer=optimizer, loss="binary_crossentropy", metrics=["accuracy"])
    return model


def same_weights(a, b):
    return len(a) == len(b) and all(p.dtype == q.dtype and np.array_equal(p, q) for p, q in zip(a, b))


def fit(model, epochs):
    return model.fit(X, Y, epochs=epochs, batch_size=8, shuffle=False, verbose=0)


@pytest.mark.parametrize("build", [sequential, functional])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_save_and_load_give_bitwise_equal_predictions(tmp_path, build, dtype):
    model = build(dtype)
    fit(model, 2)
    path = tmp_path / "model.fnn"
    model.save(path)
    loaded = load_model(path)
    assert type(loaded) is type(model) and loaded.name == model.name and loaded.dtype == dtype
    assert [l.name for l in loaded.layers] == [l.name for l in model.layers]
    assert same_weights(loaded.get_weights(), model.get_weights())
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), model.predict(X, verbose=0))
    assert loaded.compiled and loaded.metrics_names == ["loss", "accuracy"]
    assert loaded.evaluate(X, Y, verbose=0) == model.evaluate(X, Y, verbose=0)


@pytest.mark.parametrize("build", [sequential, functional])
def test_uncompiled_models_round_trip(tmp_path, build):
    model = build(optimizer=None)
    model.save(tmp_path / "m.fnn")
    loaded = load_model(tmp_path / "m.fnn")
    assert not loaded.compiled
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), model.predict(X, verbose=0))


def test_load_with_compile_false_skips_the_compile_settings(tmp_path):
    model = sequential()
    model.save(tmp_path / "m.fnn")
    loaded = load_model(tmp_path / "m.fnn", compile=False)
    assert not loaded.compiled
    with pytest.raises(ValueError, match="must be compiled first"):
        loaded.fit(X, Y, verbose=0)


@pytest.mark.parametrize("optimizer", ["sgd", "rmsprop", "adagrad", "adadelta", "adam", "adamw", "adamax", "nadam",
                                       fastnn.optimizers.SGD(learning_rate=0.05, momentum=0.9, nesterov=True),
                                       fastnn.optimizers.RMSprop(centered=True, momentum=0.5),
                                       fastnn.optimizers.Adam(amsgrad=True)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_training_continues_after_load_exactly_as_without_interruption(tmp_path, optimizer, dtype):
    # Dropout rate 0 and shuffle=False: the engine's random streams are not part of the file (see the report).
    uninterrupted = sequential(dtype, copy.deepcopy(optimizer), dropout=0.0)
    fit(uninterrupted, 4)
    first_half = sequential(dtype, copy.deepcopy(optimizer), dropout=0.0)
    fit(first_half, 2)
    first_half.save(tmp_path / "half.fnn")
    resumed = load_model(tmp_path / "half.fnn")
    assert resumed.optimizer.iterations == first_half.optimizer.iterations == 12
    assert resumed.optimizer.get_config() == first_half.optimizer.get_config()
    fit(resumed, 2)
    assert same_weights(resumed.get_weights(), uninterrupted.get_weights())


def test_save_without_optimizer_state_restarts_the_optimizer(tmp_path):
    model = sequential()
    fit(model, 2)
    model.save(tmp_path / "m.fnn", include_optimizer=False)
    loaded = load_model(tmp_path / "m.fnn")
    assert loaded.compiled and loaded.optimizer.iterations == 0
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), model.predict(X, verbose=0))


def test_learning_rate_changed_before_saving_is_kept(tmp_path):
    model = sequential()
    fit(model, 1)
    model.optimizer.learning_rate = 0.0123
    model.save(tmp_path / "m.fnn")
    assert load_model(tmp_path / "m.fnn").optimizer.learning_rate == pytest.approx(0.0123)


def test_save_weights_and_load_weights(tmp_path):
    model = functional()
    fit(model, 2)
    model.save_weights(tmp_path / "w.weights.fnn")
    other = functional()
    assert not same_weights(other.get_weights(), model.get_weights())
    other.load_weights(tmp_path / "w.weights.fnn")
    assert same_weights(other.get_weights(), model.get_weights())
    model.save(tmp_path / "full.fnn")
    third = functional()
    third.load_weights(tmp_path / "full.fnn")  # a full model file holds the weights too
    assert same_weights(third.get_weights(), model.get_weights())


def test_load_weights_refuses_another_architecture(tmp_path):
    sequential().save_weights(tmp_path / "w.weights.fnn")
    with pytest.raises(ModelFileError, match="shape"):
        functional().load_weights(tmp_path / "w.weights.fnn")


def test_save_does_not_overwrite_when_asked(tmp_path):
    path = tmp_path / "m.fnn"
    sequential().save(path)
    with pytest.raises(FileExistsError):
        sequential().save(path, overwrite=False)


def test_weights_file_is_not_a_model_file(tmp_path):
    sequential().save_weights(tmp_path / "w.weights.fnn")
    with pytest.raises(ModelFileError, match="not a fastnn model file"):
        load_model(tmp_path / "w.weights.fnn")


# ------------------------------------------------------------------ crafted files
@pytest.fixture
def saved(tmp_path):
    """(tensors, config) of a saved compiled Sequential, to be altered and written back."""
    model = sequential()
    fit(model, 1)
    model.save(tmp_path / "good.fnn")
    return read_model_file(tmp_path / "good.fnn")


def write_and_load(tmp_path, tensors, config):
    path = tmp_path / "crafted.fnn"
    write_model_file(path, tensors, config)
    return load_model(path)


def test_the_crafting_helpers_round_trip_a_good_file(tmp_path, saved):
    assert isinstance(write_and_load(tmp_path, *saved), Sequential)


# layers[0] is the InputLayer (saved first, as Keras 3 does), layers[1] the first Dense, layers[2] the Dropout
@pytest.mark.parametrize("change, message", [
    (lambda c: c["model"]["layers"][1].update(class_name="Lambda"), "unknown layer type 'Lambda'"),
    (lambda c: c["model"]["layers"][1]["config"].update(activation="os.system"), "Unknown activation"),
    (lambda c: c["model"]["layers"][1]["config"].update(units=10 ** 12), "units must be an integer"),
    (lambda c: c["model"]["layers"][1]["config"].update(units=-3), "units must be an integer"),
    (lambda c: c["model"]["layers"][1]["config"].update(input_dim=10 ** 9), "input_dim must be an integer"),
    (lambda c: c["model"]["layers"][1]["config"].update(function="print"), "unexpected settings"),
    (lambda c: c["model"]["layers"][2]["config"].update(rate=7), "invalid Dropout settings"),
    (lambda c: c["model"].update(class_name="Subclassed"), "Sequential or Functional"),
    (lambda c: c["model"].update(dtype="int8"), "dtype must be float32 or float64"),
    (lambda c: c["model"].update(layers=[]), r"expected a list of 1 to \d+ layers"),
    (lambda c: c["model"]["layers"][1]["config"].update(
        kernel_initializer={"class_name": "subprocess", "config": {}}), "unknown initializer"),
    (lambda c: c["compile"].update(loss={"name": "eval", "from_logits": False}), "invalid compile settings"),
    (lambda c: c["compile"]["optimizer"].update(class_name="Pickle"), "invalid compile settings"),
    (lambda c: c["compile"]["optimizer"]["config"].update(learning_rate=-1), "invalid compile settings"),
    (lambda c: c.update(kind="dataset"), "not a fastnn model file"),
])
def test_hostile_or_damaged_configs_raise_model_file_error(tmp_path, saved, change, message):
    tensors, config = saved
    change(config)
    with pytest.raises(ModelFileError, match=message):
        write_and_load(tmp_path, tensors, config)


def test_missing_tensor(tmp_path, saved):
    tensors, config = saved
    del tensors["weights.2.0"]  # op 1 is the Dropout, which has no weights
    with pytest.raises(ModelFileError, match=r"missing \['weights.2.0'\]"):
        write_and_load(tmp_path, tensors, config)


def test_extra_tensor(tmp_path, saved):
    tensors, config = saved
    tensors["weights.9.0"] = np.zeros((2, 2), dtype=np.float32)
    with pytest.raises(ModelFileError, match=r"unexpected \['weights.9.0'\]"):
        write_and_load(tmp_path, tensors, config)


def test_misshaped_tensor(tmp_path, saved):
    tensors, config = saved
    tensors["weights.0.0"] = np.zeros((5, 8), dtype=np.float32)
    with pytest.raises(ModelFileError, match=r"wrong shape \['weights.0.0'\]"):
        write_and_load(tmp_path, tensors, config)


def test_tensor_of_the_wrong_dtype(tmp_path, saved):
    tensors, config = saved
    tensors["weights.0.1"] = tensors["weights.0.1"].astype(np.float64)
    with pytest.raises(ModelFileError, match="float64"):
        write_and_load(tmp_path, tensors, config)


def test_units_that_disagree_with_the_tensors(tmp_path, saved):
    tensors, config = saved
    config["model"]["layers"][1]["config"]["units"] = 9
    with pytest.raises(ModelFileError, match="layer 3 expects 8 inputs, the previous gives 9"):
        write_and_load(tmp_path, tensors, config)


def test_missing_or_misshaped_optimizer_state(tmp_path, saved):
    tensors, config = saved
    bad = dict(tensors)
    del bad["optimizer.slot0"]
    with pytest.raises(ModelFileError, match="optimizer slot 0"):
        write_and_load(tmp_path, bad, config)
    bad = dict(tensors, **{"optimizer.slot1": np.zeros(3, dtype=np.float32)})
    with pytest.raises(ModelFileError, match="optimizer slot 1"):
        write_and_load(tmp_path, bad, config)
    config["optimizer_state"]["iterations"] = -5
    with pytest.raises(ModelFileError, match="iteration count"):
        write_and_load(tmp_path, tensors, config)


def test_truncated_file(tmp_path):
    sequential().save(tmp_path / "m.fnn")
    data = (tmp_path / "m.fnn").read_bytes()
    (tmp_path / "cut.fnn").write_bytes(data[:len(data) // 2])
    with pytest.raises(ModelFileError):
        load_model(tmp_path / "cut.fnn")


def test_model_file_error_is_a_value_error():
    assert issubclass(ModelFileError, ValueError)
