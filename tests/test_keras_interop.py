"""Keras 3 itself (torch backend) reads fastnn's .keras / .weights.h5 files and fastnn reads Keras's.

Needs keras, torch (the CPU wheel) and h5py: the CI job with every extra installs them.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from _extras import require  # noqa: E402

require("h5py")
require("torch")
keras = require("keras")

import fastnn  # noqa: E402
from fastnn.layers import Activation, Dense, Dropout, Flatten  # noqa: E402

if keras.backend.backend() != "torch":  # pragma: no cover - another test imported keras first
    pytest.skip("these tests run Keras on its torch backend", allow_module_level=True)

X = np.random.default_rng(0).normal(size=(32, 4)).astype(np.float32) * 2
KERAS_ACTIVATIONS = [a for a in fastnn.activations.NAMES if a != "step"]  # step has no Keras twin


def keras_predict(model, x):
    return np.asarray(model.predict(x, verbose=0))


@pytest.mark.parametrize("activation", KERAS_ACTIVATIONS)
def test_fastnn_model_loads_in_keras_and_predicts_the_same(tmp_path, activation):
    model = fastnn.Sequential([Dense(6, activation=activation, input_shape=(4,)), Dropout(0.2),
                               Activation(activation), Dense(3, activation="sigmoid")], name="m")
    model.compile(optimizer=fastnn.optimizers.RMSprop(learning_rate=0.02), loss="binary_crossentropy",
                  metrics=["accuracy"])
    model.fit(X, (X[:, :3] > 0).astype(np.float32), epochs=2, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert [l.__class__.__name__ for l in loaded.layers] == ["Dense", "Dropout", "Activation", "Dense"]
    np.testing.assert_allclose(keras_predict(loaded, X), model.predict(X, verbose=0), rtol=0, atol=1e-6)
    assert loaded.optimizer.__class__.__name__ == "RMSprop"
    assert float(loaded.optimizer.learning_rate) == pytest.approx(0.02)


def test_fastnn_functional_float64_and_flatten_models_load_in_keras(tmp_path):
    x = fastnn.Input(shape=(4,), name="features")
    h = Dense(5, activation="tanh", name="hidden")(x)
    func = fastnn.Model(inputs=x, outputs=Dense(2, name="scores")(h), name="func")
    func.save(tmp_path / "f.keras")
    loaded = keras.models.load_model(tmp_path / "f.keras")
    assert loaded.name == "func" and [l.name for l in loaded.layers] == ["features", "hidden", "scores"]
    np.testing.assert_allclose(keras_predict(loaded, X), func.predict(X, verbose=0), rtol=0, atol=1e-6)

    wide = fastnn.Sequential([Dense(3, activation="gelu", input_shape=(4,)), Dense(1)], dtype="float64")
    wide.save(tmp_path / "d.keras")
    loaded = keras.models.load_model(tmp_path / "d.keras")
    assert loaded.layers[0].kernel.dtype == "float64"
    # 1e-6: Keras's own float64 gelu on torch agrees with the erf formula to ~4e-8 only.
    np.testing.assert_allclose(keras_predict(loaded, X.astype(np.float64)), wide.predict(X, verbose=0),
                               rtol=0, atol=1e-6)

    flat = fastnn.Sequential([Flatten(input_shape=(2, 2)), Dense(2, activation="relu")])
    flat.save(tmp_path / "flat.keras")
    loaded = keras.models.load_model(tmp_path / "flat.keras")
    x2 = X.reshape(-1, 2, 2)
    np.testing.assert_allclose(keras_predict(loaded, x2), flat.predict(x2, verbose=0), rtol=0, atol=1e-6)


def keras_sequential():
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu", name="a"),
                              keras.layers.Dropout(0.1), keras.layers.Dense(8, activation="silu",
                                                                           kernel_regularizer="l2"),
                              keras.layers.Activation("hard_sigmoid"), keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="categorical_crossentropy",
                  metrics=["accuracy", keras.metrics.CategoricalAccuracy(name="cat")])
    y = keras.utils.to_categorical(np.argmax(X[:, :3], axis=1), 3)
    model.fit(X, y, epochs=2, verbose=0)
    return model


def test_keras_model_loads_in_fastnn_and_predicts_the_same(tmp_path):
    kmodel = keras_sequential()
    kmodel.save(tmp_path / "k.keras")
    model = fastnn.models.load_model(tmp_path / "k.keras")
    assert [type(l).__name__ for l in model.layers] == ["Dense", "Dropout", "Dense", "Activation", "Dense"]
    assert model.layers[0].name == "a" and model.layers[2].activation_name == "swish"
    assert model.layers[2].kernel_regularizer.l2 == pytest.approx(0.01)
    np.testing.assert_allclose(model.predict(X, verbose=0), keras_predict(kmodel, X), rtol=0, atol=1e-6)
    assert type(model.optimizer).__name__ == "Adam" and model.optimizer.learning_rate == pytest.approx(0.01)
    assert model.loss.engine_name == "categorical_crossentropy"
    assert model.metrics_names == ["loss", "accuracy", "cat"]
    model.fit(X, np.eye(3)[np.argmax(X[:, :3], axis=1)], epochs=1, verbose=0)  # and it trains on


def test_keras_functional_model_and_weights_files_both_ways(tmp_path):
    inputs = keras.Input((4,), name="features")
    h = keras.layers.Dense(5, activation="elu", name="hidden")(inputs)
    h = keras.layers.Dense(5, activation="selu", name="hidden2", use_bias=False)(h)
    kmodel = keras.Model(inputs, keras.layers.Dense(2, name="out")(h), name="kfunc")
    kmodel.save(tmp_path / "k.keras")
    model = fastnn.models.load_model(tmp_path / "k.keras")
    assert isinstance(model, fastnn.Model) and not isinstance(model, fastnn.Sequential)
    assert model.name == "kfunc" and [l.name for l in model.layers] == ["features", "hidden", "hidden2", "out"]
    np.testing.assert_allclose(model.predict(X, verbose=0), keras_predict(kmodel, X), rtol=0, atol=1e-6)

    # Weights files: Keras's into fastnn, fastnn's into Keras.
    kmodel.save_weights(tmp_path / "k.weights.h5")
    model.set_weights([np.zeros_like(w) for w in model.get_weights()])
    model.load_weights(tmp_path / "k.weights.h5")
    np.testing.assert_allclose(model.predict(X, verbose=0), keras_predict(kmodel, X), rtol=0, atol=1e-6)
    model.set_weights([w * 0.5 for w in model.get_weights()])
    model.save_weights(tmp_path / "f.weights.h5")
    kmodel.load_weights(tmp_path / "f.weights.h5")
    np.testing.assert_allclose(keras_predict(kmodel, X), model.predict(X, verbose=0), rtol=0, atol=1e-6)


def test_keras_models_fastnn_cannot_run_are_refused_by_name(tmp_path):
    kmodel = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="mish")])
    kmodel.save(tmp_path / "mish.keras")
    with pytest.raises(fastnn.errors.ModelFileError, match="mish"):
        fastnn.models.load_model(tmp_path / "mish.keras")
    lam = keras.Sequential([keras.Input((4,)), keras.layers.Lambda(lambda t: t * 2), keras.layers.Dense(1)])
    lam.save(tmp_path / "lambda.keras")
    with pytest.raises(fastnn.errors.ModelFileError, match="Lambda"):
        fastnn.models.load_model(tmp_path / "lambda.keras")



def test_normalization_layers_both_ways(tmp_path):
    from fastnn import layers as L
    fastnn.utils.set_random_seed(7)
    norm = L.Normalization()
    norm.adapt(X * 3 + 1)
    model = fastnn.Sequential([fastnn.Input(shape=(4,)), norm, Dense(6, activation="tanh"),
                               L.BatchNormalization(momentum=0.5), L.LayerNormalization(epsilon=1e-2, center=False),
                               L.Rescaling(0.5, offset=0.25), L.UnitNormalization(),
                               L.Normalization(mean=[0.1] * 6, variance=[2.0] * 6, invert=True),
                               L.BatchNormalization(scale=False), Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(X, X[:, :2], epochs=3, verbose=0)
    model.save(tmp_path / "n.keras")
    loaded = keras.models.load_model(tmp_path / "n.keras")
    np.testing.assert_allclose(keras_predict(loaded, X), model.predict(X, verbose=0), rtol=0, atol=1e-5)

    keras.utils.set_random_seed(8)
    knorm = keras.layers.Normalization()
    knorm.adapt(X * 2 - 1)
    kmodel = keras.Sequential([keras.Input((4,)), knorm, keras.layers.Dense(5), keras.layers.BatchNormalization(),
                               keras.layers.LayerNormalization(), keras.layers.UnitNormalization(),
                               keras.layers.Rescaling(2.0), keras.layers.Dense(1)])
    kmodel.compile(optimizer="adam", loss="mse")
    kmodel.fit(X, X[:, :1], epochs=2, verbose=0)
    kmodel.save(tmp_path / "k.keras")
    back = fastnn.models.load_model(tmp_path / "k.keras")
    np.testing.assert_allclose(back.predict(X, verbose=0), keras_predict(kmodel, X), rtol=0, atol=1e-5)


def test_compile_settings_with_schedules_and_stateful_metrics_both_ways(tmp_path):
    from fastnn.optimizers import schedules
    model = fastnn.Sequential([Dense(4, activation="relu", input_shape=(4,)), Dense(1, activation="sigmoid")])
    model.compile(optimizer=fastnn.optimizers.Adam(schedules.ExponentialDecay(0.01, decay_steps=10, decay_rate=0.5)),
                  loss=fastnn.losses.BinaryCrossentropy(label_smoothing=0.1),
                  metrics=[fastnn.metrics.AUC(name="auc"), "accuracy"], weighted_metrics=["mse"])
    model.save(tmp_path / "f.keras")
    loaded = keras.models.load_model(tmp_path / "f.keras")
    lr = loaded.optimizer.learning_rate
    assert type(loaded.optimizer._learning_rate).__name__ == "ExponentialDecay" and float(lr) == pytest.approx(0.01)
    assert loaded.loss.get_config()["label_smoothing"] == pytest.approx(0.1)

    keras_model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    keras_model.compile(optimizer=keras.optimizers.SGD(keras.optimizers.schedules.PiecewiseConstantDecay(
        [5, 10], [0.1, 0.01, 0.001]), momentum=0.5), loss=keras.losses.Huber(delta=2.0),
        metrics=[keras.metrics.RootMeanSquaredError(name="rmse")], weighted_metrics=["mae"])
    keras_model.save(tmp_path / "k.keras")
    back = fastnn.models.load_model(tmp_path / "k.keras")
    assert type(back.optimizer).__name__ == "SGD" and back.optimizer.get_config()["momentum"] == 0.5
    assert back.optimizer.get_config()["learning_rate"]["class_name"] == "PiecewiseConstantDecay"
    assert type(back.loss).__name__ == "Huber"  # (Keras's Huber.get_config leaves delta out of its own files)
    history = back.fit(X, X[:, :1], epochs=1, verbose=0)
    assert {"rmse", "mae"} <= set(history.history)



def test_every_layer_kind_and_nested_models_load_in_keras(tmp_path):
    from fastnn import layers as L
    fastnn.utils.set_random_seed(5)
    inner = fastnn.Sequential([Dense(6, activation="tanh", input_shape=(4,)), L.PReLU(alpha_initializer="ones")],
                              name="inner")
    model = fastnn.Sequential([inner, L.ReLU(max_value=3.0, negative_slope=0.1, threshold=0.2), L.LeakyReLU(0.25),
                               L.ELU(alpha=0.7), L.GaussianNoise(0.1), L.GaussianDropout(0.2), L.AlphaDropout(0.1),
                               L.Identity(), Dense(3), L.Softmax()], name="every")
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    model.fit(X, np.eye(3)[np.argmax(X[:, :3], axis=1)], epochs=2, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert [l.__class__.__name__ for l in loaded.layers] == [type(l).__name__ for l in model.layers]
    np.testing.assert_allclose(keras_predict(loaded, X), model.predict(X, verbose=0), rtol=0, atol=1e-6)


def test_keras_nested_and_activation_layer_models_load_in_fastnn(tmp_path):
    keras.utils.set_random_seed(6)
    base = keras.Sequential([keras.Input((4,)), keras.layers.Dense(5), keras.layers.PReLU(
        alpha_initializer=keras.initializers.Constant(0.3))], name="base")
    inputs = keras.Input((4,), name="x")
    h = base(inputs)
    h = keras.layers.ReLU(max_value=2.0, negative_slope=0.05)(h)
    h = keras.layers.LeakyReLU(negative_slope=0.2)(h)
    h = keras.layers.ELU(alpha=0.5)(h)
    h = keras.layers.GaussianNoise(0.3)(h)
    h = keras.layers.Dense(3)(h)
    kmodel = keras.Model(inputs, keras.layers.Softmax()(h))
    kmodel.save(tmp_path / "k.keras")
    model = fastnn.models.load_model(tmp_path / "k.keras")
    assert [type(l).__name__ for l in model.layers] == ["InputLayer", "Sequential", "ReLU", "LeakyReLU", "ELU",
                                                         "GaussianNoise", "Dense", "Softmax"]
    np.testing.assert_allclose(model.predict(X, verbose=0), keras_predict(kmodel, X), rtol=0, atol=1e-6)


def test_mixed_bfloat16_layers_keep_their_policy(tmp_path):
    model = fastnn.Sequential([Dense(4, activation="relu", input_shape=(4,), dtype="mixed_bfloat16"), Dense(1)])
    model.save(tmp_path / "bf.keras")
    loaded = keras.models.load_model(tmp_path / "bf.keras")
    assert loaded.layers[0].dtype_policy.name == "mixed_bfloat16" and loaded.layers[1].dtype_policy.name == "float32"
    back = fastnn.models.load_model(tmp_path / "bf.keras")
    assert back.layers[0].dtype_policy.name == "mixed_bfloat16" and back.dtype == "float32"
    np.testing.assert_array_equal(back.predict(X, verbose=0), model.predict(X, verbose=0))
    # bfloat16 products round differently in Keras (torch) and in fastnn: close, not equal
    np.testing.assert_allclose(keras_predict(loaded, X), model.predict(X, verbose=0), rtol=0, atol=0.05)
