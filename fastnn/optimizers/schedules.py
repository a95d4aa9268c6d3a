"""Learning-rate schedules (Keras 3's keras.optimizers.schedules: names, arguments, defaults and formulas).

Pass one as an optimizer's `learning_rate`; the engine evaluates it at every optimizer step, at the step count
before the update (as Keras's optimizers do), with no Python call per step. Calling a schedule, `schedule(step)`,
gives the same values (computed by the same engine code) as NumPy float32, for plots and checks.
"""

import math
import numbers

import numpy as np

from .._names import unknown_name_error


class LearningRateSchedule:
    """Base class; fastnn runs only the schedules of this module (a closed list the engine implements)."""

    def __call__(self, step):
        from .. import _core
        steps = np.asarray(step, dtype=np.float64)
        if steps.size and (not np.all(np.isfinite(steps)) or np.any(steps < 0)):
            raise ValueError(f"step: expected numbers >= 0, got {step!r}")
        values = np.asarray(_core.schedule_values(serialize(self), steps.reshape(-1).tolist()), dtype=np.float32)
        return values.reshape(steps.shape)[()] if steps.ndim == 0 else values.reshape(steps.shape)

    def get_config(self):
        raise NotImplementedError

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def _check(self):
        from .. import _core
        _core.schedule_values(serialize(self), [])  # the engine's checks: ValueError naming the argument

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({args})"


def _num(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name}: expected a finite number, got {value!r}")
    return value


def _positive(name, value):
    if _num(name, value) <= 0:
        raise ValueError(f"Argument `{name}` must be > 0. Received: {name}={value!r}")
    return value


class ExponentialDecay(LearningRateSchedule):
    """initial_learning_rate * decay_rate ** (step / decay_steps) (floor of the exponent when staircase)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="ExponentialDecay"):
        self.initial_learning_rate = _num("initial_learning_rate", initial_learning_rate)
        self.decay_steps = _positive("decay_steps", decay_steps)
        self.decay_rate = _num("decay_rate", decay_rate)
        self.staircase = bool(staircase)
        self.name = name
        self._check()

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase, "name": self.name}


class InverseTimeDecay(LearningRateSchedule):
    """initial_learning_rate / (1 + decay_rate * step / decay_steps) (floor of the ratio when staircase)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="InverseTimeDecay"):
        self.initial_learning_rate = _num("initial_learning_rate", initial_learning_rate)
        self.decay_steps = _positive("decay_steps", decay_steps)
        self.decay_rate = _num("decay_rate", decay_rate)
        self.staircase = bool(staircase)
        self.name = name
        self._check()

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase, "name": self.name}


class PiecewiseConstantDecay(LearningRateSchedule):
    """values[0] while step <= boundaries[0], values[i] while boundaries[i-1] < step <= boundaries[i], ..."""

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        if not isinstance(boundaries, (list, tuple)) or not isinstance(values, (list, tuple)):
            raise ValueError(f"boundaries and values: expected lists, got {boundaries!r} and {values!r}")
        if len(boundaries) != len(values) - 1:
            raise ValueError("The length of boundaries should be 1 less than the length of values. Received: "
                             f"boundaries={list(boundaries)} of length {len(boundaries)}, and values={list(values)} "
                             f"of length {len(values)}.")
        self.boundaries = [_num("boundaries", b) for b in boundaries]
        self.values = [_num("values", v) for v in values]
        self.name = name
        self._check()

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class PolynomialDecay(LearningRateSchedule):
    """(initial - end) * (1 - min(step, decay_steps) / decay_steps) ** power + end (cycling when cycle)."""

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001, power=1.0, cycle=False,
                 name="PolynomialDecay"):
        self.initial_learning_rate = _num("initial_learning_rate", initial_learning_rate)
        self.decay_steps = _positive("decay_steps", decay_steps)
        self.end_learning_rate = _num("end_learning_rate", end_learning_rate)
        self.power = _num("power", power)
        self.cycle = bool(cycle)
        self.name = name
        self._check()

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "end_learning_rate": self.end_learning_rate, "power": self.power, "cycle": self.cycle,
                "name": self.name}


class CosineDecay(LearningRateSchedule):
    """Cosine decay from initial_learning_rate (or from warmup_target after a linear warmup) down to alpha times it."""

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay", warmup_target=None,
                 warmup_steps=0):
        self.initial_learning_rate = _num("initial_learning_rate", initial_learning_rate)
        self.decay_steps = _positive("decay_steps", decay_steps)
        self.alpha = _num("alpha", alpha)
        self.name = name
        self.warmup_target = None if warmup_target is None else _num("warmup_target", warmup_target)
        self.warmup_steps = _num("warmup_steps", warmup_steps)
        if warmup_steps < 0:
            raise ValueError(f"warmup_steps: expected a number >= 0, got {warmup_steps!r}")
        self._check()

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "alpha": self.alpha, "name": self.name, "warmup_target": self.warmup_target,
                "warmup_steps": self.warmup_steps}


class CosineDecayRestarts(LearningRateSchedule):
    """SGDR: cosine decay restarted after first_decay_steps, each period t_mul times longer and m_mul times lower."""

    def __init__(self, initial_learning_rate, first_decay_steps, t_mul=2.0, m_mul=1.0, alpha=0.0, name="SGDRDecay"):
        self.initial_learning_rate = _num("initial_learning_rate", initial_learning_rate)
        self.first_decay_steps = _positive("first_decay_steps", first_decay_steps)
        self._t_mul = _positive("t_mul", t_mul)
        self._m_mul = _num("m_mul", m_mul)
        self.alpha = _num("alpha", alpha)
        self.name = name
        self._check()

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "first_decay_steps": self.first_decay_steps,
                "t_mul": self._t_mul, "m_mul": self._m_mul, "alpha": self.alpha, "name": self.name}


_CLASSES = {c.__name__: c for c in (ExponentialDecay, InverseTimeDecay, PiecewiseConstantDecay, PolynomialDecay,
                                    CosineDecay, CosineDecayRestarts)}


def serialize(schedule):
    """Keras's serialized form: {"module", "class_name", "config", "registered_name"}."""
    if type(schedule).__name__ not in _CLASSES or not isinstance(schedule, _CLASSES[type(schedule).__name__]):
        raise ValueError(f"learning_rate: expected one of fastnn.optimizers.schedules' classes "
                         f"({', '.join(_CLASSES)}), got {schedule!r}")
    return {"module": "keras.optimizers.schedules", "class_name": type(schedule).__name__,
            "config": schedule.get_config(), "registered_name": None}


def deserialize(config):
    """A schedule from serialize()'s dict (a closed list of class names; ValueError for anything else)."""
    if not isinstance(config, dict) or not isinstance(config.get("config"), dict):
        raise ValueError(f"learning-rate schedule: expected {{'class_name', 'config'}}, got {str(config)[:80]!r}")
    name = config.get("class_name")
    if name not in _CLASSES:
        raise unknown_name_error("learning-rate schedule", name, _CLASSES)
    try:
        return _CLASSES[name].from_config(config["config"])
    except TypeError as e:
        raise ValueError(f"learning-rate schedule {name}: {e}") from None
