"""Image figures: weights as templates, first-layer filters, sample grids, misclassified samples
and confusion matrices (counts, or the most confident sample in each cell).

Images are rows of X (or kernel columns) reshaped to ``image_shape``: (h, w) greyscale or
(h, w, 3) colour. Weights are shown on a diverging map centred on zero (greyscale) or rescaled to
[0, 1] per template (colour).
"""

import math

import numpy as np

from fastnn.viz._common import (Drawing, call_predict, dense_stages, image_size, is_perceptron,
                                new_axes, new_figure, resolve_layer, to_labels)


def _grid(fig, n, per_row, cell=1.3):
    """``n`` image Axes in rows of ``per_row`` (unused cells hidden)."""
    if n < 1:
        raise ValueError(f"expected at least one image, got {n}")
    if per_row < 1:
        raise ValueError(f"per_row: expected a positive integer, got {per_row}")
    cols = min(n, per_row)
    rows = math.ceil(n / cols)
    fig = new_figure(fig, figsize=(cols * cell, rows * (cell + 0.25)))
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False).ravel())
    for a in axes:
        a.set_xticks([])
        a.set_yticks([])
    for a in axes[n:]:
        a.set_visible(False)
    return fig, list(axes[:n])


def _as_images(X, image_shape, name="X"):
    shape, size = image_size(image_shape)
    a = np.asarray(X)
    if a.ndim >= 2 and a.shape[1:] == shape:
        return a, shape
    a = a.reshape(len(a), -1) if a.ndim >= 2 else a[None]
    if a.shape[1] != size:
        raise ValueError(f"{name}: expected {size} values per image (image_shape {shape}), got {a.shape[1]}")
    return a.reshape((len(a),) + shape), shape


def _show(ax, img, cmap, vmin=None, vmax=None):
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    if img.ndim == 3:
        img = img.astype(np.float64)
        lo, hi = img.min(), img.max()
        if lo < 0 or hi > 255:
            img = _rescale01(img)
        elif hi > 1:
            img = img / 255.0
        return ax.imshow(img, interpolation="nearest")
    return ax.imshow(img, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")


def _rescale01(w):
    lo, hi = w.min(), w.max()
    return (w - lo) / (hi - lo) if hi > lo else np.full_like(w, 0.5)


def _names(labels, n, default):
    if labels is None:
        return [f"{default} {i}" for i in range(n)]
    labels = list(labels)
    if len(labels) != n:
        raise ValueError(f"labels: expected {n} names, got {len(labels)}")
    return [str(s) for s in labels]


def _kernel(model, layer):
    """The (n_in, n_out) kernel of ``layer`` (default: the first Dense) and its name."""
    if is_perceptron(model):
        return dense_stages(model)[0].kernel, "perceptron"
    stages = dense_stages(model)
    if layer is None:
        return stages[0].kernel, stages[0].name
    index = resolve_layer(model, layer)
    for st in stages:
        if st.index == index:
            return st.kernel, st.name
    kind = type(model.layers[index]).__name__
    raise ValueError(f"layer: expected a Dense layer, got {kind} at model.layers[{index}]")


def _template_images(axes, kernel, shape, cmap):
    images = []
    if len(shape) == 3 and shape[2] in (3, 4):
        for k, ax in enumerate(axes):
            images.append(ax.imshow(_rescale01(kernel[:, k].reshape(shape)), interpolation="nearest"))
        return images, None
    m = float(np.max(np.abs(kernel))) or 1.0
    for k, ax in enumerate(axes):
        images.append(ax.imshow(kernel[:, k].reshape(shape[:2]), cmap=cmap, vmin=-m, vmax=m, interpolation="nearest"))
    return images, m


def plot_weight_images(model, image_shape=(28, 28), labels=None, layer=None, per_row=10, fig=None, cmap="seismic",
                       title=None):
    """Each unit's incoming weights as an image: the templates a linear classifier matches.

    ``layer`` (index, name or layer; default the first Dense layer) must read the pixels:
    its kernel has ``prod(image_shape)`` rows. Greyscale templates share one colour scale
    centred on zero (red positive, blue negative); colour templates are rescaled to [0, 1]
    each. Returns a Drawing: fig, axes, images, colorbar.
    """
    shape, size = image_size(image_shape)
    kernel, _ = _kernel(model, layer)
    if kernel.shape[0] != size:
        raise ValueError(f"image_shape: expected {kernel.shape[0]} pixels (the layer's inputs), "
                         f"got {shape} ({size} pixels)")
    n = kernel.shape[1]
    names = _names(labels, n, "unit")
    fig, axes = _grid(fig, n, per_row)
    images, m = _template_images(axes, kernel, shape, cmap)
    for ax, name in zip(axes, names):
        ax.set_title(name, fontsize=9)
    colorbar = fig.colorbar(images[0], ax=axes, shrink=0.8, label="weight") if m is not None else None
    if title is not None:
        fig.suptitle(title)
    return Drawing(fig=fig, axes=axes, images=images, colorbar=colorbar)


def plot_hidden_filters(model, image_shape=(28, 28), labels=None, per_row=8, classes_per_row=5, fig=None,
                        cmap="seismic", title=None):
    """First-layer filters as images and, for each output unit (class), bars of the weight it
    gives each filter.

    Needs two Dense layers or more: the first reads the pixels, the second reads the filters.
    Returns a Drawing: fig, filter_axes, bar_axes, images, bars (one BarContainer per class).
    """
    shape, size = image_size(image_shape)
    stages = dense_stages(model)
    if len(stages) < 2:
        raise ValueError(f"model: expected at least two Dense layers (filters, then classes), got {len(stages)}")
    first, second = stages[0].kernel, stages[1].kernel
    if first.shape[0] != size:
        raise ValueError(f"image_shape: expected {first.shape[0]} pixels (the first layer's inputs), "
                         f"got {shape} ({size} pixels)")
    n_filters, n_classes = first.shape[1], second.shape[1]
    names = _names(labels, n_classes, "unit")
    f_cols = min(n_filters, per_row)
    f_rows = math.ceil(n_filters / f_cols)
    c_cols = min(n_classes, classes_per_row)
    c_rows = math.ceil(n_classes / c_cols)
    fig = new_figure(fig, figsize=(max(f_cols * 1.2, c_cols * 2.4), f_rows * 1.4 + c_rows * 1.9))
    gs = fig.add_gridspec(2, 1, height_ratios=[f_rows * 1.4, c_rows * 1.9])
    top = gs[0].subgridspec(f_rows, f_cols)
    bottom = gs[1].subgridspec(c_rows, c_cols)
    filter_axes = []
    for k in range(n_filters):
        ax = fig.add_subplot(top[k // f_cols, k % f_cols])
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"filter {k}", fontsize=8)
        filter_axes.append(ax)
    images, _ = _template_images(filter_axes, first, shape, cmap)
    from matplotlib.ticker import MaxNLocator

    bar_axes, bars = [], []
    x = np.arange(n_filters)
    for c in range(n_classes):
        ax = fig.add_subplot(bottom[c // c_cols, c % c_cols])
        w = second[:, c]
        bars.append(ax.bar(x, w, color=np.where(w >= 0, "tab:red", "tab:blue")))
        ax.axhline(0.0, color="k", linewidth=0.5)
        ax.set_title(names[c], fontsize=9)
        ax.set_xlabel("filter", fontsize=8)
        if c % c_cols == 0:
            ax.set_ylabel("weight", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        bar_axes.append(ax)
    if title is not None:
        fig.suptitle(title)
    return Drawing(fig=fig, filter_axes=filter_axes, bar_axes=bar_axes, images=images, bars=bars)


def plot_images(X, image_shape=(28, 28), labels=None, per_row=10, class_names=None, max_images=None, fig=None,
                cmap="gray", title=None):
    """A grid of images (rows of X), titled by ``labels`` (mapped through ``class_names``).

    Returns a Drawing: fig, axes, images.
    """
    imgs, shape = _as_images(X, image_shape)
    if max_images is not None:
        imgs = imgs[:max_images]
    titles = None
    if labels is not None:
        labels = list(np.asarray(labels).ravel()) if not isinstance(labels, (list, tuple)) else list(labels)
        if len(labels) < len(imgs):
            raise ValueError(f"labels: expected one label per image ({len(imgs)}), got {len(labels)}")
        titles = [str(class_names[int(v)]) if class_names is not None else str(v) for v in labels[:len(imgs)]]
    fig, axes = _grid(fig, len(imgs), per_row)
    images = [_show(ax, img, cmap) for ax, img in zip(axes, imgs)]
    if titles is not None:
        for ax, t in zip(axes, titles):
            ax.set_title(t, fontsize=9)
    if title is not None:
        fig.suptitle(title)
    return Drawing(fig=fig, axes=axes, images=images)


def _probabilities(out):
    """(N, K) class probabilities from predict's output, or None when it is not probabilities."""
    out = out.reshape(len(out), -1) if out.ndim > 1 else out[:, None]
    if out.shape[1] == 1:
        p = out[:, 0].astype(np.float64)
        if np.all((p >= 0) & (p <= 1)):
            return np.column_stack([1 - p, p])
        return None
    return out.astype(np.float64)


def plot_misclassified(model, X, y, image_shape=(28, 28), class_names=None, max_images=20, per_row=10, fig=None,
                       cmap="gray", threshold=0.5, title=None):
    """The samples the model gets wrong, most confident mistakes first, titled "true -> predicted".

    Returns a Drawing: fig, axes, images, indices (rows of X shown), count (all mistakes).
    """
    imgs, shape = _as_images(X, image_shape)
    truth = to_labels(y, "y", threshold)
    if len(truth) != len(imgs):
        raise ValueError(f"y: expected {len(imgs)} labels (one per image), got {len(truth)}")
    out = call_predict(model, X)
    pred = to_labels(out, "model.predict", threshold)
    probs = _probabilities(out)
    wrong = np.flatnonzero(pred != truth)
    conf = None
    if probs is not None and probs.shape[1] > int(pred.max(initial=0)) and pred.min(initial=0) >= 0:
        conf = probs[np.arange(len(pred)), pred]
        wrong = wrong[np.argsort(-conf[wrong], kind="stable")]
    shown = wrong[:max_images] if max_images is not None else wrong

    def name(v):
        return str(class_names[int(v)]) if class_names is not None else str(v)

    if len(shown) == 0:
        ax = new_axes(None if fig is None else fig.add_subplot())
        ax.axis("off")
        ax.text(0.5, 0.5, "no misclassified samples", ha="center", va="center")
        return Drawing(fig=ax.figure, axes=[ax], images=[], indices=shown, count=0)
    fig, axes = _grid(fig, len(shown), per_row, cell=1.4)
    images = []
    for ax, i in zip(axes, shown):
        images.append(_show(ax, imgs[i], cmap))
        text = f"{name(truth[i])} -> {name(pred[i])}"
        if conf is not None:
            text += f"\n{conf[i]:.0%}"
        ax.set_title(text, fontsize=8, color="tab:red")
    fig.suptitle(title if title is not None else f"misclassified: {len(wrong)} of {len(truth)} (true -> predicted)",
                 fontsize=10)
    return Drawing(fig=fig, axes=axes, images=images, indices=shown, count=len(wrong))


def _classes_and_names(truth, pred, labels):
    if labels is None:
        classes = np.unique(np.concatenate([truth, pred]))
        return classes, [str(c) for c in classes]
    names = [str(s) for s in labels]
    classes = np.arange(len(names))
    bad = np.setdiff1d(np.unique(np.concatenate([truth, pred])), classes)
    if bad.size:
        raise ValueError(f"labels: expected names for classes 0..{len(names) - 1}, "
                         f"got labels also containing {bad.tolist()}")
    return classes, names


def confusion_counts(y_true, y_pred, classes):
    """(K, K) counts: row = true class, column = predicted class, in the order of ``classes``."""
    t = np.searchsorted(classes, y_true)
    p = np.searchsorted(classes, y_pred)
    m = np.zeros((len(classes), len(classes)), dtype=np.int64)
    np.add.at(m, (t, p), 1)
    return m


def plot_confusion_matrix(y_true, y_pred, labels=None, normalize=None, ax=None, cmap="Blues", threshold=0.5,
                          title=None):
    """The confusion matrix of labels (or one-hot rows, or probabilities) with a count per cell.

    ``labels`` names classes 0..K-1; ``normalize`` is None (counts), "true" (rows sum to 1),
    "pred" (columns) or "all", as in scikit-learn. Returns a Drawing: ax, image, counts, matrix
    (what is shown), texts, colorbar, classes.
    """
    truth = to_labels(y_true, "y_true", threshold)
    pred = to_labels(y_pred, "y_pred", threshold)
    if len(truth) != len(pred):
        raise ValueError(f"y_pred: expected {len(truth)} predictions (one per y_true), got {len(pred)}")
    if normalize not in (None, "true", "pred", "all"):
        raise ValueError(f"normalize: expected None, 'true', 'pred' or 'all', got {normalize!r}")
    classes, names = _classes_and_names(truth, pred, labels)
    counts = confusion_counts(truth, pred, classes)
    matrix = counts.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        if normalize == "true":
            matrix = matrix / matrix.sum(axis=1, keepdims=True)
        elif normalize == "pred":
            matrix = matrix / matrix.sum(axis=0, keepdims=True)
        elif normalize == "all":
            matrix = matrix / matrix.sum()
    matrix = np.nan_to_num(matrix)
    k = len(classes)
    ax = new_axes(ax, figsize=(max(4, 0.6 * k + 2), max(3.5, 0.6 * k + 1.5)))
    image = ax.imshow(matrix, cmap=cmap, interpolation="nearest")
    colorbar = ax.figure.colorbar(image, ax=ax)
    texts = []
    mid = (matrix.max() + matrix.min()) / 2.0
    for i in range(k):
        for j in range(k):
            s = f"{counts[i, j]}" if normalize is None else f"{matrix[i, j]:.2f}"
            texts.append(ax.text(j, i, s, ha="center", va="center", fontsize=8 if k > 10 else 10,
                                 color="white" if matrix[i, j] > mid else "black"))
    ax.set_xticks(range(k), names, rotation=45 if max(len(n) for n in names) > 3 else 0)
    ax.set_yticks(range(k), names)
    ax.set_xlabel("Predicted label")
    ax.set_ylabel("True label")
    if title is not None:
        ax.set_title(title)
    return Drawing(ax=ax, image=image, counts=counts, matrix=matrix, texts=texts, colorbar=colorbar, classes=classes)


def plot_confusion_examples(model, X, y, image_shape=(28, 28), labels=None, fig=None, cmap="gray", title=None):
    """The confusion matrix as a grid of images: in cell (true i, predicted j), the sample of
    that cell the model was most confident about (highest probability of j), with the count.

    Returns a Drawing: fig, axes (K x K array), images ({(i, j): AxesImage}), chosen
    ({(i, j): row of X}), counts.
    """
    imgs, shape = _as_images(X, image_shape)
    probs = _probabilities(call_predict(model, X))
    if probs is None:
        raise ValueError("model: expected probabilities from predict (softmax or sigmoid outputs), "
                         "got scores outside [0, 1]")
    truth = to_labels(y, "y")
    if len(truth) != len(imgs):
        raise ValueError(f"y: expected {len(imgs)} labels (one per image), got {len(truth)}")
    k = probs.shape[1]
    names = _names(labels, k, "class") if labels is not None else [str(c) for c in range(k)]
    if truth.min() < 0 or truth.max() >= k:
        raise ValueError(f"y: expected labels in 0..{k - 1} (the model's {k} outputs), "
                         f"got {truth.min()}..{truth.max()}")
    pred = np.argmax(probs, axis=1)
    counts = confusion_counts(truth, pred, np.arange(k))
    fig = new_figure(fig, figsize=(1.1 * k + 1, 1.1 * k + 1))
    axes = fig.subplots(k, k, squeeze=False)
    images, chosen = {}, {}
    for i in range(k):
        for j in range(k):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_color("tab:green" if i == j else "tab:red")
                spine.set_linewidth(1.5 if counts[i, j] else 0.3)
            rows = np.flatnonzero((truth == i) & (pred == j))
            if rows.size:
                best = int(rows[np.argmax(probs[rows, j])])
                chosen[(i, j)] = best
                images[(i, j)] = _show(ax, imgs[best], cmap)
                ax.text(0.03, 0.97, str(counts[i, j]), transform=ax.transAxes, ha="left", va="top", fontsize=7,
                        color="yellow", bbox=dict(facecolor="black", alpha=0.5, pad=1, linewidth=0))
            if j == 0:
                ax.set_ylabel(names[i], fontsize=8)
            if i == k - 1:
                ax.set_xlabel(names[j], fontsize=8)
    fig.supylabel("True label")
    fig.supxlabel("Predicted label")
    fig.suptitle(title if title is not None else "most confident sample per cell (count in corner)", fontsize=10)
    return Drawing(fig=fig, axes=axes, images=images, chosen=chosen, counts=counts)
