"""Small synthetic data sets for examples and tests, generated deterministically per seed.

Every function takes ``n`` (number of samples) and ``seed`` and returns ``(X, y)``: ``X`` float64
of shape ``(n, features)``, ``y`` float64 of shape ``(n,)`` (class labels 0., 1., ... or, for
``make_parabola``, target values). Rows come in random order, so Keras's ``validation_split``
(which takes the last rows) sees every class. The same ``(n, seed, ...)`` always gives the same
arrays (``np.random.default_rng(seed)``).
"""

import numbers

import numpy as np


def _check_n(n, minimum=1):
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"n must be an integer, got {type(n).__name__}")
    if n < minimum:
        raise ValueError(f"n must be at least {minimum}, got {n}")
    return int(n)


def _check_nonneg(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not value >= 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return float(value)


def _halfspace_set(n, seed, dim, margin):
    """Uniform points in [0, 1]^dim, labelled by sum(x) > dim/2, none within ``margin`` of it."""
    n = _check_n(n, 2)
    margin = _check_nonneg("margin", margin)
    if margin >= 0.25:
        raise ValueError(f"margin must be < 0.25 (distance to the plane in [0,1]^{dim}), got {margin}")
    rng = np.random.default_rng(seed)
    normal = np.ones(dim) / np.sqrt(dim)
    kept = np.empty((0, dim))
    while len(kept) < n:
        pts = rng.uniform(0.0, 1.0, size=(2 * n, dim))
        dist = (pts - 0.5) @ normal
        kept = np.concatenate([kept, pts[np.abs(dist) >= margin]])
    X = kept[:n]
    y = ((X - 0.5) @ normal > 0).astype(np.float64)
    if y.min() == y.max():  # tiny n: make sure both classes appear
        X[0] = 0.5 - (margin + 0.05) * normal
        X[1] = 0.5 + (margin + 0.05) * normal
        y[0], y[1] = 0.0, 1.0
    return X, y


def make_linear_2d(n=200, seed=0, margin=0.05):
    """Two classes in the unit square separated by the line x0 + x1 = 1.

    Points are uniform in [0, 1]^2 with none closer than ``margin`` to the line, so a single
    Dense unit with a sigmoid (a logistic regression) separates them perfectly.
    Class 1 lies above the line (x0 + x1 > 1).
    """
    return _halfspace_set(n, seed, 2, margin)


def make_linear_3d(n=200, seed=0, margin=0.05):
    """Two classes in the unit cube separated by the plane x0 + x1 + x2 = 1.5.

    Points are uniform in [0, 1]^3 with none closer than ``margin`` to the plane; class 1
    lies on the side x0 + x1 + x2 > 1.5.
    """
    return _halfspace_set(n, seed, 3, margin)


BLOB_CENTERS = np.array([[0.0, 0.0], [3.0, 0.0], [1.5, 1.5 * np.sqrt(3.0)]])


def make_blobs3(n=300, seed=0, std=0.5):
    """Three Gaussian blobs in 2-D with labels 0, 1, 2.

    The centres (``BLOB_CENTERS``) are the corners of an equilateral triangle of side 3; each
    blob has isotropic standard deviation ``std``. Class sizes differ by at most one.
    """
    n = _check_n(n, 3)
    std = _check_nonneg("std", std)
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    X = BLOB_CENTERS[y] + std * rng.standard_normal((n, 2))
    order = rng.permutation(n)
    return X[order], y[order].astype(np.float64)


def make_l_shape(n=200, seed=0):
    """Two classes that no single line separates: a square corner inside an L.

    Points are drawn uniformly in [0, 4]^2. Class 0 is the corner square [0, 2.3]^2; class 1 is
    the L-shaped band outside [0, 3)^2 (x0 >= 3 or x1 >= 3); points in the gap between them are
    dropped (redrawn), so there is a margin between the classes but class 0 sits in the
    inner corner of the L. Finally each column is standardized (mean 0, standard deviation 1).
    One hidden layer of a few units separates the classes; a linear model cannot.
    """
    n = _check_n(n, 3)
    rng = np.random.default_rng(seed)
    kept, labels = np.empty((0, 2)), np.empty(0)
    while len(kept) < n:
        pts = rng.uniform(0.0, 4.0, size=(2 * n, 2))
        inner = np.all(pts <= 2.3, axis=1)
        outer = np.any(pts >= 3.0, axis=1)
        keep = inner | outer
        kept = np.concatenate([kept, pts[keep]])
        labels = np.concatenate([labels, outer[keep].astype(np.float64)])
    X, y = kept[:n], labels[:n]
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    return X, y


def make_parabola(n=100, seed=0, noise=0.0):
    """Regression samples of y = -(x - 0.5)^2 + 0.25 for x uniform on [0, 1].

    The curve is 0 at x = 0 and x = 1 and peaks at 0.25 for x = 0.5. ``noise`` is the standard
    deviation of Gaussian noise added to y (0 gives exact values). ``X`` has shape ``(n, 1)``.
    """
    n = _check_n(n)
    noise = _check_nonneg("noise", noise)
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 1.0, size=n)
    y = -(x - 0.5) ** 2 + 0.25
    if noise > 0:
        y = y + noise * rng.standard_normal(n)
    return x.reshape(n, 1), y
