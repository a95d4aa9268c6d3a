"""fastnn.Perceptron: Rosenblatt's rule as in Raschka's textbook class, trained in the engine. It separates
separable data, exposes w_ with the bias first and errors_ per epoch, and matches a NumPy copy of the book's class."""

import numpy as np
import pandas as pd
import pytest

from fastnn import Perceptron
from fastnn.datasets.toy import make_linear_2d, make_linear_3d


class BookPerceptron:
    """Raschka, Python Machine Learning, chapter 2, in NumPy (labels -1 / +1)."""

    def __init__(self, eta=0.01, n_iter=50, random_state=1):
        self.eta, self.n_iter, self.random_state = eta, n_iter, random_state

    def fit(self, X, y):
        rgen = np.random.RandomState(self.random_state)
        self.w_ = rgen.normal(loc=0.0, scale=0.01, size=1 + X.shape[1])
        self.errors_ = []
        for _ in range(self.n_iter):
            errors = 0
            for xi, target in zip(X, y):
                update = self.eta * (target - self.predict(xi))
                self.w_[1:] += update * xi
                self.w_[0] += update
                errors += int(update != 0.0)
            self.errors_.append(errors)
        return self

    def net_input(self, X):
        return np.dot(X, self.w_[1:]) + self.w_[0]

    def predict(self, X):
        return np.where(self.net_input(X) >= 0.0, 1, -1)


@pytest.mark.parametrize("make", [make_linear_2d, make_linear_3d])
def test_separable_data_reaches_training_accuracy_one(make):
    X, y = make(n=200, seed=1)
    p = Perceptron(eta=0.1, epochs=100, seed=1).fit(X, y)
    assert p.score(X, y) == 1.0
    np.testing.assert_array_equal(p.predict(X), y)
    assert p.errors_[-1] == 0 and len(p.errors_) == 100


def test_weights_hold_the_bias_first():
    X, y = make_linear_2d(n=100, seed=2)
    p = Perceptron(eta=0.1, epochs=30).fit(X, y)
    assert p.w_.shape == (3,)
    np.testing.assert_allclose(p.net_input(X), p.w_[0] + X @ p.w_[1:], rtol=1e-12, atol=1e-12)
    # The learnt boundary w0 + w1 x0 + w2 x1 = 0 is the data's line x0 + x1 = 1 up to scale and margin.
    assert p.w_[0] < 0 < p.w_[1] and p.w_[2] > 0
    assert -p.w_[0] / p.w_[1] == pytest.approx(1.0, abs=0.15)


@pytest.mark.parametrize("eta, epochs, seed", [(0.01, 50, 1), (0.1, 10, 3), (1.0, 25, 7)])
def test_matches_the_textbook_class_exactly(eta, epochs, seed):
    X, y01 = make_linear_2d(n=150, seed=seed)
    y = np.where(y01 == 1, 1, -1)
    book = BookPerceptron(eta=eta, n_iter=epochs, random_state=seed).fit(X, y)
    ours = Perceptron(eta=eta, epochs=epochs, seed=seed).fit(X, y)
    assert ours.errors_ == book.errors_
    np.testing.assert_allclose(ours.w_, book.w_, rtol=1e-13, atol=1e-15)
    np.testing.assert_array_equal(ours.predict(X), book.predict(X))


def test_book_argument_names_and_default_seed():
    X, y = make_linear_2d(n=80, seed=4)
    y = np.where(y == 1, 1, -1)
    book = BookPerceptron().fit(X, y)
    ours = Perceptron(eta=0.01, n_iter=50, random_state=1).fit(X, y)
    np.testing.assert_allclose(ours.w_, book.w_, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(Perceptron().fit(X, y).w_, book.w_, rtol=1e-13, atol=1e-15)


def test_any_two_labels_are_returned_by_predict():
    X, y = make_linear_2d(n=100, seed=5)
    names = np.where(y == 1, "setosa", "versicolor")
    p = Perceptron(eta=0.1, epochs=50).fit(pd.DataFrame(X), np.where(y == 1, 7, 3))
    assert set(p.predict(X)) == {3, 7}
    assert p.score(X, np.where(y == 1, 7, 3)) == 1.0
    with pytest.raises(TypeError, match="expected numbers"):
        Perceptron().fit(X, names)


def test_errors_count_updates_per_epoch_and_reach_zero():
    X, y = make_linear_2d(n=120, seed=6)
    p = Perceptron(eta=0.5, epochs=40).fit(X, y)
    assert p.errors_[0] > 0
    first_zero = p.errors_.index(0)
    assert all(e == 0 for e in p.errors_[first_zero:])


def test_errors():
    X, y = make_linear_2d(n=20, seed=0)
    with pytest.raises(ValueError, match="This Perceptron is not fitted yet"):
        Perceptron().predict(X)
    with pytest.raises(ValueError, match="the perceptron separates two classes, got 3"):
        Perceptron().fit(X, np.arange(20) % 3)
    with pytest.raises(ValueError, match="eta: expected a finite number > 0, got 0"):
        Perceptron(eta=0)
    with pytest.raises(ValueError, match=r"y: expected 20 labels \(as many as X has samples\), got 5"):
        Perceptron().fit(X, y[:5])
    with pytest.raises(ValueError, match=r"X: expected 2 features per sample"):
        Perceptron().fit(X, y).predict(np.ones((3, 5)))
