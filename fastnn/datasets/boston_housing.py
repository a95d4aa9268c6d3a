"""Boston housing prices regression dataset, as ``keras.datasets.boston_housing``.

The 506 rows ship with fastnn (``data/boston_housing.csv``, see ``data/README.md``), so no
download is needed. **Warning** (as in Keras): the feature "B" encodes a racial proportion; the
data set has an ethical problem and is kept for compatibility and teaching only.
"""

import os

import numpy as np

from fastnn.datasets._tables import DATA_DIR, check_split_args, keras_split, read_csv

FEATURE_NAMES = ("CRIM", "ZN", "INDUS", "CHAS", "NOX", "RM", "AGE", "DIS", "RAD", "TAX",
                 "PTRATIO", "B", "LSTAT")
CSV_PATH = os.path.join(DATA_DIR, "boston_housing.csv")


def _read(path):
    if path.endswith(".npz"):
        with np.load(path, allow_pickle=False) as f:
            if "x" not in f.files or "y" not in f.files:
                raise ValueError(f"Boston housing archive {path!r} must hold arrays 'x' and 'y', "
                                 f"got {sorted(f.files)}")
            x, y = np.asarray(f["x"], dtype=np.float64), np.asarray(f["y"], dtype=np.float64)
    else:
        table = read_csv(path, None, 14, "Boston housing")
        x, y = table[:, :13], table[:, 13]
    if x.ndim != 2 or x.shape[1] != 13 or y.shape != (len(x),):
        raise ValueError(f"Boston housing data in {path!r} must be x (n, 13) and y (n,), "
                         f"got x {x.shape} and y {y.shape}")
    return x, y


def load_data(path=None, test_split=0.2, seed=113):
    """Load the Boston housing dataset (Harrison and Rubinfeld, 1978; StatLib copy).

    Samples are 13 attributes of houses in Boston suburbs in the late 1970s; targets are the
    median values of the homes at a location, in k$ (typically 10 to 50).

    Args:
        path: ``None`` for the table shipped with fastnn, or a CSV with the same 14 columns
            (13 features then MEDV, one header line), or a Keras ``boston_housing.npz``
            (arrays ``x`` and ``y``; read without pickle).
        test_split: fraction of the data to reserve as test set, in [0, 1).
        seed: random seed for shuffling the data before computing the test split.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: float64 ``x`` of shape ``(n, 13)`` and
        ``y`` of shape ``(n,)``. Rows are shuffled with ``np.random.RandomState(seed)`` and
        the first ``int(506 * (1 - test_split))`` are training rows, exactly as Keras: the
        defaults give 404 training and 102 test rows, the same rows as Keras's.
    """
    check_split_args(test_split, seed)
    x, y = _read(CSV_PATH if path is None else os.path.expanduser(os.fspath(path)))
    return keras_split(x, y, test_split, seed)
