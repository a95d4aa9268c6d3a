"""scikit-learn estimators around any fastnn model, as Keras 3's keras.wrappers (SKLearnClassifier,
SKLearnRegressor, SKLearnTransformer), plus partial_fit, predict_proba and an optional random_state.

    def build(X, y, hidden=16):
        model = fastnn.Sequential([Dense(hidden, activation="relu", input_shape=(X.shape[1],)),
                                   Dense(y.shape[1], activation="softmax")])
        model.compile(optimizer="adam", loss="categorical_crossentropy")
        return model

    clf = SKLearnClassifier(model=build, model_kwargs={"hidden": 32}, fit_kwargs={"epochs": 20})

`model` is a compiled fastnn model (cloned, with fresh weights, at each fit unless warm_start=True) or a callable
`model(X=X, y=y, **model_kwargs)` returning one; y is the processed target (one-hot columns for the classifier, a
column per output for the others), so the callable can size the output layer from it. Differences from Keras:
fit's progress output defaults to verbose=0 (fit_kwargs or fit's keywords can set it); `random_state` (an int or
a NumPy RandomState) builds the model from a fixed seed, so fits repeat exactly (same thread count);
`partial_fit` trains one epoch on the given data, continuing the fitted model; `fit_kwargs` is not modified.
Needs scikit-learn: pip install "fastnn-cpp[sklearn]".
"""

try:
    import sklearn  # noqa: F401
except ImportError as _e:  # pragma: no cover - depends on the environment
    raise ImportError('fastnn.wrappers needs scikit-learn, which is not installed: pip install "fastnn-cpp[sklearn]" '
                      "(or pip install scikit-learn)") from _e

import contextlib

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from .. import random as _fastnn_random
from ..models import Model, clone_model

__all__ = ["SKLearnClassifier", "SKLearnRegressor", "SKLearnTransformer"]


@contextlib.contextmanager
def _seeded(random_state):
    """fastnn's seed stream starts from `random_state` inside the block and is restored after it."""
    if random_state is None:
        yield
        return
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool):
        seed = int(random_state)
    else:
        seed = int(check_random_state(random_state).randint(np.iinfo(np.int32).max))
    saved = dict(_fastnn_random._state)
    _fastnn_random.set_seed(seed)
    try:
        yield
    finally:
        _fastnn_random._state.update(saved)


def _check_model(model):
    if not isinstance(model, Model):
        raise TypeError(f"model: expected a fastnn model (or a callable returning one), got {type(model).__name__}")
    if not model.compiled or not model.loss or not model.optimizer:
        raise RuntimeError("Given model needs to be compiled, and have a loss and an optimizer.")


class SKLBase(BaseEstimator):
    """What the three wrappers share (Keras 3's SKLBase)."""

    def __init__(self, model, warm_start=False, model_kwargs=None, fit_kwargs=None, random_state=None):
        self.model = model
        self.warm_start = warm_start
        self.model_kwargs = model_kwargs
        self.fit_kwargs = fit_kwargs
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        return tags

    @property
    def epoch_(self):
        """The number of epochs trained so far."""
        return len(getattr(self, "history_", {}).get("loss", []))

    def _get_model(self, X, y):
        if self.warm_start and hasattr(self, "model_"):
            return self.model_
        if isinstance(self.model, Model) and self.warm_start:
            return self.model
        with _seeded(self.random_state):
            if isinstance(self.model, Model):
                model = clone_model(self.model)
            elif callable(self.model):
                model = self.model(X=X, y=y, **(self.model_kwargs or {}))
            else:
                raise TypeError(f"model: expected a compiled fastnn model or a callable building one, got "
                                f"{type(self.model).__name__}")
            if isinstance(model, Model) and not model.built:
                model.build((None, X.shape[1]))  # draws its weights now, from the seeded stream
        return model

    def _fit_kwargs(self, kwargs):
        out = {"verbose": 0}
        out.update(self.fit_kwargs or {})
        out.update(kwargs)
        return out

    def fit(self, X, y, **kwargs):
        """Builds (or reuses, with warm_start) the model and trains it: keywords go to model.fit, over fit_kwargs."""
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=not isinstance(self, ClassifierMixin))
        y = self._process_target(y, reset=True)
        model = self._get_model(X, y)
        _check_model(model)
        history = model.fit(X, y, **self._fit_kwargs(kwargs))
        self.model_ = model
        self.history_ = {k: list(v) for k, v in history.history.items()}
        return self

    def _partial_fit(self, X, y, kwargs):
        first = not hasattr(self, "model_")
        X, y = validate_data(self, X, y, multi_output=True, reset=first,
                             y_numeric=not isinstance(self, ClassifierMixin))
        y = self._process_target(y, reset=False)
        if first:
            model = self._get_model(X, y)
            _check_model(model)
            self.model_, self.history_ = model, {}
        fit_kwargs = self._fit_kwargs(kwargs)
        fit_kwargs["epochs"] = 1
        history = self.model_.fit(X, y, **fit_kwargs)
        for k, v in history.history.items():
            self.history_.setdefault(k, []).extend(v)
        return self

    def _raw(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        return self.model_.predict(X, verbose=0)

    def predict(self, X):
        """The model's predictions, mapped back to the targets' form."""
        return self._reverse_process_target(self._raw(X))

    def _process_target(self, y, reset=False):
        """Regressors and transformers: one column per output (the shape of y is remembered)."""
        type_of_target(y, raise_unknown=True)
        y = np.asarray(y)
        if reset or not hasattr(self, "_y_ndim"):
            self._y_ndim = y.ndim
        return y.reshape(-1, 1) if y.ndim == 1 else y

    def _reverse_process_target(self, y):
        if self._y_ndim == 1 and y.ndim == 2 and y.shape[1] == 1:
            return y[:, 0]
        return y


class SKLearnClassifier(ClassifierMixin, SKLBase):
    """A scikit-learn classifier around a fastnn model (Keras 3's keras.wrappers.SKLearnClassifier).

    The targets are one-hot encoded over classes_ (sorted labels), so the model ends in one unit per class (a
    softmax for predict_proba to be probabilities); predict gives the class of the largest output.
    Attributes: model_, history_ (dict of per-epoch lists), classes_, n_features_in_, feature_names_in_.
    """

    def decision_function(self, X):
        """The model's outputs, one column per class; for two classes, as scikit-learn expects, one value per
        sample, positive for classes_[1] (the difference of the two outputs). Raw outputs: model_.predict(X)."""
        raw = self._raw(X)
        if len(self.classes_) == 2:
            return raw[:, 1] - raw[:, 0] if raw.shape[1] == 2 else raw[:, 0] - 0.5
        return raw

    def predict_proba(self, X):
        """The model's outputs, taken as the probability of each class (columns in the order of classes_)."""
        raw = self._raw(X)
        if raw.shape[1] == 1:
            return np.hstack([1 - raw, raw])
        return raw

    def predict_log_proba(self, X):
        return np.log(self.predict_proba(X))

    def partial_fit(self, X, y, classes=None, **kwargs):
        """Trains one epoch on (X, y), building the model on the first call; `classes` (every label that will
        appear) is required on the first call, as for scikit-learn's incremental classifiers."""
        if not hasattr(self, "classes_"):
            if classes is None:
                raise ValueError("classes: the first call to partial_fit needs every class label, "
                                 "e.g. classes=np.unique(y_all)")
            self._set_classes(np.asarray(classes))
        return self._partial_fit(X, y, kwargs)

    def _set_classes(self, labels):
        self.classes_ = np.unique(labels)
        if len(self.classes_) == 1:
            raise ValueError("Classifier can't train when only one class is present.")

    def _process_target(self, y, reset=False):
        target_type = type_of_target(y, raise_unknown=True)
        if np.ndim(y) == 2 and np.shape(y)[1] == 1:
            y = column_or_1d(y, warn=True)  # a column of labels: a DataConversionWarning, as scikit-learn's own
        if target_type not in ("binary", "multiclass"):
            raise ValueError(f"Only binary and multiclass target types are supported. Target type: {target_type}")
        y = np.asarray(y).reshape(-1)
        if reset:
            self._set_classes(y)
        unknown = np.setdiff1d(y, self.classes_)
        if len(unknown):
            raise ValueError(f"y: labels {unknown[:5].tolist()} are not among classes_ {self.classes_.tolist()}")
        return (y[:, None] == self.classes_[None, :]).astype(np.float32)

    def _reverse_process_target(self, y):
        if y.shape[1] == 1:
            return self.classes_[(y[:, 0] > 0.5).astype(int)]
        return self.classes_[np.argmax(y, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.poor_score = True
        return tags


class SKLearnRegressor(RegressorMixin, SKLBase):
    """A scikit-learn regressor around a fastnn model (Keras 3's keras.wrappers.SKLearnRegressor).

    Attributes: model_, history_ (dict of per-epoch lists), n_features_in_, feature_names_in_.
    """

    def partial_fit(self, X, y, **kwargs):
        """Trains one epoch on (X, y), building the model on the first call."""
        return self._partial_fit(X, y, kwargs)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.regressor_tags.poor_score = True
        tags.target_tags.multi_output = True  # y with several columns: one model output per column
        return tags


class SKLearnTransformer(TransformerMixin, SKLBase):
    """A scikit-learn transformer whose transform is the fastnn model's predict (Keras 3's SKLearnTransformer):
    fit trains the model on (X, y), transform gives its outputs (e.g. an embedding or a learned feature map).
    """

    def transform(self, X):
        """The model's outputs for X, shape (n_samples, n_outputs)."""
        return self._raw(X)

    def partial_fit(self, X, y, **kwargs):
        """Trains one epoch on (X, y), building the model on the first call."""
        return self._partial_fit(X, y, kwargs)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = []
        tags.target_tags.multi_output = True
        return tags
