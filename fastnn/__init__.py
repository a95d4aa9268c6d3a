"""fastnn: Keras-style dense neural networks trained by a C++ engine, with pictures of what they learn.

    import fastnn
    from fastnn import Sequential
    from fastnn.layers import Dense

    model = Sequential([Dense(10, activation="relu", input_shape=(3,)), Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y, epochs=100)
"""

from . import _core  # noqa: F401  (the engine; fails loudly if the extension is missing)
from . import (activations, backend, callbacks, config, datasets, initializers, layers, losses, metrics, models,
               optimizers, random, regularizers, utils)
from .layers import Activation, Dense, Dropout, Flatten, Input, InputLayer
from .models import Model, Sequential, load_model
from .perceptron import Perceptron

__version__ = "0.1.0"


def set_num_threads(n):
    """Threads used by the engine (OpenMP) and its matrix products (OpenBLAS), together."""
    from ._validation import check_int
    _core.set_num_threads(check_int(n, "n", 1))


def get_num_threads():
    return _core.get_num_threads()


__all__ = ["Sequential", "Model", "Dense", "Dropout", "Activation", "Flatten", "Input", "InputLayer", "Perceptron",
           "load_model", "set_num_threads", "get_num_threads", "activations", "backend", "callbacks", "config",
           "datasets", "initializers", "layers", "losses", "metrics", "models", "optimizers", "random",
           "regularizers", "utils"]
