"""Metrics: the engine's accumulators against NumPy computations of Keras 3's formulas (tests/reference.py),
accumulated over several batches and merged; then the same metrics through compile/fit/evaluate (names,
val_ prefixes, metrics= unweighted and weighted_metrics= weighted, "accuracy" resolution), saving, and bad input."""

import numpy as np
import pytest

import fastnn
from fastnn import _core, layers, losses, metrics
from conftest import assert_close
import reference as ref

DTYPES = ("float32", "float64")


def probs(rng, n, k):
    return rng.uniform(0.0, 1.0, size=(n, k))


def labels01(rng, n, k, rate=0.4):
    return (rng.uniform(size=(n, k)) < rate).astype(np.float64)


def onehot(rng, n, k):
    return np.eye(k)[rng.integers(0, k, size=n)]


def softmax_rows(rng, n, k):
    e = np.exp(rng.normal(size=(n, k)))
    return e / e.sum(axis=1, keepdims=True)


# (metric object, data maker (rng) -> (y, p)); each compared with ref.metric_result on the same spec.
def _binary(k=1):
    return lambda rng: (labels01(rng, 53, k), probs(rng, 53, k))


def _cat(k=5):
    return lambda rng: (onehot(rng, 53, k), softmax_rows(rng, 53, k))


def _sparse(k=5):
    return lambda rng: (rng.integers(0, k, size=(53, 1)).astype(np.float64), softmax_rows(rng, 53, k))


def _reg(k=2):
    return lambda rng: (rng.normal(size=(53, k)), rng.normal(size=(53, k)))


def _pos(k=2):
    return lambda rng: (rng.poisson(2.0, size=(53, k)).astype(np.float64), rng.uniform(0.1, 3.0, size=(53, k)))


CASES = [
    (metrics.TruePositives(), _binary()),
    (metrics.FalsePositives(thresholds=0.3), _binary()),
    (metrics.TrueNegatives(), _binary(3)),
    (metrics.FalseNegatives(thresholds=[0.7]), _binary()),
    (metrics.Precision(), _binary()),
    (metrics.Recall(thresholds=0.2), _binary(2)),
    (metrics.Precision(class_id=2), _cat()),
    (metrics.Recall(top_k=2), _cat()),
    (metrics.Precision(top_k=1, class_id=1), _cat()),
    (metrics.AUC(), _binary()),
    (metrics.AUC(curve="PR"), _binary()),
    (metrics.AUC(num_thresholds=13, summation_method="minoring"), _binary(2)),
    (metrics.AUC(curve="PR", summation_method="majoring"), _binary()),
    (metrics.AUC(from_logits=True), lambda rng: (labels01(rng, 53, 1), rng.normal(size=(53, 1)) * 3)),
    (metrics.BinaryAccuracy(), _binary(2)),
    (metrics.BinaryAccuracy(threshold=0.3), _binary()),
    (metrics.CategoricalAccuracy(), _cat()),
    (metrics.SparseCategoricalAccuracy(), _sparse()),
    (metrics.TopKCategoricalAccuracy(), _cat(8)),
    (metrics.TopKCategoricalAccuracy(k=2), _cat()),
    (metrics.SparseTopKCategoricalAccuracy(k=3), _sparse(6)),
    (metrics.RootMeanSquaredError(), _reg()),
    (metrics.R2Score(), _reg(3)),
    (metrics.R2Score(class_aggregation="variance_weighted_average"), _reg(3)),
    (metrics.R2Score(class_aggregation=None), _reg(3)),
    (metrics.F1Score(), _cat(4)),
    (metrics.F1Score(average="micro", threshold=0.5), _binary(3)),
    (metrics.F1Score(average="macro"), _cat(4)),
    (metrics.F1Score(average="weighted", threshold=0.4), _binary(3)),
    (metrics.FBetaScore(average="macro", beta=2.0), _cat(4)),
    (metrics.MeanSquaredError(), _reg()),
    (metrics.MeanAbsoluteError(), _reg()),
    (metrics.MeanAbsolutePercentageError(), lambda rng: (rng.normal(size=(53, 2)) + 3, rng.normal(size=(53, 2)))),
    (metrics.MeanSquaredLogarithmicError(), _pos()),
    (metrics.LogCoshError(), _reg()),
    (metrics.KLDivergence(), lambda rng: (softmax_rows(rng, 53, 4), softmax_rows(rng, 53, 4))),
    (metrics.Poisson(), _pos()),
    (metrics.Hinge(), _binary(2)),
    (metrics.SquaredHinge(), _binary(2)),
    (metrics.CategoricalHinge(), _cat()),
    (metrics.CosineSimilarity(), _reg(3)),
    (metrics.BinaryCrossentropy(), _binary(2)),
    (metrics.BinaryCrossentropy(from_logits=True, label_smoothing=0.1), lambda rng: (labels01(rng, 53, 1),
                                                                                   rng.normal(size=(53, 1)))),
    (metrics.CategoricalCrossentropy(label_smoothing=0.2), _cat()),
    (metrics.SparseCategoricalCrossentropy(), _sparse()),
]


def case_id(case):
    m = case[0]
    return f"{type(m).__name__}-{m.name}-{'-'.join(f'{k}={v}' for k, v in sorted(m._args().items()) if k != 'kind')}"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weighted", (False, True))
@pytest.mark.parametrize("metric, make", CASES, ids=[case_id(c) for c in CASES])
def test_metric_accumulates_over_batches_as_the_reference(metric, make, weighted, dtype):
    rng = np.random.default_rng(7)
    y, p = make(rng)
    y, p = y.astype(dtype), p.astype(dtype)
    w = rng.uniform(0.0, 2.0, size=len(p)).astype(dtype) if weighted else None
    spec = metric.engine_spec(weighted)
    expected = ref.metric_result(spec, y.astype(np.float64), p.astype(np.float64), w)
    assert expected.shape == (metric.result_size(p.shape[1]),)
    for batch in (len(p), 8, 1):  # one batch, several batches and one row per batch: merged states agree
        got = _core.metric_eval(spec, y, p, w, batch)
        assert_close(got, expected, dtype, "forward")


def test_auc_matches_the_exact_roc_auc_when_scores_sit_inside_the_threshold_buckets():
    # With scores at the midpoints of the threshold grid's buckets, the interpolated ROC curve is the exact one:
    # the Mann-Whitney statistic P(score of a positive > score of a negative) + P(tie) / 2.
    rng = np.random.default_rng(3)
    y = labels01(rng, 400, 1)
    p = (rng.integers(0, 199, size=(400, 1)) + 0.5) / 199
    pos, neg = p[y[:, 0] == 1, 0], p[y[:, 0] == 0, 0]
    exact = ((pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()) / (len(pos) * len(neg))
    got = _core.metric_eval(metrics.AUC().engine_spec(), y, p, None, 64)[0]
    assert got == pytest.approx(exact, abs=1e-12)


def test_auc_of_a_perfect_and_of_a_reversed_ranking():
    y = np.array([[0.0], [0.0], [1.0], [1.0]])
    p = np.array([[0.1], [0.2], [0.8], [0.9]])
    assert _core.metric_eval(metrics.AUC().engine_spec(), y, p, None, 2)[0] == pytest.approx(1.0)
    assert _core.metric_eval(metrics.AUC().engine_spec(), y, 1 - p, None, 2)[0] == pytest.approx(0.0)
    assert _core.metric_eval(metrics.AUC(curve="PR").engine_spec(), y, p, None, 2)[0] == pytest.approx(1.0, abs=1e-6)


def test_standalone_update_state_result_reset_state():
    m = metrics.Precision()
    m.update_state([0, 1, 1, 1], [1, 0, 1, 1])
    assert float(m.result()) == pytest.approx(2 / 3)
    m.update_state([1], [1])  # accumulates
    assert float(m.result()) == pytest.approx(3 / 4)
    m.reset_state()
    m.update_state([0, 1, 1, 1], [1, 0, 1, 1], sample_weight=[0, 0, 1, 0])
    assert float(m.result()) == pytest.approx(1.0)  # Keras's docstring example
    auc = metrics.AUC()
    auc.update_state([0, 0, 1, 1], [0, 0.5, 0.3, 0.9])
    assert float(auc.result()) == pytest.approx(0.75)  # Keras's docstring example
    f1 = metrics.F1Score(threshold=0.5)
    f1.update_state(np.array([[1, 1, 1], [1, 0, 0], [1, 1, 0]]), np.array([[0.2, 0.6, 0.7], [0.2, 0.6, 0.6],
                                                                          [0.6, 0.8, 0.0]]))
    np.testing.assert_allclose(f1.result(), [0.5, 0.8, 0.6666667], rtol=1e-5)  # Keras's docstring example


# ------------------------------------------------------------------------- through the model

def model_for(n_in, n_out, act, dtype="float64", seed=1):
    fastnn.utils.set_random_seed(seed)
    return fastnn.Sequential([layers.Dense(6, activation="tanh", input_shape=(n_in,)),
                              layers.Dense(n_out, activation=act)], dtype=dtype)


def binary_data(n=90, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    y = (x[:, :1] + 0.5 * rng.normal(size=(n, 1)) > 0.3).astype(np.float64)
    return x, y


def test_fit_accumulates_epoch_metrics_over_batches_and_names_val_metrics():
    # learning rate 0: the weights stay put, so the epoch's metrics are the metrics of the whole data
    x, y = binary_data()
    xv, yv = binary_data(40, seed=1)
    model = model_for(4, 1, "sigmoid")
    ms = [metrics.AUC(name="auc"), metrics.AUC(curve="PR", name="prc"), metrics.Precision(name="precision"),
          metrics.TruePositives(name="tp"), metrics.BinaryCrossentropy(name="bce"), "accuracy"]
    model.compile(optimizer=fastnn.optimizers.SGD(learning_rate=0.0), loss="binary_crossentropy", metrics=ms)
    history = model.fit(x, y, batch_size=16, epochs=2, validation_data=(xv, yv), verbose=0)
    assert history.epoch == [0, 1]
    assert model.metrics_names == ["loss", "auc", "prc", "precision", "tp", "bce", "accuracy"]
    assert set(history.history) == {p + n for p in ("", "val_") for n in model.metrics_names}
    p, pv = model.predict(x, verbose=0), model.predict(xv, verbose=0)
    for m in ms[:5]:
        spec = m.engine_spec()
        assert_close(history.history[m.name][-1], ref.metric_result(spec, y, p)[0], "float64", "forward")
        assert_close(history.history["val_" + m.name][-1], ref.metric_result(spec, yv, pv)[0], "float64", "forward")
    assert history.history["accuracy"][-1] == pytest.approx(ref.metric("binary_accuracy", y, p))
    logs = model.evaluate(xv, yv, batch_size=7, verbose=0, return_dict=True)
    assert set(logs) == set(model.metrics_names)
    assert logs["prc"] == pytest.approx(history.history["val_prc"][-1], abs=1e-12)


def test_early_stopping_monitors_a_named_loss_metric():
    x, y = binary_data(120)
    model = model_for(4, 1, "linear")
    model.compile(optimizer="adam", loss=losses.BinaryCrossentropy(from_logits=True),
                  metrics=[metrics.BinaryCrossentropy(from_logits=True, name="binary_crossentropy")])
    stop = fastnn.callbacks.EarlyStopping(monitor="val_binary_crossentropy", patience=0, min_delta=10.0)
    history = model.fit(x, y, epochs=20, batch_size=16, validation_split=0.25, callbacks=[stop], verbose=0)
    assert len(history.epoch) == 2  # improvements below min_delta never count
    # the loss-metric is the loss itself here (same formula, same data)
    assert history.history["val_binary_crossentropy"] == pytest.approx(history.history["val_loss"], rel=1e-9)


def test_accuracy_resolves_from_output_width_and_labels_alone():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 3))
    y2 = (rng.uniform(size=(30, 2)) < 0.5).astype(np.float64)
    model = model_for(3, 2, "sigmoid")
    model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(x, y2, epochs=1, verbose=0)
    p = model.predict(x, verbose=0)
    # Keras 3: two outputs are categorical accuracy, even with binary_crossentropy
    assert model.evaluate(x, y2, verbose=0)[1] == pytest.approx(ref.metric("categorical_accuracy", y2, p))
    one = model_for(3, 1, "sigmoid")
    one.compile(optimizer="sgd", loss="mse", metrics=["acc"])
    y1 = y2[:, :1]
    assert one.evaluate(x, y1, verbose=0)[1] == pytest.approx(ref.metric("binary_accuracy", y1,
                                                                          one.predict(x, verbose=0)))


def test_metrics_are_unweighted_and_weighted_metrics_get_class_weight():
    x, y = binary_data(64)
    model = model_for(4, 1, "sigmoid")
    model.compile(optimizer=fastnn.optimizers.SGD(learning_rate=0.0), loss="binary_crossentropy",
                  metrics=["accuracy", metrics.AUC(name="auc")], weighted_metrics=["accuracy", metrics.AUC(name="auc")])
    cw = {0: 1.0, 1: 5.0}
    history = model.fit(x, y, batch_size=10, epochs=1, class_weight=cw, verbose=0)
    assert model.metrics_names == ["loss", "accuracy", "auc", "weighted_accuracy", "weighted_auc"]
    p = model.predict(x, verbose=0)
    w = np.where(y[:, 0] == 1, 5.0, 1.0)
    h = {k: v[-1] for k, v in history.history.items()}
    assert h["accuracy"] == pytest.approx(ref.metric("binary_accuracy", y, p))
    assert h["weighted_accuracy"] == pytest.approx(ref.metric("binary_accuracy", y, p, w))
    assert h["auc"] == pytest.approx(ref.auc(y, p))
    assert h["weighted_auc"] == pytest.approx(ref.auc(y, p, w))
    assert h["weighted_accuracy"] != pytest.approx(h["accuracy"])


@pytest.mark.parametrize("identifier, cls", [
    ("auc", metrics.AUC), ("precision", metrics.Precision), ("recall", metrics.Recall),
    ("true_positives", metrics.TruePositives), ("top_k_categorical_accuracy", metrics.TopKCategoricalAccuracy),
    ("root_mean_squared_error", metrics.RootMeanSquaredError), ("r2_score", metrics.R2Score),
    ("f1_score", metrics.F1Score), ("binary_crossentropy", metrics.BinaryCrossentropy),
    ("kl_divergence", metrics.KLDivergence), ("mape", metrics.MeanAbsolutePercentageError),
    ("msle", metrics.MeanSquaredLogarithmicError), ("logcosh", metrics.LogCoshError),
    ("cosine_similarity", metrics.CosineSimilarity), ("categorical_hinge", metrics.CategoricalHinge),
    ("AUC", metrics.AUC), ("BinaryAccuracy", metrics.BinaryAccuracy),
])
def test_metric_strings_resolve_to_keras_classes_under_the_given_name(identifier, cls):
    m = metrics.resolve(identifier, 3, False)
    assert isinstance(m, cls) and m.name == identifier


def test_losses_and_loss_functions_are_metrics_under_their_names():
    m = metrics.resolve(losses.Huber(delta=0.5), 1, False)
    assert m.name == "huber_loss" and m.engine_spec()["loss_config"] == {"delta": 0.5}
    m = metrics.resolve(losses.log_cosh, 1, False)
    assert m.name == "log_cosh" and m.engine_spec()["loss"] == "log_cosh"


def test_a_metric_that_does_not_fit_the_targets_is_refused_by_name():
    model = model_for(3, 4, "softmax")
    with pytest.raises(ValueError, match="metric 'auc'.*integer class labels"):
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["auc"])
    with pytest.raises(ValueError, match="metric 'my_topk'.*integer class labels"):
        model.compile(optimizer="sgd", loss="categorical_crossentropy",
                      metrics=[metrics.SparseTopKCategoricalAccuracy(name="my_topk")])
    assert not model.compiled  # nothing changed
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy",
                  metrics=[metrics.SparseTopKCategoricalAccuracy(k=2)])


@pytest.mark.parametrize("make, match", [
    (lambda: metrics.AUC(num_thresholds=1), "num_thresholds"),
    (lambda: metrics.AUC(curve="XY"), "curve"),
    (lambda: metrics.AUC(summation_method="trapezoid"), "summation_method"),
    (lambda: metrics.AUC(multi_label=True), "multi_label"),
    (lambda: metrics.Precision(thresholds=[0.3, 0.5]), "thresholds"),
    (lambda: metrics.Recall(thresholds=1.5), "thresholds"),
    (lambda: metrics.Precision(top_k=0), "top_k"),
    (lambda: metrics.Recall(class_id=-1), "class_id"),
    (lambda: metrics.TopKCategoricalAccuracy(k=0), "k"),
    (lambda: metrics.F1Score(average="sum"), "average"),
    (lambda: metrics.F1Score(threshold=0.0), "threshold"),
    (lambda: metrics.FBetaScore(beta=0), "beta"),
    (lambda: metrics.R2Score(class_aggregation="median"), "class_aggregation"),
    (lambda: metrics.BinaryAccuracy(threshold=float("nan")), "threshold"),
    (lambda: metrics.resolve("no_such_metric", 1, False), "no_such_metric"),
])
def test_bad_metric_arguments_are_refused_by_name(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_class_id_beyond_the_outputs_is_refused_at_compile():
    model = model_for(3, 2, "sigmoid")
    with pytest.raises(ValueError, match="class_id"):
        model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=[metrics.Precision(class_id=5)])


def test_per_output_metrics_give_arrays_in_the_logs():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(40, 3))
    y = np.eye(3)[rng.integers(0, 3, size=40)]
    model = model_for(3, 3, "softmax")
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=[metrics.F1Score(), "accuracy"])
    history = model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    f1 = history.history["f1_score"][-1]
    assert isinstance(f1, np.ndarray) and f1.shape == (3,)
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    expected = ref.metric_result(metrics.F1Score().engine_spec(), y, model.predict(x, verbose=0))
    assert_close(logs["f1_score"], expected, "float32", "forward")


def test_metrics_and_weighted_metrics_survive_save_and_load(tmp_path):
    x, y = binary_data(50)
    model = model_for(4, 1, "sigmoid")
    ms = [metrics.AUC(curve="PR", name="prc", num_thresholds=50), metrics.Recall(thresholds=0.3), "accuracy",
          losses.Huber(delta=0.2), metrics.BinaryCrossentropy(label_smoothing=0.1, name="smooth_bce")]
    model.compile(optimizer="adam", loss=losses.BinaryCrossentropy(label_smoothing=0.05), metrics=ms,
                  weighted_metrics=[metrics.TruePositives(name="wtp")])
    model.fit(x, y, epochs=1, verbose=0, sample_weight=np.linspace(0.5, 2, 50))
    before = model.evaluate(x, y, verbose=0, return_dict=True, sample_weight=np.linspace(0.5, 2, 50))
    path = tmp_path / "m.fastnn"
    model.save(path)
    loaded = fastnn.models.load_model(path)
    assert loaded.metrics_names == model.metrics_names
    assert loaded.loss.label_smoothing == 0.05
    after = loaded.evaluate(x, y, verbose=0, return_dict=True, sample_weight=np.linspace(0.5, 2, 50))
    assert after == pytest.approx(before, rel=1e-6)


def test_epoch_metric_states_merge_by_addition_as_across_processes():
    # Two halves of the data accumulated on two engines: the merged state gives the whole data's metrics.
    x, y = binary_data(60)
    nets = []
    for part in (slice(0, 30), slice(30, 60)):
        model = model_for(4, 1, "sigmoid")
        model.compile(optimizer=fastnn.optimizers.SGD(learning_rate=0.0), loss="binary_crossentropy",
                      metrics=[metrics.AUC(), metrics.Precision(), metrics.F1Score(average="micro", threshold=0.5)])
        model.fit(x[part], y[part], batch_size=7, epochs=1, shuffle=False, verbose=0)
        nets.append(model)
    merged = nets[0]._net.epoch_metric_state() + nets[1]._net.epoch_metric_state()
    got = nets[0]._net.metric_results(merged)
    p = nets[0].predict(x, verbose=0)  # same seed: both engines hold the same weights
    expected = [ref.metric_result(m.engine_spec(), y, p)[0] for m in nets[0]._metric_objects]
    assert_close(got, expected, "float64", "forward")
    with pytest.raises(ValueError, match="metric state"):
        nets[0]._net.metric_results(merged[:3])
