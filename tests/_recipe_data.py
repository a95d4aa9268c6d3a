"""Data for the recipe tests (tests/test_recipe_*.py), which follow the Keras/TensorFlow guides.

Fashion-MNIST comes from Debian's package (`apt-get install dataset-fashion-mnist`, found by
fastnn.datasets.fashion_mnist); where it is not installed, a generated stand-in of the same shapes and dtypes is
used (ten classes of 28x28 uint8 images: a fixed pattern per class plus noise), unless FASTNN_REQUIRE_EXTRAS=1
(the lead's CI), where a missing dataset is a failure.
"""

import numpy as np
import pytest

from _extras import extras_required


def _stand_in(n_train, n_test, seed=0):
    rng = np.random.default_rng(seed)
    templates = rng.uniform(0, 255, size=(10, 28, 28))
    def draw(n):
        labels = rng.integers(0, 10, size=n).astype(np.uint8)
        images = 0.6 * templates[labels] + rng.uniform(0, 0.4 * 255, size=(n, 28, 28))
        return images.astype(np.uint8), labels
    return draw(n_train), draw(n_test)


def fashion_mnist(n_train=6000, n_test=1000):
    """((train_images, train_labels), (test_images, test_labels)): the first n_train / n_test samples, uint8."""
    from fastnn.datasets import fashion_mnist as fm
    try:
        (x, y), (xt, yt) = fm.load_data()
    except (OSError, ValueError) as e:
        if extras_required():
            pytest.fail(f"Fashion-MNIST is not installed ({e}); apt-get install dataset-fashion-mnist")
        return _stand_in(n_train, n_test)
    return (x[:n_train], y[:n_train]), (xt[:n_test], yt[:n_test])
