"""Gradients of fastnn._core.Network.forward_backward, for every activation x loss pairing that has one.

Each pairing puts the activation on the last Dense layer of a small two-layer network (with L1/L2
regularization on some tensors) and checks the gradients (1) against the oracle's, in float32 and
float64, and (2) against central differences (eps 1e-6) of the engine's own float64 loss, computed by
moving one weight at a time with set_weights. Softmax is paired with the categorical losses and
sigmoid with binary crossentropy (the fused paths), linear with the from_logits losses, and every
activation with the regression and hinge losses. `step` has no gradient and is left out.
"""

import numpy as np
import pytest

import reference as ref
from conftest import assert_close

_core = pytest.importorskip("fastnn._core")

EPS = 1e-6
HIDDEN = ["tanh", "elu", "gelu", "softplus", "swish", "selu", "sigmoid", "leaky_relu", "softsign", "relu"]
GENERIC_LOSSES = ("mse", "mae", "huber", "hinge", "squared_hinge")
ELEMENTWISE = [a for a in ref.ACTIVATIONS if a not in ("step", "softmax")]


def pairings():
    """(output activation, loss, from_logits) triples."""
    out = [
        ("softmax", "categorical_crossentropy", False),
        ("softmax", "sparse_categorical_crossentropy", False),
        ("softmax", "mse", False),
        ("softmax", "mae", False),
        ("sigmoid", "binary_crossentropy", False),
        ("hard_sigmoid", "binary_crossentropy", False),
        ("linear", "binary_crossentropy", True),
        ("linear", "categorical_crossentropy", True),
        ("linear", "sparse_categorical_crossentropy", True),
        ("tanh", "categorical_crossentropy", True),
        ("softmax", "kl_divergence", False),
        ("softmax", "categorical_hinge", False),
        ("linear", "categorical_hinge", False),
        ("tanh", "cosine_similarity", False),
        ("linear", "log_cosh", False),
        ("softplus", "poisson", False),
        ("linear", "mean_absolute_percentage_error", False),
        ("softplus", "mean_squared_logarithmic_error", False),
    ]
    out += [(act, loss, False) for act in ELEMENTWISE for loss in GENERIC_LOSSES]
    return out


PAIRINGS = pairings()


def pairing_id(p):
    return f"{p[0]}-{p[1]}" + ("-logits" if p[2] else "")


def setup(pairing, index):
    """Oracle layers, float64 params and data for one pairing; the hidden activation rotates."""
    act, loss, from_logits = pairing
    width = 1 if (loss == "binary_crossentropy" and index % 2) else 3
    layers = [ref.Dense(3, 4, HIDDEN[index % len(HIDDEN)], kernel_l2=0.01, bias_l1=0.001),
              ref.Dense(4, width, act, kernel_l1=0.002, bias_l2=0.02)]
    rng = np.random.default_rng(100 + index)
    params = [rng.normal(scale=0.6, size=s) for s in ref.param_shapes(layers)]
    params[1] += np.where(params[1] >= 0, 0.05, -0.05)  # keep the L1 term away from its kink at 0
    params[2] += np.where(params[2] >= 0, 0.05, -0.05)
    x = rng.normal(size=(5, 3))
    y = ref.example_targets(loss, rng, 5, width)
    w = rng.uniform(0.3, 2.0, size=5) if index % 2 else None
    return layers, loss, from_logits, params, x, y, w


def build(layers, loss, from_logits, params, dtype):
    net = _core.Network(dtype=dtype, seed=0)
    for layer in layers:
        net.add_op("dense", layer.n_in, layer.n_out, dict(activation=layer.activation, kernel_l1=layer.kernel_l1,
                                                          kernel_l2=layer.kernel_l2, bias_l1=layer.bias_l1,
                                                          bias_l2=layer.bias_l2))
    net.compile(loss=loss, from_logits=from_logits, optimizer="sgd")
    set_params(net, params, dtype)
    return net


def set_params(net, params, dtype):
    net.set_weights(0, [np.asarray(p, dtype=dtype) for p in params[0:2]])
    net.set_weights(1, [np.asarray(p, dtype=dtype) for p in params[2:4]])


@pytest.mark.parametrize("dtype", ("float32", "float64"))
@pytest.mark.parametrize("index", range(len(PAIRINGS)), ids=[pairing_id(p) for p in PAIRINGS])
def test_forward_backward_matches_reference(index, dtype):
    layers, loss, from_logits, params, x, y, w = setup(PAIRINGS[index], index)
    params = [p.astype(dtype).astype(np.float64) for p in params]
    x, y = x.astype(dtype), y.astype(dtype)
    w = None if w is None else w.astype(dtype)
    net = build(layers, loss, from_logits, params, dtype)
    value, grads = net.forward_backward(x, y, sample_weight=w)
    expected_value, expected_grads = ref.loss_and_grads(layers, params, x, y, loss, from_logits, w)
    assert_close(value, expected_value, dtype, "forward")
    assert len(grads) == len(expected_grads)
    for k, (g, e) in enumerate(zip(grads, expected_grads)):
        assert g.dtype == np.dtype(dtype) and g.shape == e.shape
        try:
            assert_close(g, e, dtype, "backward")
        except AssertionError as err:
            raise AssertionError(f"gradient tensor {k}: {err}") from None
    # forward_backward does not update the weights
    np.testing.assert_array_equal(net.get_weights(0)[0], params[0].astype(dtype))


@pytest.mark.parametrize("index", range(len(PAIRINGS)), ids=[pairing_id(p) for p in PAIRINGS])
def test_forward_backward_matches_central_differences(index):
    layers, loss, from_logits, params, x, y, w = setup(PAIRINGS[index], index)
    net = build(layers, loss, from_logits, params, "float64")
    _, grads = net.forward_backward(x, y, sample_weight=w)
    for k, p in enumerate(params):
        numeric = np.zeros_like(p)
        for i in np.ndindex(p.shape):
            trial = [q.copy() for q in params]
            trial[k][i] = p[i] + EPS
            set_params(net, trial, "float64")
            up = net.forward_backward(x, y, sample_weight=w)[0]
            trial[k][i] = p[i] - EPS
            set_params(net, trial, "float64")
            down = net.forward_backward(x, y, sample_weight=w)[0]
            numeric[i] = (up - down) / (2 * EPS)
        set_params(net, params, "float64")
        try:
            assert_close(grads[k], numeric, "float64", "gradcheck")
        except AssertionError as err:
            raise AssertionError(f"parameter tensor {k}: {err}") from None


def test_every_differentiable_activation_and_loss_is_covered():
    acts = {p[0] for p in PAIRINGS} | set(HIDDEN)
    assert acts == set(ref.ACTIVATIONS) - {"step"}
    assert {p[1] for p in PAIRINGS} == set(ref.LOSSES)


def test_step_output_cannot_be_trained():
    net = _core.Network(dtype="float64", seed=0)
    net.add_op("dense", 2, 1, {"activation": "step"})
    with pytest.raises(ValueError, match="step"):
        net.compile(loss="mse", optimizer="sgd")
        net.forward_backward(np.ones((3, 2)), np.ones((3, 1)))
