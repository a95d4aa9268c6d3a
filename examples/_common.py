"""What the example scripts share: their command line, where figures go, and the image data of
examples 2 and 3 (MNIST when its files are on disk, Fashion-MNIST otherwise).

Every example takes ``--out DIR`` (default ``examples/output/``), ``--quick`` (a run of seconds,
on less data or fewer epochs) and ``--seed``; it prints its numbers, writes its figures as PNG
files into ``DIR`` and its numbers into ``DIR/<example>.json``.
"""

import argparse
import json
import os
import time

import matplotlib

matplotlib.use("Agg")  # files only, no window: the examples run the same on a server and in CI
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import fastnn  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "output")


class Run:
    """The parsed command line of one example, with helpers to save figures and results."""

    def __init__(self, name, description, argv=None, add_arguments=None):
        parser = argparse.ArgumentParser(description=description)
        parser.add_argument("--out", default=DEFAULT_OUT, help="folder for figures and results (default: %(default)s)")
        parser.add_argument("--quick", action="store_true", help="a run of seconds: less data, fewer epochs")
        parser.add_argument("--seed", type=int, default=0, help="random seed of weights and shuffling (default: 0)")
        if add_arguments is not None:
            add_arguments(parser)
        self.args = parser.parse_args(argv)
        self.name = name
        self.quick = self.args.quick
        self.out = self.args.out
        self.results = {"example": name, "quick": self.quick, "seed": self.args.seed}
        self.figures = []
        self._start = time.perf_counter()
        os.makedirs(self.out, exist_ok=True)
        fastnn.utils.set_random_seed(self.args.seed)

    def save(self, fig, filename):
        """Write ``fig`` as ``out/filename`` (PNG) and close it."""
        path = os.path.join(self.out, filename)
        fig.savefig(path, dpi=90, bbox_inches="tight")
        plt.close(fig)
        self.figures.append(filename)
        print(f"  wrote {path}")

    def finish(self):
        """Print the run time and write the numbers to ``out/<name>.json``."""
        seconds = time.perf_counter() - self._start
        self.results["seconds"] = round(seconds, 2)
        self.results["figures"] = self.figures
        path = os.path.join(self.out, f"{self.name}.json")
        with open(path, "w") as f:
            json.dump(self.results, f, indent=2)
        print(f"\ndone in {seconds:.1f} s; numbers in {path}")


def section(title):
    print(f"\n=== {title} ===")


# ---------------------------------------------------------------------------------------------
# Image data of examples 2 and 3


class Images:
    """Flattened images scaled to [0, 1] (float32) with integer labels, and how to show them."""

    def __init__(self, name, x_train, y_train, x_test, y_test, image_shape, class_names, note=""):
        self.name = name
        self.x_train, self.y_train = x_train, y_train
        self.x_test, self.y_test = x_test, y_test
        self.image_shape = image_shape
        self.class_names = class_names
        self.note = note


def idx_files_on_disk(name, folder_names):
    """True when the four IDX files of an image set are in one of the folders the loaders search
    without downloading ($FASTNN_DATA, ~/.fastnn/datasets, /usr/share/datasets, ...)."""
    from fastnn.datasets import _files, _idx_dataset

    return any(len(_idx_dataset.find_in(d)) == len(_idx_dataset.PARTS) for d in _files.search_dirs(name, folder_names))


def _from_keras_arrays(name, data, class_names, note):
    (x_train, y_train), (x_test, y_test) = data
    flat = lambda x: (x.reshape(len(x), -1) / np.float32(255.0)).astype(np.float32)  # noqa: E731
    return Images(name, flat(x_train), y_train.astype(np.int64), flat(x_test), y_test.astype(np.int64),
                  x_train.shape[1:], class_names, note)


def _digits_8x8(note):
    from sklearn.datasets import load_digits  # only for --quick runs on a machine without MNIST files

    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    order = np.random.RandomState(0).permutation(len(x))
    x, y = x[order], y[order]
    n_train = 1400
    return Images("scikit-learn digits (8x8)", x[:n_train], y[:n_train], x[n_train:], y[n_train:], (8, 8),
                  [str(d) for d in range(10)], note)


def load_images(choice="auto", quick=False):
    """The image set of examples 2 and 3.

    ``auto``: MNIST if its files are on disk, else Fashion-MNIST if its files are on disk, else
    with ``quick`` scikit-learn's 8x8 digits (no download), else Fashion-MNIST downloaded by
    ``fastnn.datasets``. ``mnist`` / ``fashion_mnist`` load that set (downloading it if needed);
    ``digits`` is scikit-learn's 8x8 digits.
    """
    from fastnn.datasets import DatasetNotFoundError, fashion_mnist, mnist

    digit_names = [str(d) for d in range(10)]
    if choice == "auto":
        if idx_files_on_disk("mnist", ("mnist",)):
            choice = "mnist"
        elif idx_files_on_disk("fashion-mnist", ("fashion-mnist", "fashion_mnist")):
            choice = "fashion_mnist"
        elif quick:
            try:
                import sklearn  # noqa: F401
            except ImportError:
                raise SystemExit("No image data for --quick: neither MNIST nor Fashion-MNIST files are on disk "
                                 "and scikit-learn (for its 8x8 digits) is not installed. Install one of them, "
                                 "e.g. `apt-get install dataset-fashion-mnist` or `pip install scikit-learn`, "
                                 "or run without --quick to download Fashion-MNIST.") from None
            return _digits_8x8("no MNIST or Fashion-MNIST files on disk: using scikit-learn's 8x8 digits")
        else:
            choice = "fashion_mnist"
    try:
        if choice == "mnist":
            return _from_keras_arrays("MNIST", mnist.load_data(), digit_names, "")
        if choice == "fashion_mnist":
            note = "" if idx_files_on_disk("mnist", ("mnist",)) else "MNIST files not found: using Fashion-MNIST"
            return _from_keras_arrays("Fashion-MNIST", fashion_mnist.load_data(), list(fashion_mnist.CLASS_NAMES),
                                      note)
    except DatasetNotFoundError as e:
        raise SystemExit(f"{e}\n(Offline without image files, `--dataset digits` uses scikit-learn's 8x8 digits.)") \
            from None
    if choice == "digits":
        return _digits_8x8("")
    raise ValueError(f"dataset: expected 'auto', 'mnist', 'fashion_mnist' or 'digits', got {choice!r}")


def subset(images, n_train, n_test):
    """The first ``n_train`` training and ``n_test`` test images (for --quick runs)."""
    images.x_train, images.y_train = images.x_train[:n_train], images.y_train[:n_train]
    images.x_test, images.y_test = images.x_test[:n_test], images.y_test[:n_test]
    return images


def add_dataset_argument(parser):
    parser.add_argument("--dataset", default="auto", choices=["auto", "mnist", "fashion_mnist", "digits"],
                        help="image set (default: MNIST if its files are on disk, else Fashion-MNIST)")
