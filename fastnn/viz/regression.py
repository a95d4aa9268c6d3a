"""Regression figures: truth against prediction per sample, a 1-D model's curve over its data,
and the ReLU decomposition of a one-hidden-layer regressor,

    f(x) = b + sum_i v_i * relu(w_i * x + c_i),

each unit a hinge with its kink at x = -c_i / w_i, the sum of the weighted hinges and the bias
being exactly the prediction.
"""

import numpy as np

from fastnn.viz._common import Drawing, as_2d, call_predict, class_colors, dense_stages, new_axes, new_figure


def _column(v, name):
    a = np.asarray(v, dtype=np.float64)
    if a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
    if a.ndim != 1:
        raise ValueError(f"{name}: expected one value per sample, shape (N,) or (N, 1), got shape {a.shape}")
    return a


def plot_regression_fit(y_true, y_pred, ax=None, sort=True, title=None):
    """Truth and prediction for every sample (sorted by true value unless ``sort=False``), with
    the residuals as thin vertical lines; MAE and R^2 in the title.

    Returns a Drawing: ax, lines (truth, prediction), residuals, order, mae, r2.
    """
    t = _column(y_true, "y_true")
    p = _column(y_pred, "y_pred")
    if len(t) != len(p):
        raise ValueError(f"y_pred: expected {len(t)} predictions (one per y_true), got {len(p)}")
    order = np.argsort(t, kind="stable") if sort else np.arange(len(t))
    idx = np.arange(len(t))
    ax = new_axes(ax, figsize=(8, 4))
    residuals = ax.vlines(idx, t[order], p[order], color="grey", linewidth=0.5, alpha=0.6)
    (truth,) = ax.plot(idx, t[order], "o", markersize=4, color="tab:blue", label="true")
    (pred,) = ax.plot(idx, p[order], "o", markersize=3, color="tab:orange", label="predicted")
    mae = float(np.mean(np.abs(t - p)))
    ss = float(np.sum((t - t.mean()) ** 2))
    r2 = 1.0 - float(np.sum((t - p) ** 2)) / ss if ss > 0 else float("nan")
    ax.set_xlabel("sample (sorted by true value)" if sort else "sample")
    ax.set_ylabel("value")
    ax.set_title(title if title is not None else f"MAE {mae:.3g}, R\u00b2 {r2:.3f}")
    ax.legend(loc="best")
    return Drawing(ax=ax, lines=[truth, pred], residuals=residuals, order=order, mae=mae, r2=r2)


def plot_function_fit(model, x, y=None, ax=None, num=400, x_range=None, title=None):
    """The data of a 1-D regression and the model's curve over the data's range (padded 5%).

    Several outputs give several curves. Returns a Drawing: ax, points, lines, x_grid, y_grid.
    """
    xs = _column(x, "x")
    ys = None
    if y is not None:
        ys = np.asarray(y, dtype=np.float64)
        ys = ys.reshape(len(ys), -1) if ys.ndim else ys.reshape(1, 1)
        if ys.shape[0] != len(xs):
            raise ValueError(f"y: expected {len(xs)} targets (one per x), got shape {np.shape(y)}")
    if x_range is None:
        lo, hi = xs.min(), xs.max()
        pad = 0.05 * (hi - lo) if hi > lo else 1.0
        x_range = (lo - pad, hi + pad)
    grid = np.linspace(x_range[0], x_range[1], num)
    curve = call_predict(model, grid[:, None]).astype(np.float64).reshape(num, -1)
    ax = new_axes(ax)
    points = []
    if ys is not None:
        for k in range(ys.shape[1]):
            points.append(ax.scatter(xs, ys[:, k], s=12, alpha=0.6, color=f"C{2 * k}",
                                     label="data" if ys.shape[1] == 1 else f"data {k}"))
    lines = []
    for k in range(curve.shape[1]):
        (line,) = ax.plot(grid, curve[:, k], linewidth=2, color=f"C{2 * k + 1}",
                          label="model" if curve.shape[1] == 1 else f"model output {k}")
        lines.append(line)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    if title is not None:
        ax.set_title(title)
    ax.legend(loc="best")
    return Drawing(ax=ax, points=points, lines=lines, x_grid=grid, y_grid=curve)


def _relu_parts(model, x):
    """The pieces of a one-hidden-layer ReLU regressor on 1-D input at the points ``x``.

    Returns ``(units, contributions, bias, total, hidden_stage)``: ``units[:, i] = relu(w_i x + c_i)``,
    ``contributions[:, i] = v_i * units[:, i]``, the output bias b and ``total =
    contributions.sum(1) + b``, which is the model's prediction.
    """
    stages = dense_stages(model)
    if len(stages) != 2:
        raise ValueError("model: expected a one-hidden-layer network (two Dense layers), "
                         f"got {len(stages)} Dense layers")
    hidden, out = stages
    if hidden.kernel.shape[0] != 1:
        raise ValueError(f"model: expected 1 input, got {hidden.kernel.shape[0]}")
    if hidden.activations != ["relu"]:
        raise ValueError(f"model: expected a relu hidden layer, got activation {hidden.activation!r}")
    if out.kernel.shape[1] != 1 or out.activations:
        raise ValueError(f"model: expected one linear output unit, got {out.kernel.shape[1]} unit(s) "
                         f"with activation {out.activation!r}")
    xs = as_2d(_column(x, "x"), "x")
    units = np.maximum(xs @ hidden.kernel + hidden.bias, 0.0)
    contributions = units * out.kernel[:, 0]
    bias = float(out.bias[0])
    return units, contributions, bias, contributions.sum(axis=1) + bias, hidden


def plot_relu_decomposition(model, x, y=None, fig=None, ax=None, title=None):
    """A one-hidden-layer ReLU regressor on 1-D input taken apart: each hidden unit's a_i(x)
    (left), its weighted contribution v_i a_i(x), the output bias and their sum (right), which
    is the prediction. With ``ax``, only the right panel is drawn there.

    Returns a Drawing: fig, axes, x, units (N, H), contributions (N, H), bias, total (N,), kinks
    (x where each unit switches on), and the lines drawn.
    """
    units, contributions, bias, total, hidden = _relu_parts(model, x)
    xs = _column(x, "x")
    order = np.argsort(xs, kind="stable")
    xo = xs[order]
    n_units = units.shape[1]
    w, c = hidden.kernel[0], hidden.bias
    with np.errstate(divide="ignore", invalid="ignore"):
        kinks = np.where(w != 0, -c / w, np.nan)
    if ax is None:
        fig = new_figure(fig, figsize=(11, 4))
        axes = fig.subplots(1, 2)
        unit_ax, sum_ax = axes
    else:
        fig, axes, unit_ax, sum_ax = ax.figure, [ax], None, ax
    colors = class_colors(n_units)
    labelled = n_units <= 10
    unit_lines = []
    if unit_ax is not None:
        for i in range(n_units):
            (line,) = unit_ax.plot(xo, units[order, i], color=colors[i], label=f"a{i}(x)" if labelled else None)
            unit_lines.append(line)
        unit_ax.set_xlabel("x")
        unit_ax.set_ylabel("a_i(x) = relu(w_i x + c_i)")
        unit_ax.set_title("hidden units")
        if labelled:
            unit_ax.legend(loc="best", fontsize=8)
    contribution_lines = []
    for i in range(n_units):
        label = f"v{i} a{i}(x)" if labelled else ("v_i a_i(x)" if i == 0 else None)
        (line,) = sum_ax.plot(xo, contributions[order, i], "--", color=colors[i], linewidth=1, label=label)
        contribution_lines.append(line)
    bias_line = sum_ax.axhline(bias, color="grey", linestyle=":", label=f"bias b = {bias:.3g}")
    points = None
    if y is not None:
        points = sum_ax.scatter(xs, _column(y, "y"), s=10, color="grey", alpha=0.5, label="data")
    (sum_line,) = sum_ax.plot(xo, total[order], color="k", linewidth=2.5, label="sum = prediction")
    sum_ax.set_xlabel("x")
    sum_ax.set_ylabel("output")
    sum_ax.set_title(title if title is not None else "weighted units + bias = prediction")
    sum_ax.legend(loc="best", fontsize=8)
    return Drawing(fig=fig, axes=list(axes), x=xs, units=units, contributions=contributions, bias=bias, total=total,
                   kinks=kinks, unit_lines=unit_lines, contribution_lines=contribution_lines, bias_line=bias_line,
                   sum_line=sum_line, points=points)
