"""fastnn._core.optimizer_trajectory against the NumPy oracle (tests/reference.py), float32 and float64.

Each case runs 12 steps from the same start with a fixed sequence of gradients whose size shrinks
from ~3 to ~0.01 (so clipping bites early, amsgrad's max matters late) and one gradient component
that is always 0.
"""

import numpy as np
import pytest

import reference as ref
from conftest import assert_close

_core = pytest.importorskip("fastnn._core")

DTYPES = ("float32", "float64")
STEPS, SIZE = 12, 9

CONFIGS = [
    ("sgd", {}),
    ("sgd", dict(learning_rate=0.1, momentum=0.9)),
    ("sgd", dict(learning_rate=0.1, momentum=0.9, nesterov=True)),
    ("sgd", dict(learning_rate=0.1, weight_decay=0.05)),
    ("sgd", dict(learning_rate=0.1, clipvalue=0.5)),
    ("sgd", dict(learning_rate=0.1, momentum=0.5, clipnorm=1.0)),
    ("sgd", dict(learning_rate=0.1, global_clipnorm=2.0)),
    ("rmsprop", {}),
    ("rmsprop", dict(learning_rate=0.01, centered=True)),
    ("rmsprop", dict(learning_rate=0.01, momentum=0.8)),
    ("rmsprop", dict(learning_rate=0.01, rho=0.5, momentum=0.5, centered=True, epsilon=1e-4)),
    ("rmsprop", dict(learning_rate=0.01, clipnorm=0.5, weight_decay=0.01)),
    ("adagrad", {}),
    ("adagrad", dict(learning_rate=0.1, initial_accumulator_value=0.5, epsilon=1e-3)),
    ("adagrad", dict(learning_rate=0.1, clipvalue=0.3)),
    ("adadelta", {}),
    ("adadelta", dict(learning_rate=1.0, rho=0.9, epsilon=1e-6)),
    ("adam", {}),
    ("adam", dict(learning_rate=0.05, amsgrad=True)),
    ("adam", dict(learning_rate=0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-4)),
    ("adam", dict(learning_rate=0.01, weight_decay=0.1)),
    ("adam", dict(learning_rate=0.01, clipnorm=1.0)),
    ("adamw", {}),
    ("adamw", dict(learning_rate=0.05, weight_decay=0.1, amsgrad=True)),
    ("adamax", {}),
    ("adamax", dict(learning_rate=0.02, beta_1=0.5, beta_2=0.9, clipvalue=1.0)),
    ("nadam", {}),
    ("nadam", dict(learning_rate=0.02, beta_1=0.8, beta_2=0.99, epsilon=1e-5)),
    ("nadam", dict(learning_rate=0.02, weight_decay=0.05, global_clipnorm=1.0)),
]


def config_id(case):
    name, config = case
    return name + "".join(f"-{k}={v}" for k, v in config.items())


def trajectory_inputs(dtype, seed=0):
    rng = np.random.default_rng(seed)
    w0 = rng.normal(size=SIZE)
    grads = rng.normal(size=(STEPS, SIZE)) * np.geomspace(3.0, 0.01, STEPS)[:, None]
    grads[:, 3] = 0.0
    w0 = w0.astype(dtype)
    grads = grads.astype(dtype)
    return w0, grads


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CONFIGS, ids=[config_id(c) for c in CONFIGS])
def test_trajectory_matches_reference(case, dtype):
    name, config = case
    w0, grads = trajectory_inputs(dtype)
    w0_before, grads_before = w0.copy(), grads.copy()
    got = _core.optimizer_trajectory(name, config, w0, grads)
    assert got.shape == (STEPS, SIZE) and got.dtype == np.dtype(dtype)
    expected = ref.optimizer_trajectory(name, config, w0, grads)
    assert_close(got, expected, dtype, "trajectory")
    # guard on the test itself: the weights must move well beyond the tolerance (Adadelta's default
    # steps are ~1e-5, so only its float64 case and its lr=1 case are strong checks)
    assert np.abs(expected[-1] - w0).max() > 1e-6
    np.testing.assert_array_equal(w0, w0_before)
    np.testing.assert_array_equal(grads, grads_before)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(ref.OPTIMIZERS))
def test_defaults_equal_explicit_keras_defaults(name, dtype):
    defaults = {
        "sgd": dict(learning_rate=0.01, momentum=0.0, nesterov=False),
        "rmsprop": dict(learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False),
        "adagrad": dict(learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7),
        "adadelta": dict(learning_rate=0.001, rho=0.95, epsilon=1e-7),
        "adam": dict(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False),
        "adamw": dict(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=0.004),
        "adamax": dict(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7),
        "nadam": dict(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7),
    }[name]
    w0, grads = trajectory_inputs(dtype, seed=1)
    np.testing.assert_array_equal(_core.optimizer_trajectory(name, {}, w0, grads),
                                  _core.optimizer_trajectory(name, defaults, w0, grads))


@pytest.mark.parametrize("dtype", DTYPES)
def test_many_steps_stay_on_reference(dtype):
    # 200 Nadam steps: u_product and the bias corrections keep evolving
    rng = np.random.default_rng(2)
    w0 = rng.normal(size=5).astype(dtype)
    grads = rng.normal(size=(200, 5)).astype(dtype)
    got = _core.optimizer_trajectory("nadam", dict(learning_rate=0.01), w0, grads)
    expected = ref.optimizer_trajectory("nadam", dict(learning_rate=0.01), w0, grads)
    assert_close(got[-1], expected[-1], dtype, "trajectory")


def test_unknown_optimizer_is_rejected():
    with pytest.raises(ValueError, match="bogus"):
        _core.optimizer_trajectory("bogus", {}, np.zeros(2), np.zeros((1, 2)))


def test_unknown_config_key_is_rejected():
    with pytest.raises((ValueError, TypeError), match="momentun"):
        _core.optimizer_trajectory("sgd", dict(momentun=0.9), np.zeros(2), np.zeros((1, 2)))


def test_grads_width_must_match_w0():
    with pytest.raises(ValueError):
        _core.optimizer_trajectory("sgd", {}, np.zeros(3), np.zeros((4, 2)))


@pytest.mark.parametrize("key, value", [("learning_rate", -0.1), ("clipnorm", -1.0), ("epsilon", float("nan"))])
def test_invalid_config_values_are_rejected(key, value):
    with pytest.raises(ValueError, match=key):
        _core.optimizer_trajectory("adam", {key: value}, np.zeros(2), np.zeros((1, 2)))
