"""Numerics at the edges (issue 7): softmax, log-sum-exp and the cross-entropies for logits up to +-1e4, in float32 and
float64, against the float64 oracle (tests/reference.py) computed on the same rounded inputs; then through a model
whose last Dense has hand-set weights (the fused softmax/sigmoid + cross-entropy paths and the clipped probability
path); sigmoid(+-1000) is exactly 0 or 1. Every warning is an error in this module.

(test_ops.py covers logits of +-1000; here the range is ten times wider and the model paths are included.)
"""

import numpy as np
import pytest
from scipy.special import logsumexp

import fastnn
import reference as ref
from conftest import assert_close
from fastnn import Sequential, _core
from fastnn.layers import Dense, Dropout

pytestmark = pytest.mark.filterwarnings("error")

DTYPES = ["float32", "float64"]
BIG = 1e4


def logits(dtype):
    """Rows with huge gaps, huge ties, all-huge-negative, and random values scaled to +-1e4."""
    rows = [[BIG, -BIG, 0.0, 1.0], [-BIG, -BIG, -BIG, -BIG + 1], [BIG, BIG, BIG - 1, -BIG], [BIG, BIG, BIG, BIG],
            [-BIG, BIG, 1e-3, -1e-3], [0.0, 0.0, 0.0, 0.0]]
    rows += list(np.random.default_rng(0).uniform(-BIG, BIG, size=(6, 4)))
    z = np.asarray(rows, dtype=dtype)
    return z, z.astype(np.float64)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_of_huge_logits(dtype):
    z, z64 = logits(dtype)
    p = _core.activation_forward("softmax", z)
    assert p.dtype == np.dtype(dtype) and np.isfinite(p).all()
    expected = np.exp(z64 - logsumexp(z64, axis=1, keepdims=True))
    assert_close(p, expected, dtype, "forward")
    assert_close(p, ref.activation_forward("softmax", z64), dtype, "forward")
    assert_close(p.sum(axis=1, dtype=np.float64), np.ones(len(z)), dtype, "forward")
    assert p[0, 0] == 1.0 and p[0, 1] == 0.0  # exp(-2e4) underflows to exactly 0
    dz = _core.activation_backward("softmax", z, np.ones_like(z))
    assert np.isfinite(dz).all()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["categorical_crossentropy", "sparse_categorical_crossentropy"])
def test_categorical_crossentropy_from_huge_logits_is_log_sum_exp(name, dtype):
    z, z64 = logits(dtype)
    cls = np.arange(len(z)) % 4
    y = cls[:, None].astype(dtype) if name.startswith("sparse") else np.eye(4, dtype=dtype)[cls]
    per_sample = logsumexp(z64, axis=1) - z64[np.arange(len(z)), cls]  # log-sum-exp form, exact in float64
    value = _core.loss_forward(name, y, z, from_logits=True)
    assert np.isfinite(value) and value > 1e3  # several rows are wrong by about 2e4
    assert_close(value, per_sample.mean(), dtype, "forward")
    assert_close(value, ref.loss_forward(name, y.astype(np.float64), z64, from_logits=True), dtype, "forward")
    grad = _core.loss_backward(name, y, z, from_logits=True)
    assert np.isfinite(grad).all()
    expected = (np.exp(z64 - logsumexp(z64, axis=1, keepdims=True)) - np.eye(4)[cls]) / len(z)
    assert_close(grad, expected, dtype, "backward")


@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_crossentropy_from_huge_logits(dtype):
    z, z64 = logits(dtype)
    y = (np.random.default_rng(1).random(z.shape) > 0.5).astype(dtype)
    value = _core.loss_forward("binary_crossentropy", y, z, from_logits=True)
    expected = np.mean(np.mean(np.logaddexp(0.0, z64) - y * z64, axis=1))  # softplus(z) - y z
    assert np.isfinite(value)
    assert_close(value, expected, dtype, "forward")
    grad = _core.loss_backward("binary_crossentropy", y, z, from_logits=True)
    sig = np.where(z64 >= 0, 1 / (1 + np.exp(-np.abs(z64))), np.exp(-np.abs(z64)) / (1 + np.exp(-np.abs(z64))))
    assert np.isfinite(grad).all()
    assert_close(grad, (sig - y) / z.size, dtype, "backward")


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_of_plus_minus_1000_is_exactly_one_and_zero(dtype):
    z = np.array([[1000.0, -1000.0, 1e4, -1e4, 0.0]], dtype=dtype)
    s = _core.activation_forward("sigmoid", z)
    assert s.dtype == np.dtype(dtype)
    assert s[0, 0] == 1.0 and s[0, 1] == 0.0 and s[0, 2] == 1.0 and s[0, 3] == 0.0 and s[0, 4] == 0.5
    assert not np.signbit(s[0, 1])  # +0, not -0
    public = fastnn.activations.sigmoid(np.array([1000.0, -1000.0], dtype=dtype))
    assert public.tolist() == [1.0, 0.0]
    ds = _core.activation_backward("sigmoid", z, np.ones_like(z))
    assert np.isfinite(ds).all() and ds[0, 0] == 0.0 and ds[0, 1] == 0.0


# ------------------------------------------------------------------ through a model with hand-set weights
def model_with_logits(activation, dtype, dropout=False, units=4):
    """x (one-hot of 4) -> Dense(units) whose kernel rows are the logits of each input."""
    layers = [Dense(units, input_shape=(4,), activation=activation)]
    if dropout:  # a last op that is not the activation: the loss reads clipped probabilities, not logits
        layers.append(Dropout(0.0))
    fastnn.utils.set_random_seed(0)
    m = Sequential(layers, dtype=dtype)
    return m


LOGIT_TABLE = np.array([[BIG, -BIG, 0.0, 1.0], [-BIG, BIG, 3.0, -BIG], [BIG, BIG, -BIG, -BIG], [-BIG] * 4])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss", ["categorical_crossentropy", "sparse_categorical_crossentropy"])
def test_softmax_model_with_huge_logits(loss, dtype):
    m = model_with_logits("softmax", dtype)
    m.set_weights([LOGIT_TABLE.astype(dtype), np.zeros(4, dtype=dtype)])
    m.compile(optimizer="sgd", loss=loss)
    x = np.eye(4, dtype=dtype)
    cls = np.array([1, 0, 3, 2])  # every sample's true class has a logit 2e4 below the best (row 3: a 4-way tie)
    y = cls if loss.startswith("sparse") else np.eye(4, dtype=dtype)[cls]
    p = m.predict(x, verbose=0)
    assert np.isfinite(p).all()
    assert_close(p, np.exp(LOGIT_TABLE - logsumexp(LOGIT_TABLE, axis=1, keepdims=True)), dtype, "forward")
    value = m.evaluate(x, y, verbose=0)
    expected = np.mean(logsumexp(LOGIT_TABLE, axis=1) - LOGIT_TABLE[np.arange(4), cls])  # fused: from the logits
    assert np.isfinite(value)
    assert_close(value, expected, dtype, "forward")
    h = m.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0)
    assert np.isfinite(h.history["loss"]).all() and all(np.isfinite(w).all() for w in m.get_weights())
    assert h.history["loss"][0] == pytest.approx(value, rel=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_model_with_huge_logits(dtype):
    m = model_with_logits("sigmoid", dtype, units=1)
    kernel = np.array([[BIG], [-BIG], [1000.0], [-1000.0]], dtype=dtype)
    m.set_weights([kernel, np.zeros(1, dtype=dtype)])
    m.compile(optimizer="sgd", loss="binary_crossentropy")
    x = np.eye(4, dtype=dtype)
    p = m.predict(x, verbose=0)
    assert p[:, 0].tolist() == [1.0, 0.0, 1.0, 0.0]
    y = np.array([0.0, 1.0, 1.0, 0.0], dtype=dtype)  # two samples wrong by a logit of 1e4, two right
    value = m.evaluate(x, y, verbose=0)
    z = kernel[:, 0].astype(np.float64)
    assert_close(value, np.mean(np.logaddexp(0.0, z) - y * z), dtype, "forward")  # (1e4 + 1e4 + 0 + 0) / 4
    h = m.fit(x, y, epochs=2, batch_size=4, verbose=0)
    assert np.isfinite(h.history["loss"]).all() and all(np.isfinite(w).all() for w in m.get_weights())


@pytest.mark.parametrize("dtype", DTYPES)
def test_clipped_probability_path_with_huge_logits(dtype):
    # Dropout after the softmax: the loss sees probabilities of exactly 0 and 1, clipped to [1e-7, 1 - 1e-7] (Keras).
    m = model_with_logits("softmax", dtype, dropout=True)
    m.set_weights([LOGIT_TABLE.astype(dtype), np.zeros(4, dtype=dtype)])
    m.compile(optimizer="sgd", loss="categorical_crossentropy")
    x = np.eye(4, dtype=dtype)
    cls = np.array([1, 0, 3, 0])
    y = np.eye(4, dtype=dtype)[cls]
    p = m.predict(x, verbose=0).astype(np.float64)
    expected = ref.loss_forward("categorical_crossentropy", y.astype(np.float64), p)
    value = m.evaluate(x, y, verbose=0)
    assert np.isfinite(value)
    assert_close(value, expected, dtype, "forward")
    assert value == pytest.approx((3 * -np.log(1e-7) - np.log(0.25)) / 4, rel=1e-5)  # row 3: a 4-way tie
    h = m.fit(x, y, epochs=2, batch_size=4, verbose=0)
    assert np.isfinite(h.history["loss"]).all() and all(np.isfinite(w).all() for w in m.get_weights())
