"""Data sets with Keras's ``load_data()`` interface, plus synthetic toy sets.

- ``boston_housing``, ``advertising``: small regression tables shipped with fastnn (no download).
- ``mnist``, ``fashion_mnist``, ``cifar10``: image sets read from their original files (IDX,
  CIFAR-10 binary; never pickle), with Keras's shapes and dtypes.
- ``toy``: ``make_linear_2d``, ``make_linear_3d``, ``make_blobs3``, ``make_l_shape``,
  ``make_parabola``.

Where image files are looked for, in order: the ``path`` argument; ``$FASTNN_DATA/<name>/``;
``~/.fastnn/datasets/<name>/``; system folders such as ``/usr/share/datasets/<name>/`` (Debian's
``dataset-fashion-mnist`` package); then a download from the canonical address into
``$FASTNN_DATA/<name>/`` (or ``~/.fastnn/datasets/<name>/``), verified by SHA-256 and written
atomically. ``<name>`` is ``mnist``, ``fashion-mnist`` or ``cifar10``. The environment variable
``FASTNN_DATASETS_URL`` replaces the download address with ``$FASTNN_DATASETS_URL/<name>/``
(each module's ``BASE_URL`` attribute holds the default). When the files are absent and cannot
be downloaded, ``DatasetNotFoundError`` (a ``FileNotFoundError``) says which files are needed
and where to put them; damaged files raise ``ValueError``.

Only NumPy is needed to import this package.
"""

from fastnn.datasets import advertising, boston_housing, cifar10, fashion_mnist, mnist, toy
from fastnn.datasets._files import DatasetChecksumError, DatasetNotFoundError

__all__ = [
    "advertising",
    "boston_housing",
    "cifar10",
    "fashion_mnist",
    "mnist",
    "toy",
    "DatasetChecksumError",
    "DatasetNotFoundError",
]
