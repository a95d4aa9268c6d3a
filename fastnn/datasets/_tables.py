"""Helpers for the small tables shipped in ``fastnn/datasets/data/``: reading and Keras's split."""

import numbers
import os

import numpy as np

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def read_csv(path, usecols, expected_columns, title):
    """Read a numeric CSV with one header line into float64, checking its column count."""
    with open(path, "r", encoding="utf-8") as f:
        header = f.readline().strip().replace('"', "").split(",")
    if len(header) != expected_columns:
        raise ValueError(f"{title} file {path!r} has {len(header)} columns, expected "
                         f"{expected_columns}")
    table = np.loadtxt(path, delimiter=",", skiprows=1, usecols=usecols, dtype=np.float64,
                       ndmin=2)
    return table


def check_split_args(test_split, seed):
    if isinstance(test_split, bool) or not isinstance(test_split, numbers.Real):
        raise TypeError(f"test_split must be a number in [0, 1), got {type(test_split).__name__}")
    if not 0 <= test_split < 1:
        raise ValueError(f"test_split must be in [0, 1), got {test_split}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")


def keras_split(x, y, test_split, seed):
    """Keras's split: shuffle rows with ``np.random.RandomState(seed)``, first part is training.

    Same arithmetic as ``keras.datasets.boston_housing``: the training set is the first
    ``int(len(x) * (1 - test_split))`` shuffled rows.
    """
    indices = np.random.RandomState(int(seed)).permutation(len(x))
    x, y = x[indices], y[indices]
    n_train = int(len(x) * (1 - test_split))
    return ((np.array(x[:n_train]), np.array(y[:n_train])),
            (np.array(x[n_train:]), np.array(y[n_train:])))
