"""Utilities with Keras's names: to_categorical, set_random_seed."""

import random as _py_random

import numpy as np

from . import random as _fastnn_random
from ._validation import to_array


def to_categorical(x, num_classes=None):
    """One-hot encodes integer class labels: shape (N,) -> (N, num_classes), float32 (Keras 3)."""
    arr = to_array(x, "x")
    if arr.ndim > 1 and arr.shape[-1] == 1:
        arr = arr.reshape(arr.shape[:-1])
    if arr.size and (arr.dtype.kind == "f" and not np.all(arr == np.floor(arr))):
        raise ValueError(f"x: expected integer class labels, got {arr[arr != np.floor(arr)].flat[0]!r}")
    labels = arr.astype(np.int64)
    if labels.size and labels.min() < 0:
        raise ValueError(f"x: expected class labels >= 0, got {labels.min()}")
    if num_classes is None:
        num_classes = int(labels.max()) + 1 if labels.size else 0
    elif isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
        raise ValueError(f"num_classes: expected an integer >= 1, got {num_classes!r}")
    if labels.size and labels.max() >= num_classes:
        raise ValueError(f"x: expected class labels below num_classes={num_classes}, got {labels.max()}")
    out = np.zeros(labels.shape + (int(num_classes),), dtype=np.float32)
    np.put_along_axis(out, labels[..., None], 1.0, axis=-1)
    return out


def set_random_seed(seed):
    """Seeds fastnn's engine generator, Python's `random` and NumPy's global generator (as Keras does)."""
    _fastnn_random.set_seed(seed)
    seed = int(seed)  # NumPy integers too
    _py_random.seed(seed)
    np.random.seed(seed % (1 << 32))
