"""The Advertising table of "An Introduction to Statistical Learning" (James et al.).

200 markets: TV, radio and newspaper advertising budgets (thousands of dollars) and the sales
of the product (thousands of units). Ships with fastnn as ``data/advertising.csv``; the CSV's
first column, a 1-based row index, is dropped.
"""

import os

from fastnn.datasets._tables import DATA_DIR, check_split_args, keras_split, read_csv

FEATURE_NAMES = ("TV", "radio", "newspaper")
TARGET_NAME = "sales"
CSV_PATH = os.path.join(DATA_DIR, "advertising.csv")


def load_data(path=None, test_split=0.0, seed=113):
    """Load the Advertising dataset, with the same interface as ``boston_housing.load_data``.

    Args:
        path: ``None`` for the table shipped with fastnn, or a CSV with the same five columns
            (row index, TV, radio, newspaper, sales; one header line).
        test_split: fraction of the rows to reserve as test set, in [0, 1). With the default
            0.0 nothing is held out and the rows keep the order of the book's table.
        seed: random seed for shuffling the rows before the split (used only when
            ``test_split > 0``; the shuffle is Keras's, as for Boston housing).

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: float64 ``x`` of shape ``(n, 3)`` (TV, radio,
        newspaper) and ``y`` of shape ``(n,)`` (sales). By default ``x_train`` is the whole
        table ``(200, 3)``, ``y_train`` ``(200,)``, and the test arrays are empty, of shapes
        ``(0, 3)`` and ``(0,)``.
    """
    check_split_args(test_split, seed)
    path = CSV_PATH if path is None else os.path.expanduser(os.fspath(path))
    table = read_csv(path, (1, 2, 3, 4), 5, "Advertising")
    x, y = table[:, :3], table[:, 3]
    if test_split == 0:
        return (x.copy(), y.copy()), (x[:0].copy(), y[:0].copy())
    return keras_split(x, y, test_split, seed)
