"""The normalization ops of the engine (cpp/fastnn/ops_normalization.hpp) against the float64 oracle
(tests/reference.py): BatchNormalization (training, inference, frozen), LayerNormalization, UnitNormalization,
Normalization (adapted state, given constants, inverted, one value for all features) and Rescaling.

Each case is a network Dense(3 -> 4, linear) -> op(4) under an MSE loss, so that forward_backward's gradient of the
Dense kernel checks the op's input gradient (dW = x^T dh) besides the op's own weight gradients. Checked: predict
(inference), forward_backward's loss and gradients in float32 and float64 (TOL table), central differences in
float64, and the feature-major layout against the row-major one where the op implements both."""

import numpy as np
import pytest

import reference as ref
from conftest import assert_close
from fastnn import _core

DTYPES = ("float32", "float64")
N_IN, WIDTH, M = 3, 4, 6


def _op_weights(rng, case):
    """The op's weights in Keras's order (what set_weights takes), away from degenerate values."""
    kind, args = case["kind"], case["args"]
    if kind == "batch_normalization":
        ws = []
        if args.get("scale", True):
            ws.append(rng.uniform(0.5, 1.5, WIDTH))
        if args.get("center", True):
            ws.append(rng.normal(size=WIDTH))
        return ws + [rng.normal(size=WIDTH), rng.uniform(0.5, 2.0, WIDTH)]
    if kind == "layer_normalization":
        return ([rng.uniform(0.5, 1.5, WIDTH)] if args.get("scale", True) else []) + \
               ([rng.normal(size=WIDTH)] if args.get("center", True) else [])
    if kind == "normalization" and "mean" not in args:
        shape = (WIDTH,) if args.get("per_feature", True) else ()
        return [rng.normal(size=shape), rng.uniform(0.2, 3.0, size=shape), np.array(0.0)]
    return []


def _split(case, ws):
    """(gamma, beta, moving_mean, moving_variance) or (mean, variance) from the op's weights."""
    args = case["args"]
    if case["kind"] == "batch_normalization":
        k = 0
        gamma = beta = None
        if args.get("scale", True):
            gamma, k = ws[k], k + 1
        if args.get("center", True):
            beta, k = ws[k], k + 1
        return gamma, beta, ws[k], ws[k + 1]
    if case["kind"] == "layer_normalization":
        k = 0
        gamma = beta = None
        if args.get("scale", True):
            gamma, k = ws[k], k + 1
        if args.get("center", True):
            beta = ws[k]
        return gamma, beta
    if case["kind"] == "normalization":
        if "mean" in args:
            return np.asarray(args["mean"], float), np.asarray(args["variance"], float)
        return ws[0], ws[1]
    return ()


def ref_op(case, ws, h, dout, training, frozen=False):
    """(out, dh, [op weight gradients], new state or None) of the oracle."""
    kind, args = case["kind"], case["args"]
    if kind == "batch_normalization":
        gamma, beta, mm, mv = _split(case, ws)
        mom, eps = args.get("momentum", ref.BN_MOMENTUM), args.get("epsilon", ref.NORM_EPSILON)
        batch = training and not frozen
        out, nm, nv = ref.batch_normalization_forward(h, gamma, beta, mm, mv, batch, mom, eps)
        dh, grads = ref.batch_normalization_backward(h, gamma, beta, mm, mv, dout, batch, eps)
        return out, dh, grads, (nm, nv)
    if kind == "layer_normalization":
        gamma, beta = _split(case, ws)
        eps = args.get("epsilon", ref.NORM_EPSILON)
        out = ref.layer_normalization_forward(h, gamma, beta, eps)
        dh, grads = ref.layer_normalization_backward(h, gamma, beta, dout, eps)
        return out, dh, grads, None
    if kind == "unit_normalization":
        return (ref.unit_normalization_forward(h),) + ref.unit_normalization_backward(h, dout) + (None,)
    if kind == "normalization":
        mean, var = _split(case, ws)
        inv = args.get("invert", False)
        return (ref.normalization_forward(h, mean, var, inv),) + ref.normalization_backward(h, mean, var, dout, inv) \
            + (None,)
    if kind == "rescaling":
        s, o = args.get("scale", 1.0), args.get("offset", 0.0)
        return (ref.rescaling_forward(h, s, o),) + ref.rescaling_backward(h, s, dout) + (None,)
    raise AssertionError(kind)


CASES = [
    dict(kind="batch_normalization", args={}),
    dict(kind="batch_normalization", args={"momentum": 0.9, "epsilon": 0.01}),
    dict(kind="batch_normalization", args={"center": False}),
    dict(kind="batch_normalization", args={"scale": False, "center": False}),
    dict(kind="layer_normalization", args={}),
    dict(kind="layer_normalization", args={"epsilon": 0.1, "scale": False}),
    dict(kind="unit_normalization", args={}),
    dict(kind="normalization", args={}),
    dict(kind="normalization", args={"per_feature": False, "invert": True}),
    dict(kind="normalization", args={"mean": [0.5, -1.0, 2.0, 0.0], "variance": [2.0, 0.25, 1.0, 4.0]}),
    dict(kind="normalization", args={"mean": [1.0], "variance": [0.0], "invert": True}),  # divisor 1e-7... inverted
    dict(kind="rescaling", args={"scale": 1 / 255, "offset": -0.5}),
]


def case_id(c):
    return c["kind"] + "".join(f"-{k}={v}" for k, v in c["args"].items() if k not in ("mean", "variance")) + \
        ("-given" if "mean" in c["args"] else "")


def setup(case, dtype, seed=0):
    rng = np.random.default_rng(seed)
    W, b = rng.normal(size=(N_IN, WIDTH)), rng.normal(size=WIDTH)
    ws = _op_weights(rng, case)
    x = rng.normal(size=(M, N_IN))
    y = rng.normal(size=(M, WIDTH))
    cast = lambda a: np.asarray(a, dtype=dtype).astype(np.float64)  # noqa: E731
    W, b, x, y, ws = cast(W), cast(b), cast(x), cast(y), [cast(w) for w in ws]
    net = _core.Network(dtype, 0)
    net.add_op("dense", N_IN, WIDTH)
    net.add_op(case["kind"], WIDTH, WIDTH, case["args"])
    net.compile("mse", False, "sgd", {}, [])
    net.set_weights(0, [W.astype(dtype), b.astype(dtype)])
    if ws:
        net.set_weights(1, [w.astype(dtype) for w in ws])
    return net, W, b, ws, x.astype(dtype), y.astype(dtype)


def expected(case, W, b, ws, x, y, training, frozen=False):
    h = x @ W + b
    out0 = ref_op(case, ws, h, np.zeros_like(h), training, frozen)[0]
    dout = 2 * (out0 - y) / y.size
    out, dh, grads, state = ref_op(case, ws, h, dout, training, frozen)
    loss = np.mean((out - y) ** 2)
    return out, loss, [x.T @ dh, dh.sum(axis=0)] + grads, state


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_inference_matches_reference(case, dtype):
    net, W, b, ws, x, y = setup(case, dtype)
    out = expected(case, W, b, ws, x, y, training=False)[0]
    assert_close(net.predict(x), out, dtype, "forward")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_training_forward_backward_matches_reference(case, dtype):
    net, W, b, ws, x, y = setup(case, dtype)
    _, loss, grads, state = expected(case, W, b, ws, x, y, training=True)
    value, got = net.forward_backward(x, y)
    assert_close(value, loss, dtype, "forward")
    assert len(got) == len(grads)
    for k, (g, e) in enumerate(zip(got, grads)):
        assert g.dtype == np.dtype(dtype)
        try:
            assert_close(g, e, dtype, "backward")
        except AssertionError as err:
            raise AssertionError(f"gradient tensor {k}: {err}") from None
    if state is not None:  # BatchNormalization's moving statistics moved once towards the batch's
        after = net.get_weights(1)
        assert_close(after[-2], state[0], dtype, "forward")
        assert_close(after[-1], state[1], dtype, "forward")


@pytest.mark.parametrize("case", [c for c in CASES if c["kind"] == "batch_normalization"], ids=case_id)
def test_frozen_batch_normalization_uses_and_keeps_its_moving_statistics(case):
    net, W, b, ws, x, y = setup(case, "float64")
    net.set_trainable(1, False)
    _, loss, grads, _ = expected(case, W, b, ws, x, y, training=True, frozen=True)
    value, got = net.forward_backward(x, y)
    assert_close(value, loss, "float64", "forward")
    for g, e in zip(got, grads):
        assert_close(g, e, "float64", "backward")
    for a, e in zip(net.get_weights(1), ws):  # nothing moved, moving statistics included
        np.testing.assert_array_equal(a, e)
    net.train_on_batch(x, y)
    for a, e in zip(net.get_weights(1), ws):
        np.testing.assert_array_equal(a, e)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_gradients_match_central_differences(case):
    net, W, b, ws, x, y = setup(case, "float64", seed=3)
    params = [W, b] + ws
    trainable = [p for p in net.param_specs() if not p["state"]]
    _, grads = net.forward_backward(x, y)
    assert len(grads) == len(trainable)
    eps = 1e-6

    def put(ps):
        net.set_weights(0, ps[:2])
        if ws:
            net.set_weights(1, ps[2:])

    for k, g in enumerate(grads):
        numeric = np.zeros_like(params[k])
        for i in np.ndindex(params[k].shape):
            trial = [p.copy() for p in params]
            trial[k][i] += eps
            put(trial)
            up = net.forward_backward(x, y)[0]
            trial[k][i] -= 2 * eps
            put(trial)
            down = net.forward_backward(x, y)[0]
            numeric[i] = (up - down) / (2 * eps)
        put(params)
        try:
            assert_close(g, numeric, "float64", "gradcheck")
        except AssertionError as err:
            raise AssertionError(f"parameter tensor {k}: {err}") from None


def test_unit_normalization_of_a_zero_row_is_finite():
    net = _core.Network("float64", 0)
    net.add_op("unit_normalization", 3, 3)
    net.add_op("dense", 3, 1)
    net.compile("mse", False, "sgd", {}, [])
    x = np.array([[0.0, 0.0, 0.0], [3.0, 0.0, 4.0]])
    np.testing.assert_allclose(net.predict(x, 32, 0, 0), [[0, 0, 0], [0.6, 0, 0.8]], rtol=1e-15)
    _, grads = net.forward_backward(x, np.zeros((2, 1)))
    assert all(np.all(np.isfinite(g)) for g in grads)


def test_layouts_agree_where_both_run():
    """Normalization and Rescaling have feature-major versions: a small network trains alike in both layouts."""
    def make(layout):
        net = _core.Network("float64", 5)
        net.add_op("normalization", 3, 3, {"mean": [0.1, -0.2, 0.3], "variance": [1.5, 0.5, 2.0]})
        net.add_op("dense", 3, 4, {"activation": "tanh"})
        net.add_op("rescaling", 4, 4, {"scale": 0.5, "offset": 0.25})
        net.add_op("normalization", 4, 4, {"per_feature": False})
        net.add_op("dense", 4, 1)
        net.compile("mse", False, "adam", {"learning_rate": 0.01}, ["mae"])
        net.set_weights(3, [np.array(0.3), np.array(2.0), np.array(0.0)])
        net._set_layout(layout)
        return net

    rows, feats = make(0), make(1)
    assert feats.feature_major and not rows.feature_major
    rng = np.random.RandomState(1)
    x, y = rng.randn(40, 3), rng.randn(40, 1)
    for _ in range(3):
        np.testing.assert_allclose(feats.fit_epoch(x, y, None, 8, True), rows.fit_epoch(x, y, None, 8, True),
                                   rtol=1e-9, atol=1e-12)
    for i in (1, 4):
        for a, b in zip(feats.get_weights(i), rows.get_weights(i)):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("kind", ["batch_normalization", "layer_normalization", "unit_normalization"])
def test_ops_without_a_feature_major_version_make_the_network_train_row_major(kind):
    net = _core.Network("float64", 0)
    net.add_op("dense", 3, 4)
    net.add_op(kind, 4, 4)
    net.add_op("dense", 4, 1)
    net.compile("mse", False, "sgd", {}, [])
    assert [o["feature_major"] for o in net.op_specs()] == [True, False, True]
    for layout in (-1, 1):
        net._set_layout(layout)
        assert not net.feature_major


@pytest.mark.parametrize("kind, args, match", [
    ("batch_normalization", {"momentum": 1.5}, r"momentum \(batch_normalization\): expected a number in \[0, 1\]"),
    ("batch_normalization", {"epsilon": 0.0}, r"epsilon \(BatchNormalization\): expected a number > 0"),
    ("layer_normalization", {"epsilon": -1.0}, r"epsilon \(LayerNormalization\): expected a number > 0"),
    ("normalization", {"mean": [1.0, 2.0]}, r"mean and variance \(Normalization\): expected both given"),
    ("normalization", {"mean": [1.0, 2.0], "variance": [1.0, 1.0]}, r"mean \(Normalization\): expected 1 or 4 values"),
    ("normalization", {"mean": [0.0], "variance": [-1.0]}, r"variance \(Normalization\): expected numbers >= 0"),
    ("normalization", {"mean": [np.nan], "variance": [1.0]}, r"mean \(normalization\): expected finite numbers"),
    ("rescaling", {"scale": float("inf")}, r"scale \(rescaling\): expected a finite number"),
    ("layer_normalization", {"gama_l2": 0.1}, r"argument of layer_normalization: expected one of .*gamma_l2"),
])
def test_bad_arguments_are_refused(kind, args, match):
    net = _core.Network("float64", 0)
    with pytest.raises(ValueError, match=match):
        net.add_op(kind, 4, 4, args)
    assert net.n_ops == 0
