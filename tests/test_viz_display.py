"""Every fastnn.viz plot function's result is also a Display-like object (as scikit-learn's):
``.figure`` (a Figure that can be saved), ``.axes`` (a list of Axes), ``.ax`` for one-panel drawings,
and scikit-learn's ``figure_`` / ``ax_`` / ``axes_`` spellings; the dict keys stay as they were."""

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import fastnn  # noqa: E402
from fastnn import viz  # noqa: E402
from fastnn.layers import Dense  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _model(n_in, units, activation, hidden=None):
    layers = ([Dense(hidden, activation="relu", input_shape=(n_in,))] if hidden else []) + \
             [Dense(units, activation=activation, **({} if hidden else {"input_shape": (n_in,)}))]
    model = fastnn.Sequential(layers)
    model.compile(optimizer="sgd", loss="mse")
    return model


def _history():
    rng = np.random.default_rng(0)
    model = _model(2, 1, "sigmoid")
    return model.fit(rng.normal(size=(16, 2)), rng.integers(0, 2, size=16), epochs=2, verbose=0,
                     validation_split=0.25)


rng = np.random.default_rng(1)
X2, y2 = rng.normal(size=(30, 2)), rng.integers(0, 2, size=30)
X3 = rng.normal(size=(30, 3))
X16, y16 = rng.random((30, 16)), rng.integers(0, 3, size=30)
x1 = np.linspace(-1, 1, 20)

# One call per plot function: name -> (function of no arguments, number of Axes it draws on).
CASES = {
    "plot_activation": (lambda: viz.plot_activation(), 1),
    "plot_confusion_examples": (lambda: viz.plot_confusion_examples(_model(16, 3, "softmax"), X16, y16,
                                                                    image_shape=(4, 4)), None),
    "plot_confusion_matrix": (lambda: viz.plot_confusion_matrix(y16, np.roll(y16, 1)), 1),
    "plot_decision_boundary": (lambda: viz.plot_decision_boundary(_model(2, 1, "sigmoid"), X2, y2, resolution=20), 1),
    "plot_decision_plane_3d": (lambda: viz.plot_decision_plane_3d(_model(3, 1, "sigmoid"), X3), 1),
    "plot_function_fit": (lambda: viz.plot_function_fit(_model(1, 1, None, hidden=4), x1, x1 ** 2), 1),
    "plot_hidden_filters": (lambda: viz.plot_hidden_filters(_model(16, 3, "softmax", hidden=4), image_shape=(4, 4)),
                            None),
    "plot_hidden_space": (lambda: viz.plot_hidden_space(_model(2, 1, "sigmoid", hidden=2), X2, y2, resolution=20), 1),
    "plot_history": (lambda: viz.plot_history(_history()), None),
    "plot_images": (lambda: viz.plot_images(X16[:6], image_shape=(4, 4), labels=y16[:6]), 6),
    "plot_misclassified": (lambda: viz.plot_misclassified(_model(16, 3, "softmax"), X16, y16, image_shape=(4, 4)),
                           None),
    "plot_model": (lambda: viz.plot_model(_model(2, 1, "sigmoid", hidden=3)), 1),
    "plot_regression_fit": (lambda: viz.plot_regression_fit(x1, x1 + 0.1), 1),
    "plot_relu_decomposition": (lambda: viz.plot_relu_decomposition(_model(1, 1, None, hidden=3), x1, x1), 2),
    "plot_weight_images": (lambda: viz.plot_weight_images(_model(16, 3, "softmax"), image_shape=(4, 4)), None),
}


def test_every_plot_function_has_a_case():
    plots = sorted(name for name in viz.__all__ if name.startswith("plot_"))
    assert plots == sorted(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_drawing_has_figure_and_axes(name, tmp_path):
    make, n_axes = CASES[name]
    drawing = make()
    keys = set(drawing)
    assert isinstance(drawing, dict)
    assert isinstance(drawing.figure, Figure)
    assert drawing.figure_ is drawing.figure and list(np.ravel(drawing.axes_)) == list(np.ravel(drawing.axes))
    assert isinstance(drawing.axes, (list, np.ndarray))
    axes = list(np.ravel(np.asarray(drawing.axes, dtype=object)))
    assert axes and all(isinstance(a, Axes) for a in axes)
    assert all(a.figure is drawing.figure for a in axes)
    if n_axes is not None:
        assert len(axes) == n_axes
    if len(axes) == 1:
        assert drawing.ax is axes[0] and drawing.ax_ is axes[0]
    elif "ax" not in drawing:
        with pytest.raises(AttributeError, match="use .axes"):
            drawing.ax
    assert set(drawing) == keys  # the attributes are derived, the dict is unchanged
    out = tmp_path / f"{name}.png"
    drawing.figure.savefig(out)
    assert out.stat().st_size > 1000


def test_stored_keys_win_over_derived_attributes():
    fig, (a, b) = plt.subplots(1, 2)
    d = viz.Drawing(fig=fig, axes=[a, b])
    assert d.figure is fig and d.axes == [a, b]
    d = viz.Drawing(ax=b)
    assert d.ax is b and d.axes == [b] and d.figure is fig
    with pytest.raises(AttributeError, match="no Axes"):
        viz.Drawing(lines=[]).figure
