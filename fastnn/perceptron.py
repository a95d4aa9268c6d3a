"""Rosenblatt's perceptron, as the classic textbook class (Raschka, Python Machine Learning, ch. 2).

`w_` holds the bias first, then one weight per feature; `errors_` the number of updates of each epoch. The
learning rule runs in the engine: for each sample, update = eta * (target - step(net_input)), with targets and
outputs in {-1, +1}; w_[1:] += update * x, w_[0] += update. Any two class labels work: predict returns them.
"""

import numbers

import numpy as np

from . import _core, _limits
from ._validation import as_features, check_int, to_array


class Perceptron:
    def __init__(self, eta=0.01, epochs=50, seed=None, n_iter=None, random_state=None):
        if n_iter is not None:
            epochs = n_iter
        if random_state is not None:
            seed = random_state
        if isinstance(eta, bool) or not isinstance(eta, numbers.Real) or not np.isfinite(eta) or eta <= 0:
            raise ValueError(f"eta: expected a finite number > 0, got {eta!r}")
        self.eta = float(eta)
        self.epochs = check_int(epochs, "epochs", 0, maximum=_limits.MAX_INT32)
        self.seed = 1 if seed is None else check_int(seed, "seed", 0, maximum=(1 << 32) - 1)  # NumPy's RandomState

    def fit(self, X, y):
        X = as_features(X, None, np.float64, "X")
        y = to_array(y, "y").reshape(-1)
        if y.shape[0] != X.shape[0]:
            raise ValueError(f"y: expected {X.shape[0]} labels (as many as X has samples), got {y.shape[0]}")
        classes = np.unique(y)
        if len(classes) > 2:
            raise ValueError(f"y: the perceptron separates two classes, got {len(classes)}: {classes[:5]}")
        if len(classes) == 1:
            classes = np.array([classes[0], classes[0]])
        self.classes_ = classes
        target = np.where(y == classes[1], 1.0, -1.0)
        if len(np.unique(y)) == 2 and set(np.unique(y).tolist()) == {-1, 1}:
            target = y.astype(np.float64)
        rgen = np.random.RandomState(self.seed)
        w0 = rgen.normal(loc=0.0, scale=0.01, size=1 + X.shape[1])
        self.w_, errors = _core.perceptron_fit(X, target, w0, self.eta, self.epochs)
        self.errors_ = list(errors)
        return self

    def _check_fitted(self):
        if not hasattr(self, "w_"):
            raise ValueError("This Perceptron is not fitted yet: call fit(X, y) first")

    def net_input(self, X):
        """w_[0] + X @ w_[1:]."""
        self._check_fitted()
        X = as_features(X, self.w_.shape[0] - 1, np.float64, "X")
        return X @ self.w_[1:] + self.w_[0]

    def predict(self, X):
        """The class label of each sample: classes_[1] where net_input >= 0, else classes_[0]."""
        return np.where(self.net_input(X) >= 0.0, self.classes_[1], self.classes_[0])

    def score(self, X, y):
        return float(np.mean(self.predict(X) == to_array(y, "y").reshape(-1)))
