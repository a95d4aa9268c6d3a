"""scikit-learn estimators: fastnn.sklearn.MLPClassifier / MLPRegressor (scikit-learn's MLP, trained by fastnn's
engine) and fastnn.wrappers.SKLearn* (Keras 3's wrappers): scikit-learn's estimator checks, Pipeline, GridSearchCV
(n_jobs=1 and 2), cross_val_score, and the MLPs against scikit-learn's own MLP given the same random_state."""

import os
import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest

from _extras import require

sklearn = require("sklearn")

from sklearn.datasets import make_classification, make_regression  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.neural_network import MLPClassifier as SKMLPClassifier, MLPRegressor as SKMLPRegressor  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import fastnn  # noqa: E402
from fastnn.layers import Dense  # noqa: E402
from fastnn.sklearn import MLPClassifier, MLPRegressor  # noqa: E402
from fastnn.wrappers import SKLearnClassifier, SKLearnRegressor, SKLearnTransformer  # noqa: E402


def dynamic_model(X, y, loss="categorical_crossentropy", out_activation="softmax", hidden=(10,)):
    """A model sized from the data, as in Keras's wrapper examples (module level: picklable by reference)."""
    layers = [Dense(hidden[0], activation="relu", input_shape=(X.shape[1],))]
    layers += [Dense(h, activation="relu") for h in hidden[1:]]
    layers.append(Dense(y.shape[1], activation=out_activation))
    model = fastnn.Sequential(layers)
    model.compile(optimizer="adam", loss=loss)
    return model


REGRESSION = {"loss": "mse", "out_activation": None}

# Every estimator check that fails, and why (the checks not listed pass).
SAMPLE_WEIGHT_REASON = (
    "minibatch training: weighting a sample by 2 is not the same as repeating it, because repeating changes the "
    "number of samples and so the batches and the shuffles (scikit-learn runs this check on its own MLP only with "
    "solver='lbfgs', which fastnn does not build)")
EXPECTED_FAILED_CHECKS = {
    "MLPClassifier": {
        "check_sample_weight_equivalence_on_dense_data": SAMPLE_WEIGHT_REASON,
        "check_sample_weight_equivalence_on_sparse_data": SAMPLE_WEIGHT_REASON,
    },
    "MLPRegressor": {
        "check_sample_weight_equivalence_on_dense_data": SAMPLE_WEIGHT_REASON,
        "check_sample_weight_equivalence_on_sparse_data": SAMPLE_WEIGHT_REASON,
    },
    "SKLearnClassifier": {},
    "SKLearnRegressor": {
        "check_regressor_multioutput": "the model predicts in its own dtype, float32 by default as in Keras "
                                       "(the check wants float64; a dtype='float64' model passes)",
    },
    "SKLearnTransformer": {},
}


def _check_instances():
    return [
        MLPClassifier(max_iter=100, random_state=0),
        MLPRegressor(max_iter=100, random_state=0),
        SKLearnClassifier(dynamic_model, fit_kwargs={"epochs": 40}, random_state=0),
        SKLearnRegressor(dynamic_model, model_kwargs=REGRESSION, random_state=0),
        SKLearnTransformer(dynamic_model, model_kwargs=REGRESSION, random_state=0),
    ]


@pytest.fixture(autouse=True)
def _quiet_convergence():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


@parametrize_with_checks(_check_instances(),
                         expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS[type(est).__name__])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


# ---------------------------------------------------------------------------------------------- the MLPs
def _classification(n=300, classes=3, seed=0):
    return make_classification(n_samples=n, n_features=6, n_informative=4, n_classes=classes, class_sep=2.0,
                               random_state=seed)


def _regression(n=300, outputs=1):
    X, y = make_regression(n_samples=n, n_features=5, n_targets=outputs, noise=5.0, random_state=0)
    return X, y / 100.0


def _all_weights(est):
    return est.coefs_ + est.intercepts_


CASES = {
    "multiclass adam": (SKMLPClassifier, MLPClassifier, "clf3", dict(batch_size=100)),
    "binary sgd nesterov tanh": (SKMLPClassifier, MLPClassifier, "clf2",
                                 dict(solver="sgd", activation="tanh", hidden_layer_sizes=(8, 4), batch_size=50)),
    "binary sgd invscaling logistic": (SKMLPClassifier, MLPClassifier, "clf2",
                                       dict(solver="sgd", learning_rate="invscaling", learning_rate_init=0.1,
                                            activation="logistic", batch_size=50)),
    "multilabel": (SKMLPClassifier, MLPClassifier, "multilabel", dict(batch_size=100)),
    "regression adam alpha": (SKMLPRegressor, MLPRegressor, "reg", dict(batch_size=100, alpha=0.1)),
    "regression sgd identity no momentum": (SKMLPRegressor, MLPRegressor, "reg",
                                            dict(solver="sgd", momentum=0.0, activation="identity", batch_size=60)),
    "regression two outputs": (SKMLPRegressor, MLPRegressor, "reg2", dict(batch_size=100, alpha=0.1)),
    "regression sample weights": (SKMLPRegressor, MLPRegressor, "reg-sw", dict(batch_size=100, alpha=0.0)),
    "no shuffle": (SKMLPClassifier, MLPClassifier, "clf3", dict(shuffle=False, batch_size=30)),
    "partial last batch": (SKMLPClassifier, MLPClassifier, "clf3", dict(batch_size=128, alpha=1e-4)),
}


def _case_data(kind):
    if kind.startswith("clf") or kind == "multilabel":
        X, y = _classification()
        if kind == "clf2":
            y = y == 1
        if kind == "multilabel":
            y = np.c_[y == 0, y == 1, y == 2].astype(int)
        return X, y, None
    X, y = _regression(outputs=2 if kind == "reg2" else 1)
    sw = np.random.default_rng(0).uniform(0.5, 2.0, len(X)) if kind == "reg-sw" else None
    return X, y, sw


@pytest.mark.parametrize("case", sorted(CASES))
def test_mlp_follows_scikit_learn_step_by_step(case):
    """Same random_state: same initial weights, shuffles and updates, so after 5 epochs the weights and the loss
    curve equal scikit-learn's to float64 rounding (the engine sums in another order)."""
    sk_cls, fn_cls, kind, params = CASES[case]
    X, y, sw = _case_data(kind)
    params = {"hidden_layer_sizes": (8,), "max_iter": 5, "random_state": 0, **params}
    ours = fn_cls(**params).fit(X, y, sample_weight=sw)
    theirs = sk_cls(**params).fit(X, y, sample_weight=sw)
    # With a last batch smaller than batch_size (300 = 2 * 128 + 44), fastnn gives it a full batch's L2 penalty.
    rtol = 1e-5 if case == "partial last batch" else 1e-9
    for a, b in zip(_all_weights(ours), _all_weights(theirs)):
        assert a.dtype == b.dtype == np.float64
        np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-12 if rtol < 1e-6 else 1e-7)
    # Two outputs with alpha > 0: the L2 part of the curve is counted at each epoch's end weights.
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-4 if kind == "reg2" else rtol)
    for name in ("n_iter_", "t_", "n_layers_", "n_outputs_", "out_activation_"):
        assert getattr(ours, name) == getattr(theirs, name), name
    assert ours.best_loss_ == pytest.approx(theirs.best_loss_, rel=1e-4)
    if hasattr(theirs, "classes_"):
        np.testing.assert_array_equal(ours.classes_, theirs.classes_)
        np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=rtol * 10, atol=1e-10)
        np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    else:
        np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-8, atol=1e-10)


def test_mlp_convergence_rule_and_early_stopping_match_scikit_learn():
    X, y = _classification(n=400)
    for params in (dict(tol=1e-2, n_iter_no_change=2, max_iter=200),
                   dict(early_stopping=True, n_iter_no_change=3, max_iter=200, batch_size=40),
                   dict(solver="sgd", learning_rate="adaptive", tol=1e-2, n_iter_no_change=2, max_iter=40,
                        batch_size=40)):
        params = dict(hidden_layer_sizes=(6,), random_state=1, **params)
        ours, theirs = MLPClassifier(**params).fit(X, y), SKMLPClassifier(**params).fit(X, y)
        assert ours.n_iter_ == theirs.n_iter_ < params["max_iter"] or params.get("learning_rate") == "adaptive"
        assert ours.n_iter_ == theirs.n_iter_
        if params.get("early_stopping"):
            assert ours.best_loss_ is None and len(ours.validation_scores_) == ours.n_iter_
            np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_)
            assert ours.best_validation_score_ == pytest.approx(theirs.best_validation_score_)
            assert ours.score(X, y) == pytest.approx(theirs.score(X, y), abs=0.01)
        else:
            assert ours.validation_scores_ is None and ours.best_validation_score_ is None
            np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)


def test_float32_data_trains_in_float32():
    X, y = _classification()
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=3, random_state=0).fit(X.astype(np.float32), y)
    assert all(w.dtype == np.float32 for w in _all_weights(clf))
    assert clf.predict_proba(X[:4]).dtype == np.float32
    reference = SKMLPClassifier(hidden_layer_sizes=(8,), max_iter=3, random_state=0).fit(X.astype(np.float32), y)
    np.testing.assert_allclose(clf.coefs_[0], reference.coefs_[0], rtol=1e-4, atol=1e-5)


def test_partial_fit_warm_start_and_probabilities():
    X, y = _classification(n=200)
    clf = MLPClassifier(hidden_layer_sizes=(8,), random_state=0)
    with pytest.raises(ValueError, match="classes"):
        clf.partial_fit(X, y)
    for _ in range(3):
        clf.partial_fit(X, y, classes=[0, 1, 2])
    reference = SKMLPClassifier(hidden_layer_sizes=(8,), random_state=0)
    for _ in range(3):
        reference.partial_fit(X, y, classes=[0, 1, 2])
    np.testing.assert_allclose(clf.coefs_[1], reference.coefs_[1], rtol=1e-9, atol=1e-12)
    assert clf.t_ == 3 * len(X) and clf.n_iter_ == 1 and len(clf.loss_curve_) == 3
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(proba))

    # Chunks of different sizes: the engine model is rebuilt for each batch size, the optimizer state carried over.
    chunked, reference = MLPClassifier(hidden_layer_sizes=(8,), random_state=0), SKMLPClassifier(
        hidden_layer_sizes=(8,), random_state=0)
    for est in (chunked, reference):
        for rows in (slice(0, 150), slice(150, 200), slice(0, 200), slice(20, 120)):
            est.partial_fit(X[rows], y[rows], classes=[0, 1, 2])
    for a, b in zip(_all_weights(chunked), _all_weights(reference)):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)

    warm = MLPClassifier(hidden_layer_sizes=(8,), max_iter=2, warm_start=True, random_state=0).fit(X, y)
    first = [c.copy() for c in warm.coefs_]
    warm.fit(X, y)
    assert len(warm.loss_curve_) == 4 and not np.array_equal(first[0], warm.coefs_[0])
    cold = MLPClassifier(hidden_layer_sizes=(8,), max_iter=2, random_state=0).fit(X, y)
    cold.fit(X, y)
    np.testing.assert_array_equal(cold.coefs_[0], MLPClassifier(hidden_layer_sizes=(8,), max_iter=2,
                                                                random_state=0).fit(X, y).coefs_[0])


def test_changed_coefs_are_used_by_predict():
    X, y = _regression()
    reg = MLPRegressor(hidden_layer_sizes=(4,), max_iter=2, random_state=0).fit(X, y)
    reg.coefs_[-1][:] = 0.0
    np.testing.assert_allclose(reg.predict(X), reg.intercepts_[-1][0])


@pytest.mark.parametrize("params, match", [
    (dict(solver="lbfgs"), "lbfgs.*not built"),
    (dict(hidden_layer_sizes=(0,)), "hidden_layer_sizes"),
    (dict(activation="softplus"), "activation"),
    (dict(alpha=-1.0), "alpha"),
])
def test_bad_parameters_are_refused(params, match):
    X, y = _classification(n=50)
    with pytest.raises(ValueError, match=match):
        MLPClassifier(**params).fit(X, y)


def test_poisson_loss_is_refused():
    X, y = _regression(n=50)
    with pytest.raises(ValueError, match="poisson"):
        MLPRegressor(loss="poisson").fit(X, np.abs(y))


def test_lbfgs_has_no_partial_fit():
    assert not hasattr(MLPClassifier(solver="lbfgs"), "partial_fit")
    assert hasattr(MLPRegressor(), "partial_fit")


def test_mlp_is_faster_per_epoch_is_not_asserted_but_engine_runs_the_epochs(monkeypatch):
    """Each epoch is one fit call into the engine (not one per batch)."""
    calls = []
    original = fastnn.Sequential.fit

    def counting(self, *args, **kwargs):
        calls.append(kwargs.get("batch_size"))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(fastnn.Sequential, "fit", counting)
    X, y = _classification(n=500)
    MLPClassifier(hidden_layer_sizes=(8,), max_iter=4, batch_size=50, random_state=0).fit(X, y)
    assert calls == [50] * 4


# ---------------------------------------------------------------------------------------------- the wrappers
def test_wrapper_clones_a_model_template_and_reproduces_with_random_state():
    X, y = _classification(classes=2)
    template = dynamic_model(X, np.zeros((1, 2)))
    template_weights = [w.copy() for w in template.get_weights()]
    a = SKLearnClassifier(template, fit_kwargs={"epochs": 5}, random_state=3).fit(X, y)
    b = SKLearnClassifier(template, fit_kwargs={"epochs": 5}, random_state=3).fit(X, y)
    assert a.model_ is not template and a.model_ is not b.model_
    assert all(np.array_equal(u, v) for u, v in zip(template.get_weights(), template_weights))  # untouched
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    assert list(a.history_) == ["loss"] and len(a.history_["loss"]) == 5 and a.epoch_ == 5
    assert a.decision_function(X).shape == (len(X),)
    np.testing.assert_array_equal(a.classes_, [0, 1])
    warm = SKLearnClassifier(template, warm_start=True, fit_kwargs={"epochs": 2}).fit(X, y)
    assert warm.model_ is template


def test_wrapper_partial_fit_continues_and_rejects_uncompiled_models():
    X, y = _classification()
    est = SKLearnClassifier(dynamic_model, random_state=0)
    est.partial_fit(X, y, classes=[0, 1, 2])
    model = est.model_
    first = model.get_weights()[0].copy()
    est.partial_fit(X[:50], y[:50])
    assert est.model_ is model and est.epoch_ == 2 and not np.array_equal(first, model.get_weights()[0])
    with pytest.raises(ValueError, match="classes"):
        SKLearnClassifier(dynamic_model).partial_fit(X, y)
    raw = fastnn.Sequential([Dense(3, input_shape=(6,))])
    with pytest.raises(RuntimeError, match="compiled"):
        SKLearnClassifier(raw).fit(X, y)


def test_estimators_are_reachable_from_the_fastnn_namespace():
    assert fastnn.sklearn.MLPClassifier is MLPClassifier
    assert fastnn.wrappers.SKLearnRegressor is SKLearnRegressor
    with pytest.raises(AttributeError, match="no_such"):
        fastnn.no_such


def test_wrapper_regressor_and_transformer_shapes():
    X, y = _regression(outputs=2)
    reg = SKLearnRegressor(dynamic_model, model_kwargs=REGRESSION, fit_kwargs={"epochs": 3}).fit(X, y[:, 0])
    assert reg.predict(X).shape == (len(X),)
    reg2 = SKLearnRegressor(dynamic_model, model_kwargs=REGRESSION).fit(X, y)
    assert reg2.predict(X).shape == (len(X), 2)
    tr = SKLearnTransformer(dynamic_model, model_kwargs=REGRESSION)
    assert tr.fit_transform(X, y).shape == (len(X), 2)


# ---------------------------------------------------------------------------------------------- in scikit-learn
ESTIMATORS = {
    "MLPClassifier": lambda: MLPClassifier(hidden_layer_sizes=(8,), max_iter=30, learning_rate_init=0.01,
                                           random_state=0),
    "SKLearnClassifier": lambda: SKLearnClassifier(dynamic_model, fit_kwargs={"epochs": 30}, random_state=0),
}
GRIDS = {
    "MLPClassifier": {"mlpclassifier__alpha": [1e-4, 1e-1], "mlpclassifier__hidden_layer_sizes": [(4,), (8,)]},
    "SKLearnClassifier": {"sklearnclassifier__model_kwargs": [{"hidden": (4,)}, {"hidden": (8,)}]},
}


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_pipeline_cross_val_score_and_grid_search(name):
    X, y = _classification(n=240)
    pipe = make_pipeline(StandardScaler(), ESTIMATORS[name]())
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and scores.mean() > 0.5  # 3 classes: chance is 1/3
    serial = GridSearchCV(pipe, GRIDS[name], cv=3, n_jobs=1).fit(X, y)
    parallel = GridSearchCV(pipe, GRIDS[name], cv=3, n_jobs=2).fit(X, y)  # estimators pickled to the workers
    np.testing.assert_array_equal(serial.cv_results_["mean_test_score"], parallel.cv_results_["mean_test_score"])
    assert serial.best_params_ == parallel.best_params_
    assert serial.score(X, y) > 0.5
    clone = pickle.loads(pickle.dumps(serial.best_estimator_))
    np.testing.assert_array_equal(clone.predict_proba(X), serial.best_estimator_.predict_proba(X))


def test_importing_fastnn_does_not_import_sklearn_and_missing_sklearn_names_the_extra():
    code = ("import sys, fastnn, fastnn.models, fastnn.viz; "
            "assert 'sklearn' not in sys.modules, 'sklearn imported'; "
            "assert 'fastnn.wrappers' not in sys.modules and 'fastnn.sklearn' not in sys.modules; "
            "sys.modules['sklearn'] = None\n"
            "for mod in ('fastnn.sklearn', 'fastnn.wrappers'):\n"
            "    try:\n"
            "        __import__(mod)\n"
            "    except ImportError as e:\n"
            "        assert 'fastnn-cpp[sklearn]' in str(e), str(e)\n"
            "    else:\n"
            "        raise AssertionError(mod + ' imported without sklearn')\n"
            "print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(fastnn.__file__))) + "/..")
    assert out.stdout.strip() == "ok", out.stderr
