"""Losses beyond tests/test_ops.py's per-name checks: the arguments that change the numbers (Huber's delta,
label_smoothing on the cross-entropies) against the NumPy reference, each loss as a class, a function and a
string (Keras 3's names and aliases), training and saving with them, and bad arguments."""

import numpy as np
import pytest

import fastnn
from fastnn import _core, layers, losses
from conftest import assert_close
import reference as ref

DTYPES = ("float32", "float64")
CONFIG_CASES = [
    ("huber", False, {"delta": 0.3}),
    ("huber", False, {"delta": 2.5}),
    ("binary_crossentropy", False, {"label_smoothing": 0.1}),
    ("binary_crossentropy", True, {"label_smoothing": 0.3}),
    ("categorical_crossentropy", False, {"label_smoothing": 0.2}),
    ("categorical_crossentropy", True, {"label_smoothing": 0.05}),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, from_logits, config", CONFIG_CASES)
def test_loss_arguments_match_the_reference(name, from_logits, config, dtype):
    rng = np.random.default_rng(5)
    y = ref.example_targets(name, rng, 9, 3)
    p = ref.example_predictions(name, y, rng, from_logits)
    if name == "huber":  # keep |p - y| away from the kink at delta
        e = p - y
        p = np.where(np.abs(np.abs(e) - config["delta"]) < 0.05, y + np.sign(e) * (config["delta"] + 0.1), p)
    w = rng.uniform(0.2, 2.0, size=9)
    y32, p32, w32 = (a.astype(dtype) for a in (y, p, w))
    y64, p64, w64 = (a.astype(np.float64) for a in (y32, p32, w32))
    value = _core.loss_forward(name, y32, p32, w32, from_logits, config)
    grad = _core.loss_backward(name, y32, p32, w32, from_logits, config)
    assert_close(value, ref.loss_forward(name, y64, p64, w64, from_logits, **config), dtype, "forward")
    assert_close(grad, ref.loss_backward(name, y64, p64, w64, from_logits, **config), dtype, "backward")


def test_label_smoothing_moves_targets_as_keras():
    y = np.array([[1.0, 0.0]])
    p = np.array([[0.7, 0.3]])
    bce = losses.BinaryCrossentropy(label_smoothing=0.2)
    t = y * 0.8 + 0.1  # towards 1/2
    assert bce(y, p) == pytest.approx(np.mean(-(t * np.log(p) + (1 - t) * np.log(1 - p))))
    cce = losses.CategoricalCrossentropy(label_smoothing=0.2)
    t = y * 0.8 + 0.1  # towards 1/k, k = 2
    assert cce(y, p) == pytest.approx(-(t * np.log(p)).sum())


@pytest.mark.parametrize("string, cls", [
    ("log_cosh", losses.LogCosh), ("logcosh", losses.LogCosh), ("kld", losses.KLDivergence),
    ("kl_divergence", losses.KLDivergence), ("KLDivergence", losses.KLDivergence), ("poisson", losses.Poisson),
    ("mape", losses.MeanAbsolutePercentageError), ("mean_absolute_percentage_error", losses.MeanAbsolutePercentageError),
    ("msle", losses.MeanSquaredLogarithmicError), ("categorical_hinge", losses.CategoricalHinge),
    ("cosine_similarity", losses.CosineSimilarity), ("huber", losses.Huber), ("Huber", losses.Huber),
    ("bce", losses.BinaryCrossentropy),
])
def test_keras_loss_strings(string, cls):
    assert type(losses.get(string)) is cls


@pytest.mark.parametrize("fn, cls", [
    (losses.log_cosh, losses.LogCosh), (losses.kl_divergence, losses.KLDivergence), (losses.poisson, losses.Poisson),
    (losses.mean_absolute_percentage_error, losses.MeanAbsolutePercentageError),
    (losses.mean_squared_logarithmic_error, losses.MeanSquaredLogarithmicError),
    (losses.categorical_hinge, losses.CategoricalHinge), (losses.cosine_similarity, losses.CosineSimilarity),
    (losses.huber, losses.Huber),
])
def test_loss_functions_and_classes_agree(fn, cls):
    rng = np.random.default_rng(0)
    y = rng.uniform(0.1, 1.0, size=(6, 3))
    p = rng.uniform(0.1, 1.0, size=(6, 3))
    assert type(losses.get(fn)) is cls
    assert fn(y, p) == pytest.approx(cls()(y, p), rel=1e-12)
    assert fn(y, p) == pytest.approx(ref.loss_forward(cls.engine_name, y, p), rel=1e-10)


@pytest.mark.parametrize("loss, act, make_y", [
    ("log_cosh", "linear", lambda rng, n: rng.normal(size=(n, 2))),
    ("kld", "softmax", lambda rng, n: np.eye(2)[rng.integers(0, 2, size=n)] * 0.8 + 0.1),
    ("poisson", "softplus", lambda rng, n: rng.poisson(2.0, size=(n, 2)).astype(float)),
    ("mape", "linear", lambda rng, n: rng.normal(size=(n, 2)) + 3.0),
    ("msle", "softplus", lambda rng, n: rng.uniform(0, 3, size=(n, 2))),
    ("categorical_hinge", "linear", lambda rng, n: np.eye(2)[rng.integers(0, 2, size=n)]),
    ("cosine_similarity", "linear", lambda rng, n: rng.normal(size=(n, 2))),
    (losses.Huber(delta=0.5), "linear", lambda rng, n: rng.normal(size=(n, 2))),
    (losses.CategoricalCrossentropy(label_smoothing=0.1), "softmax", lambda rng, n: np.eye(2)[rng.integers(0, 2, n)]),
])
def test_training_reduces_each_new_loss_and_evaluate_matches_the_reference(loss, act, make_y):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(120, 3))
    y = make_y(rng, 120)
    fastnn.utils.set_random_seed(0)
    model = fastnn.Sequential([layers.Dense(8, activation="tanh", input_shape=(3,)), layers.Dense(2, activation=act)],
                              dtype="float64")
    model.compile(optimizer="adam", loss=loss)
    before = model.evaluate(x, y, verbose=0)
    history = model.fit(x, y, epochs=15, batch_size=16, verbose=0)
    after = model.evaluate(x, y, verbose=0)
    assert after < before and history.history["loss"][-1] < history.history["loss"][0]
    lo = model.loss
    expected = ref.loss_forward(lo.engine_name, y, model.predict(x, verbose=0), None, False, **lo.engine_config())
    assert after == pytest.approx(expected, rel=1e-9)


def test_loss_arguments_survive_save_and_load(tmp_path):
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(20, 3)), rng.normal(size=(20, 1))
    model = fastnn.Sequential([layers.Dense(1, input_shape=(3,))], dtype="float64")
    model.compile(optimizer="sgd", loss=losses.Huber(delta=0.25))
    model.save(tmp_path / "m.fastnn")
    loaded = fastnn.models.load_model(tmp_path / "m.fastnn")
    assert isinstance(loaded.loss, losses.Huber) and loaded.loss.delta == 0.25
    assert loaded.evaluate(x, y, verbose=0) == pytest.approx(model.evaluate(x, y, verbose=0), rel=1e-12)


@pytest.mark.parametrize("make, match", [
    (lambda: losses.Huber(delta=0), "delta"),
    (lambda: losses.Huber(delta=float("inf")), "delta"),
    (lambda: losses.BinaryCrossentropy(label_smoothing=1.5), "label_smoothing"),
    (lambda: losses.CategoricalCrossentropy(label_smoothing=-0.1), "label_smoothing"),
    (lambda: losses.CosineSimilarity(axis=0), "axis"),
    (lambda: losses.get("no_such_loss"), "no_such_loss"),
    (lambda: losses.deserialize({"name": "huber", "delta": 1.0, "code": "x"}), "code"),
    (lambda: _core.loss_forward("poisson", np.ones((2, 2)), np.ones((2, 2)), None, True), "from_logits"),
    (lambda: _core.loss_forward("mse", np.ones((2, 2)), np.ones((2, 2)), None, False, {"label_smoothing": 0.1}),
     "label_smoothing"),
])
def test_bad_loss_arguments_are_refused_by_name(make, match):
    with pytest.raises(ValueError, match=match):
        make()
