"""Parity with Keras 3 itself (where it is installed, on the torch backend): the new losses, every metric class
fastnn implements (fed in several batches) and the learning-rate schedules give Keras's numbers."""

import os

import numpy as np
import pytest

from _extras import require  # noqa: E402

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = require("keras")

from fastnn import losses, metrics  # noqa: E402
from fastnn.optimizers import schedules  # noqa: E402

import test_metrics as tm  # noqa: E402  (the metric cases and their data)

RTOL, ATOL = 2e-5, 2e-6  # Keras computes in float32


def keras_metric(m):
    """The Keras metric with the same class and arguments."""
    cfg = {k: v for k, v in m.get_config().items() if k != "dtype"}
    return getattr(keras.metrics, type(m).__name__)(**cfg)


@pytest.mark.parametrize("weighted", (False, True))
@pytest.mark.parametrize("metric, make", tm.CASES, ids=[tm.case_id(c) for c in tm.CASES])
def test_metric_matches_keras(metric, make, weighted):
    rng = np.random.default_rng(11)
    y, p = make(rng)
    y, p = y.astype(np.float32), p.astype(np.float32)
    w = rng.uniform(0.0, 2.0, size=len(p)).astype(np.float32) if weighted else None
    km = keras_metric(metric)
    for b in range(0, len(p), 16):
        yk = y[b:b + 16]
        if metric.sparse_labels:
            yk = yk[:, 0]
        km.update_state(yk, p[b:b + 16], sample_weight=None if w is None else w[b:b + 16])
    expected = np.asarray(keras.ops.convert_to_numpy(km.result()), dtype=np.float64).reshape(-1)
    metric.reset_state()
    for b in range(0, len(p), 16):
        metric.update_state(y[b:b + 16], p[b:b + 16], None if w is None else w[b:b + 16])
    got = np.asarray(metric.result(), dtype=np.float64).reshape(-1)
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL)


LOSS_CASES = [
    (losses.LogCosh(), "normal"), (losses.KLDivergence(), "prob"), (losses.Poisson(), "count"),
    (losses.MeanAbsolutePercentageError(), "normal"), (losses.MeanSquaredLogarithmicError(), "count"),
    (losses.CategoricalHinge(), "onehot"), (losses.CosineSimilarity(), "normal"), (losses.Huber(delta=0.4), "normal"),
    (losses.BinaryCrossentropy(label_smoothing=0.2), "binary"),
    (losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.1), "binary_logits"),
    (losses.CategoricalCrossentropy(label_smoothing=0.15), "onehot_prob"),
    (losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.3), "onehot_logits"),
]


@pytest.mark.parametrize("loss, kind", LOSS_CASES, ids=[repr(c[0]) for c in LOSS_CASES])
def test_loss_matches_keras(loss, kind):
    rng = np.random.default_rng(4)
    n, k = 20, 4
    y = {"normal": lambda: rng.normal(size=(n, k)), "prob": lambda: tm.softmax_rows(rng, n, k),
         "count": lambda: rng.poisson(2.0, size=(n, k)).astype(float), "onehot": lambda: tm.onehot(rng, n, k),
         "binary": lambda: tm.labels01(rng, n, k), "binary_logits": lambda: tm.labels01(rng, n, k),
         "onehot_prob": lambda: tm.onehot(rng, n, k), "onehot_logits": lambda: tm.onehot(rng, n, k)}[kind]()
    if kind in ("prob", "onehot_prob"):
        p = tm.softmax_rows(rng, n, k)
    elif kind in ("count", "binary"):
        p = rng.uniform(0.05, 2.5 if kind == "count" else 0.95, size=(n, k))
    else:
        p = rng.normal(size=(n, k)) * 2
    w = rng.uniform(0.1, 2.0, size=n)
    y, p, w = y.astype(np.float32), p.astype(np.float32), w.astype(np.float32)
    cfg = {key: v for key, v in loss.get_config().items() if key != "name"}
    kl = getattr(keras.losses, type(loss).__name__)(**cfg)
    expected = float(keras.ops.convert_to_numpy(kl(y, p, sample_weight=w)))
    assert loss(y, p, sample_weight=w) == pytest.approx(expected, rel=RTOL, abs=ATOL)


@pytest.mark.parametrize("schedule", tm_schedules := [
    schedules.ExponentialDecay(0.1, 7, 0.5, staircase=True), schedules.InverseTimeDecay(0.2, 3, 0.7),
    schedules.PiecewiseConstantDecay([5, 12], [0.3, 0.1, 0.01]),
    schedules.PolynomialDecay(0.1, 9, end_learning_rate=0.01, power=0.5, cycle=True),
    schedules.CosineDecay(0.0, 20, warmup_target=0.2, warmup_steps=10), schedules.CosineDecay(0.1, 25, alpha=0.1),
    # (with first_decay_steps=4, t_mul=1.5 the restart at step 10 is where Keras's float32 log ratio
    # log(2.25) / log(1.5) rounds below 2 and Keras stays in the old period; fastnn computes in float64)
    schedules.CosineDecayRestarts(0.1, 3, t_mul=1.5, m_mul=0.8)], ids=repr)
def test_schedule_matches_keras(schedule):
    ks = getattr(keras.optimizers.schedules, type(schedule).__name__).from_config(schedule.get_config())
    steps = list(range(0, 50))
    expected = [float(keras.ops.convert_to_numpy(ks(s))) for s in steps]
    np.testing.assert_allclose(schedule(np.array(steps)), expected, rtol=2e-6, atol=1e-9)
