"""Figures and readings of the network itself: activation curves, a diagram of the layers drawn
with matplotlib (no Graphviz), and a single-layer model read as an equation.
"""

from typing import NamedTuple

import numpy as np

from fastnn.viz._common import (ACTIVATIONS, Drawing, activation_fn, dense_stages, layer_activation, layer_name,
                                model_layers, new_axes, single_layer)


def plot_activation(names=("sigmoid", "tanh", "relu", "step"), x=None, ax=None, title=None):
    """The curves of the named activation functions (fastnn's formulas) over ``x``
    (default [-5, 5]). Softmax acts on vectors and has no curve of its own.

    Returns a Drawing: ax, lines ({name: Line2D}), x.
    """
    if isinstance(names, str):
        names = [names]
    names = list(names)
    if not names:
        raise ValueError("names: expected at least one activation name, got none")
    for name in names:
        if name == "softmax":
            raise ValueError("names: expected element-wise activations, got 'softmax' (it acts on a vector; "
                             "softmax([z, 0]) is sigmoid(z), plot 'sigmoid')")
        if name not in ACTIVATIONS:
            raise ValueError(f"names: expected activations from {sorted(a for a in ACTIVATIONS if a != 'softmax')}, "
                             f"got {name!r}")
    xs = np.linspace(-5.0, 5.0, 401) if x is None else np.asarray(x, dtype=np.float64).ravel()
    ax = new_axes(ax)
    ax.axhline(0.0, color="grey", linewidth=0.5)
    ax.axvline(0.0, color="grey", linewidth=0.5)
    lines = {}
    for name in names:
        ys = activation_fn(name)(xs)
        if name == "step":  # draw the jump as a vertical edge rather than a slope
            (lines[name],) = ax.step(xs, ys, where="post", label=name, linewidth=2)
        else:
            (lines[name],) = ax.plot(xs, ys, label=name, linewidth=2)
    ax.set_xlabel("z")
    ax.set_ylabel("activation(z)")
    if title is not None:
        ax.set_title(title)
    ax.legend(loc="best")
    return Drawing(ax=ax, lines=lines, x=xs)


def _expand_nested(layers, prefix=""):
    """(layer, name) for every layer, a nested model's layers in its place (its InputLayer left out)."""
    out = []
    for i, layer in enumerate(layers):
        inner = getattr(layer, "layers", None)
        if inner is not None and callable(getattr(layer, "summary", None)):
            inner = [lay for lay in inner if type(lay).__name__ != "InputLayer"]
            out += _expand_nested(inner, f"{prefix}{layer_name(layer, i)}/")
        else:
            out.append((layer, prefix + layer_name(layer, i)))
    return out


_SHOWN_ARGS = ("rate", "stddev", "alpha", "negative_slope", "max_value", "threshold", "axis")


def _elementwise_label(layer, kind):
    """A layer that keeps its width (fastnn's activation, noise and normalization layers): its kind and the
    arguments that tell it apart, e.g. "GaussianNoise(stddev=0.1)"."""
    get_config = getattr(layer, "get_config", None)
    cfg = get_config() if callable(get_config) else {}
    args = ", ".join(f"{k}={cfg[k]:g}" if isinstance(cfg[k], float) else f"{k}={cfg[k]}"
                     for k in _SHOWN_ARGS if cfg.get(k) is not None)
    return f"{kind}({args})" if args else kind


def _columns(model):
    """(title, units, kind) for the input and every layer after it (nested models' layers in place)."""
    from fastnn.layers import Layer

    layers, offset = model_layers(model)
    flat = _expand_nested(layers[offset:])
    stages = iter(dense_stages(model, layers=[lay for lay, _ in flat if type(lay).__name__ == "Dense"]))
    first = next(stages)
    cols = [("Input", int(first.kernel.shape[0]), "input")]
    units, stage = cols[0][1], first
    for i, (layer, name) in enumerate(flat, start=offset):
        kind = type(layer).__name__
        if kind == "Dense":
            stage = stage if stage is not None else next(stages)
            units = int(getattr(layer, "units", None) or stage.kernel.shape[1])
            stage = None
            cols.append((f"{name}\nDense({units})\n{layer_activation(layer)}", units, "dense"))
        elif kind == "Dropout":
            rate = layer.get_config().get("rate") if callable(getattr(layer, "get_config", None)) else None
            cols.append((f"{name}\nDropout" + (f"({rate:g})" if rate is not None else ""), units, "elementwise"))
        elif kind == "Activation":
            cols.append((f"{name}\nActivation\n{layer_activation(layer)}", units, "elementwise"))
        elif kind == "Flatten":
            cols.append((f"{name}\nFlatten", units, "elementwise"))
        elif isinstance(layer, Layer) and layer.output_size(units) == units:
            cols.append((f"{name}\n{_elementwise_label(layer, kind)}", units, "elementwise"))
        else:
            raise ValueError(f"model.layers[{i}]: expected Dense, Activation, Dropout, Flatten, InputLayer or a "
                             f"layer that keeps its width, got {kind}")
    return cols


def plot_model(model, ax=None, max_units=8, title=None):
    """A diagram of the network: one column of units per layer (the input first), each titled
    with its name, size and activation; Dense layers fully connected, element-wise layers
    (Activation, Dropout, Flatten, the activation, noise and normalization layers) joined unit to unit; a
    nested model's layers drawn in its place, named "outer/inner". Columns with more than ``max_units`` units show
    the first and last ones around a gap.

    Returns a Drawing: ax, units (list per column of the Circles drawn), sizes (units per
    column), edges (LineCollections), texts.
    """
    if max_units < 2:
        raise ValueError(f"max_units: expected at least 2, got {max_units}")
    from matplotlib.collections import LineCollection
    from matplotlib.patches import Circle

    cols = _columns(model)
    dx, dy, r = 3.0, 1.0, 0.3
    tallest = min(max(n for _, n, _ in cols), max_units)
    ax = new_axes(ax, figsize=(max(4.0, 1.6 * len(cols)), max(3.0, 0.55 * tallest + 1.8)))
    positions, circles, texts, edges = [], [], [], []
    colors = {"input": "tab:green", "dense": "tab:blue", "elementwise": "tab:orange"}
    for c, (label, n, kind) in enumerate(cols):
        shown = min(n, max_units)
        ys = (np.arange(shown)[::-1] - (shown - 1) / 2.0) * dy
        if n > max_units:  # first half, a gap, then the last units
            half = shown // 2
            ys = np.concatenate([ys[:half] + 0.5 * dy, ys[half:] - 0.5 * dy])
            texts.append(ax.text(c * dx, ys[half - 1] - 0.5 * dy - 0.05, "\u22ee", ha="center", va="center",
                                 fontsize=14))
        col = []
        for yv in ys:
            circle = Circle((c * dx, yv), r, facecolor=colors[kind], edgecolor="k", zorder=3, alpha=0.9)
            ax.add_patch(circle)
            col.append(circle)
        circles.append(col)
        positions.append(ys)
        if c > 0:
            prev = positions[c - 1]
            if kind == "dense":
                segs = [((dx * (c - 1) + r, y0), (dx * c - r, y1)) for y0 in prev for y1 in ys]
                style = dict(color="grey", linewidth=0.6, alpha=0.6)
            else:
                segs = [((dx * (c - 1) + r, y0), (dx * c - r, y1)) for y0, y1 in zip(prev, ys)]
                style = dict(color="tab:orange", linewidth=1.0, linestyle="--")
            lc = LineCollection(segs, zorder=1, **style)
            ax.add_collection(lc)
            edges.append(lc)
    top = max(float(p.max()) for p in positions) + r + 0.3
    for c, (label, n, kind) in enumerate(cols):
        texts.append(ax.text(c * dx, top, label if kind != "input" else f"Input\n({n})", ha="center", va="bottom",
                             fontsize=8))
    ax.set_xlim(-dx / 2.0, dx * (len(cols) - 0.5))
    ax.set_ylim(-top, top + 1.6)
    ax.set_aspect("equal")
    ax.axis("off")
    name = getattr(model, "name", None)
    ax.set_title(title if title is not None else (name or type(model).__name__))
    return Drawing(ax=ax, units=circles, sizes=[n for _, n, _ in cols], edges=edges, texts=texts)


class LinearExplanation(NamedTuple):
    """A single-layer model as ``target = act(sum_i w_i * x_i + b)``: the equation string and
    the ``(feature, weight)`` table sorted by |weight|, largest first."""

    equation: str
    table: list


def explain_linear(model, feature_names=None, target_name="y", output=0, decimals=3, print_table=False):
    """Read a single-layer model (or Perceptron) as an equation and a sorted table of weights,
    e.g. ``price = -0.095 * CRIM + 0.096 * ZN + ... + 36.459``.

    ``output`` picks the output unit. A non-linear output activation wraps the sum
    (``y = sigmoid(...)``). Weights compare features only when the inputs share a scale
    (standardize them first). Returns ``LinearExplanation(equation, table)``; prints both when
    ``print_table``.
    """
    stage = single_layer(model, "explain_linear")
    n_in, n_out = stage.kernel.shape
    if not 0 <= output < n_out:
        raise ValueError(f"output: expected an output index in [0, {n_out}), got {output}")
    names = [f"x{i + 1}" for i in range(n_in)] if feature_names is None else [str(f) for f in feature_names]
    if len(names) != n_in:
        raise ValueError(f"feature_names: expected {n_in} names (one per input), got {len(names)}")
    w = stage.kernel[:, output]
    b = float(stage.bias[output])
    terms = []
    for k, (name, v) in enumerate(zip(names, w)):
        mag = f"{abs(v):.{decimals}f} * {name}"
        terms.append(("-" if v < 0 else "") + mag if k == 0 else (" - " if v < 0 else " + ") + mag)
    if stage.has_bias:  # a layer without bias has no constant term
        terms.append((" - " if b < 0 else " + ") + f"{abs(b):.{decimals}f}")
    body = "".join(terms)
    target = target_name if n_out == 1 else f"{target_name}[{output}]"
    act = stage.activation
    equation = f"{target} = {body}" if act == "linear" else f"{target} = {act}({body})"
    order = np.argsort(-np.abs(w), kind="stable")
    table = [(names[i], float(w[i])) for i in order]
    if print_table:
        width = max(len(n) for n in names + ["feature"])
        print(equation)
        print(f"{'feature':<{width}}  weight")
        for name, v in table:
            print(f"{name:<{width}}  {v:+.{decimals}f}")
        if stage.has_bias:
            print(f"{'(bias)':<{width}}  {b:+.{decimals}f}")
    return LinearExplanation(equation, table)
