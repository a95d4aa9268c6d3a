"""Seeds for the engine's generator: `set_seed(s)` makes weight init, shuffling and dropout repeatable.

Every new model draws its engine seed from this module's stream; without set_seed the stream starts from the
operating system's entropy, so runs differ (as in Keras).
"""

import numbers

import os

_MASK = (1 << 64) - 1
_state = {"seed": None, "counter": 0}


def _splitmix64(x):
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def set_seed(seed):
    """Seed fastnn's generator (models created afterwards get repeatable weights, shuffles and dropout)."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed: expected an integer >= 0, got {seed!r}")
    if seed > _MASK:  # the engine's seeds are 64-bit: a larger one would wrap silently
        raise ValueError(f"seed: expected an integer in [0, {_MASK}], got {seed!r}")
    _state["seed"] = int(seed) & _MASK
    _state["counter"] = 0


def next_seed():
    """The engine seed for the next model."""
    if _state["seed"] is None:
        return int.from_bytes(os.urandom(8), "little")
    _state["counter"] += 1
    return _splitmix64(_state["seed"] ^ _splitmix64(_state["counter"]))
