"""Tests of fastnn.viz under the Agg backend: what each figure contains, not its pixels.

The first part uses NumPy fakes implementing exactly the model interface viz relies on
(predict, layers, activations, get_weights, get_config; a Perceptron's w_), which proves the
duck-typing; the second part uses real fastnn models and runs once fastnn._core is built.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from fastnn import viz  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# ---------------------------------------------------------------------------------------------
# Fakes: class names are the ones viz reads ("Dense", "Activation", "Dropout", "InputLayer").

def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


_ACT = {
    "linear": lambda z: z,
    "relu": lambda z: np.maximum(z, 0.0),
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "tanh": np.tanh,
    "step": lambda z: (z >= 0).astype(np.float64),
    "softmax": _softmax,
}


class Dense:
    def __init__(self, kernel, bias=None, activation="linear", name=None):
        self.kernel = np.asarray(kernel, dtype=np.float64)
        self.bias = None if bias is None else np.asarray(bias, dtype=np.float64)
        self.units = self.kernel.shape[1]
        self.activation = activation
        self.name = name or f"dense_{id(self) % 1000}"

    def get_weights(self):
        return [self.kernel] if self.bias is None else [self.kernel, self.bias]

    def get_config(self):
        return {"name": self.name, "units": self.units, "activation": self.activation}

    def __call__(self, x):
        z = x @ self.kernel + (0.0 if self.bias is None else self.bias)
        return _ACT[self.activation](z)


class Activation:
    def __init__(self, activation, name="activation"):
        self.activation, self.name = activation, name

    def get_weights(self):
        return []

    def get_config(self):
        return {"name": self.name, "activation": self.activation}

    def __call__(self, x):
        return _ACT[self.activation](x)


class Dropout:
    def __init__(self, rate, name="dropout"):
        self.rate, self.name = rate, name

    def get_weights(self):
        return []

    def get_config(self):
        return {"name": self.name, "rate": self.rate}

    def __call__(self, x):
        return x


class Flatten:
    name = "flatten"

    def get_weights(self):
        return []

    def get_config(self):
        return {"name": self.name}

    def __call__(self, x):
        return np.reshape(x, (len(x), -1))


class InputLayer:
    name = "input_layer"

    def get_weights(self):
        return []

    def get_config(self):
        return {"name": self.name}


FakeDense = Dense


class FakeModel:
    """Sequential-like (``functional=False``) or functional (layers start with an InputLayer)."""

    def __init__(self, layers, functional=False, name="fake"):
        self.layers = ([InputLayer()] if functional else []) + list(layers)
        self.name = name

    def activations(self, X):
        out, a = [], np.asarray(X, dtype=np.float64)
        for layer in self.layers:
            if isinstance(layer, InputLayer):
                continue
            a = layer(a)
            out.append(a)
        return out

    def predict(self, X, verbose="auto"):
        return self.activations(X)[-1]


class Perceptron:
    """Raschka-style: w_ is bias then weights; predict gives -1 / 1 and takes no verbose."""

    def __init__(self, w):
        self.w_ = np.asarray(w, dtype=np.float64)

    def net_input(self, X):
        return X @ self.w_[1:] + self.w_[0]

    def predict(self, X):
        return np.where(self.net_input(X) >= 0.0, 1, -1)


def _blobs(n=60, seed=0):
    rng = np.random.default_rng(seed)
    X = np.vstack([rng.normal([-1, -1], 0.5, (n // 2, 2)), rng.normal([1, 1], 0.5, (n // 2, 2))])
    y = np.repeat([0, 1], n // 2)
    return X, y


def _grid_points(drawing):
    return np.column_stack([drawing.xx.ravel(), drawing.yy.ravel()])


# ---------------------------------------------------------------------------------------------
# Import and history


def test_importing_viz_does_not_import_matplotlib():
    import fastnn

    root = os.path.dirname(os.path.dirname(os.path.abspath(fastnn.__file__)))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    code = "import sys, fastnn.viz; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=root, check=True)
    assert out.stdout.strip() == "False"


def test_plot_history_panels_and_validation_curves():
    hist = {"loss": [1.0, 0.5, 0.25], "accuracy": [0.5, 0.7, 0.9], "val_loss": [1.1, 0.6, 0.4],
            "val_accuracy": [0.4, 0.6, 0.8]}
    d = viz.plot_history(hist)
    assert len(d.axes) == 2
    assert [a.get_ylabel() for a in d.axes] == ["loss", "accuracy"]
    np.testing.assert_allclose(d.lines["val_loss"].get_ydata(), hist["val_loss"])
    np.testing.assert_allclose(d.lines["accuracy"].get_xdata(), [1, 2, 3])
    assert all(a.get_legend() is not None for a in d.axes)
    assert all(len(a.get_lines()) == 2 for a in d.axes)


def test_plot_history_accepts_history_object_and_single_ax():
    class History:
        history = {"accuracy": [0.1, 0.2], "loss": [2.0, 1.0]}
        epoch = [4, 5]

    fig, ax = plt.subplots()
    d = viz.plot_history(History(), ax=ax)
    assert d.axes == [ax] and d.fig is fig
    np.testing.assert_allclose(d.lines["loss"].get_xdata(), [5, 6])
    assert list(d.lines) == ["loss", "accuracy"]


def test_plot_history_errors():
    with pytest.raises(ValueError, match="keys"):
        viz.plot_history({"loss": [1.0]}, keys=["accuracy"])
    with pytest.raises(ValueError, match="empty"):
        viz.plot_history({})
    with pytest.raises(TypeError, match="history"):
        viz.plot_history([1, 2, 3])


# ---------------------------------------------------------------------------------------------
# Decision boundaries


@pytest.mark.parametrize("functional", [False, True])
def test_decision_boundary_of_a_known_sigmoid_neuron(functional):
    w, b = np.array([2.0, -1.0]), 0.5
    model = FakeModel([Dense(w[:, None], [b], "sigmoid")], functional=functional)
    X, y = _blobs()
    d = viz.plot_decision_boundary(model, X, y, resolution=101)
    z = _grid_points(d) @ w + b
    far = np.abs(z) > 1e-9
    np.testing.assert_array_equal(d.regions.ravel()[far], (z[far] >= 0).astype(int))
    assert len(d.lines) == 1
    xs, ys = d.lines[0].get_data()
    np.testing.assert_allclose(w[0] * xs + w[1] * ys + b, 0.0, atol=1e-9)
    (arrow, _), = d.arrows
    direction = np.subtract(arrow.xy, arrow.xyann)
    assert abs(direction @ np.array([w[1], -w[0]])) < 1e-9 and direction @ w > 0  # parallel to w
    assert abs(np.dot(arrow.xyann, w) + b) < 1e-9  # starts on the line
    assert len(d.points) == 2 and d.ax.get_legend() is not None
    assert d.ax.get_xlabel() == "x1" and d.ax.get_ylabel() == "x2"


def test_decision_boundary_threshold_moves_the_line():
    w, b = np.array([1.0, 1.0]), 0.0
    model = FakeModel([Dense(w[:, None], [b], "sigmoid")])
    X, y = _blobs()
    d = viz.plot_decision_boundary(model, X, y, threshold=0.8)
    xs, ys = d.lines[0].get_data()
    np.testing.assert_allclose(xs + ys, np.log(0.8 / 0.2), atol=1e-9)
    z = _grid_points(d) @ w
    far = np.abs(z - np.log(4.0)) > 1e-6
    np.testing.assert_array_equal(d.regions.ravel()[far], (z[far] >= np.log(4.0)).astype(int))


def test_decision_boundary_softmax_pairwise_lines():
    W = np.array([[1.0, -1.0, 0.0], [0.0, 0.5, -1.5]])
    b = np.array([0.0, 0.2, -0.1])
    model = FakeModel([Dense(W, b, "softmax")])
    rng = np.random.default_rng(1)
    X = rng.uniform(-3, 3, (90, 2))
    y = np.argmax(X @ W + b, axis=1)
    d = viz.plot_decision_boundary(model, X, y, resolution=80)
    np.testing.assert_array_equal(d.regions.ravel(), np.argmax(_grid_points(d) @ W + b, axis=1))
    assert len(d.lines) == 3 and len(d.arrows) == 3 and len(d.points) == 3
    for line, (wd, c) in zip(d.lines, d.equations):
        pts = np.column_stack(line.get_data())
        pts = pts[~np.isnan(pts[:, 0])]
        assert len(pts) > 0
        np.testing.assert_allclose(pts @ wd, c, atol=1e-9)
        scores = np.sort(pts @ W + b, axis=1)
        np.testing.assert_allclose(scores[:, -1], scores[:, -2], atol=1e-9)  # on a real boundary


def test_decision_boundary_perceptron_and_plain_predict_objects():
    p = Perceptron([-0.5, 1.0, 1.0])
    X, _ = _blobs()
    y = p.predict(X)
    d = viz.plot_decision_boundary(p, X, y, class_names=["neg", "pos"])
    np.testing.assert_array_equal(np.unique(d.regions), [-1, 1])
    np.testing.assert_array_equal(d.regions.ravel(), p.predict(_grid_points(d)))
    xs, ys = d.lines[0].get_data()
    np.testing.assert_allclose(xs + ys, 0.5, atol=1e-9)
    assert [t.get_text() for t in d.ax.get_legend().get_texts()][:2] == ["neg", "pos"]

    class Circle:  # not a network: regions only, from a 1-D predict
        def predict(self, X):
            return (np.sum(X ** 2, axis=1) < 1.0).astype(np.float64) * 0.9

    d = viz.plot_decision_boundary(Circle(), X, y)
    assert d.lines == [] and d.arrows == []
    inside = np.sum(_grid_points(d) ** 2, axis=1) < 1.0
    np.testing.assert_array_equal(d.regions.ravel(), inside.astype(int))


def test_decision_boundary_errors():
    model = FakeModel([Dense(np.ones((2, 1)), [0.0], "sigmoid")])
    with pytest.raises(ValueError, match="X: expected 2 feature"):
        viz.plot_decision_boundary(model, np.zeros((5, 3)), np.zeros(5))
    with pytest.raises(ValueError, match="y: expected 5 labels"):
        viz.plot_decision_boundary(model, np.zeros((5, 2)), np.zeros(4))
    with pytest.raises(TypeError, match="predict"):
        viz.plot_decision_boundary(object(), np.zeros((5, 2)))


def test_decision_plane_3d_lies_where_its_equation_says():
    w, b = np.array([1.0, 2.0, -1.0]), 0.3
    model = FakeModel([Dense(w[:, None], [b], "sigmoid")], functional=True)
    rng = np.random.default_rng(2)
    X = rng.normal(size=(50, 3))
    y = (X @ w + b >= 0).astype(int)
    d = viz.plot_decision_plane_3d(model, X, y)
    assert d.ax.name == "3d" and len(d.planes) == 1 and len(d.points) == 2
    P = np.column_stack([g.ravel() for g in d.plane_grids[0]])
    P = P[~np.isnan(P).any(axis=1)]
    assert len(P) > 50
    np.testing.assert_allclose(P @ w + b, 0.0, atol=1e-9)
    foot, direction = d.normal_vectors[0]
    assert abs(foot @ w + b) < 1e-9
    np.testing.assert_allclose(np.cross(direction, w), 0.0, atol=1e-9)
    assert d.ax.get_zlabel() == "x3" and d.ax.get_legend() is not None


def test_decision_plane_3d_errors():
    two_layers = FakeModel([Dense(np.ones((3, 2)), None, "relu"), Dense(np.ones((2, 1)), [0.0], "sigmoid")])
    with pytest.raises(ValueError, match="single-layer"):
        viz.plot_decision_plane_3d(two_layers, np.zeros((4, 3)), np.zeros(4))
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match="3-D Axes"):
        viz.plot_decision_plane_3d(FakeModel([Dense(np.ones((3, 1)), [0.0], "sigmoid")]), np.zeros((4, 3)), ax=ax)


def _xor_model(functional=False, units=2):
    # h = relu of two diagonal detectors; the output separates XOR in h-space
    W1 = np.array([[1.0, -1.0], [-1.0, 1.0]]) if units == 2 else np.array([[1.0, -1.0, 0.5], [-1.0, 1.0, 0.5]])
    hidden = Dense(W1, np.zeros(units), "relu", name="hidden")
    out = Dense(np.full((units, 1), 4.0), [-2.0], "sigmoid", name="out")
    return FakeModel([hidden, Dropout(0.5), out], functional=functional), W1


@pytest.mark.parametrize("functional", [False, True])
def test_hidden_space_of_xor(functional):
    model, W1 = _xor_model(functional)
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]] * 5, dtype=float) + np.random.default_rng(3).normal(0, 0.05, (20, 2))
    y = np.array([0, 1, 1, 0] * 5)
    d = viz.plot_hidden_space(model, X, y)
    assert d.layer_index == (1 if functional else 0)
    np.testing.assert_allclose(d.hidden, np.maximum(X @ W1, 0.0))
    offsets = np.vstack([p.get_offsets() for p in d.points])
    np.testing.assert_allclose(np.sort(offsets, axis=0), np.sort(d.hidden, axis=0))
    xs, ys = d.lines[0].get_data()
    np.testing.assert_allclose(4 * xs + 4 * ys - 2, 0.0, atol=1e-9)
    h = _grid_points(d)
    far = np.abs(h.sum(axis=1) - 0.5) > 1e-9
    np.testing.assert_array_equal(d.regions.ravel()[far], (h.sum(axis=1)[far] >= 0.5).astype(int))
    assert np.unique(d.regions).tolist() == [0, 1]
    assert "hidden" in d.ax.get_xlabel() and d.ax.get_legend() is not None
    assert viz.plot_hidden_space(model, X, y, layer="hidden").layer_index == d.layer_index


def test_hidden_space_3d_and_errors():
    model, W1 = _xor_model(units=3)
    X = np.random.default_rng(4).uniform(0, 1, (30, 2))
    d = viz.plot_hidden_space(model, X, (X[:, 0] > X[:, 1]).astype(int))
    assert d.ax.name == "3d" and len(d.planes) == 1
    P = np.column_stack([g.ravel() for g in d.plane_grids[0]])
    P = P[~np.isnan(P).any(axis=1)]
    np.testing.assert_allclose(P @ np.full(3, 4.0) - 2.0, 0.0, atol=1e-9)
    wide = FakeModel([Dense(np.ones((2, 4)), np.zeros(4), "relu"), Dense(np.ones((4, 1)), [0.0], "sigmoid")])
    with pytest.raises(ValueError, match="2 or 3 units"):
        viz.plot_hidden_space(wide, X, layer=0)
    with pytest.raises(ValueError, match="layer names"):
        viz.plot_hidden_space(model, X, layer="nope")
    with pytest.raises(TypeError, match="activations"):
        viz.plot_hidden_space(Perceptron([0, 1, 1]), X)


# ---------------------------------------------------------------------------------------------
# Images


def test_weight_images_one_per_output_unit():
    rng = np.random.default_rng(5)
    K = rng.normal(size=(784, 10))
    model = FakeModel([Dense(K, np.zeros(10), "softmax")])
    names = [f"digit {i}" for i in range(10)]
    d = viz.plot_weight_images(model, (28, 28), labels=names)
    assert len(d.images) == 10 == len(d.axes)
    for k in (0, 7):
        np.testing.assert_allclose(d.images[k].get_array(), K[:, k].reshape(28, 28))
    assert [a.get_title() for a in d.axes] == names
    vmin, vmax = d.images[0].get_clim()
    assert vmin == -vmax == -np.abs(K).max() and d.colorbar is not None


def test_weight_images_colour_perceptron_and_errors():
    K = np.random.default_rng(6).normal(size=(8 * 8 * 3, 4))
    d = viz.plot_weight_images(FakeModel([Dense(K, np.zeros(4), "softmax")], functional=True), (8, 8, 3), per_row=2)
    assert len(d.images) == 4 and d.images[0].get_array().shape == (8, 8, 3)
    arr = np.asarray(d.images[2].get_array())
    assert arr.min() == 0.0 and arr.max() == 1.0
    assert len(fig_axes := d.fig.axes) == 4 and all(a.get_visible() for a in fig_axes)
    d = viz.plot_weight_images(Perceptron([0.1, 1, -1, 2, 0]), (2, 2))
    np.testing.assert_allclose(d.images[0].get_array(), [[1, -1], [2, 0]])
    with pytest.raises(ValueError, match="image_shape"):
        viz.plot_weight_images(FakeModel([Dense(K, None)]), (28, 28))
    with pytest.raises(ValueError, match="image_shape"):
        viz.plot_weight_images(FakeModel([Dense(K, None)]), (8, 8, 2))


def test_hidden_filters_images_and_bars():
    rng = np.random.default_rng(7)
    K1, K2 = rng.normal(size=(16, 6)), rng.normal(size=(6, 3))
    model = FakeModel([Dense(K1, np.zeros(6), "relu"), Dense(K2, np.zeros(3), "softmax")])
    d = viz.plot_hidden_filters(model, (4, 4), labels=["a", "b", "c"])
    assert len(d.images) == 6 and len(d.bars) == 3
    np.testing.assert_allclose(d.images[5].get_array(), K1[:, 5].reshape(4, 4))
    for c, bars in enumerate(d.bars):
        np.testing.assert_allclose([r.get_height() for r in bars], K2[:, c])
    assert [a.get_title() for a in d.bar_axes] == ["a", "b", "c"]
    with pytest.raises(ValueError, match="two Dense"):
        viz.plot_hidden_filters(FakeModel([Dense(K1, None)]), (4, 4))


def test_flatten_models_take_image_shaped_input():
    rng = np.random.default_rng(12)
    K = rng.normal(size=(16, 3))
    model = FakeModel([Flatten(), Dense(K, np.zeros(3), "softmax")])
    images = rng.uniform(0, 1, (30, 4, 4))
    d = viz.plot_weight_images(model, (4, 4))
    np.testing.assert_allclose(d.images[2].get_array(), K[:, 2].reshape(4, 4))
    y = rng.integers(0, 3, 30)
    m = viz.plot_misclassified(model, images, y, (4, 4))
    assert m.count == np.count_nonzero(model.predict(images).argmax(axis=1) != y)
    assert viz.plot_confusion_examples(model, images, y, (4, 4)).counts.sum() == 30
    assert viz.plot_model(model).sizes == [16, 16, 3]


def test_plot_images_grid_and_titles():
    X = np.arange(12 * 9, dtype=float).reshape(12, 9)
    d = viz.plot_images(X, (3, 3), labels=np.arange(12) % 3, class_names=["a", "b", "c"], per_row=5)
    assert len(d.images) == 12
    assert [a.get_title() for a in d.axes[:4]] == ["a", "b", "c", "a"]
    np.testing.assert_allclose(d.images[11].get_array(), X[11].reshape(3, 3))
    assert sum(a.get_visible() for a in d.fig.axes) == 12
    with pytest.raises(ValueError, match="X: expected 9 values"):
        viz.plot_images(np.zeros((2, 10)), (3, 3))


def _image_classifier():
    # 3 classes of 2x2 images: the class is the brightest of the first three pixels
    K = np.zeros((4, 3))
    K[0, 0] = K[1, 1] = K[2, 2] = 5.0
    return FakeModel([Dense(K, np.zeros(3), "softmax")])


def test_plot_misclassified_shows_the_mistakes_most_confident_first():
    model = _image_classifier()
    rng = np.random.default_rng(8)
    X = rng.uniform(0, 1, (40, 4))
    pred = np.argmax(X[:, :3], axis=1)
    y = pred.copy()
    y[[3, 10, 17, 25]] = (pred[[3, 10, 17, 25]] + 1) % 3
    d = viz.plot_misclassified(model, X, y, (2, 2), class_names=["r", "g", "b"])
    assert sorted(d.indices.tolist()) == [3, 10, 17, 25] and d.count == 4 and len(d.images) == 4
    conf = model.predict(X).max(axis=1)[d.indices]
    assert np.all(np.diff(conf) <= 0)
    assert "->" in d.axes[0].get_title()
    d = viz.plot_misclassified(model, X, pred, (2, 2))
    assert d.count == 0 and d.images == []


def test_confusion_matrix_counts_and_normalization():
    y_true = np.array([0, 0, 1, 1, 1, 2, 2, 2, 2, 0])
    y_pred = np.array([0, 1, 1, 1, 2, 2, 2, 0, 2, 0])
    d = viz.plot_confusion_matrix(y_true, y_pred, labels=["cat", "dog", "eel"])
    assert d.counts.sum() == len(y_true)
    np.testing.assert_array_equal(d.counts, [[2, 1, 0], [0, 2, 1], [1, 0, 3]])
    assert [int(t.get_text()) for t in d.texts] == d.counts.ravel().tolist()
    assert [t.get_text() for t in d.ax.get_xticklabels()] == ["cat", "dog", "eel"]
    assert d.ax.get_xlabel() == "Predicted label" and d.ax.get_ylabel() == "True label"
    onehot = np.eye(3)[y_true]
    probs = np.eye(3)[y_pred] * 0.8 + 0.05
    d2 = viz.plot_confusion_matrix(onehot, probs, normalize="true")
    np.testing.assert_allclose(d2.matrix.sum(axis=1), 1.0)
    np.testing.assert_array_equal(d2.counts, d.counts)
    d3 = viz.plot_confusion_matrix(y_true, y_pred, normalize="all")
    assert abs(d3.matrix.sum() - 1.0) < 1e-12


def test_confusion_matrix_errors():
    with pytest.raises(ValueError, match="normalize"):
        viz.plot_confusion_matrix([0, 1], [0, 1], normalize="rows")
    with pytest.raises(ValueError, match="y_pred: expected 2"):
        viz.plot_confusion_matrix([0, 1], [0, 1, 1])
    with pytest.raises(ValueError, match="labels"):
        viz.plot_confusion_matrix([0, 1, 2], [0, 1, 2], labels=["a", "b"])


def test_confusion_examples_pick_the_most_confident_sample():
    model = _image_classifier()
    rng = np.random.default_rng(9)
    X = rng.uniform(0, 1, (60, 4))
    y = rng.integers(0, 3, 60)
    d = viz.plot_confusion_examples(model, X, y, (2, 2), labels=["r", "g", "b"])
    probs = model.predict(X)
    pred = probs.argmax(axis=1)
    assert d.counts.sum() == 60 and d.axes.shape == (3, 3)
    assert len(d.images) == np.count_nonzero(d.counts)
    for (i, j), row in d.chosen.items():
        cell = np.flatnonzero((y == i) & (pred == j))
        assert row == cell[np.argmax(probs[cell, j])]
        np.testing.assert_allclose(d.images[(i, j)].get_array(), X[row].reshape(2, 2))


# ---------------------------------------------------------------------------------------------
# Regression


def test_regression_fit_sorted_truth_and_scores():
    t = np.array([3.0, 1.0, 2.0, 5.0])
    p = np.array([2.5, 1.5, 2.0, 4.0])
    d = viz.plot_regression_fit(t, p[:, None])
    np.testing.assert_allclose(d.lines[0].get_ydata(), [1, 2, 3, 5])
    np.testing.assert_allclose(d.lines[1].get_ydata(), [1.5, 2.0, 2.5, 4.0])
    assert d.mae == pytest.approx(0.5)
    assert d.r2 == pytest.approx(1 - 1.5 / np.sum((t - t.mean()) ** 2))
    assert d.ax.get_legend() is not None
    with pytest.raises(ValueError, match="y_pred: expected 4"):
        viz.plot_regression_fit(t, p[:3])


def test_function_fit_curve_is_the_prediction():
    model = FakeModel([Dense([[1.0, -1.0]], [0.0, 0.5], "relu"), Dense([[1.0], [2.0]], [0.1])])
    x = np.linspace(-2, 2, 30)
    d = viz.plot_function_fit(model, x, np.sin(x))
    np.testing.assert_allclose(d.lines[0].get_ydata(), model.predict(d.x_grid[:, None])[:, 0])
    assert d.x_grid.min() < -2 and d.x_grid.max() > 2
    assert len(d.points) == 1 and d.ax.get_legend() is not None


def _relu_regressor(functional=False, separate_activation=False):
    w = np.array([[1.0, -2.0, 0.5, 3.0]])
    c = np.array([0.5, 1.0, -0.25, -2.0])
    v = np.array([[1.5], [-0.7], [2.0], [0.3]])
    if separate_activation:
        layers = [Dense(w, c), Activation("relu"), Dense(v, [0.4])]
    else:
        layers = [Dense(w, c, "relu"), Dense(v, [0.4])]
    return FakeModel(layers, functional=functional), w[0], c, v[:, 0]


@pytest.mark.parametrize("functional,separate", [(False, False), (True, False), (False, True)])
def test_relu_decomposition_sums_to_the_prediction(functional, separate):
    model, w, c, v = _relu_regressor(functional, separate)
    x = np.random.default_rng(10).uniform(-3, 3, 50)
    d = viz.plot_relu_decomposition(model, x, np.sin(x))
    np.testing.assert_allclose(d.total, model.predict(x[:, None])[:, 0], atol=1e-5)
    np.testing.assert_allclose(d.contributions.sum(axis=1) + d.bias, d.total, atol=1e-12)
    np.testing.assert_allclose(d.units, np.maximum(np.outer(x, w) + c, 0.0))
    np.testing.assert_allclose(d.kinks, -c / w)
    assert d.bias == 0.4 and len(d.unit_lines) == 4 and len(d.contribution_lines) == 4
    np.testing.assert_allclose(d.sum_line.get_ydata(), np.sort(x) * 0 + d.total[np.argsort(x)])
    assert all(a.get_legend() is not None for a in d.axes)


def test_relu_decomposition_single_ax_and_errors():
    model, *_ = _relu_regressor()
    fig, ax = plt.subplots()
    d = viz.plot_relu_decomposition(model, np.linspace(-1, 1, 5), ax=ax)
    assert d.axes == [ax] and d.unit_lines == []
    bad = FakeModel([Dense([[1.0, 2.0]], [0, 0], "sigmoid"), Dense([[1.0], [1.0]], [0.0])])
    with pytest.raises(ValueError, match="relu"):
        viz.plot_relu_decomposition(bad, [0.0, 1.0])
    two_in = FakeModel([Dense(np.ones((2, 2)), [0, 0], "relu"), Dense([[1.0], [1.0]], [0.0])])
    with pytest.raises(ValueError, match="1 input"):
        viz.plot_relu_decomposition(two_in, [0.0, 1.0])


# ---------------------------------------------------------------------------------------------
# Network


def test_plot_activation_curves():
    d = viz.plot_activation(["relu", "sigmoid", "step"])
    x = d.x
    np.testing.assert_allclose(d.lines["relu"].get_ydata(), np.maximum(x, 0))
    np.testing.assert_allclose(d.lines["sigmoid"].get_ydata(), 1 / (1 + np.exp(-x)))
    np.testing.assert_array_equal(d.lines["step"].get_ydata(), (x >= 0).astype(float))
    assert [t.get_text() for t in d.ax.get_legend().get_texts()] == ["relu", "sigmoid", "step"]
    with pytest.raises(ValueError, match="softmax"):
        viz.plot_activation("softmax")
    with pytest.raises(ValueError, match="'relux'"):
        viz.plot_activation(["relux"])


@pytest.mark.parametrize("functional", [False, True])
def test_plot_model_columns_units_and_edges(functional):
    model = FakeModel([Dense(np.ones((2, 3)), np.zeros(3), "relu", name="h"), Dropout(0.25),
                       Dense(np.ones((3, 1)), [0.0], "sigmoid", name="out")], functional=functional)
    d = viz.plot_model(model)
    assert d.sizes == [2, 3, 3, 1]
    assert [len(c) for c in d.units] == [2, 3, 3, 1]
    assert [len(e.get_segments()) for e in d.edges] == [6, 3, 3]
    text = " ".join(t.get_text() for t in d.texts)
    assert "relu" in text and "sigmoid" in text and "Dropout(0.25)" in text


def test_plot_model_truncates_wide_layers():
    model = FakeModel([Dense(np.ones((784, 100)), np.zeros(100), "relu"), Dense(np.ones((100, 10)), np.zeros(10),
                                                                                 "softmax")])
    d = viz.plot_model(model, max_units=8)
    assert d.sizes == [784, 100, 10] and [len(c) for c in d.units] == [8, 8, 8]
    assert sum(t.get_text() == "\u22ee" for t in d.texts) == 3
    with pytest.raises(ValueError, match="max_units"):
        viz.plot_model(model, max_units=1)


def test_explain_linear_equation_and_sorted_table(capsys):
    model = FakeModel([Dense([[-0.095], [0.096], [0.5]], [36.459])])
    eq, table = viz.explain_linear(model, ["CRIM", "ZN", "RM"], target_name="price", print_table=True)
    assert eq == "price = -0.095 * CRIM + 0.096 * ZN + 0.500 * RM + 36.459"
    assert [name for name, _ in table] == ["RM", "ZN", "CRIM"]
    assert table[2][1] == pytest.approx(-0.095)
    out = capsys.readouterr().out
    assert eq in out and "(bias)" in out and out.index("RM") < out.index("CRIM  ")
    res = viz.explain_linear(FakeModel([Dense([[1.0], [-2.0]], [-0.5], "sigmoid")]))
    assert res.equation == "y = sigmoid(1.000 * x1 - 2.000 * x2 - 0.500)"
    assert viz.explain_linear(Perceptron([0.25, -1, 2])).equation == "y = step(-1.000 * x1 + 2.000 * x2 + 0.250)"


def test_explain_linear_errors():
    with pytest.raises(ValueError, match="feature_names: expected 3"):
        viz.explain_linear(FakeModel([Dense(np.ones((3, 1)), [0.0])]), ["a", "b"])
    with pytest.raises(ValueError, match="single-layer"):
        viz.explain_linear(_relu_regressor()[0])
    with pytest.raises(ValueError, match="output"):
        viz.explain_linear(FakeModel([Dense(np.ones((3, 2)), [0.0, 0.0])]), output=2)


def test_unbuilt_and_unknown_layers_are_reported():
    class Dense:  # noqa: F811 - an unbuilt layer named as fastnn's
        units, name = 3, "lazy"

        def get_weights(self):
            return []

        def get_config(self):
            return {"activation": "relu"}

    with pytest.raises(ValueError, match="build the model"):
        viz.plot_model(FakeModel([Dense()]))

    class Conv2D:
        name = "conv"

    with pytest.raises(ValueError, match="Conv2D"):
        viz.explain_linear(FakeModel([Conv2D()]))


# ---------------------------------------------------------------------------------------------
# Real fastnn models (run once the C++ core is built)


def _core():
    pytest.importorskip("fastnn._core")
    import fastnn

    return fastnn


def test_real_single_neuron_boundary_from_set_weights():
    fastnn = _core()
    model = fastnn.Sequential([fastnn.layers.Dense(1, activation="sigmoid", input_shape=(2,))])
    model.set_weights([np.array([[2.0], [-1.0]], dtype=np.float32), np.array([0.5], dtype=np.float32)])
    X, y = _blobs()
    d = viz.plot_decision_boundary(model, X, y, resolution=101)
    z = _grid_points(d) @ np.array([2.0, -1.0]) + 0.5
    far = np.abs(z) > 1e-4
    np.testing.assert_array_equal(d.regions.ravel()[far], (z[far] >= 0).astype(int))
    xs, ys = d.lines[0].get_data()
    np.testing.assert_allclose(2 * xs - ys + 0.5, 0.0, atol=1e-5)
    eq, _ = viz.explain_linear(model, ["a", "b"])
    assert eq == "y = sigmoid(2.000 * a - 1.000 * b + 0.500)"


def test_real_functional_xor_hidden_space_and_history():
    fastnn = _core()
    fastnn.utils.set_random_seed(0)
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]] * 8, dtype=np.float32)
    y = np.array([0, 1, 1, 0] * 8, dtype=np.float32)
    inp = fastnn.layers.Input(shape=(2,))
    h = fastnn.layers.Dense(3, activation="tanh")(inp)
    out = fastnn.layers.Dense(1, activation="sigmoid")(h)
    model = fastnn.Model(inputs=inp, outputs=out)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(X, y, epochs=5, batch_size=8, verbose=0, validation_split=0.25)
    d = viz.plot_history(history)
    assert len(d.axes) == 2 and "val_loss" in d.lines
    d = viz.plot_hidden_space(model, X, y)
    assert d.layer_index == 1 and d.ax.name == "3d"
    sub = fastnn.Model(inputs=model.input, outputs=model.layers[1].output)
    np.testing.assert_allclose(d.hidden, sub.predict(X, verbose=0), atol=1e-5)
    pm = viz.plot_model(model)
    assert pm.sizes == [2, 3, 1]


def test_real_relu_regressor_decomposition_matches_predict():
    fastnn = _core()
    fastnn.utils.set_random_seed(1)
    x = np.linspace(-3, 3, 64, dtype=np.float32)[:, None]
    model = fastnn.Sequential([fastnn.layers.Dense(8, activation="relu", input_shape=(1,)), fastnn.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, np.sin(x), epochs=3, verbose=0)
    d = viz.plot_relu_decomposition(model, x[:, 0])
    np.testing.assert_allclose(d.total, model.predict(x, verbose=0)[:, 0], atol=1e-5)
    f = viz.plot_function_fit(model, x, np.sin(x))
    np.testing.assert_allclose(f.y_grid[:, 0], model.predict(f.x_grid[:, None], verbose=0)[:, 0], atol=1e-6)


def test_real_softmax_weight_images_and_confusion():
    fastnn = _core()
    fastnn.utils.set_random_seed(2)
    rng = np.random.default_rng(11)
    X = rng.uniform(0, 1, (90, 16)).astype(np.float32)
    y = np.argmax(X[:, :3], axis=1)
    model = fastnn.Sequential([fastnn.layers.Dense(3, activation="softmax", input_shape=(16,))])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(X, y, epochs=2, verbose=0)
    d = viz.plot_weight_images(model, (4, 4))
    assert len(d.images) == 3
    np.testing.assert_allclose(d.images[1].get_array(), model.get_weights()[0][:, 1].reshape(4, 4), rtol=1e-6)
    cm = viz.plot_confusion_matrix(y, model.predict(X, verbose=0))
    assert cm.counts.sum() == 90
    ce = viz.plot_confusion_examples(model, X, y, (4, 4))
    assert ce.counts.sum() == 90


def test_real_perceptron_boundary():
    fastnn = _core()
    if not hasattr(fastnn, "Perceptron"):
        pytest.skip("fastnn.Perceptron not available")
    X, y = _blobs()
    p = fastnn.Perceptron()
    p.fit(X, np.where(y == 1, 1, -1))
    d = viz.plot_decision_boundary(p, X, np.where(y == 1, 1, -1))
    np.testing.assert_array_equal(d.regions.ravel(), np.asarray(p.predict(_grid_points(d))).ravel())
    assert len(d.lines) == 1


def test_gallery_quick_writes_every_figure(tmp_path):
    fastnn = _core()
    from fastnn.viz import gallery

    written = gallery.main([str(tmp_path), "--quick"])
    names = {os.path.basename(p) for p in written}
    expected = set(gallery.FIGURES)
    if not hasattr(fastnn, "Perceptron"):
        expected.discard("decision_boundary_perceptron.png")
    assert names == expected
    for p in written:
        with open(p, "rb") as fh:
            assert fh.read(8) == b"\x89PNG\r\n\x1a\n"


def test_explain_linear_without_bias_has_no_constant_term():
    _core = pytest.importorskip("fastnn._core")  # noqa: F841
    import fastnn
    from fastnn.viz import explain_linear

    model = fastnn.Sequential([fastnn.Dense(1, use_bias=False, input_shape=(2,))])
    model.set_weights([np.array([[0.5], [-2.0]])])
    equation, _ = explain_linear(model, ["a", "b"], decimals=3)
    assert equation == "y = 0.500 * a - 2.000 * b"
