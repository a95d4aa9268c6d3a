"""fastnn.viz: pictures of what a network has learned, one call each.

Every function draws with matplotlib (imported only when a function runs), takes ``ax=`` (or
``fig=`` for grids of panels), returns a :class:`Drawing` holding the Axes/Figure, the artists
and the numbers it computed, and never calls ``show()``, so it works headless (Agg).
Models are duck-typed: anything with ``predict`` for regions and images; Dense stacks
(``layers`` with ``get_weights``/``get_config``) or a Perceptron (``w_``) for weight figures.
``python -m fastnn.viz.gallery OUTDIR`` renders every figure to PNG.
"""

from fastnn.viz._common import Drawing
from fastnn.viz.boundaries import plot_decision_boundary, plot_decision_plane_3d, plot_hidden_space
from fastnn.viz.images import (plot_confusion_examples, plot_confusion_matrix, plot_hidden_filters, plot_images,
                               plot_misclassified, plot_weight_images)
from fastnn.viz.network import LinearExplanation, explain_linear, plot_activation, plot_model
from fastnn.viz.regression import plot_function_fit, plot_regression_fit, plot_relu_decomposition
from fastnn.viz.training import plot_history

__all__ = [
    "Drawing",
    "LinearExplanation",
    "explain_linear",
    "plot_activation",
    "plot_confusion_examples",
    "plot_confusion_matrix",
    "plot_decision_boundary",
    "plot_decision_plane_3d",
    "plot_function_fit",
    "plot_hidden_filters",
    "plot_hidden_space",
    "plot_history",
    "plot_images",
    "plot_misclassified",
    "plot_model",
    "plot_regression_fit",
    "plot_relu_decomposition",
    "plot_weight_images",
]
