"""Decision boundaries: 2-D regions and lines, 3-D separating planes, and the hidden space.

A single-layer model (one Dense, or a Perceptron) is linear: its boundary is drawn from its
weights (``w . x + b = z*``, z* the pre-activation where the output crosses the threshold) with
``w`` as an arrow normal to it; softmax outputs give the pairwise lines ``(w_i - w_j) . x =
b_j - b_i``, drawn only where classes i and j are the two best. Regions always come from
``predict``, so any object with a ``predict`` method works.
"""

import numpy as np

from fastnn.viz._common import (Drawing, as_2d, call_predict, class_colors, dense_stages, linear_pairs,
                                model_layers, new_axes, resolve_layer, single_layer, to_labels)


def _padded_box(points, pad=0.1):
    lo, hi = points.min(axis=0), points.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    return lo - pad * span, hi + pad * span


def _line_in_box(w, c, lo, hi):
    """The two ends of the segment of ``w . p = c`` inside the box [lo, hi], or None."""
    pts = []
    for axis in (0, 1):
        other = 1 - axis
        if w[other] == 0:
            continue
        for v in (lo[axis], hi[axis]):
            p = np.empty(2)
            p[axis] = v
            p[other] = (c - w[axis] * v) / w[other]
            if lo[other] - 1e-12 <= p[other] <= hi[other] + 1e-12:
                pts.append(p)
    if len(pts) < 2:
        return None
    pts = np.unique(np.round(np.array(pts), 12), axis=0)
    if len(pts) < 2:
        return None
    d = np.linalg.norm(pts[:, None] - pts[None], axis=-1)
    a, b = np.unravel_index(np.argmax(d), d.shape)
    return pts[a], pts[b]


def _class_index(values, classes):
    return np.searchsorted(classes, values)


def _label_names(classes, class_names):
    if class_names is None:
        return [f"class {c}" for c in classes]
    names = list(class_names)
    out = []
    for c in classes:
        if isinstance(c, (int, np.integer)) and 0 <= c < len(names):
            out.append(str(names[c]))
        elif c == -1 and len(names) == 2:  # Perceptron labels -1 / 1
            out.append(str(names[0]))
        else:
            out.append(f"class {c}")
    return out


def _scatter_classes(ax, X, y, classes, colors, class_names, **kw):
    names = _label_names(classes, class_names)
    points = []
    for k, c in enumerate(classes):
        mask = y == c
        if mask.any():
            points.append(ax.scatter(*X[mask].T, color=colors[k], edgecolor="k", linewidth=0.5, s=25,
                                     label=names[k], **kw))
    return points


def _draw_lines_2d(ax, kernel, bias, activation, threshold, lo, hi, arrows, arrow_origin):
    """Boundary lines (and normal arrows) of an affine output layer in a 2-D space."""
    lines, arrow_artists, equations = [], [], []
    n_out = kernel.shape[1]
    span = float(np.min(hi - lo))
    for w, c, i, j in linear_pairs(kernel, bias, activation, threshold):
        if not np.any(w):
            continue
        ends = _line_in_box(w, c, lo, hi)
        if ends is None:
            continue
        t = np.linspace(0.0, 1.0, 400)[:, None]
        pts = ends[0] + t * (ends[1] - ends[0])
        if n_out > 2:  # keep only where i and j are the two best scores
            z = pts @ kernel + bias
            others = np.delete(z, [i, j], axis=1)
            pts = pts.copy()
            pts[~np.all(others <= z[:, [i]] + 1e-9, axis=1)] = np.nan
        if np.all(np.isnan(pts)):
            continue
        label = "boundary" if n_out == 1 else ("boundaries" if not lines else None)
        (line,) = ax.plot(pts[:, 0], pts[:, 1], color="k", linewidth=1.5,
                          linestyle="-" if n_out == 1 else "--", label=label)
        lines.append(line)
        equations.append((w, c))
        if arrows:
            valid = pts[~np.isnan(pts[:, 0])]
            # foot of the perpendicular from the data centre, or the middle of the visible part
            foot = arrow_origin - (w @ arrow_origin - c) / (w @ w) * w
            if n_out > 2 or not np.all((lo <= foot) & (foot <= hi)):
                foot = valid[len(valid) // 2]
            tip = foot + 0.2 * span * w / np.linalg.norm(w)
            name = "w" if n_out == 1 else f"w{i} - w{j}"
            arrow = ax.annotate("", xy=tip, xytext=foot,
                                arrowprops=dict(arrowstyle="-|>", color="k", linewidth=1.5))
            box = dict(boxstyle="round,pad=0.15", facecolor="white", alpha=0.7, linewidth=0)
            text = ax.annotate(name, xy=tip, xytext=(3, 3), textcoords="offset points", fontsize=9, bbox=box,
                               zorder=6)
            arrow_artists.append((arrow, text))
    return lines, arrow_artists, equations


def plot_decision_boundary(model, X, y=None, ax=None, resolution=200, threshold=0.5, show_weights=None,
                           class_names=None, feature_names=None, alpha=0.3, title=None):
    """Coloured regions of the predicted class over a 2-D input plane, with the data points.

    Classes come from ``predict``: argmax for several outputs, ``>= threshold`` for one (label
    outputs such as a Perceptron's -1/1 are used as they are). For a single-layer model the
    boundary line is drawn from the weights, with the weight vector ``w`` (or ``w_i - w_j`` for
    softmax) as an arrow normal to it (``show_weights``, default on for such models).

    Returns a Drawing: ax, mesh, points, lines, arrows, xx, yy, regions (class per grid point),
    classes, equations (``(w, c)`` for each drawn line ``w . x = c``).
    """
    X = as_2d(X, "X", columns=2)
    labels = None if y is None else to_labels(y, "y", threshold)
    if labels is not None and len(labels) != len(X):
        raise ValueError(f"y: expected {len(X)} labels (one per row of X), got {len(labels)}")
    ax = new_axes(ax)
    lo, hi = _padded_box(X)
    xx, yy = np.meshgrid(np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution))
    grid = np.column_stack([xx.ravel(), yy.ravel()])
    regions = to_labels(call_predict(model, grid), "model.predict", threshold).reshape(xx.shape)
    classes = np.unique(regions if labels is None else np.concatenate([regions.ravel(), labels]))
    colors = class_colors(len(classes))
    from matplotlib.colors import ListedColormap

    mesh = ax.pcolormesh(xx, yy, _class_index(regions, classes), cmap=ListedColormap(colors),
                         vmin=-0.5, vmax=len(classes) - 0.5, alpha=alpha, shading="nearest")
    points = [] if labels is None else _scatter_classes(ax, X, labels, classes, colors, class_names)

    lines, arrows, equations = [], [], []
    stage = None
    try:
        stage = single_layer(model, "the weight drawing")
    except (TypeError, ValueError):
        if show_weights:
            raise
    if stage is not None and stage.kernel.shape[0] == 2:
        lines, arrows, equations = _draw_lines_2d(ax, stage.kernel, stage.bias, stage.activation, threshold,
                                                  lo, hi, show_weights is not False, X.mean(axis=0))
        if arrows:
            ax.set_aspect("equal", adjustable="box")
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    names = feature_names or ("x1", "x2")
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    if title is not None:
        ax.set_title(title)
    if points or lines:
        ax.legend(loc="best", fontsize=8)
    return Drawing(ax=ax, mesh=mesh, points=points, lines=lines, arrows=arrows, xx=xx, yy=yy,
                   regions=regions, classes=classes, equations=equations)


def _draw_planes_3d(ax, kernel, bias, activation, threshold, lo, hi, origin, alpha=0.3):
    """Separating planes ``w . x = c`` (surfaces clipped to the box) and their normals, as a dict:
    planes, normals (artists), equations ``(w, c)``, plane_grids (the X, Y, Z arrays drawn, NaN
    outside the box) and normal_vectors ``(foot, direction)``."""
    planes, normals, equations, grids, vectors = [], [], [], [], []
    n_out = kernel.shape[1]
    span = float(np.min(hi - lo))
    for w, c, i, j in linear_pairs(kernel, bias, activation, threshold):
        if not np.any(w):
            continue
        k = int(np.argmax(np.abs(w)))  # solve the plane for its steepest coordinate
        a, b = [d for d in range(3) if d != k]
        A, B = np.meshgrid(np.linspace(lo[a], hi[a], 20), np.linspace(lo[b], hi[b], 20))
        K = (c - w[a] * A - w[b] * B) / w[k]
        K = np.where((K >= lo[k]) & (K <= hi[k]), K, np.nan)
        coords = [None, None, None]
        coords[a], coords[b], coords[k] = A, B, K
        label = "separating plane" if n_out == 1 else f"plane {i}|{j}"
        planes.append(ax.plot_surface(*coords, alpha=alpha, color="grey" if n_out == 1 else None, label=label))
        foot = origin - (w @ origin - c) / (w @ w) * w
        d = 0.3 * span * w / np.linalg.norm(w)
        name = "w" if n_out == 1 else f"w{i} - w{j}"
        normals.append(ax.quiver(*foot, *d, color="k", linewidth=2, label=f"normal {name}"))
        equations.append((w, c))
        grids.append(tuple(coords))
        vectors.append((foot, d))
    return dict(planes=planes, normals=normals, equations=equations, plane_grids=grids, normal_vectors=vectors)


def plot_decision_plane_3d(model, X, y=None, ax=None, threshold=0.5, class_names=None, feature_names=None,
                           title=None):
    """The points of a three-feature problem and a single-layer model's separating plane with its
    normal vector ``w`` (pairwise planes for softmax outputs).

    Returns a Drawing: ax, points, planes, normals, equations (``(w, c)`` per plane ``w . x = c``),
    plane_grids (the surface coordinates drawn) and normal_vectors (foot on the plane, direction).
    """
    X = as_2d(X, "X", columns=3)
    stage = single_layer(model, "plot_decision_plane_3d")
    if stage.kernel.shape[0] != 3:
        raise ValueError(f"model: expected 3 inputs, got a kernel of shape {stage.kernel.shape}")
    ax = new_axes(ax, figsize=(6, 5), projection="3d")
    labels = None if y is None else to_labels(y, "y", threshold)
    if labels is not None and len(labels) != len(X):
        raise ValueError(f"y: expected {len(X)} labels (one per row of X), got {len(labels)}")
    points = []
    if labels is not None:
        classes = np.unique(labels)
        points = _scatter_classes(ax, X, labels, classes, class_colors(len(classes)), class_names)
    lo, hi = _padded_box(X)
    drawn = _draw_planes_3d(ax, stage.kernel, stage.bias, stage.activation, threshold, lo, hi, X.mean(axis=0))
    names = feature_names or ("x1", "x2", "x3")
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    ax.set_zlabel(names[2])
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_zlim(lo[2], hi[2])
    if title is not None:
        ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)
    return Drawing(ax=ax, points=points, **drawn)


def _default_hidden_layer(layers, acts, offset):
    """The last layer (not a Dropout or Flatten) before the last Dense whose output has 2 or 3 columns."""
    dense = [i for i, lay in enumerate(layers) if type(lay).__name__ == "Dense"]
    if len(dense) < 2:
        raise ValueError(f"model: plot_hidden_space needs a hidden Dense layer, got {len(dense)} Dense layer(s)")
    for i in range(dense[-1] - 1, offset - 1, -1):
        if type(layers[i]).__name__ in ("Dropout", "Flatten"):
            continue
        if np.asarray(acts[i - offset]).reshape(len(acts[i - offset]), -1).shape[1] in (2, 3):
            return i
    raise ValueError("layer: no hidden layer with 2 or 3 units; pass layer= explicitly")


def plot_hidden_space(model, X, y=None, layer=None, ax=None, threshold=0.5, resolution=200, class_names=None,
                      alpha=0.25, title=None):
    """The activations of a 2- or 3-unit hidden layer as a scatter (3-D for 3 units).

    When the rest of the network is one Dense layer (possibly followed by Activation/Dropout),
    the regions it predicts and its separating line (2-D) or plane (3-D) are drawn in that space:
    the picture of a non-separable input set made separable by the hidden layer.

    ``layer`` is an index into ``model.layers``, a layer name or a layer; by default the last
    layer before the output Dense that has 2 or 3 units. Returns a Drawing: ax, points, hidden
    (the activations), layer_index, lines or planes, equations; in 2-D also mesh, regions (the
    output's class over the grid xx, yy of hidden values).
    """
    activations = getattr(model, "activations", None)
    if not callable(activations):
        raise TypeError(f"model: expected a fastnn model with activations(X), got {type(model).__name__}")
    layers, offset = model_layers(model)
    X = np.asarray(X, dtype=np.float64)
    acts = activations(X)
    index = _default_hidden_layer(layers, acts, offset) if layer is None else resolve_layer(model, layer)
    if index < offset:
        raise ValueError("layer: expected a layer after the InputLayer, got the InputLayer")
    H = np.asarray(acts[index - offset], dtype=np.float64)
    H = H.reshape(len(H), -1)
    if H.shape[1] not in (2, 3):
        raise ValueError(f"layer: expected a layer with 2 or 3 units, got {H.shape[1]} units at model.layers[{index}]")
    labels = None if y is None else to_labels(y, "y", threshold)
    if labels is not None and len(labels) != len(H):
        raise ValueError(f"y: expected {len(H)} labels (one per row of X), got {len(labels)}")

    # the output layer as a linear map of the hidden space, when it is one
    out_stage = None
    try:
        rest = dense_stages(model, layers[index + 1:], start=index + 1)
        if len(rest) == 1 and rest[0].kernel.shape[0] == H.shape[1]:
            out_stage = rest[0]
    except ValueError:
        pass

    lay_name = getattr(layers[index], "name", None) or f"layer {index}"
    dim = H.shape[1]
    ax = new_axes(ax, figsize=(6, 5) if dim == 3 else None, projection="3d" if dim == 3 else None)
    lo, hi = _padded_box(H)
    drawing = Drawing(ax=ax, hidden=H, layer_index=index, equations=[], mesh=None, regions=None)
    classes = np.unique(labels) if labels is not None else np.array([0, 1])
    if dim == 2 and out_stage is not None:
        xx, yy = np.meshgrid(np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution))
        out = out_stage.forward(np.column_stack([xx.ravel(), yy.ravel()]))
        regions = to_labels(out, "output", threshold).reshape(xx.shape)
        classes = np.unique(np.concatenate([regions.ravel(), classes]))
        from matplotlib.colors import ListedColormap

        drawing["mesh"] = ax.pcolormesh(xx, yy, _class_index(regions, classes),
                                        cmap=ListedColormap(class_colors(len(classes))),
                                        vmin=-0.5, vmax=len(classes) - 0.5, alpha=alpha, shading="nearest")
        drawing.update(regions=regions, xx=xx, yy=yy)
    colors = class_colors(len(classes))
    drawing["points"] = ([ax.scatter(*H.T, s=25, edgecolor="k", linewidth=0.5, label="samples")] if labels is None
                         else _scatter_classes(ax, H, labels, classes, colors, class_names))
    if dim == 2:
        drawing["lines"], drawing["arrows"], drawing["equations"] = (
            _draw_lines_2d(ax, out_stage.kernel, out_stage.bias, out_stage.activation, threshold, lo, hi,
                           True, H.mean(axis=0)) if out_stage is not None else ([], [], []))
        if drawing["arrows"]:
            ax.set_aspect("equal", adjustable="box")
        ax.set_xlim(lo[0], hi[0])
        ax.set_ylim(lo[1], hi[1])
    else:
        drawing.update(_draw_planes_3d(ax, out_stage.kernel, out_stage.bias, out_stage.activation, threshold, lo, hi,
                                       H.mean(axis=0)) if out_stage is not None
                       else dict(planes=[], normals=[], equations=[], plane_grids=[], normal_vectors=[]))
        ax.set_zlabel(f"{lay_name} unit 3")
        ax.set_xlim(lo[0], hi[0])
        ax.set_ylim(lo[1], hi[1])
        ax.set_zlim(lo[2], hi[2])
    ax.set_xlabel(f"{lay_name} unit 1")
    ax.set_ylabel(f"{lay_name} unit 2")
    ax.set_title(title if title is not None else f"hidden space of {lay_name}")
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8)  # beside: the middle holds the arrow
    return drawing
