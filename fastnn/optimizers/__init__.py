"""Optimizers (Keras 3 names, arguments, defaults and update formulas; the updates run in the engine).

An optimizer object holds its settings; once a model trains with it, `learning_rate` reads and writes the
engine's value, so callbacks and users can change it between epochs.
"""

import numbers

import math

from .._names import unknown_name_error
from . import schedules
from .schedules import LearningRateSchedule


class Optimizer:
    engine_name = None
    _defaults = {}

    def __init__(self, learning_rate=0.001, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, name=None, **options):
        if sum(v is not None for v in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError("Only one of clipnorm, clipvalue and global_clipnorm can be set, "
                             f"got clipnorm={clipnorm!r}, clipvalue={clipvalue!r}, global_clipnorm={global_clipnorm!r}")
        unknown = set(options) - set(self._defaults)
        if unknown:
            raise TypeError(f"{type(self).__name__} got unexpected argument(s) {sorted(unknown)}; "
                            f"it takes learning_rate, {', '.join(self._defaults)}, weight_decay, clipnorm, "
                            "clipvalue, global_clipnorm, name")
        self._config = dict(self._defaults)
        self._config.update(options)
        self._config.update(weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
                            global_clipnorm=global_clipnorm)
        for key, v in self._config.items():
            if v is None or isinstance(v, bool) and key in ("nesterov", "centered", "amsgrad"):
                continue
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v) or v < 0:
                raise ValueError(f"{key}: expected a finite number >= 0, got {v!r}")
            self._config[key] = float(v)  # NumPy scalars too: the config is saved as JSON
        self._schedule = learning_rate if isinstance(learning_rate, LearningRateSchedule) else None
        self._lr = _check_lr(learning_rate) if self._schedule is None else None
        self.name = name or self.engine_name
        self._net = None

    @property
    def learning_rate(self):
        """The learning rate of the next step (a schedule's value at `iterations`)."""
        if self._net is not None:
            return float(self._net.learning_rate)
        return float(self._schedule(0)) if self._schedule is not None else self._lr

    @learning_rate.setter
    def learning_rate(self, value):
        if isinstance(value, LearningRateSchedule):
            if self._net is not None:
                raise ValueError("learning_rate: a schedule is set when the optimizer is created or before "
                                 "compile(); this optimizer already trains a model")
            schedules.serialize(value)  # one of the engine's schedules
            self._schedule, self._lr = value, None
            return
        if self._schedule is not None:  # Keras 3's BaseOptimizer.learning_rate setter
            raise TypeError("This optimizer was created with a `LearningRateSchedule` object as its "
                            "`learning_rate` constructor argument, hence its learning rate is not settable. If you "
                            "need the learning rate to be settable, you should instantiate the optimizer with a float "
                            "`learning_rate` argument.")
        self._lr = _check_lr(value)
        if self._net is not None:
            self._net.learning_rate = self._lr

    lr = learning_rate

    @property
    def iterations(self):
        return int(self._net.get_optimizer_state()["iterations"]) if self._net is not None else 0

    def engine_config(self):
        cfg = {k: v for k, v in self._config.items() if v is not None}
        if self._schedule is not None:
            cfg["schedule"] = schedules.serialize(self._schedule)
        else:
            cfg["learning_rate"] = self.learning_rate
        return cfg

    def get_config(self):
        cfg = dict(self._config)
        cfg["learning_rate"] = (schedules.serialize(self._schedule) if self._schedule is not None
                                else self.learning_rate)
        cfg["name"] = self.name
        return cfg

    def _attach(self, net):
        if getattr(self, "_distributed", False):  # fastnn.distributed.DistributedOptimizer
            from .. import distributed
            distributed._install_hook(net, self._distributed)
        else:
            net._set_gradient_hook(None)
        self._net = net
        if self._schedule is None:
            net.learning_rate = self._lr

    def __repr__(self):
        lr = self._schedule if self._schedule is not None else f"{self.learning_rate:g}"
        return f"{type(self).__name__}(learning_rate={lr})"


def _check_lr(value):
    if callable(value):
        raise ValueError(f"learning_rate: expected a number or one of fastnn.optimizers.schedules' schedules "
                         f"({', '.join(schedules._CLASSES)}), got {value!r}; custom Python schedules cannot run "
                         "inside the engine")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"learning_rate: expected a finite number >= 0, got {value!r}") from None
    if isinstance(value, bool) or not math.isfinite(v) or v < 0:
        raise ValueError(f"learning_rate: expected a finite number >= 0, got {value!r}")
    return v


class SGD(Optimizer):
    engine_name = "sgd"
    _defaults = {"momentum": 0.0, "nesterov": False}

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, **kwargs):
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum: expected a number in [0, 1), got {momentum!r}")
        super().__init__(learning_rate, momentum=momentum, nesterov=bool(nesterov), **kwargs)


class RMSprop(Optimizer):
    engine_name = "rmsprop"
    _defaults = {"rho": 0.9, "momentum": 0.0, "epsilon": 1e-7, "centered": False}

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, **kwargs):
        super().__init__(learning_rate, rho=rho, momentum=momentum, epsilon=epsilon, centered=bool(centered), **kwargs)


class Adagrad(Optimizer):
    engine_name = "adagrad"
    _defaults = {"initial_accumulator_value": 0.1, "epsilon": 1e-7}

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, initial_accumulator_value=initial_accumulator_value, epsilon=epsilon, **kwargs)


class Adadelta(Optimizer):
    engine_name = "adadelta"
    _defaults = {"rho": 0.95, "epsilon": 1e-7}

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, rho=rho, epsilon=epsilon, **kwargs)


class Adam(Optimizer):
    engine_name = "adam"
    _defaults = {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7, "amsgrad": False}

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, **kwargs):
        super().__init__(learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, amsgrad=bool(amsgrad), **kwargs)


class AdamW(Adam):
    engine_name = "adamw"

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, **kwargs):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay=weight_decay, **kwargs)


class Adamax(Optimizer):
    engine_name = "adamax"
    _defaults = {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7}

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, **kwargs)


class Nadam(Optimizer):
    engine_name = "nadam"
    _defaults = {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7}

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, **kwargs)


_BY_NAME = {c.engine_name: c for c in (SGD, RMSprop, Adagrad, Adadelta, Adam, AdamW, Adamax, Nadam)}


def get(identifier):
    """An Optimizer from a name ("adam", ...) or an Optimizer (returned as is)."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Optimizer):
        return identifier()
    if isinstance(identifier, str):
        if identifier.lower() in _BY_NAME:
            return _BY_NAME[identifier.lower()]()
        raise unknown_name_error("optimizer", identifier, _BY_NAME)
    raise ValueError(f"optimizer: expected a name such as 'adam' or a fastnn.optimizers object, got {identifier!r}")


def serialize(opt):
    return {"class_name": opt.engine_name, "config": opt.get_config()}


def deserialize(config):
    if not isinstance(config, dict) or config.get("class_name") not in _BY_NAME:
        raise ValueError(f"optimizer config: expected one of {', '.join(_BY_NAME)}, got {config!r}")
    cls = _BY_NAME[config["class_name"]]
    cfg = dict(config.get("config") or {})
    cfg.pop("name", None)
    if isinstance(cfg.get("learning_rate"), dict):
        cfg["learning_rate"] = schedules.deserialize(cfg["learning_rate"])
    return cls(**cfg)
