"""The activation layers (Softmax, ReLU, LeakyReLU, PReLU, ELU, Identity) and noise layers (GaussianNoise,
GaussianDropout, AlphaDropout): each engine op against its float64 reference in tests/reference.py (forward, the
gradients of a small network around it, a central-difference gradient check), then each layer through the
Keras-style API (predict, training vs inference, save/load, summary, plot_model, bad arguments)."""

import math

import numpy as np
import pytest

import fastnn
import reference as ref
from conftest import assert_close
from fastnn import Dense, Input, Model, Sequential, _core, layers

DTYPES = ("float32", "float64")

# kind, args, reference forward(h), reference backward(h, dout)
DETERMINISTIC = {
    "relu_default": ("relu", {}, lambda h: ref.relu_layer_forward(h),
                     lambda h, d: ref.relu_layer_backward(h, d)),
    "relu_capped": ("relu", {"max_value": 1.5, "negative_slope": 0.1, "threshold": 0.25},
                    lambda h: ref.relu_layer_forward(h, 1.5, 0.1, 0.25),
                    lambda h, d: ref.relu_layer_backward(h, d, 1.5, 0.1, 0.25)),
    "leaky": ("relu", {"negative_slope": 0.3, "threshold": 0.0},
              lambda h: ref.relu_layer_forward(h, None, 0.3), lambda h, d: ref.relu_layer_backward(h, d, None, 0.3)),
    "elu": ("elu", {"alpha": 0.7}, lambda h: ref.elu_layer_forward(h, 0.7),
            lambda h, d: ref.elu_layer_backward(h, d, 0.7)),
    "softmax": ("activation", {"activation": "softmax"}, lambda h: ref.activation_forward("softmax", h),
                lambda h, d: ref.activation_backward("softmax", h, d)),
}


def _network(kind, args, dtype, n_in=4, n=5, seed=0, prelu_alpha=None):
    """dense0 (n_in -> n, linear) -> op -> dense1 (n -> n, identity kernel), loss mse; returns (net, params)."""
    rng = np.random.default_rng(seed)
    net = _core.Network(dtype, seed)
    net.add_op("dense", n_in, n, {"activation": "linear"})
    net.add_op(kind, n, n, args)
    net.add_op("dense", n, n, {"activation": "linear"})
    net.compile("mse", False, "sgd", {}, [])
    w0, b0 = rng.normal(size=(n_in, n)), rng.normal(scale=0.5, size=n)
    net.set_weights(0, [w0.astype(dtype), b0.astype(dtype)])
    if prelu_alpha is not None:
        net.set_weights(1, [prelu_alpha.astype(dtype)])
    net.set_weights(2, [np.eye(n, dtype=dtype), np.zeros(n, dtype=dtype)])
    return net, (w0, b0)


def _mse_grads(x, y, w0, b0, forward, backward, n):
    """Loss and [dW0, db0, dW1, db1] of dense0 -> op -> dense1(identity) under mse, in float64."""
    h = x @ w0 + b0
    a = forward(h)
    m = len(x)
    loss = float(np.mean((a - y) ** 2))
    da = 2.0 * (a - y) / (m * n)
    dh = backward(h, da)
    return loss, [x.T @ dh, dh.sum(axis=0), a.T @ da, da.sum(axis=0)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", sorted(DETERMINISTIC))
def test_activation_ops_match_the_reference(case, dtype):
    kind, args, fwd, bwd = DETERMINISTIC[case]
    net, (w0, b0) = _network(kind, args, dtype)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(16, 4)).astype(dtype)
    w0q, b0q = w0.astype(dtype).astype(np.float64), b0.astype(dtype).astype(np.float64)
    xq = x.astype(np.float64)
    assert_close(net.predict(x), fwd(xq @ w0q + b0q), dtype, "forward")
    y = rng.normal(size=(16, 5)).astype(dtype)
    loss, grads = net.forward_backward(x, y)
    want_loss, want = _mse_grads(xq, y.astype(np.float64), w0q, b0q, fwd, bwd, 5)
    assert_close(loss, want_loss, dtype, "forward")
    assert len(grads) == 4
    for g, w in zip(grads, want):
        assert_close(g, w, dtype, "backward")


@pytest.mark.parametrize("dtype", DTYPES)
def test_prelu_op_matches_the_reference_and_learns_its_slopes(dtype):
    alpha = np.array([0.0, 0.1, -0.2, 0.5, 1.5])
    net, (w0, b0) = _network("prelu", {}, dtype, prelu_alpha=alpha)
    specs = net.param_specs()
    assert [(p["name"], tuple(p["shape"]), p["trainable"]) for p in specs if p["op"] == 1] == [("alpha", (5,), True)]
    rng = np.random.default_rng(2)
    x = rng.normal(size=(16, 4)).astype(dtype)
    y = rng.normal(size=(16, 5)).astype(dtype)
    xq, w0q, b0q, aq = (v.astype(dtype).astype(np.float64) for v in (x, w0, b0, alpha))
    h = xq @ w0q + b0q
    assert_close(net.predict(x), ref.prelu_forward(h, aq), dtype, "forward")
    loss, grads = net.forward_backward(x, y)
    a = ref.prelu_forward(h, aq)
    da = 2.0 * (a - y.astype(np.float64)) / a.size
    dh, dalpha = ref.prelu_backward(h, aq, da)
    assert_close(loss, float(np.mean((a - y) ** 2)), dtype, "forward")
    for g, w in zip(grads, [xq.T @ dh, dh.sum(axis=0), dalpha, a.T @ da, da.sum(axis=0)]):
        assert_close(g, w, dtype, "backward")


@pytest.mark.parametrize("kind, args", [("relu", {"max_value": 1.5, "negative_slope": 0.1, "threshold": 0.25}),
                                        ("elu", {"alpha": 0.7}), ("prelu", {"alpha_l2": 0.01}),
                                        ("gaussian_noise", {"stddev": 0.0}), ("gaussian_dropout", {"rate": 0.0}),
                                        ("alpha_dropout", {"rate": 0.0})])
def test_gradient_check(kind, args):
    """Central differences of the engine's own loss against its analytic gradients (float64)."""
    alpha = np.array([0.05, 0.1, -0.2, 0.5, 0.3]) if kind == "prelu" else None
    net, _ = _network(kind, args, "float64", seed=3, prelu_alpha=alpha)
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(6, 4)), rng.normal(size=(6, 5))
    _, grads = net.forward_backward(x, y)
    ops = [0, 1, 2] if kind == "prelu" else [0, 2]
    weights = {i: [w.copy() for w in net.get_weights(i)] for i in ops}
    k = 0
    eps = 1e-6
    for i in ops:
        for t, w in enumerate(weights[i]):
            num = np.zeros_like(w)
            for idx in np.ndindex(w.shape):
                for sign in (1, -1):
                    ws = [v.copy() for v in weights[i]]
                    ws[t][idx] += sign * eps
                    net.set_weights(i, ws)
                    num[idx] += sign * net.forward_backward(x, y)[0] / (2 * eps)
                net.set_weights(i, weights[i])
            assert_close(grads[k], num, "float64", "gradcheck")
            k += 1


# ---------------------------------------------------------------- noise ops: the draws, recovered one row at a time
def _noise_net(kind, args, dtype="float64", n=7, h_value=None, seed=5):
    """dense0 (1 -> n, kernel zeros, bias h) -> noise op -> dense1 (identity): with one row, y = 0 and mse, the
    last bias's gradient is 2 * out / n, so the training output of the noise op is recovered exactly."""
    net = _core.Network(dtype, seed)
    net.add_op("dense", 1, n, {"activation": "linear"})
    net.add_op(kind, n, n, args)
    net.add_op("dense", n, n, {"activation": "linear"})
    net.compile("mse", False, "sgd", {}, [])
    net.set_weights(2, [np.eye(n, dtype=dtype), np.zeros(n, dtype=dtype)])
    return net


def _training_output(net, h, n=7):
    dtype = net.dtype
    net.set_weights(0, [np.zeros((1, n), dtype), np.asarray(h, dtype)])
    _, grads = net.forward_backward(np.ones((1, 1), dtype), np.zeros((1, n), dtype))
    return grads[-1].astype(np.float64) * n / 2.0, grads[1].astype(np.float64)  # out, dL/dh


@pytest.mark.parametrize("dtype", DTYPES)
def test_gaussian_noise_adds_scaled_normal_draws(dtype):
    net = _noise_net("gaussian_noise", {"stddev": 0.3}, dtype)
    h = np.linspace(-1, 1, 7)
    draws = []
    for _ in range(300):
        state = net.get_rng_state()
        out0, _ = _training_output(net, np.zeros(7))
        net.set_rng_state(state)
        out, dh = _training_output(net, h)
        e = out0 / 0.3
        assert_close(out, ref.gaussian_noise_forward(h.astype(dtype)[None, :], 0.3, e)[0], dtype, "forward")
        # backward: the identity
        assert_close(dh, 2.0 * out / 7, dtype, "backward")
        draws.append(e)
    e = np.concatenate(draws)
    assert abs(e.mean()) < 0.1 and abs(e.std() - 1.0) < 0.05
    assert_close(net.predict(np.ones((3, 1), dtype))[0], np.zeros(7) + h.astype(dtype), dtype, "forward")


@pytest.mark.parametrize("dtype", DTYPES)
def test_gaussian_dropout_multiplies_by_one_centred_noise(dtype):
    rate = 0.2
    net = _noise_net("gaussian_dropout", {"rate": rate}, dtype)
    h = np.linspace(-1, 1, 7) + 0.05
    draws = []
    for _ in range(300):
        state = net.get_rng_state()
        ones, _ = _training_output(net, np.ones(7))
        net.set_rng_state(state)
        out, dh = _training_output(net, h)
        e = (ones - 1.0) / math.sqrt(rate / (1 - rate))
        hq = h.astype(dtype).astype(np.float64)
        assert_close(out, ref.gaussian_dropout_forward(hq[None, :], rate, e)[0], dtype, "forward")
        assert_close(dh, ref.gaussian_dropout_backward(2.0 * out[None, :] / 7, rate, e)[0], dtype, "backward")
        draws.append(e)
    e = np.concatenate(draws)
    assert abs(e.mean()) < 0.1 and abs(e.std() - 1.0) < 0.05


@pytest.mark.parametrize("dtype", DTYPES)
def test_alpha_dropout_keeps_or_saturates_then_rescales(dtype):
    rate = 0.3
    a, b = ref.alpha_dropout_coefficients(rate)
    net = _noise_net("alpha_dropout", {"rate": rate}, dtype)
    h = np.linspace(-1, 1, 7) + 0.05
    kept_all = []
    for _ in range(300):
        state = net.get_rng_state()
        ones, _ = _training_output(net, np.full(7, 2.0))
        net.set_rng_state(state)
        out, dh = _training_output(net, h)
        kept = np.abs(ones - (2.0 * a + b)) < 1e-4  # a kept value is a * 2 + b, a dropped one a * alpha_p + b
        hq = h.astype(dtype).astype(np.float64)
        assert_close(out, ref.alpha_dropout_forward(hq[None, :], rate, kept)[0], dtype, "forward")
        assert_close(dh, ref.alpha_dropout_backward(2.0 * out[None, :] / 7, rate, kept)[0], dtype, "backward")
        kept_all.append(kept)
    assert abs(np.concatenate(kept_all).mean() - (1 - rate)) < 0.03


def test_alpha_dropout_keeps_selu_statistics():
    """Keras's promise: for inputs of zero mean and unit variance, the output keeps mean 0 and variance 1."""
    rate = 0.25
    a, b = ref.alpha_dropout_coefficients(rate)
    rng = np.random.default_rng(0)
    x = rng.normal(size=200_000)
    y = ref.alpha_dropout_forward(x[None, :], rate, rng.uniform(size=x.size)[None, :] >= rate)
    assert abs(y.mean()) < 0.01 and abs(y.var() - 1.0) < 0.02


@pytest.mark.parametrize("kind, args, match", [
    ("relu", {"max_value": -1.0}, r"max_value \(ReLU\): expected a number >= 0"),
    ("relu", {"negative_slope": -0.1}, r"negative_slope"),
    ("relu", {"threshold": -1.0}, r"threshold"),
    ("gaussian_noise", {"stddev": 1.5}, r"stddev \(GaussianNoise\): expected a number in \[0, 1\]"),
    ("gaussian_dropout", {"rate": 1.0}, r"rate \(GaussianDropout\): expected a number in \[0, 1\)"),
    ("alpha_dropout", {"rate": -0.1}, r"rate \(AlphaDropout\)"),
    ("elu", {"alpha": float("nan")}, r"alpha \(elu\): expected a finite number"),
    ("prelu", {"alpha_l2": -1.0}, r"alpha_l2"),
])
def test_bad_op_arguments_are_refused_by_the_engine(kind, args, match):
    net = _core.Network("float64", 0)
    net.add_op("dense", 2, 3)
    with pytest.raises(ValueError, match=match):
        net.add_op(kind, 3, 3, args)
    assert net.n_ops == 1
    with pytest.raises(ValueError, match="output size"):
        net.add_op(kind, 3, 4, {})


# ---------------------------------------------------------------- the layers
LAYERS = [
    (lambda: layers.Softmax(), lambda h: ref.activation_forward("softmax", h)),
    (lambda: layers.ReLU(max_value=1.0, negative_slope=0.05, threshold=0.1),
     lambda h: ref.relu_layer_forward(h, 1.0, 0.05, 0.1)),
    (lambda: layers.LeakyReLU(), lambda h: ref.relu_layer_forward(h, None, 0.3)),
    (lambda: layers.ELU(alpha=0.5), lambda h: ref.elu_layer_forward(h, 0.5)),
    (lambda: layers.PReLU(alpha_initializer=fastnn.initializers.Constant(0.25)),
     lambda h: ref.prelu_forward(h, np.full(h.shape[1], 0.25))),
    (lambda: layers.Identity(), lambda h: h),
    (lambda: layers.GaussianNoise(0.5), lambda h: h),
    (lambda: layers.GaussianDropout(0.4), lambda h: h),
    (lambda: layers.AlphaDropout(0.3), lambda h: h),
]


def _model_with(make_layer, seed=0):
    fastnn.utils.set_random_seed(seed)
    layer = make_layer()
    return Sequential([Dense(6, input_shape=(3,)), layer, Dense(2)]), layer


@pytest.mark.parametrize("i", range(len(LAYERS)))
def test_layers_predict_as_the_reference_and_train(i, tmp_path):
    make, fwd = LAYERS[i]
    model, layer = _model_with(make)
    rng = np.random.default_rng(i)
    x = rng.normal(size=(20, 3)).astype(np.float32)
    y = rng.normal(size=(20, 2)).astype(np.float32)
    weights = model.get_weights()
    k0, b0, k1, b1 = weights[0], weights[1], weights[-2], weights[-1]
    h = x.astype(np.float64) @ k0 + b0
    assert_close(model.predict(x, verbose=0), fwd(h) @ k1 + b1, "float32", "forward")
    # inference is deterministic (the noise layers are the identity there)
    np.testing.assert_array_equal(model.predict(x, verbose=0), model.predict(x, verbose=0))
    model.compile("adam", "mse")
    history = model.fit(x, y, epochs=5, verbose=0)
    assert all(math.isfinite(v) for v in history.history["loss"])
    # save / load round trip: the same class, config and weights, the same predictions
    model.save(tmp_path / "m.fnn")
    loaded = fastnn.models.load_model(tmp_path / "m.fnn")
    assert type(loaded.layers[1]) is type(layer)
    assert loaded.layers[1].get_config() == layer.get_config()
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    # summary row and plot
    lines = []
    model.summary(print_fn=lines.append, line_length=100)
    assert f"{layer.name} ({type(layer).__name__})" in lines[0]
    import matplotlib
    matplotlib.use("Agg")
    from fastnn import viz
    drawing = viz.plot_model(model)
    assert drawing.sizes == [3, 6, 6, 2]
    assert any(type(layer).__name__ in t.get_text() for t in drawing.texts)


def test_prelu_slopes_are_weights_that_train_and_freeze():
    model, prelu = _model_with(lambda: layers.PReLU())
    assert prelu.count_params() == 6 and model.count_params() == 3 * 6 + 6 + 6 + 6 * 2 + 2
    np.testing.assert_array_equal(prelu.alpha, np.zeros(6))  # Keras's default: zeros
    assert [w.shape for w in prelu.trainable_weights] == [(6,)]
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 3)).astype(np.float32), rng.normal(size=(64, 2)).astype(np.float32)
    model.compile("adam", "mse")
    model.fit(x, y, epochs=3, verbose=0)
    assert np.any(prelu.alpha != 0)
    learned = prelu.alpha.copy()
    prelu.trainable = False
    model.compile("adam", "mse")
    model.fit(x, y, epochs=2, verbose=0)
    np.testing.assert_array_equal(prelu.alpha, learned)
    assert prelu.trainable_weights == [] and len(prelu.non_trainable_weights) == 1


def test_noise_layers_are_active_in_training_only():
    for make in (lambda: layers.GaussianNoise(0.5), lambda: layers.GaussianDropout(0.5),
                 lambda: layers.AlphaDropout(0.5)):
        model, _ = _model_with(make, seed=1)
        model.compile("sgd", "mse")
        rng = np.random.default_rng(1)
        x, y = rng.normal(size=(32, 3)).astype(np.float32), rng.normal(size=(32, 2)).astype(np.float32)
        eval_loss = model.evaluate(x, y, verbose=0)
        assert model.test_on_batch(x, y) == pytest.approx(eval_loss, rel=1e-6)
        # two training losses of the same batch and weights differ (fresh noise), and differ from inference
        w = model.get_weights()
        first = model.train_on_batch(x, y)
        model.set_weights(w)
        second = model.train_on_batch(x, y)
        assert first != second and first != pytest.approx(eval_loss, rel=1e-6)


def test_noise_is_repeatable_under_the_seed():
    runs = []
    for _ in range(2):
        model, _ = _model_with(lambda: layers.GaussianNoise(0.3), seed=7)
        model.compile("adam", "mse")
        rng = np.random.default_rng(7)
        x, y = rng.normal(size=(32, 3)).astype(np.float32), rng.normal(size=(32, 2)).astype(np.float32)
        model.fit(x, y, epochs=3, verbose=0)
        runs.append(model.get_weights())
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("make, match", [
    (lambda: layers.ReLU(max_value=-1), r"max_value \(ReLU\): expected a finite number >= 0.0 or None, got -1"),
    (lambda: layers.ReLU(negative_slope=None), r"negative_slope \(ReLU\)"),
    (lambda: layers.ReLU(threshold=-0.5), r"threshold \(ReLU\)"),
    (lambda: layers.LeakyReLU(negative_slope=-0.1), r"negative_slope \(LeakyReLU\)"),
    (lambda: layers.ELU(alpha="big"), r"alpha \(ELU\): expected a finite number, got 'big'"),
    (lambda: layers.Softmax(axis=0), r"axis \(Softmax\).*got 0"),
    (lambda: layers.PReLU(shared_axes=[1]), r"shared_axes \(PReLU\)"),
    (lambda: layers.PReLU(alpha_constraint="non_neg"), r"alpha_constraint \(PReLU\)"),
    (lambda: layers.GaussianNoise(2.0), r"stddev \(GaussianNoise\): expected a number in \[0, 1\], got 2.0"),
    (lambda: layers.GaussianDropout(1.0), r"rate \(GaussianDropout\): expected a number in \[0, 1\), got 1.0"),
    (lambda: layers.AlphaDropout(0.5, noise_shape=(None, 1)), r"noise_shape \(AlphaDropout\)"),
    (lambda: layers.AlphaDropout(float("nan")), r"rate \(AlphaDropout\)"),
    (lambda: layers.GaussianNoise(0.1, seed="x"), r"seed \(GaussianNoise\): expected None or an integer"),
])
def test_bad_layer_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_leaky_relu_default_and_deprecated_alpha():
    assert layers.LeakyReLU().negative_slope == 0.3
    with pytest.warns(UserWarning, match="negative_slope"):
        assert layers.LeakyReLU(alpha=0.1).negative_slope == 0.1


def test_layer_files_are_a_closed_list(tmp_path):
    from fastnn.errors import ModelFileError
    from fastnn.models import model_from_config
    model, _ = _model_with(lambda: layers.ReLU(max_value=2.0))
    cfg = model.get_config()
    cfg["layers"][2]["config"]["max_value"] = "os.system"
    with pytest.raises(ModelFileError, match="ReLU"):
        model_from_config(cfg)
    cfg["layers"][2]["config"] = {"name": "r", "code": 1}
    with pytest.raises(ModelFileError, match="unexpected settings for ReLU"):
        model_from_config(cfg)


def test_functional_use_and_identity_shapes():
    x = Input(shape=(4,))
    h = layers.Identity()(layers.ReLU()(Dense(3)(x)))
    assert h.shape == (None, 3)
    model = Model(x, layers.Softmax()(Dense(2)(h)))
    p = model.predict(np.ones((5, 4), np.float32), verbose=0)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)


@pytest.mark.parametrize("kind, args", [("relu", {"max_value": 1.0, "negative_slope": 0.1, "threshold": 0.2}),
                                        ("elu", {"alpha": 0.5}), ("prelu", {"alpha_initializer": ("constant", 0.2, 0)}),
                                        ("gaussian_noise", {"stddev": 0.0}), ("gaussian_dropout", {"rate": 0.0}),
                                        ("alpha_dropout", {"rate": 0.0})])
def test_feature_major_and_row_major_train_alike(kind, args):
    """The ops run in both layouts (tests/test_layouts.py's check): same epochs, same weights. The noise ops draw
    in buffer order, which differs between the layouts, so they are compared at zero noise here."""
    nets = []
    for layout in (0, 1):
        net = _core.Network("float64", 11)
        net.add_op("dense", 3, 6, {"activation": "linear"})
        net.add_op(kind, 6, 6, args)
        net.add_op("dense", 6, 2, {"activation": "linear"})
        net.compile("mse", False, "adam", {"learning_rate": 0.01}, [])
        net._set_layout(layout)
        nets.append(net)
    assert not nets[0].feature_major and nets[1].feature_major
    rng = np.random.RandomState(0)
    x, y = rng.randn(64, 3), rng.randn(64, 2)
    for _ in range(4):
        logs = [net.fit_epoch(x, y, None, 16, True) for net in nets]
        np.testing.assert_allclose(logs[1], logs[0], rtol=1e-9, atol=1e-12)
    for i in range(3):
        for a, b in zip(nets[1].get_weights(i), nets[0].get_weights(i)):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
