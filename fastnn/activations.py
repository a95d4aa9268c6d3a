"""Activation functions by name (Keras 3 definitions), computed by the C++ engine.

Layers take an activation as a string, None (linear) or one of the functions below; the engine runs a closed
list of activations, so arbitrary Python callables are refused with a clear error.
"""

import numpy as np

from . import _core
from ._names import unknown_name_error

NAMES = ("linear", "relu", "leaky_relu", "elu", "selu", "gelu", "swish", "sigmoid", "hard_sigmoid", "tanh",
         "softplus", "softsign", "softmax", "step")
ALIASES = {"silu": "swish", "hard_silu": None}


def _apply(name, x):
    a = np.asarray(x)
    dtype = np.float32 if a.dtype == np.float32 else np.float64
    a2 = np.atleast_2d(a.astype(dtype, copy=False))
    out = _core.activation_forward(name, a2.reshape(-1, a2.shape[-1]))
    return out.reshape(a.shape) if a.ndim >= 1 else out.reshape(())


def _make(name):
    def activation(x):
        return _apply(name, x)

    activation.__name__ = name
    activation.__qualname__ = name
    activation.__doc__ = f"The {name} activation, elementwise (softmax: over the last axis)."
    return activation


linear = _make("linear")
relu = _make("relu")
leaky_relu = _make("leaky_relu")
elu = _make("elu")
selu = _make("selu")
gelu = _make("gelu")
swish = _make("swish")
silu = swish
sigmoid = _make("sigmoid")
hard_sigmoid = _make("hard_sigmoid")
tanh = _make("tanh")
softplus = _make("softplus")
softsign = _make("softsign")
softmax = _make("softmax")
step = _make("step")


def get(identifier):
    """The canonical activation name for a string, None or one of this module's functions."""
    if identifier is None:
        return "linear"
    if callable(identifier) and not isinstance(identifier, str):
        name = getattr(identifier, "__name__", None)
        if name in NAMES and globals().get(name) is identifier:
            return name
        raise ValueError(
            f"activation: expected a name such as 'relu' or a function from fastnn.activations, got "
            f"{identifier!r}; fastnn's engine runs a closed list of activations ({', '.join(NAMES)})")
    if isinstance(identifier, str):
        name = identifier.lower()
        name = ALIASES.get(name, name)
        if name in NAMES:
            return name
    raise unknown_name_error("activation", identifier, NAMES + ("silu",))


def serialize(identifier):
    return get(identifier)


def deserialize(name):
    return globals()[get(name)]
