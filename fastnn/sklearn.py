"""fastnn.sklearn: drop-in MLPClassifier and MLPRegressor with scikit-learn's parameters, trained by fastnn's engine.

    from fastnn.sklearn import MLPClassifier      # instead of: from sklearn.neural_network import MLPClassifier
    clf = MLPClassifier(hidden_layer_sizes=(64,), max_iter=50, random_state=0).fit(X, y)

Same parameters, defaults, attributes (coefs_, intercepts_, loss_curve_, best_loss_, validation_scores_,
best_validation_score_, n_iter_, t_, n_layers_, n_outputs_, out_activation_, classes_, ...) and algorithm as
scikit-learn's stochastic solvers: the same initial weights (drawn from `random_state` exactly as scikit-learn draws
them), the same per-epoch shuffles and validation split, the same loss, L2 penalty (alpha / (2 * batch size) *
sum of squared kernel entries), Adam and SGD updates (momentum, Nesterov, 'constant' / 'invscaling' / 'adaptive'
learning rates) and convergence rule (tol, n_iter_no_change, early_stopping). Each epoch is one call into fastnn's
engine (forward, backward and update of every batch happen there); Python keeps scikit-learn's bookkeeping between
epochs. The weights are in the dtype of X, as in scikit-learn (float32 stays float32, anything else is float64).

Differences: solver='lbfgs' and MLPRegressor(loss='poisson') are refused (not built); when the batch size does not
divide the number of samples, the last, smaller batch of an epoch gets the L2 penalty of a full batch (scikit-learn
scales it by that batch's size), and with sample weights the penalty is scaled by the batch size rather than the
batch's weight sum; for a multi-output regressor with alpha > 0, loss_curve_ counts the penalty at the epoch's end
weights. Needs scikit-learn: pip install "fastnn-cpp[sklearn]".
"""

try:
    import sklearn  # noqa: F401
except ImportError as _e:  # pragma: no cover - depends on the environment
    raise ImportError('fastnn.sklearn needs scikit-learn, which is not installed: pip install "fastnn-cpp[sklearn]" '
                      "(or pip install scikit-learn)") from _e

import contextlib
import warnings

import numpy as np
import scipy.sparse
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as _SKMLPClassifier, MLPRegressor as _SKMLPRegressor
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state, gen_batches, shuffle as _shuffle
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import _check_partial_fit_first_call, type_of_target, unique_labels
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, column_or_1d, validate_data

from . import optimizers, random as _fastnn_random, regularizers
from .layers import Dense
from .models import Sequential

__all__ = ["MLPClassifier", "MLPRegressor"]

# scikit-learn activation name -> fastnn activation name.
_ACTIVATIONS = {"identity": "linear", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu", "softmax": "softmax"}
_PREDICT_BATCH = 4096


@contextlib.contextmanager
def _own_seed_stream():
    """Building the engine model must not move fastnn's global seed stream (its weights are ours anyway)."""
    saved = dict(_fastnn_random._state)
    try:
        yield
    finally:
        _fastnn_random._state.update(saved)


def _dense(X):
    return X.toarray() if scipy.sparse.issparse(X) else X


def _batch_normalized(sw, batch_size):
    """Sample weights rescaled per batch so that fastnn's weighted batch mean (sum w*loss / batch size) equals
    scikit-learn's weighted average (sum w*loss / sum w) on every batch of the epoch's order."""
    out = np.empty_like(sw)
    for sl in gen_batches(len(sw), batch_size):
        total = sw[sl].sum()
        out[sl] = sw[sl] * ((sl.stop - sl.start) / total) if total > 0 else 0.0
    return out


class _BaseMLP(BaseEstimator):
    """What MLPClassifier and MLPRegressor share: scikit-learn's stochastic solvers around fastnn's engine."""

    def _check_supported(self):
        if self.solver == "lbfgs":
            raise ValueError(f"solver='lbfgs': fastnn.sklearn.{type(self).__name__} trains with the stochastic "
                             "solvers only ('adam', the default, and 'sgd'); L-BFGS is not built. Use solver='adam' "
                             "or 'sgd', or scikit-learn's own estimator for 'lbfgs'")
        if getattr(self, "loss", None) == "poisson":
            raise ValueError("loss='poisson': fastnn.sklearn.MLPRegressor supports loss='squared_error' only (the "
                             "exponential output and Poisson loss are not built); use scikit-learn's own MLPRegressor "
                             "for loss='poisson'")

    def _hidden_sizes(self):
        sizes = self.hidden_layer_sizes
        sizes = list(sizes) if hasattr(sizes, "__iter__") else [sizes]
        if np.any(np.array(sizes) <= 0):
            raise ValueError(f"hidden_layer_sizes must be > 0, got {sizes}.")
        return [int(s) for s in sizes]

    # ------------------------------------------------------------------ scales between the two conventions
    def _scales(self):
        """(s, r): fastnn's training loss is s times the objective scikit-learn differentiates, and scikit-learn
        reports r times fastnn's data loss. Exact for one output; see the module docstring."""
        k = self.n_outputs_
        if not is_classifier(self):  # mse = mean over outputs; scikit-learn: 0.5 * mean, gradient of 0.5 * sum
            return 2.0 / k, 0.5
        if self.out_activation_ == "logistic":  # binary_crossentropy averages over outputs, scikit-learn sums
            return 1.0 / k, float(k)
        return 1.0, 1.0

    def _engine_loss(self):
        if not is_classifier(self):
            return "mse"
        return "binary_crossentropy" if self.out_activation_ == "logistic" else "categorical_crossentropy"

    def _engine_optimizer(self, s):
        if self.solver == "sgd":
            return optimizers.SGD(learning_rate=self._learning_rate / s, momentum=self.momentum,
                                  nesterov=self.nesterovs_momentum)
        # Adam is invariant to the gradient's scale but for epsilon, which scales with it.
        return optimizers.Adam(learning_rate=self.learning_rate_init, beta_1=self.beta_1, beta_2=self.beta_2,
                               epsilon=self.epsilon * s)

    def _engine_model(self, dtype, l2, new_optimizer):
        """The fastnn model for these layer sizes, dtype and penalty, holding coefs_ / intercepts_."""
        units = [self.coefs_[0].shape[0]] + [c.shape[1] for c in self.coefs_]
        key = (np.dtype(dtype).name, tuple(units), self.activation, self.out_activation_, l2)
        model = getattr(self, "_model", None)
        s, _ = self._scales()
        if model is None or self._model_key != key:
            old_state = None
            if model is not None and not new_optimizer and model.compiled and model._engine_compiled:
                old_state = model._net.get_optimizer_state()
            last = len(units) - 2
            with _own_seed_stream():
                layers = [Dense(units[i + 1], activation=_ACTIVATIONS[self.activation if i < last else
                                                                      self.out_activation_],
                                kernel_regularizer=regularizers.L2(l2) if l2 > 0 else None,
                                **({"input_shape": (units[0],)} if i == 0 else {}))
                          for i in range(len(units) - 1)]
                model = Sequential(layers, dtype=np.dtype(dtype).name)
            model.compile(optimizer=self._engine_optimizer(s), loss=self._engine_loss())
            if old_state is not None and old_state["slots"][0].shape == (model._net.n_params,):
                model._net.set_optimizer_state(old_state)
            self._model, self._model_key = model, key
        elif new_optimizer:
            model.compile(optimizer=self._engine_optimizer(s), loss=self._engine_loss())
        self._push_weights()
        return model

    def _push_weights(self):
        weights = []
        for c, b in zip(self.coefs_, self.intercepts_):
            weights += [np.asarray(c, dtype=self._model.dtype), np.asarray(b, dtype=self._model.dtype)]
        self._model.set_weights(weights)

    def _pull_weights(self):
        w = self._model.get_weights()
        self.coefs_ = [np.asarray(c, dtype=self._dtype) for c in w[0::2]]
        self.intercepts_ = [np.asarray(b, dtype=self._dtype) for b in w[1::2]]

    def _forward(self, X):
        """The output layer's activations for validated, dense X (scikit-learn's _forward_pass_fast)."""
        if getattr(self, "_model", None) is None:
            with _own_seed_stream():
                self._engine_model(self._dtype, 0.0, True)
        else:
            self._push_weights()  # coefs_ is the truth: the user may have changed it
        X = np.asarray(X, dtype=self._model.dtype)
        return self._model.predict(X, batch_size=max(1, min(len(X), _PREDICT_BATCH)), verbose=0)

    def _forward_checked(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse=["csr", "csc"], dtype=(np.float64, np.float32), reset=False)
        return self._forward(_dense(X))

    # ------------------------------------------------------------------ training (scikit-learn's algorithm)
    def _initialize(self, y, layer_units, dtype, rng):
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = y.shape[1]
        self.n_layers_ = len(layer_units)
        if not is_classifier(self):
            self.out_activation_ = "identity"
        elif self._label_binarizer.y_type_ == "multiclass":
            self.out_activation_ = "softmax"
        else:
            self.out_activation_ = "logistic"
        self.coefs_, self.intercepts_ = [], []
        factor = 2.0 if self.activation == "logistic" else 6.0
        for fan_in, fan_out in zip(layer_units[:-1], layer_units[1:]):
            bound = np.sqrt(factor / (fan_in + fan_out))
            self.coefs_.append(rng.uniform(-bound, bound, (fan_in, fan_out)).astype(dtype, copy=False))
            self.intercepts_.append(rng.uniform(-bound, bound, fan_out).astype(dtype, copy=False))
        self._best_coefs = [c.copy() for c in self.coefs_]
        self._best_intercepts = [i.copy() for i in self.intercepts_]
        self.loss_curve_ = []
        self._no_improvement_count = 0
        if self.early_stopping:
            self.validation_scores_ = []
            self.best_validation_score_ = -np.inf
            self.best_loss_ = None
        else:
            self.best_loss_ = np.inf
            self.validation_scores_ = None
            self.best_validation_score_ = None
        self._model = None
        self._has_optimizer = False

    def _fit(self, X, y, sample_weight=None, incremental=False):
        self._check_supported()
        hidden = self._hidden_sizes()
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        X, y = self._validate_input(X, y, incremental, reset=first_pass)
        X = _dense(X)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X)
        if y.ndim == 1:
            y = y.reshape((-1, 1))
        n_features = X.shape[1]
        layer_units = [n_features] + hidden + [y.shape[1]]
        if not first_pass:
            have = [self.coefs_[0].shape[0]] + [c.shape[1] for c in self.coefs_]
            if have != layer_units:
                raise ValueError(f"warm_start / partial_fit: the network has layer sizes {have}, but the data and "
                                 f"hidden_layer_sizes need {layer_units}")
        self.n_outputs_ = y.shape[1]
        rng = check_random_state(self.random_state)
        if first_pass:
            self._dtype = X.dtype
            self._initialize(y, layer_units, X.dtype, rng)
        self._fit_stochastic(np.ascontiguousarray(X, dtype=self._dtype), y, sample_weight, incremental, rng)
        if not all(np.isfinite(w).all() for w in self.coefs_ + self.intercepts_):
            raise ValueError("Solver produced non-finite parameter weights. The input data may contain large "
                             "values and need to be preprocessed.")
        return self

    def _fit_stochastic(self, X, y, sample_weight, incremental, rng):
        new_optimizer = not incremental or not getattr(self, "_has_optimizer", False)
        if new_optimizer:
            self._learning_rate = float(self.learning_rate_init)  # scikit-learn's optimizer.learning_rate
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        early_stopping = self.early_stopping
        if early_stopping:
            stratify = y if is_classifier(self) and self.n_outputs_ == 1 else None
            if sample_weight is None:
                X_train, X_val, y_train, y_val = train_test_split(
                    X, y, random_state=rng, test_size=self.validation_fraction, stratify=stratify)
                sw_train = sw_val = None
            else:
                X_train, X_val, y_train, y_val, sw_train, sw_val = train_test_split(
                    X, y, sample_weight, random_state=rng, test_size=self.validation_fraction, stratify=stratify)
            if X_val.shape[0] < 2:
                raise ValueError("The validation set is too small. Increase 'validation_fraction' or the size of "
                                 "your dataset.")
            if is_classifier(self):
                y_val = self._label_binarizer.inverse_transform(y_val)
        else:
            X_train, y_train, sw_train = X, y, sample_weight
            X_val = y_val = sw_val = None

        n_samples = X_train.shape[0]
        sample_idx = np.arange(n_samples, dtype=int)
        if self.batch_size == "auto":
            batch_size = min(200, n_samples)
        else:
            if self.batch_size > n_samples:
                warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is going to be clipped")
            batch_size = int(np.clip(self.batch_size, 1, n_samples))

        s, r = self._scales()
        l2 = s * self.alpha / (2.0 * batch_size)
        model = self._engine_model(self._dtype, l2, new_optimizer)
        self._has_optimizer = True
        y_train = np.ascontiguousarray(y_train, dtype=self._dtype)
        if sw_train is not None:
            sw_train = np.asarray(sw_train, dtype=self._dtype)
        try:
            self.n_iter_ = 0
            for _ in range(self.max_iter):
                if self.shuffle:
                    sample_idx = _shuffle(sample_idx, random_state=rng)
                    Xe, ye = X_train[sample_idx], y_train[sample_idx]
                    swe = None if sw_train is None else sw_train[sample_idx]
                else:
                    Xe, ye, swe = X_train, y_train, sw_train
                if swe is not None:
                    swe = _batch_normalized(swe, batch_size)
                if self.solver == "sgd":
                    model.optimizer.learning_rate = self._learning_rate / s
                history = model.fit(Xe, ye, batch_size=batch_size, epochs=1, shuffle=False, verbose=0,
                                    sample_weight=swe)
                engine_loss = float(history.history["loss"][-1])
                self._pull_weights()
                self.loss_ = engine_loss * r
                if r != 1.0 / s and l2 > 0:  # multi-output regression: the penalty is not scaled like the loss
                    penalty = l2 * sum(float(np.dot(c.ravel(), c.ravel())) for c in self.coefs_)
                    self.loss_ += (1.0 / s - r) * penalty
                self.n_iter_ += 1
                self.t_ += n_samples
                self.loss_curve_.append(self.loss_)
                if self.verbose:
                    print("Iteration %d, loss = %.8f" % (self.n_iter_, self.loss_))
                self._update_no_improvement_count(early_stopping, X_val, y_val, sw_val)
                if self.solver == "sgd" and self.learning_rate == "invscaling":
                    self._learning_rate = float(self.learning_rate_init) / (self.t_ + 1) ** self.power_t
                if self._no_improvement_count > self.n_iter_no_change:
                    if early_stopping:
                        msg = ("Validation score did not improve more than tol=%f for %d consecutive epochs."
                               % (self.tol, self.n_iter_no_change))
                    else:
                        msg = ("Training loss did not improve more than tol=%f for %d consecutive epochs."
                               % (self.tol, self.n_iter_no_change))
                    if self._trigger_stopping(msg):
                        break
                    self._no_improvement_count = 0
                if incremental:
                    break
                if self.n_iter_ == self.max_iter:
                    warnings.warn("Stochastic Optimizer: Maximum iterations (%d) reached and the optimization "
                                  "hasn't converged yet." % self.max_iter, ConvergenceWarning)
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.")
            self._pull_weights()
        if early_stopping:
            self.coefs_ = self._best_coefs
            self.intercepts_ = self._best_intercepts
            self._push_weights()

    def _trigger_stopping(self, msg):
        if self.solver != "sgd" or self.learning_rate != "adaptive":
            if self.verbose:
                print(msg + " Stopping.")
            return True
        if self._learning_rate <= 1e-6:
            if self.verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        self._learning_rate /= 5.0
        if self.verbose:
            print(msg + " Setting learning rate to %f" % self._learning_rate)
        return False

    def _update_no_improvement_count(self, early_stopping, X, y, sample_weight):
        if early_stopping:
            score = self._score(X, y, sample_weight=sample_weight)
            self.validation_scores_.append(score)
            if self.verbose:
                print("Validation score: %f" % self.validation_scores_[-1])
            last = self.validation_scores_[-1]
            if last < self.best_validation_score_ + self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if last > self.best_validation_score_:
                self.best_validation_score_ = last
                self._best_coefs = [c.copy() for c in self.coefs_]
                self._best_intercepts = [i.copy() for i in self.intercepts_]
        else:
            if self.loss_curve_[-1] > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if self.loss_curve_[-1] < self.best_loss_:
                self.best_loss_ = self.loss_curve_[-1]

    def _score_with_function(self, X, y, sample_weight, score_function):
        y_pred = self._predict(X, check_input=False)
        if np.issubdtype(y_pred.dtype, np.floating) and not np.isfinite(y_pred).all():
            return np.nan
        return score_function(y, y_pred, sample_weight=sample_weight)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model to data matrix X and target(s) y (scikit-learn's MLP fit, trained by fastnn's engine)."""
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    def _check_solver(self):
        if self.solver not in ("sgd", "adam"):
            raise AttributeError("partial_fit is only available for stochastic optimizers. %s is not stochastic."
                                 % self.solver)
        return True

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # densified before training
        return tags


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """scikit-learn's MLPClassifier (same parameters, defaults and attributes), trained by fastnn's engine.

    See the module docstring for what is the same and the few differences; solver='lbfgs' is refused.
    """

    _parameter_constraints = dict(_SKMLPClassifier._parameter_constraints)

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5, max_iter=200,
                 shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-8, n_iter_no_change=10, max_fun=15000):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if (not hasattr(self, "classes_")) or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError("warm_start can only be used where `y` has the same classes as in the previous "
                                     f"call to fit. Previously got {self.classes_}, `y` has {classes}")
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has {self.classes_}. "
                                 f"'y' has {classes}.")
        y = self._label_binarizer.transform(y).astype(bool)
        return X, y

    def predict(self, X):
        """The predicted classes, shape (n_samples,) (or (n_samples, n_classes) for multilabel targets)."""
        check_is_fitted(self)
        return self._predict(X)

    def _predict(self, X, check_input=True):
        y_pred = self._forward_checked(X) if check_input else self._forward(X)
        if self.n_outputs_ == 1:
            y_pred = y_pred.ravel()
        return self._label_binarizer.inverse_transform(y_pred)

    def _score(self, X, y, sample_weight=None):
        return self._score_with_function(X, y, sample_weight=sample_weight, score_function=accuracy_score)

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over the given data; `classes` is required on the first call (as in scikit-learn)."""
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def predict_log_proba(self, X):
        """log(predict_proba(X))."""
        y_prob = self.predict_proba(X)
        return np.log(y_prob, out=y_prob)

    def predict_proba(self, X):
        """Probability of each class, shape (n_samples, n_classes), columns in the order of classes_."""
        check_is_fitted(self)
        y_pred = self._forward_checked(X)
        if self.n_outputs_ == 1:
            y_pred = y_pred.ravel()
        if y_pred.ndim == 1:
            return np.vstack([1 - y_pred, y_pred]).T
        return y_pred

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    """scikit-learn's MLPRegressor (same parameters, defaults and attributes), trained by fastnn's engine.

    See the module docstring for what is the same and the few differences; solver='lbfgs' and loss='poisson' are
    refused.
    """

    _parameter_constraints = dict(_SKMLPRegressor._parameter_constraints)

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5,
                 max_iter=200, shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False,
                 momentum=0.9, nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1, beta_1=0.9,
                 beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000):
        self.loss = loss
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun

    def predict(self, X):
        """The predicted values, shape (n_samples,) for one output, else (n_samples, n_outputs)."""
        check_is_fitted(self)
        return self._predict(X)

    def _predict(self, X, check_input=True):
        y_pred = self._forward_checked(X) if check_input else self._forward(X)
        if y_pred.shape[1] == 1:
            return y_pred.ravel()
        return y_pred

    def _score(self, X, y, sample_weight=None):
        return self._score_with_function(X, y, sample_weight=sample_weight, score_function=r2_score)

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True, y_numeric=True,
                             dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X, y

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over the given data (as scikit-learn's partial_fit)."""
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)


