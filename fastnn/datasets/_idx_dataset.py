"""Loader shared by MNIST and Fashion-MNIST: four IDX files, found on disk or downloaded.

The files of one set are looked for under these names, first match wins:
``train-images-idx3-ubyte.gz``, ``train-images-idx3-ubyte``, ``train-images.idx3-ubyte``,
``train-images.idx3-ubyte.gz`` (likewise for ``train-labels-idx1-ubyte``,
``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``). A folder is used only if it holds
all four. Downloads fetch the ``.gz`` names. See ``_files`` for the lookup order.
"""

import os

import numpy as np

from fastnn.datasets import _files
from fastnn.datasets._formats import read_idx

PARTS = (
    ("x_train", "train-images-idx3-ubyte"),
    ("y_train", "train-labels-idx1-ubyte"),
    ("x_test", "t10k-images-idx3-ubyte"),
    ("y_test", "t10k-labels-idx1-ubyte"),
)
DOWNLOAD_NAMES = tuple(stem + ".gz" for _, stem in PARTS)


def _variants(stem):
    dotted = stem.replace("-idx", ".idx")
    return (stem + ".gz", stem, dotted, dotted + ".gz")


def find_in(folder):
    """{part: file path} for the parts of the set present in ``folder``."""
    found = {}
    for key, stem in PARTS:
        for candidate in _variants(stem):
            p = os.path.join(folder, candidate)
            if os.path.isfile(p):
                found[key] = p
                break
    return found


def _check(arrays, title, sources):
    """Check Keras's shapes and dtypes: images uint8 (n, 28, 28), labels uint8 (n,)."""
    for key in ("x_train", "x_test"):
        a = arrays[key]
        if a.dtype != np.uint8 or a.ndim != 3 or a.shape[1:] != (28, 28):
            raise ValueError(f"{title} {key} from {sources[key]!r} must be uint8 images of shape "
                             f"(n, 28, 28); got {a.dtype} {a.shape}")
    for key in ("y_train", "y_test"):
        a = arrays[key]
        if a.dtype != np.uint8 or a.ndim != 1:
            raise ValueError(f"{title} {key} from {sources[key]!r} must be uint8 labels of shape "
                             f"(n,); got {a.dtype} {a.shape}")
    for x_key, y_key in (("x_train", "y_train"), ("x_test", "y_test")):
        if len(arrays[x_key]) != len(arrays[y_key]):
            raise ValueError(f"{title}: {len(arrays[x_key])} images in {sources[x_key]!r} but "
                             f"{len(arrays[y_key])} labels in {sources[y_key]!r}")
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])


def _read_set(found, title):
    return _check({key: read_idx(p) for key, p in found.items()}, title, found)


def _read_npz(path, title):
    """A Keras-style ``mnist.npz`` (x_train, y_train, x_test, y_test); pickled content is refused."""
    with np.load(path, allow_pickle=False) as f:
        missing = [key for key, _ in PARTS if key not in f.files]
        if missing:
            raise ValueError(f"{title} archive {path!r} lacks the arrays {missing}; expected "
                             "x_train, y_train, x_test, y_test")
        arrays = {key: f[key] for key, _ in PARTS}
    return _check(arrays, title, {key: path for key, _ in PARTS})


def load_idx_dataset(title, name, path, default_url, hashes, system_names):
    """Find (or download) and read the four IDX files of dataset ``name``."""
    needed = [n + " (or unzipped)" for n in DOWNLOAD_NAMES]
    if path is not None:
        path = os.path.expanduser(os.fspath(path))
        if os.path.isfile(path) and path.endswith(".npz"):
            return _read_npz(path, title)
        folder = os.path.dirname(path) if os.path.isfile(path) else path
        found = find_in(folder) if os.path.isdir(folder) else {}
        if len(found) < len(PARTS):
            raise _files.not_found(title, needed, [folder], name,
                                   reason=f"The path given ({path!r}) does not hold all four files.")
        return _read_set(found, title)

    dirs = _files.search_dirs(name, system_names)
    for folder in dirs:
        found = find_in(folder)
        if len(found) == len(PARTS):
            return _read_set(found, title)

    dest = _files.cache_dir(name)
    url = _files.base_url(name, default_url)
    found = find_in(dest)
    for (key, _), fname in zip(PARTS, DOWNLOAD_NAMES):
        if key in found:
            continue
        target = os.path.join(dest, fname)
        try:
            _files.download(url + fname, target, hashes.get(fname))
        except _files.DatasetChecksumError:
            raise
        except OSError as e:
            raise _files.not_found(title, needed, dirs, name,
                                   reason=f"Downloading {url + fname} failed: {e}.") from e
        found[key] = target
    return _read_set(found, title)
