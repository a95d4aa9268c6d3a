"""Training curves: loss and every metric per epoch from a History (or its ``history`` dict),
training and validation (``val_`` keys) on the same panel."""

from collections.abc import Mapping

import numpy as np

from fastnn.viz._common import Drawing, new_figure


def _history_dict(history):
    hist = getattr(history, "history", history)
    if not isinstance(hist, Mapping):
        raise TypeError(f"history: expected a History or a dict of per-epoch lists, got {type(history).__name__}")
    if not hist:
        raise ValueError("history: expected at least one recorded quantity, got an empty history")
    return {str(k): np.asarray(v, dtype=np.float64).ravel() for k, v in hist.items()}


def plot_history(history, keys=None, fig=None, ax=None, title=None):
    """Loss and each metric per epoch, one panel each, with the validation curve when present.

    ``keys`` picks quantities (default: every non-``val_`` key, loss first). With ``ax``, all
    curves go on that one Axes. Epochs count from 1 (``history.epoch`` is used when present).
    Returns a Drawing: fig, axes, lines ({key: Line2D}, val_ keys included).
    """
    hist = _history_dict(history)
    base = [k for k in hist if not k.startswith("val_")]
    base += [k[4:] for k in hist if k.startswith("val_") and k[4:] not in hist]
    base.sort(key=lambda k: k != "loss")
    if keys is None:
        keys = base
    else:
        keys = [keys] if isinstance(keys, str) else list(keys)
        missing = [k for k in keys if k not in hist and f"val_{k}" not in hist]
        if missing:
            raise ValueError(f"keys: expected names from {base}, got {missing}")
    epoch = getattr(history, "epoch", None)
    if ax is not None:
        fig, axes = ax.figure, [ax] * len(keys)
    else:
        fig = new_figure(fig, figsize=(4.5 * len(keys), 3.5))
        axes = list(np.atleast_1d(fig.subplots(1, len(keys), squeeze=False).ravel()))
    lines = {}
    for key, a in zip(keys, axes):
        for name, label in ((key, "training"), (f"val_{key}", "validation")):
            if name not in hist:
                continue
            values = hist[name]
            x = np.asarray(epoch, dtype=np.float64) + 1 if epoch is not None and len(epoch) == len(values) \
                else np.arange(1, len(values) + 1)
            shown = name if ax is not None else label
            (lines[name],) = a.plot(x, values, marker="o" if len(values) <= 30 else None, markersize=3,
                                    linestyle="--" if name.startswith("val_") else "-", label=shown)
        a.set_xlabel("epoch")
        a.set_ylabel(key if ax is None else "value")
        if ax is None:
            a.set_title(key)
        a.legend(loc="best")
    if title is not None:
        (ax.set_title if ax is not None else fig.suptitle)(title)
    return Drawing(fig=fig, axes=axes if ax is None else [ax], lines=lines)
