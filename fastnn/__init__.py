"""fastnn: Keras-style dense neural networks trained by a C++ engine, with pictures of what they learn.

    import fastnn
    from fastnn import Sequential
    from fastnn.layers import Dense

    model = Sequential([Dense(10, activation="relu", input_shape=(3,)), Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y, epochs=100)
"""

import os as _os

# OpenMP workers wait for the next parallel region by spinning 5000 rounds, then sleep. libgomp's default (300k
# rounds) keeps idle workers busy long enough to starve a loaded 2-core machine: measured on a 784-500-10 fit at
# 2 threads with the other core busy, 30k samples/s with the default and 62k with this setting, and 113k on a quiet
# machine either way. Read when libgomp loads, so it must be set before the engine is imported; a value already in
# the environment wins.
_os.environ.setdefault("GOMP_SPINCOUNT", "5000")

from . import _core  # noqa: E402,F401  (the engine; fails loudly if the extension is missing)
from . import (activations, backend, callbacks, config, datasets, dtype_policies, initializers, layers, losses, metrics,
               mixed_precision, models, optimizers, random, regularizers, utils)
from .layers import Activation, Dense, Dropout, Flatten, Input, InputLayer
from .models import Model, Sequential, load_model
from .perceptron import Perceptron
from .dtype_policies import DTypePolicy

__version__ = "0.1.0"


def set_num_threads(n):
    """Threads used by the engine: its OpenMP team, which also splits each matrix product (a lower threadpoolctl
    or OpenMP limit in the calling thread wins); at most 4 per logical CPU (fastnn._limits.max_threads())."""
    from . import _limits
    from ._validation import check_int
    _core.set_num_threads(check_int(n, "n", 1, maximum=_limits.max_threads()))


def get_num_threads():
    return _core.get_num_threads()


def __getattr__(name):
    # fastnn.sklearn and fastnn.wrappers import scikit-learn, so they load when first used, not with fastnn.
    if name in ("sklearn", "wrappers"):
        import importlib
        return importlib.import_module(f"fastnn.{name}")
    raise AttributeError(f"module 'fastnn' has no attribute {name!r}")


__all__ = ["Sequential", "Model", "Dense", "Dropout", "Activation", "Flatten", "Input", "InputLayer", "Perceptron",
           "load_model", "set_num_threads", "get_num_threads", "activations", "backend", "callbacks", "config",
           "datasets", "dtype_policies", "mixed_precision", "DTypePolicy", "initializers", "layers", "losses", "metrics", "models", "optimizers", "random",
           "regularizers", "utils"]
