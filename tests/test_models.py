"""Models end to end: Sequential and functional construction, learning on small seeded problems, sub-models that
share trained weights, per-layer activations, weights in Keras's shapes, get_layer, count_params, float64."""

import numpy as np
import pytest

import fastnn
from fastnn import Input, Model, Sequential
from fastnn.layers import Activation, Dense, Dropout, Flatten


def blobs(n_per_class, centers, seed=0):
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.normal(c, 0.5, size=(n_per_class, len(c))) for c in centers]).astype(np.float32)
    y = np.repeat(np.arange(len(centers)), n_per_class)
    order = rng.permutation(len(y))
    return x[order], y[order]


def relu(z):
    return np.maximum(z, 0.0)


def test_regression_learns_a_linear_function():
    fastnn.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=(256, 3)).astype(np.float32)
    y = x @ np.array([1.5, -2.0, 0.5]) + 0.3
    model = Sequential([Dense(16, activation="relu", input_shape=(3,)), Dense(1)])
    model.compile(optimizer=fastnn.optimizers.Adam(learning_rate=0.01), loss="mse", metrics=["mae"])
    history = model.fit(x, y, epochs=60, batch_size=32, verbose=0)
    assert history.history["loss"][-1] < 0.01 < history.history["loss"][0]
    mse, mae = model.evaluate(x, y, verbose=0)
    assert mse < 0.01 and mae < 0.1
    np.testing.assert_allclose(model.predict(x, verbose=0)[:, 0], y, atol=0.3)


def test_binary_classification_reaches_high_accuracy():
    fastnn.utils.set_random_seed(1)
    x, y = blobs(100, [(-1.0, -1.0), (1.0, 1.0)])
    model = Sequential([Dense(8, activation="relu", input_dim=2), Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=40, batch_size=16, verbose=0)
    assert history.history["accuracy"][-1] >= 0.95
    predicted = (model.predict(x, verbose=0)[:, 0] > 0.5).astype(int)
    assert np.mean(predicted == y) >= 0.95
    assert model.evaluate(x, y, verbose=0, return_dict=True)["accuracy"] == pytest.approx(np.mean(predicted == y))


def test_multiclass_classification_with_one_hot_and_sparse_labels():
    x, y = blobs(60, [(-2.0, 0.0), (2.0, 0.0), (0.0, 2.5)])
    for loss, targets in (("categorical_crossentropy", fastnn.utils.to_categorical(y)),
                          ("sparse_categorical_crossentropy", y)):
        fastnn.utils.set_random_seed(2)
        model = Sequential([Input(shape=(2,)), Dense(16, activation="relu"), Dense(3, activation="softmax")])
        model.compile(optimizer="adam", loss=loss, metrics=["accuracy"])
        model.fit(x, targets, epochs=40, batch_size=16, verbose=0)
        probs = model.predict(x, verbose=0)
        np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
        assert np.mean(np.argmax(probs, axis=1) == y) >= 0.95
        assert model.evaluate(x, targets, verbose=0)[1] >= 0.95


def test_sequential_add_and_lazy_dense_build():
    model = Sequential()
    model.add(Dense(5, activation="relu"))
    model.add(Dense(2))
    assert not model.built and model.get_weights() == []
    assert model.layers[0].get_weights() == []
    out = model.predict(np.ones((4, 7), dtype=np.float32), verbose=0)
    assert model.built and out.shape == (4, 2)
    assert [w.shape for w in model.get_weights()] == [(7, 5), (5,), (5, 2), (2,)]
    assert model.input_shape == (None, 7) and model.output_shape == (None, 2)
    assert model.count_params() == 7 * 5 + 5 + 5 * 2 + 2


def test_lazy_model_builds_on_fit():
    fastnn.utils.set_random_seed(3)
    model = Sequential([Dense(4, activation="tanh"), Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.ones((8, 6)), np.zeros(8), epochs=1, verbose=0)
    assert model.layers[0].get_weights()[0].shape == (6, 4)


def test_functional_chain_matches_numpy_forward():
    x = Input(shape=(2,))
    h = Dense(3, activation="relu")(x)
    out = Dense(1, activation="sigmoid")(h)
    model = Model(inputs=x, outputs=out)
    assert [type(l).__name__ for l in model.layers] == ["InputLayer", "Dense", "Dense"]
    k1, b1, k2, b2 = model.get_weights()
    data = np.random.default_rng(4).normal(size=(10, 2)).astype(np.float32)
    expected = 1 / (1 + np.exp(-(relu(data @ k1 + b1) @ k2 + b2)))
    np.testing.assert_allclose(model.predict(data, verbose=0), expected, rtol=1e-5, atol=1e-6)


def test_hidden_layer_submodel_shares_weights_and_sees_later_training():
    fastnn.utils.set_random_seed(5)
    x, y = blobs(40, [(-1.0, -1.0), (1.0, 1.0)])
    inp = Input(shape=(2,))
    out = Dense(1, activation="sigmoid")(Dense(4, activation="relu")(inp))
    model = Model(inputs=inp, outputs=out)
    model.compile(optimizer="adam", loss="binary_crossentropy")
    hidden = Model(inputs=model.input, outputs=model.layers[1].output)
    before = hidden.predict(x, verbose=0)
    model.fit(x, y, epochs=3, verbose=0)
    after = hidden.predict(x, verbose=0)
    kernel, bias = model.layers[1].get_weights()
    assert after.shape == (80, 4)
    assert not np.array_equal(before, after)
    np.testing.assert_allclose(after, relu(x @ kernel + bias), rtol=1e-5, atol=1e-6)
    assert hidden.count_params() == 2 * 4 + 4


def test_activations_returns_every_layer_output():
    fastnn.utils.set_random_seed(6)
    model = Sequential([Dense(4, input_shape=(3,)), Activation("relu"), Dropout(0.5), Dense(2, activation="softmax")])
    data = np.random.default_rng(6).normal(size=(5, 3)).astype(np.float32)
    outs = model.activations(data)
    assert [o.shape for o in outs] == [(5, 4), (5, 4), (5, 4), (5, 2)]
    k1, b1, k2, b2 = model.get_weights()
    np.testing.assert_allclose(outs[0], data @ k1 + b1, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(outs[1], relu(outs[0]), rtol=1e-6)
    np.testing.assert_array_equal(outs[2], outs[1])  # dropout is the identity at inference
    np.testing.assert_allclose(outs[3], model.predict(data, verbose=0), rtol=1e-6)


def test_get_and_set_weights_on_models_and_layers():
    model = Sequential([Dense(3, input_shape=(2,), use_bias=True), Dense(1, use_bias=False)])
    weights = model.get_weights()
    assert [w.shape for w in weights] == [(2, 3), (3,), (3, 1)]
    assert all(w.dtype == np.float32 for w in weights)
    new = [np.arange(6, dtype=np.float64).reshape(2, 3), np.array([1.0, 2.0, 3.0]), np.ones((3, 1))]
    model.set_weights(new)
    for got, want in zip(model.get_weights(), new):
        np.testing.assert_array_equal(got, want)
    layer = model.layers[0]
    layer.set_weights([np.ones((2, 3)), np.zeros(3)])
    np.testing.assert_array_equal(model.get_weights()[0], np.ones((2, 3)))
    assert len(model.layers[1].get_weights()) == 1
    np.testing.assert_allclose(model.predict(np.array([[1.0, 2.0]]), verbose=0), [[9.0]])
    returned = model.get_weights()
    returned[0][:] = 100.0  # copies: changing them leaves the model as it was
    np.testing.assert_array_equal(model.get_weights()[0], np.ones((2, 3)))


def test_get_layer_by_name_and_index():
    model = Sequential([Dense(3, input_shape=(2,), name="hidden"), Dense(1, name="out")])
    assert model.get_layer("hidden") is model.layers[0]
    assert model.get_layer(index=1).name == "out"
    with pytest.raises(ValueError, match="No such layer: 'hiden'"):
        model.get_layer("hiden")


def test_count_params_and_layer_counts():
    model = Sequential([Dense(10, input_shape=(3,), activation="relu"), Dropout(0.2), Dense(1)])
    assert model.count_params() == 51
    assert [l.count_params() for l in model.layers] == [40, 0, 11]


def test_float64_model_computes_in_float64():
    fastnn.utils.set_random_seed(7)
    model = Sequential([Dense(3, input_shape=(2,), activation="tanh"), Dense(1)], dtype="float64")
    model.compile(optimizer="sgd", loss="mse")
    data = np.random.default_rng(7).normal(size=(8, 2))
    model.fit(data, data.sum(axis=1), epochs=2, verbose=0)
    assert model.dtype == "float64"
    assert all(w.dtype == np.float64 for w in model.get_weights())
    k1, b1, k2, b2 = model.get_weights()
    out = model.predict(data, verbose=0)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, np.tanh(data @ k1 + b1) @ k2 + b2, rtol=1e-12, atol=1e-12)


def test_flatten_first_takes_image_shaped_samples():
    fastnn.utils.set_random_seed(8)
    model = Sequential([Flatten(input_shape=(28, 28)), Dense(10, activation="softmax")])
    assert model.built and model.count_params() == 784 * 10 + 10
    images = np.random.default_rng(8).uniform(size=(4, 28, 28)).astype(np.float32)
    probs = model.predict(images, verbose=0)
    np.testing.assert_allclose(probs, model.predict(images.reshape(4, 784), verbose=0), rtol=1e-6)
    kernel, bias = model.get_weights()
    logits = images.reshape(4, -1) @ kernel + bias
    expected = np.exp(logits - logits.max(1, keepdims=True))
    np.testing.assert_allclose(probs, expected / expected.sum(1, keepdims=True), rtol=1e-5, atol=1e-6)
    assert model.layers[0].output_shape == (None, 784)


def test_same_seed_gives_identical_models_and_training():
    def run():
        fastnn.utils.set_random_seed(9)
        model = Sequential([Dense(5, input_shape=(3,), activation="relu"), Dropout(0.3), Dense(1)])
        model.compile(optimizer="adam", loss="mse")
        data = np.random.default_rng(9).normal(size=(40, 3))
        model.fit(data, data[:, 0], epochs=3, batch_size=8, verbose=0)
        return model.get_weights()

    for a, b in zip(run(), run()):
        np.testing.assert_array_equal(a, b)


def test_default_names_follow_keras_and_clear_session_resets_them():
    fastnn.backend.clear_session()
    first = Sequential([Dense(2, input_shape=(1,)), Dense(1)])
    assert first.name == "sequential" and [l.name for l in first.layers] == ["dense", "dense_1"]
    fastnn.backend.clear_session()
    assert Dense(1).name == "dense"
