"""fastnn._core activations and losses against the NumPy oracle (tests/reference.py), float32 and float64.

Inputs are drawn in float64, rounded to the dtype under test, and the oracle runs on those rounded
values, so the tolerance table (conftest.TOL) measures only the engine's arithmetic.
"""

import numpy as np
import pytest

import reference as ref
from conftest import assert_close

_core = pytest.importorskip("fastnn._core")

DTYPES = ("float32", "float64")
GRAD_ACTIVATIONS = [a for a in ref.ACTIVATIONS if a != "step"]
CROSSENTROPIES = ("binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy")


def rounded(a, dtype):
    """a in `dtype` (what the engine gets) and the same values in float64 (what the oracle gets)."""
    a = np.asarray(a, dtype=np.float64).astype(dtype)
    return a, a.astype(np.float64)


def preactivations(name, dtype, seed=0):
    rng = np.random.default_rng(seed)
    z = ref.example_preactivations(name, rng, (6, 5))
    z[0] = [-30.0, 30.0, -80.0, 80.0, 0.5]  # saturated region: must stay finite and exact
    return rounded(z, dtype)


# ------------------------------------------------------------------------------ activations

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ref.ACTIVATIONS)
def test_activation_forward(name, dtype):
    z, z64 = preactivations(name, dtype)
    a = _core.activation_forward(name, z)
    assert a.dtype == np.dtype(dtype) and a.shape == z.shape
    assert_close(a, ref.activation_forward(name, z64), dtype, "forward")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", GRAD_ACTIVATIONS)
def test_activation_backward(name, dtype):
    z, z64 = preactivations(name, dtype)
    dout, dout64 = rounded(np.random.default_rng(1).normal(size=z.shape), dtype)
    dz = _core.activation_backward(name, z, dout)
    assert dz.dtype == np.dtype(dtype) and dz.shape == z.shape
    assert_close(dz, ref.activation_backward(name, z64, dout64), dtype, "backward")


@pytest.mark.parametrize("dtype", DTYPES)
def test_activation_does_not_modify_its_input(dtype):
    z, _ = preactivations("gelu", dtype)
    before = z.copy()
    _core.activation_forward("softmax", z)
    _core.activation_backward("softmax", z, np.ones_like(z))
    np.testing.assert_array_equal(z, before)


def test_step_backward_is_rejected():
    with pytest.raises(ValueError, match="step"):
        _core.activation_backward("step", np.ones((2, 2)), np.ones((2, 2)))


def test_unknown_activation_is_rejected():
    with pytest.raises(ValueError, match="bogus"):
        _core.activation_forward("bogus", np.ones((2, 2)))


def test_activation_backward_shape_mismatch_is_rejected():
    with pytest.raises(ValueError):
        _core.activation_backward("tanh", np.ones((2, 3)), np.ones((3, 2)))


# ------------------------------------------------------------------------------ losses

def loss_cases():
    for name in ref.LOSSES:
        for from_logits in ((False, True) if name in CROSSENTROPIES else (False,)):
            for weighted in (False, True):
                yield pytest.param(name, from_logits, weighted,
                                   id=f"{name}-{'logits' if from_logits else 'probs'}-{'w' if weighted else 'now'}")


def loss_data(name, from_logits, weighted, dtype, seed=0, n=7, d=4):
    rng = np.random.default_rng(seed)
    y = ref.example_targets(name, rng, n, d)
    p = ref.example_predictions(name, y, rng, from_logits)
    w = rng.uniform(0.0, 2.0, size=n) if weighted else None
    if w is not None:
        w[1] = 0.0  # a sample with weight 0 must not count
    out = rounded(y, dtype) + rounded(p, dtype)
    return out + (rounded(w, dtype) if w is not None else (None, None))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, from_logits, weighted", list(loss_cases()))
def test_loss_forward(name, from_logits, weighted, dtype):
    y, y64, p, p64, w, w64 = loss_data(name, from_logits, weighted, dtype)
    value = _core.loss_forward(name, y, p, sample_weight=w, from_logits=from_logits)
    assert isinstance(value, float)
    assert_close(value, ref.loss_forward(name, y64, p64, w64, from_logits), dtype, "forward")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, from_logits, weighted", list(loss_cases()))
def test_loss_backward(name, from_logits, weighted, dtype):
    y, y64, p, p64, w, w64 = loss_data(name, from_logits, weighted, dtype)
    grad = _core.loss_backward(name, y, p, sample_weight=w, from_logits=from_logits)
    assert grad.dtype == np.dtype(dtype) and grad.shape == p.shape
    assert_close(grad, ref.loss_backward(name, y64, p64, w64, from_logits), dtype, "backward")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["mse", "mae", "huber", "binary_crossentropy", "hinge", "squared_hinge"])
def test_single_output_losses(name, dtype):
    # the usual binary-classification / regression shape (N, 1)
    y, y64, p, p64, _, _ = loss_data(name, False, False, dtype, seed=3, n=9, d=1)
    assert_close(_core.loss_forward(name, y, p), ref.loss_forward(name, y64, p64), dtype, "forward")
    assert_close(_core.loss_backward(name, y, p), ref.loss_backward(name, y64, p64), dtype, "backward")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["hinge", "squared_hinge"])
def test_hinge_with_minus_one_one_labels_equals_zero_one_labels(name, dtype):
    y01, _, p, p64, _, _ = loss_data(name, False, False, dtype, seed=4)
    ypm = (2 * y01 - 1).astype(dtype)
    assert _core.loss_forward(name, ypm, p) == pytest.approx(_core.loss_forward(name, y01, p), rel=1e-6)
    np.testing.assert_array_equal(_core.loss_backward(name, ypm, p), _core.loss_backward(name, y01, p))
    # labels outside {0, 1} are used as given
    ysoft, ysoft64 = rounded(y01 * 0.5, dtype)
    assert_close(_core.loss_forward(name, ysoft, p), ref.loss_forward(name, ysoft64, p64), dtype, "forward")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", CROSSENTROPIES)
def test_extreme_logits_give_finite_loss_and_gradient(name, dtype):
    z, z64 = rounded([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 5.0], [1000.0, 1000.0, -1000.0]], dtype)
    if name == "sparse_categorical_crossentropy":
        y = [[0.0], [2.0], [1.0]]
    elif name == "categorical_crossentropy":
        y = [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
    else:
        y = [[0.0, 1.0, 0.0], [1.0, 0.0, 1.0], [1.0, 1.0, 0.0]]
    y, y64 = rounded(y, dtype)
    value = _core.loss_forward(name, y, z, from_logits=True)
    grad = _core.loss_backward(name, y, z, from_logits=True)
    assert np.isfinite(value) and np.all(np.isfinite(grad))
    assert_close(value, ref.loss_forward(name, y64, z64, from_logits=True), dtype, "forward")
    assert_close(grad, ref.loss_backward(name, y64, z64, from_logits=True), dtype, "backward")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", CROSSENTROPIES)
def test_probabilities_zero_and_one_are_clipped(name, dtype):
    p, p64 = rounded([[0.0, 1.0, 0.0], [0.5, 0.0, 0.5], [0.2, 0.3, 0.5]], dtype)
    if name == "sparse_categorical_crossentropy":
        y = [[0.0], [1.0], [2.0]]
    elif name == "categorical_crossentropy":
        y = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    else:
        y = [[1.0, 1.0, 0.0], [0.0, 1.0, 1.0], [1.0, 0.0, 1.0]]
    y, y64 = rounded(y, dtype)
    value = _core.loss_forward(name, y, p)
    grad = _core.loss_backward(name, y, p)
    assert np.isfinite(value) and np.all(np.isfinite(grad))
    assert value > 3.0  # two of three rows put probability 0 on a true class: -log(1e-7) = 16.1 each
    if name == "binary_crossentropy":  # gradient of a clipped value is 0
        assert grad[0, 0] == 0 and grad[0, 1] == 0 and grad[1, 1] == 0
    if dtype == "float64":
        # (in float32 the clip bound 1 - 1e-7 itself rounds, so only float64 matches the oracle there)
        assert_close(value, ref.loss_forward(name, y64, p64), dtype, "forward")
        assert_close(grad, ref.loss_backward(name, y64, p64), dtype, "backward")


@pytest.mark.parametrize("dtype", DTYPES)
def test_sample_weight_shapes_and_zero_weights(dtype):
    y, _, p, _, w, _ = loss_data("mse", False, True, dtype)
    flat = _core.loss_forward("mse", y, p, sample_weight=w)
    column = _core.loss_forward("mse", y, p, sample_weight=w.reshape(-1, 1))
    assert column == pytest.approx(flat, rel=1e-12)
    # zero weight for every row but one: loss = w_0 L_0 / N
    only = np.zeros_like(w)
    only[0] = 1.0
    expected = ref.per_sample_loss("mse", y, p)[0] / y.shape[0]
    assert_close(_core.loss_forward("mse", y, p, sample_weight=only), expected, dtype, "forward")


def test_unknown_loss_is_rejected():
    with pytest.raises(ValueError, match="bogus"):
        _core.loss_forward("bogus", np.zeros((2, 2)), np.zeros((2, 2)))


def test_loss_shape_mismatch_is_rejected():
    with pytest.raises(ValueError):
        _core.loss_forward("mse", np.zeros((3, 2)), np.zeros((3, 3)))
    with pytest.raises(ValueError):
        _core.loss_backward("mse", np.zeros((3, 2)), np.zeros((2, 2)))


def test_sample_weight_length_mismatch_is_rejected():
    with pytest.raises(ValueError):
        _core.loss_forward("mse", np.zeros((3, 2)), np.zeros((3, 2)), sample_weight=np.ones(2))


@pytest.mark.parametrize("label", [3.0, -1.0, 0.5])
def test_sparse_label_out_of_range_is_rejected(label):
    y = np.array([[0.0], [label]])
    with pytest.raises(ValueError):
        _core.loss_forward("sparse_categorical_crossentropy", y, np.full((2, 3), 1 / 3))
