"""The normalization layers in Python (fastnn.layers): Keras 3 names, arguments, defaults and weight order;
Normalization.adapt from arrays, lists, DataFrames and Series; training and inference of BatchNormalization in a
model; save/load round trips; summary counts (non-trainable apart); bad input."""

import numpy as np
import pytest

import reference as ref
from conftest import assert_close
import fastnn
from fastnn import Sequential, layers
from fastnn.models import load_model


def identity(n):
    """A Dense layer that passes its input on (fastnn models hold at least one Dense layer)."""
    return layers.Dense(n)


def with_identity(model, n):
    model.layers[-1].set_weights([np.eye(n), np.zeros(n)])
    return model


def data(n=64, d=3, seed=0):
    rng = np.random.RandomState(seed)
    x = rng.randn(n, d) * [1.0, 10.0, 100.0][:d] + [0.0, 5.0, -50.0][:d]
    y = x @ np.linspace(0.5, 1.5, d)[:, None] / 50 + 0.1 * rng.randn(n, 1)
    return x, y


def test_keras_defaults():
    bn = layers.BatchNormalization()
    assert (bn.axis, bn.momentum, bn.epsilon, bn.center, bn.scale) == (-1, 0.99, 0.001, True, True)
    ln = layers.LayerNormalization()
    assert (ln.axis, ln.epsilon, ln.center, ln.scale) == (-1, 0.001, True, True)
    norm = layers.Normalization()
    assert (norm.axis, norm.input_mean, norm.invert) == (-1, None, False)
    assert layers.Rescaling(0.5).offset == 0.0
    assert layers.UnitNormalization().axis == -1
    assert layers.BatchNormalization().name.startswith("batch_normalization")


def test_batch_normalization_weights_in_keras_order_and_split():
    model = Sequential([layers.Input(shape=(4,)), layers.Dense(5), layers.BatchNormalization(),
                        layers.LayerNormalization(center=False), layers.Dense(1)])
    bn, ln = model.layers[1], model.layers[2]
    gamma, beta, mean, var = bn.get_weights()
    np.testing.assert_array_equal(gamma, np.ones(5))
    np.testing.assert_array_equal(beta, np.zeros(5))
    np.testing.assert_array_equal(mean, np.zeros(5))
    np.testing.assert_array_equal(var, np.ones(5))
    assert len(bn.trainable_weights) == 2 and len(bn.non_trainable_weights) == 2
    assert [w.shape for w in ln.get_weights()] == [(5,)] and len(ln.non_trainable_weights) == 0
    assert bn.count_params() == 20 and model.count_params() == 4 * 5 + 5 + 20 + 5 + 6


def test_batch_normalization_trains_on_batch_statistics_and_predicts_with_moving_ones():
    x, y = data()
    model = Sequential([layers.Input(shape=(3,)), layers.BatchNormalization(momentum=0.5), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, y, batch_size=64, epochs=1, shuffle=False, verbose=0)
    gamma, beta, mm, mv = model.layers[0].get_weights()
    # one step on the whole batch: the moving statistics moved halfway to the batch's (biased variance)
    assert_close(mm, 0.5 * x.mean(axis=0), "float32", "forward")
    assert_close(mv, 0.5 + 0.5 * x.var(axis=0), "float32", "trajectory")
    kernel, bias = model.layers[1].get_weights()
    expected = ref.batch_normalization_forward(x, gamma, beta, mm, mv, training=False)[0] @ kernel + bias
    assert_close(model.predict(x, verbose=0), expected, "float32", "forward")


@pytest.mark.parametrize("kind", ["array", "list", "dataframe"])
def test_normalization_adapt_per_feature(kind):
    x, _ = data()
    src = {"array": x, "list": x.tolist(), "dataframe": None}[kind]
    if kind == "dataframe":
        pd = pytest.importorskip("pandas")
        src = pd.DataFrame(x, columns=["a", "b", "c"])
    norm = layers.Normalization()
    norm.adapt(src)
    mean, var = ref.normalization_adapt(x)
    model = with_identity(Sequential([layers.Input(shape=(3,)), norm, identity(3)]), 3)
    m, v, count = norm.get_weights()
    assert_close(m, mean, "float32", "forward")
    assert_close(v, var, "float32", "forward")
    assert count.shape == () and count == 0  # Keras 3's adapt leaves count at 0
    assert len(norm.non_trainable_weights) == 3 and norm.trainable_weights == []
    assert_close(model.predict(x, verbose=0), ref.normalization_forward(x, m, v), "float32", "forward")


def test_normalization_adapt_on_a_series_with_axis_none():
    pd = pytest.importorskip("pandas")
    x, _ = data(d=1)
    norm = layers.Normalization(input_shape=[1], axis=None)
    norm.adapt(pd.Series(x[:, 0]))
    m, v, _ = norm.get_weights()
    assert m.shape == () and v.shape == ()
    assert_close(m, x.mean(), "float32", "forward")
    model = Sequential([norm, layers.Dense(1)])
    model.compile(loss="mse")
    out = model.layers[0]
    assert out is norm
    kernel, bias = model.layers[1].get_weights()
    expected = ref.normalization_forward(x, m, v) @ kernel + bias
    assert_close(model.predict(x, verbose=0), expected, "float32", "forward")


def test_normalization_adapted_after_the_model_is_built():
    x, _ = data()
    norm = layers.Normalization()
    model = Sequential([layers.Input(shape=(3,)), norm, layers.Dense(1)])
    norm.adapt(x)
    assert_close(norm.get_weights()[0], x.mean(axis=0), "float32", "forward")
    model.compile(loss="mse")
    model.predict(x, verbose=0)  # ready


def test_normalization_given_mean_variance_and_invert():
    x, _ = data()
    mean, var = x.mean(axis=0), x.var(axis=0)
    fwd = layers.Normalization(mean=mean, variance=var)
    inv = layers.Normalization(mean=mean, variance=var, invert=True)
    model = with_identity(Sequential([layers.Input(shape=(3,)), fwd, inv, identity(3)]), 3)
    assert fwd.get_weights() == [] and fwd.count_params() == 0 and model.count_params() == 12  # constants, as Keras
    z = model.predict(x, verbose=0)
    assert_close(z, x, "float32", "forward")
    one = with_identity(Sequential([layers.Input(shape=(3,)), layers.Normalization(mean=2.0, variance=4.0),
                                    identity(3)]), 3)
    assert_close(one.predict(x, verbose=0), (x - 2.0) / 2.0, "float32", "forward")


def test_rescaling_and_unit_normalization():
    x, _ = data()
    model = with_identity(Sequential([layers.Input(shape=(3,)), layers.Rescaling(1 / 255, offset=-1.0),
                                      layers.UnitNormalization(), identity(3)]), 3)
    expected = ref.unit_normalization_forward(ref.rescaling_forward(x, 1 / 255, -1.0))
    assert_close(model.predict(x, verbose=0), expected, "float32", "forward")
    assert np.allclose(np.linalg.norm(model.predict(x, verbose=0), axis=1), 1.0, atol=1e-6)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_save_and_load_round_trip(tmp_path, dtype):
    x, y = data()
    norm = layers.Normalization()
    norm.adapt(x)
    model = Sequential([layers.Input(shape=(3,)), norm, layers.Dense(8, activation="relu"),
                        layers.BatchNormalization(momentum=0.9, center=False), layers.LayerNormalization(epsilon=0.01),
                        layers.UnitNormalization(), layers.Rescaling(2.0, offset=0.5),
                        layers.Normalization(axis=None, mean=1.0, variance=2.0, invert=True), layers.Dense(1)],
                       dtype=dtype)
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    path = tmp_path / "m.fastnn"
    model.save(path)
    back = load_model(path)
    assert [type(l).__name__ for l in back.layers] == [type(l).__name__ for l in model.layers]
    assert back.layers[2].momentum == 0.9 and not back.layers[2].center and back.layers[3].epsilon == 0.01
    assert back.layers[6].invert and back.layers[6].axis is None
    for a, b in zip(model.get_weights(), back.get_weights()):
        assert a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(back.predict(x, verbose=0), model.predict(x, verbose=0))
    # training resumes identically (moving statistics and optimizer state came back)
    model.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    back.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    np.testing.assert_array_equal(back.predict(x, verbose=0), model.predict(x, verbose=0))


def test_summary_counts_non_trainable_apart():
    x, _ = data()
    norm = layers.Normalization(name="normalization")
    norm.adapt(x)
    model = Sequential([layers.Input(shape=(3,)), norm, layers.Dense(8), layers.BatchNormalization(),
                        layers.Dense(1)])
    lines = []
    model.summary(print_fn=lines.append)
    text = lines[0]
    # as Keras: Normalization 3 + 3 + 1 (count), Dense 32, BatchNormalization 4 * 8, Dense 9
    assert "│ normalization (Normalization)   │ (None, 3)              │             7 │" in text
    assert "│ (BatchNormalization)            │                        │               │" in text
    assert "│             32 │" not in text and text.count("│            32 │") == 2
    assert " Total params: 80 (320.00 B)" in text
    assert " Trainable params: 57 (228.00 B)" in text
    assert " Non-trainable params: 23 (92.00 B)" in text


def test_normalization_before_adapt_is_refused():
    x, y = data()
    model = Sequential([layers.Input(shape=(3,)), layers.Normalization(name="norm"), layers.Dense(1)])
    model.compile(loss="mse")
    for call in (lambda: model.predict(x, verbose=0), lambda: model.fit(x, y, verbose=0),
                 lambda: model.evaluate(x, y, verbose=0)):
        with pytest.raises(ValueError, match=r"layer 'norm' \(Normalization\): it has no mean and variance yet; "
                                             r"call norm.adapt\(data\)"):
            call()


@pytest.mark.parametrize("data_, match", [
    ([[1.0, np.nan], [2.0, 3.0]], r"data: expected finite numbers, got NaN or infinity \(first at index \(0, 1\)\)"),
    ([["a", "b"]], r"data: expected numbers"),
    (np.zeros((0, 3)), r"data: expected a non-empty 2-D array"),
    (np.zeros((2, 2, 2)), r"data: expected a non-empty 2-D array"),
])
def test_adapt_refuses_bad_data_and_keeps_the_state(data_, match):
    norm = layers.Normalization()
    Sequential([layers.Input(shape=(2,)), norm, layers.Dense(1)])
    before = [w.copy() for w in norm.get_weights()]
    with pytest.raises(ValueError, match=match):
        norm.adapt(data_)
    for a, b in zip(norm.get_weights(), before):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("make, match", [
    (lambda: layers.Normalization(mean=[1.0]), r"mean and variance: when setting values directly, give both"),
    (lambda: layers.Normalization(mean=[1.0, 2.0], variance=[1.0]), r"mean and variance: expected the same shape"),
    (lambda: layers.Normalization(mean=[0.0], variance=[-1.0]), r"variance: expected numbers >= 0"),
    (lambda: layers.Normalization(axis=None, mean=[1.0, 2.0], variance=[1.0, 1.0]), r"mean: expected one finite"),
    (lambda: layers.Normalization(axis=0), r"axis \(Normalization\): fastnn layers take 1-D samples"),
    (lambda: layers.BatchNormalization(axis=2), r"axis \(BatchNormalization\): .*expected -1, got 2"),
    (lambda: layers.BatchNormalization(momentum=2.0), r"momentum: expected a number in \[0, 1\], got 2.0"),
    (lambda: layers.LayerNormalization(epsilon=0), r"epsilon: expected a number > 0, got 0"),
    (lambda: layers.BatchNormalization(gamma_constraint="non_neg"), r"gamma_constraint: not supported"),
    (lambda: layers.Rescaling("x"), r"scale: expected a finite number, got 'x'"),
])
def test_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_adapt_with_the_wrong_width_and_on_given_constants_is_refused():
    norm = layers.Normalization()
    Sequential([layers.Input(shape=(2,)), norm, layers.Dense(1)])
    with pytest.raises(ValueError, match=r"data: expected 2 features \(the layer's input\), got 3"):
        norm.adapt(np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"adapt\(\) on a Normalization given mean= and variance="):
        layers.Normalization(mean=0.0, variance=1.0).adapt(np.zeros((4, 1)))


def test_regression_recipe_with_a_normalization_layer():
    """Keras's basic-regression guide, in miniature: adapt a Normalization on the training features, then a
    linear model and a small DNN train to a low error."""
    rng = np.random.RandomState(4)
    x = rng.randn(400, 4) * [1.0, 50.0, 0.01, 300.0] + [0.0, 200.0, 0.0, 3000.0]
    y = (x - [0.0, 200.0, 0.0, 3000.0]) / [1.0, 50.0, 0.01, 300.0] @ np.array([[1.0], [-2.0], [0.5], [3.0]]) + 20.0
    normalizer = layers.Normalization(axis=-1)
    normalizer.adapt(np.array(x))
    np.testing.assert_allclose(normalizer.get_weights()[0], x.mean(axis=0), rtol=1e-5)
    dnn = Sequential([normalizer, layers.Dense(16, activation="relu"), layers.Dense(16, activation="relu"),
                      layers.Dense(1)])
    dnn.compile(loss="mean_absolute_error", optimizer=fastnn.optimizers.Adam(0.01))
    history = dnn.fit(x, y, validation_split=0.2, verbose=0, epochs=60)
    assert history.history["val_loss"][-1] < 0.1 * np.abs(y - y.mean()).mean()


def test_plot_model_draws_the_normalization_layers():
    pytest.importorskip("matplotlib")
    import matplotlib
    matplotlib.use("Agg")
    from fastnn import viz
    x, _ = data()
    norm = layers.Normalization()
    norm.adapt(x)
    model = Sequential([layers.Input(shape=(3,)), norm, layers.Dense(4), layers.BatchNormalization(),
                        layers.LayerNormalization(), layers.UnitNormalization(), layers.Rescaling(2.0), layers.Dense(1)])
    drawing = viz.plot_model(model)
    assert drawing.sizes == [3, 3, 4, 4, 4, 4, 4, 1]
    labels = " ".join(t.get_text() for t in drawing.texts)
    for name in ("Normalization", "BatchNormalization", "LayerNormalization", "UnitNormalization", "Rescaling"):
        assert name in labels
