"""fastnn._core.Network against the NumPy oracle (tests/reference.py): whole training trajectories.

Each case builds the same architecture in the engine and in the oracle, copies the oracle's initial
weights in with set_weights, runs 10 train_on_batch steps on fixed batches, and compares the loss and
metrics returned at every step and every weight after every step. Also: predict, evaluate,
fit_epoch without shuffling, weight round trips and the op index counting.
"""

import numpy as np
import pytest

import reference as ref
from conftest import assert_close

_core = pytest.importorskip("fastnn._core")

DTYPES = ("float32", "float64")
STEPS, BATCH = 10, 8

# name -> (layers, loss, from_logits, metrics)
ARCHITECTURES = {
    "relu-softmax-cce": (
        [ref.Dense(4, 8, "relu"), ref.Dense(8, 3, "softmax")],
        "categorical_crossentropy", False, ["categorical_accuracy"]),
    "tanh-softmax-sparse": (
        [ref.Dense(4, 6, "tanh", bias_l2=0.01), ref.Dense(6, 3, "softmax")],
        "sparse_categorical_crossentropy", False, ["sparse_categorical_accuracy"]),
    "elu-sigmoid-bce": (
        [ref.Dense(5, 7, "elu", kernel_l2=0.01), ref.Dense(7, 1, "sigmoid")],
        "binary_crossentropy", False, ["binary_accuracy"]),
    "gelu-act-linear-mse": (
        [ref.Dense(3, 6, "gelu", kernel_l1=0.001), ref.Activation(6, "tanh"),
         ref.Dense(6, 2, "linear", use_bias=False)],
        "mse", False, ["mae"]),
    "swish-leaky-huber": (
        [ref.Dense(3, 5, "swish"), ref.Dense(5, 4, "leaky_relu"), ref.Dense(4, 2, "linear", bias_l1=0.01)],
        "huber", False, ["mse"]),
    "selu-logits-cce": (
        [ref.Dense(4, 5, "selu"), ref.Dense(5, 3, "linear")],
        "categorical_crossentropy", True, ["categorical_accuracy"]),
    "softsign-hinge": (
        [ref.Dense(4, 5, "softsign"), ref.Dense(5, 2, "linear")],
        "hinge", False, []),
    "relu-act-softmax-cce": (  # a trailing Activation op is fused with the loss too
        [ref.Dense(4, 5, "relu"), ref.Dense(5, 3, "linear"), ref.Activation(3, "softmax")],
        "categorical_crossentropy", False, ["categorical_accuracy"]),
    "softplus-mae": (
        [ref.Dense(3, 4, "softplus"), ref.Dense(4, 2, "sigmoid", kernel_l2=0.02)],
        "mae", False, ["mse"]),
}

OPTIMIZERS = [
    ("sgd", dict(learning_rate=0.1, momentum=0.9, nesterov=True)),
    ("rmsprop", dict(learning_rate=0.01, centered=True)),
    ("adagrad", dict(learning_rate=0.1)),
    ("adadelta", dict(learning_rate=1.0)),
    ("adam", dict(learning_rate=0.01, amsgrad=True)),
    ("adamw", dict(learning_rate=0.01, weight_decay=0.05, clipnorm=1.0)),
    ("adamax", dict(learning_rate=0.02)),
    ("nadam", dict(learning_rate=0.01)),
]


def out_width(layers):
    last = layers[-1]
    return last.n_out if isinstance(last, ref.Dense) else last.n


def initial_params(layers, dtype, seed=0):
    """Oracle parameters, already rounded to `dtype` so both sides start from the same values."""
    rng = np.random.default_rng(seed)
    return [rng.normal(scale=0.5, size=s).astype(dtype).astype(np.float64) for s in ref.param_shapes(layers)]


def make_batches(layers, loss, dtype, count, size=BATCH, seed=1, weighted=False):
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(count):
        x = rng.normal(size=(size, layers[0].n_in)).astype(dtype)
        y = ref.example_targets(loss, rng, size, out_width(layers)).astype(dtype)
        w = rng.uniform(0.2, 2.0, size=size).astype(dtype) if weighted else None
        batches.append((x, y, w))
    return batches


def build(layers, loss, from_logits, metrics, dtype, params, optimizer="sgd", opt_config=None):
    """Engine Network with the oracle's architecture, compiled, holding `params`."""
    net = _core.Network(dtype=dtype, seed=0)
    for layer in layers:
        if isinstance(layer, ref.Dense):
            net.add_op("dense", layer.n_in, layer.n_out,
                       dict(activation=layer.activation, use_bias=layer.use_bias, kernel_l1=layer.kernel_l1,
                            kernel_l2=layer.kernel_l2, bias_l1=layer.bias_l1, bias_l2=layer.bias_l2))
        else:
            net.add_op("activation", layer.n, layer.n, {"activation": layer.activation})
    net.compile(loss=loss, from_logits=from_logits, optimizer=optimizer, opt_config=opt_config or {},
                metrics=list(metrics))
    set_params(net, layers, params, dtype)
    return net


def set_params(net, layers, params, dtype):
    k = 0
    for i, layer in enumerate(layers):
        if isinstance(layer, ref.Dense):
            count = 2 if layer.use_bias else 1
            net.set_weights(i, [np.asarray(p, dtype=dtype) for p in params[k:k + count]])
            k += count


def get_params(net, layers):
    out = []
    for i, layer in enumerate(layers):
        if isinstance(layer, ref.Dense):
            out.extend(net.get_weights(i))
    return out


def batch_metrics(metrics, y, out, w):
    return [ref.metric(m, y, out, w) for m in metrics]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("opt", OPTIMIZERS, ids=[o[0] for o in OPTIMIZERS])
@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_training_trajectory(arch, opt, dtype):
    layers, loss, from_logits, metrics = ARCHITECTURES[arch]
    name, config = opt
    params = initial_params(layers, dtype)
    batches = make_batches(layers, loss, dtype, STEPS, weighted=(name in ("adam", "nadam")))
    net = build(layers, loss, from_logits, metrics, dtype, params, name, config)
    expected_weights, expected_losses = ref.train(
        layers, params, [(x, y, w) for x, y, w in batches], loss, name, config, from_logits)
    current = params
    for k, (x, y, w) in enumerate(batches):
        out = ref.forward(layers, current, x)  # metrics see the predictions before the update
        result = net.train_on_batch(x, y, sample_weight=w)
        assert len(result) == 1 + len(metrics)
        assert_close(result[0], expected_losses[k], dtype, "forward")
        assert_close(result[1:], batch_metrics(metrics, y, out, None), dtype, "forward")  # metrics= are unweighted
        got = get_params(net, layers)
        assert len(got) == len(expected_weights[k])
        for j, (g, e) in enumerate(zip(got, expected_weights[k])):
            assert g.dtype == np.dtype(dtype)
            try:
                assert_close(g, e, dtype, "trajectory")
            except AssertionError as err:
                raise AssertionError(f"step {k}, parameter tensor {j}: {err}") from None
        current = expected_weights[k]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_predict_and_evaluate(arch, dtype):
    layers, loss, from_logits, metrics = ARCHITECTURES[arch]
    params = initial_params(layers, dtype, seed=2)
    net = build(layers, loss, from_logits, metrics, dtype, params)
    (x, y, w), = make_batches(layers, loss, dtype, 1, size=37, seed=3, weighted=True)
    pred = net.predict(x, batch_size=8)
    assert pred.shape == (37, out_width(layers)) and pred.dtype == np.dtype(dtype)
    assert_close(pred, ref.forward(layers, params, x), dtype, "forward")
    for sample_weight in (None, w):
        result = net.evaluate(x, y, sample_weight=sample_weight, batch_size=8)
        expected = ref.evaluate(layers, params, x, y, loss, from_logits, sample_weight, metrics, weighted_metrics=False)
        assert_close(result, expected, dtype, "forward")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("arch", ["elu-sigmoid-bce", "gelu-act-linear-mse", "tanh-softmax-sparse"])
def test_fit_epoch_without_shuffle_is_the_minibatch_loop(arch, dtype):
    layers, loss, from_logits, metrics = ARCHITECTURES[arch]
    params = initial_params(layers, dtype, seed=4)
    (x, y, _), = make_batches(layers, loss, dtype, 1, size=22, seed=5)
    config = dict(learning_rate=0.01)
    net = build(layers, loss, from_logits, metrics, dtype, params, "adam", config)
    result = net.fit_epoch(x, y, batch_size=8, shuffle=False)
    sizes = [8, 8, 6]  # the last batch is partial
    starts = np.cumsum([0] + sizes)
    batches = [(x[a:b], y[a:b]) for a, b in zip(starts[:-1], starts[1:])]
    weights, losses = ref.train(layers, params, batches, loss, "adam", config, from_logits)
    # Keras's loss tracker: batch losses averaged with the batch sizes as weights
    assert_close(result[0], np.dot(losses, sizes) / sum(sizes), dtype, "forward")
    # running metrics: mean over all samples of the epoch, each scored before its batch's update
    before = [params] + weights[:-1]
    for j, m in enumerate(metrics):
        values = np.concatenate([ref.metric_values(m, yb, ref.forward(layers, p, xb))
                                 for (xb, yb), p in zip(batches, before)])
        assert_close(result[1 + j], values.mean(), dtype, "forward")
    assert len(result) == 1 + len(metrics)
    for g, e in zip(get_params(net, layers), weights[-1]):
        assert_close(g, e, dtype, "trajectory")


@pytest.mark.parametrize("dtype", DTYPES)
def test_weights_round_trip_and_are_copies(dtype):
    layers, loss, from_logits, metrics = ARCHITECTURES["gelu-act-linear-mse"]
    params = initial_params(layers, dtype, seed=6)
    net = build(layers, loss, from_logits, metrics, dtype, params)
    kernel, bias = net.get_weights(0)
    assert kernel.shape == (3, 6) and bias.shape == (6,) and kernel.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(kernel, params[0])
    np.testing.assert_array_equal(bias, params[1])
    kernel[:] = 123.0  # a copy: changing it leaves the network alone
    np.testing.assert_array_equal(net.get_weights(0)[0], params[0])
    last = net.get_weights(2)  # index 1 is the Activation op; the last Dense has no bias
    assert len(last) == 1 and last[0].shape == (6, 2)
    np.testing.assert_array_equal(last[0], params[2])


@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_counts_as_an_op_and_is_inactive_in_predict(dtype):
    layers = [ref.Dense(3, 5, "relu"), ref.Dense(5, 2, "linear")]
    params = initial_params(layers, dtype, seed=7)
    net = _core.Network(dtype=dtype, seed=0)
    net.add_op("dense", 3, 5, {"activation": "relu"})
    net.add_op("dropout", 5, 5, {"rate": 0.5})
    net.add_op("dense", 5, 2)
    net.compile(loss="mse", optimizer="sgd")
    net.set_weights(0, [p.astype(dtype) for p in params[:2]])
    net.set_weights(2, [p.astype(dtype) for p in params[2:]])
    x = np.random.default_rng(8).normal(size=(10, 3)).astype(dtype)
    assert_close(net.predict(x), ref.forward(layers, params, x), dtype, "forward")
    assert_close(net.predict(x), net.predict(x), dtype, "forward")


def test_float32_network_predicts_float32_and_float64_predicts_float64():
    for dtype in DTYPES:
        net = _core.Network(dtype=dtype, seed=0)
        net.add_op("dense", 2, 3)
        net.compile(loss="mse", optimizer="sgd")
        assert net.predict(np.ones((4, 2))).dtype == np.dtype(dtype)


def test_set_weights_shape_mismatch_is_rejected():
    net = _core.Network(dtype="float64", seed=0)
    net.add_op("dense", 2, 3)
    with pytest.raises(ValueError):
        net.set_weights(0, [np.zeros((3, 2)), np.zeros(3)])
    with pytest.raises(ValueError):
        net.set_weights(0, [np.zeros((2, 3)), np.zeros(4)])


def test_weights_of_an_activation_op_or_missing_index_are_rejected():
    net = _core.Network(dtype="float64", seed=0)
    net.add_op("dense", 2, 3)
    net.add_op("activation", 3, 3, {"activation": "relu"})
    assert net.get_weights(1) == []
    with pytest.raises((ValueError, IndexError)):
        net.get_weights(5)


def test_same_seed_gives_same_initial_weights():
    def kernel(seed):
        net = _core.Network(dtype="float32", seed=seed)
        net.add_op("dense", 4, 3)
        return net.get_weights(0)[0]
    np.testing.assert_array_equal(kernel(1), kernel(1))
    assert not np.array_equal(kernel(1), kernel(2))
    limit = np.sqrt(6.0 / (4 + 3))  # glorot_uniform
    assert np.all(np.abs(kernel(1)) <= limit)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("threads", [1, 2])
def test_larger_network_uses_the_same_arithmetic(threads, dtype):
    # big enough for the blocked / threaded GEMM paths; results must match the oracle at any thread count
    layers = [ref.Dense(300, 64, "relu", kernel_l2=1e-4), ref.Dense(64, 32, "tanh"), ref.Dense(32, 10, "softmax")]
    rng = np.random.default_rng(9)
    params = [(rng.normal(size=s) / np.sqrt(s[0] if len(s) == 2 else 10)).astype(dtype).astype(np.float64)
              for s in ref.param_shapes(layers)]
    x = rng.normal(size=(128, 300)).astype(dtype)
    y = ref.example_targets("categorical_crossentropy", rng, 128, 10).astype(dtype)
    before = _core.get_num_threads()
    _core.set_num_threads(threads)
    try:
        net = build(layers, "categorical_crossentropy", False, [], dtype, params, "adam", dict(learning_rate=0.01))
        assert_close(net.predict(x, batch_size=50), ref.forward(layers, params, x), dtype, "forward")
        value, grads = net.forward_backward(x, y)
        expected_value, expected_grads = ref.loss_and_grads(layers, params, x, y, "categorical_crossentropy")
        assert_close(value, expected_value, dtype, "forward")
        for g, e in zip(grads, expected_grads):
            assert_close(g, e, dtype, "backward")
        weights, _ = ref.train(layers, params, [(x, y)] * 3, "categorical_crossentropy", "adam",
                               dict(learning_rate=0.01))
        for _ in range(3):
            net.train_on_batch(x, y)
        for g, e in zip(get_params(net, layers), weights[-1]):
            assert_close(g, e, dtype, "trajectory")
    finally:
        _core.set_num_threads(before)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act, loss", [("sigmoid", "binary_crossentropy"), ("softmax", "categorical_crossentropy"),
                                       ("softmax", "sparse_categorical_crossentropy")])
def test_fused_loss_is_finite_for_saturated_outputs(act, loss, dtype):
    # logits of a few hundred: the probabilities round to exactly 0 and 1, the fused loss must not care
    layers = [ref.Dense(2, 3, act)]
    params = [np.array([[300.0, -200.0, 50.0], [-250.0, 400.0, 10.0]]), np.zeros(3)]
    x = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], dtype=dtype)
    y = ref.example_targets(loss, np.random.default_rng(10), 3, 3).astype(dtype)
    net = build(layers, loss, False, [], dtype, params)
    value, grads = net.forward_backward(x, y)
    expected_value, expected_grads = ref.loss_and_grads(layers, params, x, y, loss)
    assert np.isfinite(value) and all(np.all(np.isfinite(g)) for g in grads)
    assert_close(value, expected_value, dtype, "forward")
    for g, e in zip(grads, expected_grads):
        assert_close(g, e, dtype, "backward")
