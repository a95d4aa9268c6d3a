"""Weight initializers (Keras 3 names and formulas); the numbers come from the engine's seeded generator."""

import numbers

import math

from ._names import unknown_name_error

_SIMPLE = ("glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_uniform", "lecun_normal", "zeros",
           "ones")


class Initializer:
    """An initializer the engine runs: (name, a, b) with a/b its numeric arguments."""

    engine_name = None

    def __init__(self, seed=None):
        self.seed = seed

    def engine_spec(self):
        return (self.engine_name, 0.0, 0.0)

    def get_config(self):
        return {}

    def __repr__(self):
        return f"{type(self).__name__}()"


def _simple(cls_name, engine_name):
    return type(cls_name, (Initializer,), {"engine_name": engine_name})


GlorotUniform = _simple("GlorotUniform", "glorot_uniform")
GlorotNormal = _simple("GlorotNormal", "glorot_normal")
HeUniform = _simple("HeUniform", "he_uniform")
HeNormal = _simple("HeNormal", "he_normal")
LecunUniform = _simple("LecunUniform", "lecun_uniform")
LecunNormal = _simple("LecunNormal", "lecun_normal")
Zeros = _simple("Zeros", "zeros")
Ones = _simple("Ones", "ones")


def _finite(name, v):
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v):
        raise ValueError(f"{name}: expected a finite number, got {v!r}")
    return float(v)


class Constant(Initializer):
    engine_name = "constant"

    def __init__(self, value=0.0):
        if hasattr(value, "__len__") and not isinstance(value, str) and len(value) == 1:
            value = value[0]  # a one-element list or array, as Keras guides pass np.log([pos / neg])
        self.value = _finite("value", value.item() if hasattr(value, "item") else value)

    def engine_spec(self):
        return ("constant", self.value, 0.0)

    def get_config(self):
        return {"value": self.value}


class RandomNormal(Initializer):
    engine_name = "random_normal"

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev = _finite("mean", mean), _finite("stddev", stddev)
        if self.stddev < 0:
            raise ValueError(f"stddev: expected a number >= 0, got {stddev!r}")

    def engine_spec(self):
        return (self.engine_name, self.mean, self.stddev)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev}


class TruncatedNormal(RandomNormal):
    engine_name = "truncated_normal"


class RandomUniform(Initializer):
    engine_name = "random_uniform"

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval, self.maxval = _finite("minval", minval), _finite("maxval", maxval)
        if self.maxval < self.minval:
            raise ValueError(f"maxval: expected a number >= minval ({minval!r}), got {maxval!r}")

    def engine_spec(self):
        return ("random_uniform", self.minval, self.maxval)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval}


_BY_NAME = {c.engine_name: c for c in (GlorotUniform, GlorotNormal, HeUniform, HeNormal, LecunUniform, LecunNormal,
                                       Zeros, Ones, Constant, RandomNormal, TruncatedNormal, RandomUniform)}


def get(identifier):
    """An Initializer from a name ("glorot_uniform", ...), an Initializer, or {"class_name", "config"}."""
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()
    if isinstance(identifier, str):
        if identifier.lower() in _BY_NAME:
            return _BY_NAME[identifier.lower()]()
        raise unknown_name_error("initializer", identifier, _BY_NAME)
    if isinstance(identifier, dict) and identifier.get("class_name") in _BY_NAME:
        return _BY_NAME[identifier["class_name"]](**identifier.get("config", {}))
    raise ValueError(f"initializer: expected a name such as 'glorot_uniform' or a fastnn.initializers object, "
                     f"got {identifier!r}")


def serialize(init):
    return {"class_name": init.engine_name, "config": init.get_config()}
