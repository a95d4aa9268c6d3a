"""Layers (Keras 3 names and arguments): Dense, Input/InputLayer, Dropout, Activation, Flatten, and the
normalization layers BatchNormalization, LayerNormalization, UnitNormalization, Normalization, Rescaling.

A layer is a description until a model builds it; its weights then live in that model's engine (the flat
parameter buffer), and `get_weights()` returns copies of them: `[kernel (n_in, n_out), bias (n_out,)]`.
Calling a layer on a symbolic tensor (`Dense(3)(Input(shape=(2,)))`) chains layers for the functional API.
"""

import numpy as np

from . import _limits, activations, dtype_policies, initializers, regularizers
from ._naming import to_snake_case, unique_name
from ._validation import check_fraction, check_int


class KerasTensor:
    """A symbolic tensor: the output of `layer` applied to `parent` (None for an Input)."""

    def __init__(self, shape, layer, parent=None):
        self.shape = tuple(shape)
        self._layer = layer
        self._parent = parent

    @property
    def dtype(self):
        return self._layer.dtype

    def __repr__(self):
        return f"<KerasTensor shape={self.shape}, name={self._layer.name}>"


def _input_size_from(input_shape, input_dim, where):
    if input_dim is not None:
        return check_int(input_dim, "input_dim", 1, maximum=_limits.MAX_UNITS), None
    if input_shape is None:
        return None, None
    if isinstance(input_shape, (int, np.integer)):
        input_shape = (input_shape,)
    shape = tuple(input_shape)
    if shape and shape[0] is None:
        shape = shape[1:]
    if not shape or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1 for s in shape):
        raise ValueError(f"input_shape: expected a tuple of positive integers such as (13,), got {input_shape!r}")
    if len(shape) > _limits.MAX_SAMPLE_DIMS or int(np.prod([int(s) for s in shape], dtype=object)) > _limits.MAX_UNITS:
        raise ValueError(f"input_shape: expected at most {_limits.MAX_SAMPLE_DIMS} dimensions and "
                         f"{_limits.MAX_UNITS} features per sample, "
                         f"got {tuple(input_shape)!r}")
    if len(shape) > 1 and where != "Flatten" and where != "InputLayer":
        raise ValueError(f"input_shape: {where} takes 1-D samples such as (784,), got {tuple(input_shape)!r}; "
                         f"put Flatten(input_shape={tuple(shape)!r}) first, or reshape x to (N, {int(np.prod(shape))})")
    return int(np.prod(shape)), shape


class WeightsView:
    """Keras's weight properties, for layers and models: copies of the weights (as get_weights() returns them).

    `_trainable_flags()` gives, for each weight of get_weights(), whether the optimizer may change it: a layer's
    weights follow its `trainable` flag, except the state the engine keeps apart from training (tensors whose
    ParamSpec has `state`, e.g. BatchNormalization's moving statistics), which is never trainable."""

    def _trainable_flags(self):
        return [self.trainable] * len(self.get_weights())

    @property
    def weights(self):
        return self.get_weights()

    @property
    def trainable_weights(self):
        if not self.trainable:
            return []
        return [w for w, t in zip(self.get_weights(), self._trainable_flags()) if t]

    @property
    def non_trainable_weights(self):
        if not self.trainable:
            return self.get_weights()
        return [w for w, t in zip(self.get_weights(), self._trainable_flags()) if not t]


class Layer(WeightsView):
    _prefix = None

    def __init__(self, name=None, dtype=None, input_shape=None, input_dim=None, trainable=True, **kwargs):
        kwargs.pop("batch_input_shape", None)
        kwargs.pop("batch_size", None)
        if kwargs:
            raise TypeError(f"{type(self).__name__} got unexpected keyword argument(s): {', '.join(sorted(kwargs))}")
        if name is not None:
            _limits.check_name(name, "name")
        self.name = name or unique_name(self._prefix or to_snake_case(type(self).__name__))
        # dtype: a policy ("float32", "float64", "mixed_bfloat16", a DTypePolicy) or a float dtype; without one the
        # layer takes the global policy as it is now (Keras 3). _dtype is the storage dtype asked for, if any.
        policy = dtype_policies.get(dtype)
        self._dtype_policy = policy
        self._dtype = None if dtype is None else policy.variable_dtype
        self._input_size, self._sample_shape = _input_size_from(input_shape, input_dim, type(self).__name__)
        self.trainable = bool(trainable)
        self._home = None  # (engine holder, op index) once a model has built this layer
        self.input = None
        self.output = None

    # -- shapes --------------------------------------------------------------------------------------------
    def output_size(self, n_in):
        return n_in

    def compute_output_shape(self, input_shape):
        return (None, self.output_size(input_shape[-1]))

    @property
    def dtype(self):
        return self._dtype or (self._home[0].dtype if self._home else self._dtype_policy.variable_dtype)

    @property
    def dtype_policy(self):
        return self._dtype_policy

    @property
    def compute_dtype(self):
        return self._dtype_policy.compute_dtype

    @property
    def variable_dtype(self):
        return self._dtype_policy.variable_dtype

    @property
    def built(self):
        return self._home is not None

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        home = getattr(self, "_home", None)
        if home is not None and home[0].busy():
            raise RuntimeError(f"trainable: layer {self.name!r} belongs to a model that is being trained (fit or "
                               "train_on_batch is running, in another thread or in one of its callbacks); its "
                               "structure cannot change until it returns")
        self._trainable = bool(value)

    @property
    def input_shape(self):
        return None if self._input_size is None else (None, self._input_size)

    @property
    def output_shape(self):
        return None if self._input_size is None else (None, self.output_size(self._input_size))

    # -- functional API --------------------------------------------------------------------------------------
    def __call__(self, inputs):
        if isinstance(inputs, (list, tuple)) and len(inputs) == 1:
            inputs = inputs[0]
        if not isinstance(inputs, KerasTensor):
            raise TypeError(f"{self.name}: layers are called on symbolic tensors (fastnn.Input(shape=...)), got "
                            f"{type(inputs).__name__}; to compute on data, build a model and call predict()")
        n_in = inputs.shape[-1]
        if self._input_size is not None and self._input_size != n_in and not isinstance(self, Flatten):
            raise ValueError(f"{self.name}: expected an input of {self._input_size} features, got a tensor of shape "
                             f"{inputs.shape}")
        if self._input_size is None:
            self._input_size = n_in
        self.input = inputs
        self.output = KerasTensor((None, self.output_size(n_in)), self, inputs)
        return self.output

    # -- the engine ------------------------------------------------------------------------------------------
    def _engine_op(self):
        """The op this layer is in the engine: (kind, args) for _core's add_op (a row of cpp/fastnn/op_table.hpp)."""
        raise NotImplementedError

    # -- weights ---------------------------------------------------------------------------------------------
    def _weight_shapes(self):
        return []

    def get_weights(self):
        if self._home is None:
            return []
        engine, i = self._home
        return list(engine.net.get_weights(i))

    def set_weights(self, weights):
        shapes = self._weight_shapes()
        if self._home is None:
            raise ValueError(f"{self.name}: the layer has no weights yet; build the model (give it an input shape "
                             "or call fit/predict/build) before set_weights")
        engine, i = self._home
        _check_weight_list(weights, shapes, f"layer {self.name!r}", engine.dtype)
        engine.net.set_weights(i, [np.asarray(w) for w in weights])

    def count_params(self):
        return int(sum(int(np.prod(s)) for s in self._weight_shapes()))

    def _trainable_flags(self):
        if self._home is None:
            return []
        engine, i = self._home
        specs = engine.net.param_specs()
        return [self.trainable and not specs[k]["state"] for k in engine.net.op_info(i)["params"]]

    def get_config(self):
        cfg = {"name": self.name, "trainable": self.trainable}
        if self._dtype or self._dtype_policy.is_mixed:
            cfg["dtype"] = self._dtype_policy.name
        return cfg

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


def _check_weight_list(weights, shapes, where, dtype=None):
    """Checks a weight list's length, shapes and values: finite, and still finite once converted to `dtype`
    (the model's), so 1e39 is refused for a float32 model rather than stored as infinity."""
    if not isinstance(weights, (list, tuple)):
        raise ValueError(f"weights for {where}: expected a list of {len(shapes)} arrays, got {type(weights).__name__}")
    if len(weights) != len(shapes):
        raise ValueError(f"weights for {where}: expected {len(shapes)} arrays with shapes {shapes}, "
                         f"got {len(weights)} arrays")
    for w, s in zip(weights, shapes):
        a = np.asarray(w)
        if a.dtype.kind not in "biuf":
            raise TypeError(f"weights for {where}: expected numeric arrays, got dtype {a.dtype}")
        if tuple(a.shape) != tuple(s):
            raise ValueError(f"weights for {where}: expected shape {tuple(s)}, got {tuple(a.shape)}")
        if not np.isfinite(a).all():
            raise ValueError(f"weights for {where}: expected finite numbers, got NaN or infinity")
        if dtype is not None and a.dtype != np.dtype(dtype):
            with np.errstate(over="ignore", invalid="ignore"):
                converted = a.astype(dtype)
            bad = np.flatnonzero(~np.isfinite(converted))
            if bad.size:
                at = tuple(int(i) for i in np.unravel_index(bad[0], a.shape))
                raise ValueError(f"weights for {where}: expected finite numbers, got {a[at].item()!r} at index {at}, "
                                 f"which is too large for {np.dtype(dtype).name} (it becomes infinity)")


class Dense(Layer):
    """A fully-connected layer: output = activation(input @ kernel + bias)."""

    _prefix = "dense"

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        self.units = check_int(units, "units", 1, maximum=_limits.MAX_UNITS)
        self.activation = activations.deserialize(activations.get(activation))
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        for name, v in (("activity_regularizer", activity_regularizer), ("kernel_constraint", kernel_constraint),
                        ("bias_constraint", bias_constraint)):
            if v is not None:
                raise ValueError(f"{name}: not supported by fastnn, expected None, got {v!r}")

    @property
    def activation_name(self):
        return self.activation.__name__

    def _engine_op(self):
        kreg, breg = self.kernel_regularizer, self.bias_regularizer
        return "dense", {"activation": self.activation_name, "use_bias": self.use_bias,
                         "kernel_initializer": self.kernel_initializer.engine_spec(),
                         "bias_initializer": self.bias_initializer.engine_spec(),
                         "kernel_l1": kreg.l1 if kreg else 0.0, "kernel_l2": kreg.l2 if kreg else 0.0,
                         "bias_l1": breg.l1 if breg else 0.0, "bias_l2": breg.l2 if breg else 0.0}

    def output_size(self, n_in):
        return self.units

    def _weight_shapes(self):
        if self._input_size is None:
            return []
        return [(self._input_size, self.units)] + ([(self.units,)] if self.use_bias else [])

    @property
    def kernel(self):
        w = self.get_weights()
        return w[0] if w else None

    @property
    def bias(self):
        w = self.get_weights()
        return w[1] if self.use_bias and w else None

    def get_config(self):
        cfg = super().get_config()
        cfg.update(units=self.units, activation=self.activation_name, use_bias=self.use_bias,
                   kernel_initializer=initializers.serialize(self.kernel_initializer),
                   bias_initializer=initializers.serialize(self.bias_initializer),
                   kernel_regularizer=self.kernel_regularizer.get_config() if self.kernel_regularizer else None,
                   bias_regularizer=self.bias_regularizer.get_config() if self.bias_regularizer else None)
        if self._input_size is not None:
            cfg["input_dim"] = self._input_size
        return cfg


class Activation(Layer):
    """Applies an activation function to its input."""

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.deserialize(activations.get(activation))

    @property
    def activation_name(self):
        return self.activation.__name__

    def _engine_op(self):
        return "activation", {"activation": self.activation_name}

    def get_config(self):
        cfg = super().get_config()
        cfg["activation"] = self.activation_name
        return cfg


class Dropout(Layer):
    """Inverted dropout: during training zeroes each input with probability `rate`, scales the rest by
    1/(1 - rate); identity at inference."""

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = check_fraction(rate, "rate")
        if noise_shape is not None:
            raise ValueError(f"noise_shape: not supported by fastnn, expected None, got {noise_shape!r}")

    def _engine_op(self):
        return "dropout", {"rate": self.rate}

    def get_config(self):
        cfg = super().get_config()
        cfg["rate"] = self.rate
        return cfg


def _feature_axis(axis, where):
    """fastnn layers take 1-D samples: the feature axis is -1 (1 for (batch, features)), as a number or a list."""
    a = axis[0] if isinstance(axis, (list, tuple)) and len(axis) == 1 else axis
    if isinstance(a, bool) or a not in (-1, 1):
        raise ValueError(f"axis ({where}): fastnn layers take 1-D samples, so the normalized axis is the feature "
                         f"axis; expected -1, got {axis!r}")
    return -1


def _regularizer_args(args, key, reg):
    args[key + "_l1"], args[key + "_l2"] = (reg.l1, reg.l2) if reg else (0.0, 0.0)


def _no_constraints(**given):
    for name, v in given.items():
        if v is not None:
            raise ValueError(f"{name}: not supported by fastnn, expected None, got {v!r}")


class _StateWeights:
    """Layers whose engine op holds non-trainable state (moving statistics, adapted mean and variance): the
    trainable / non-trainable split comes from Layer._trainable_flags, which reads the engine's `state` flags."""


class BatchNormalization(_StateWeights, Layer):
    """Keras's BatchNormalization over the features: batch statistics in training (the moving ones follow them with
    `momentum`), the moving statistics at inference and when frozen. Weights: gamma, beta (trainable),
    moving_mean, moving_variance (non-trainable)."""

    def __init__(self, axis=-1, momentum=0.99, epsilon=0.001, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None, gamma_constraint=None,
                 synchronized=False, **kwargs):
        super().__init__(**kwargs)
        self.axis = _feature_axis(axis, "BatchNormalization")
        self.momentum = _finite_number(momentum, "momentum")
        if not 0 <= self.momentum <= 1:
            raise ValueError(f"momentum: expected a number in [0, 1], got {momentum!r}")
        self.epsilon = _positive(epsilon, "epsilon")
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        _no_constraints(beta_constraint=beta_constraint, gamma_constraint=gamma_constraint)
        self.synchronized = bool(synchronized)  # one process: nothing to synchronize

    def _engine_op(self):
        args = {"momentum": self.momentum, "epsilon": self.epsilon, "center": self.center, "scale": self.scale}
        for key in ("beta", "gamma", "moving_mean", "moving_variance"):
            args[key + "_initializer"] = getattr(self, key + "_initializer").engine_spec()
        _regularizer_args(args, "beta", self.beta_regularizer)
        _regularizer_args(args, "gamma", self.gamma_regularizer)
        return "batch_normalization", args

    def _weight_shapes(self):
        if self._input_size is None:
            return []
        return [(self._input_size,)] * (int(self.scale) + int(self.center) + 2)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(axis=self.axis, momentum=self.momentum, epsilon=self.epsilon, center=self.center,
                   scale=self.scale, synchronized=self.synchronized,
                   beta_regularizer=self.beta_regularizer.get_config() if self.beta_regularizer else None,
                   gamma_regularizer=self.gamma_regularizer.get_config() if self.gamma_regularizer else None)
        for key in ("beta", "gamma", "moving_mean", "moving_variance"):
            cfg[key + "_initializer"] = initializers.serialize(getattr(self, key + "_initializer"))
        return cfg


class LayerNormalization(Layer):
    """Keras's LayerNormalization: each sample normalized over its features, then gamma * x + beta."""

    def __init__(self, axis=-1, epsilon=0.001, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, **kwargs):
        super().__init__(**kwargs)
        self.axis = _feature_axis(axis, "LayerNormalization")
        self.epsilon = _positive(epsilon, "epsilon")
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        _no_constraints(beta_constraint=beta_constraint, gamma_constraint=gamma_constraint)

    def _engine_op(self):
        args = {"epsilon": self.epsilon, "center": self.center, "scale": self.scale,
                "beta_initializer": self.beta_initializer.engine_spec(),
                "gamma_initializer": self.gamma_initializer.engine_spec()}
        _regularizer_args(args, "beta", self.beta_regularizer)
        _regularizer_args(args, "gamma", self.gamma_regularizer)
        return "layer_normalization", args

    def _weight_shapes(self):
        if self._input_size is None:
            return []
        return [(self._input_size,)] * (int(self.scale) + int(self.center))

    def get_config(self):
        cfg = super().get_config()
        cfg.update(axis=self.axis, epsilon=self.epsilon, center=self.center, scale=self.scale,
                   beta_initializer=initializers.serialize(self.beta_initializer),
                   gamma_initializer=initializers.serialize(self.gamma_initializer),
                   beta_regularizer=self.beta_regularizer.get_config() if self.beta_regularizer else None,
                   gamma_regularizer=self.gamma_regularizer.get_config() if self.gamma_regularizer else None)
        return cfg


class UnitNormalization(Layer):
    """Keras's UnitNormalization: each sample divided by its L2 norm (at least 1e-12)."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = _feature_axis(axis, "UnitNormalization")

    def _engine_op(self):
        return "unit_normalization", {}

    def get_config(self):
        cfg = super().get_config()
        cfg["axis"] = self.axis
        return cfg


class Normalization(_StateWeights, Layer):
    """Keras's Normalization preprocessing layer: (x - mean) / max(sqrt(variance), 1e-7) (or the inverse), with
    mean and variance from `adapt(data)` (non-trainable weights mean, variance, count) or given as `mean=`,
    `variance=` (then the layer has no weights). axis=-1: per feature; axis=None: one mean and variance."""

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        self.axis = None if axis is None or (isinstance(axis, (list, tuple)) and len(axis) == 0) else \
            _feature_axis(axis, "Normalization")
        if (mean is None) != (variance is None):
            raise ValueError("mean and variance: when setting values directly, give both, got "
                             f"mean={mean!r} and variance={variance!r}")
        self.input_mean = None if mean is None else _finite_values(mean, "mean", self.axis)
        self.input_variance = None if variance is None else _finite_values(variance, "variance", self.axis)
        if self.input_mean is not None:
            if np.shape(self.input_mean) != np.shape(self.input_variance):
                raise ValueError(f"mean and variance: expected the same shape, got {np.shape(self.input_mean)} and "
                                 f"{np.shape(self.input_variance)}")
            if np.any(self.input_variance < 0):
                raise ValueError("variance: expected numbers >= 0, got a negative variance")
            if self.input_mean.ndim == 1 and self.input_mean.size > 1 and self._input_size is None:
                self._input_size = self.input_mean.size
        self.invert = bool(invert)
        self._pending_weights = None  # adapted before the layer was built: given to the engine at build time
        self._adapted = False

    def adapt(self, data, batch_size=None, steps=None):
        """Computes the mean and (biased) variance of `data` (an array, a list, a DataFrame or a Series; a 1-D
        array is a column of samples of one feature) and stores them as the layer's weights."""
        if self.input_mean is not None:
            raise ValueError(f"{self.name}: adapt() on a Normalization given mean= and variance= directly; expected "
                             "a layer created without them")
        try:
            arr = np.asarray(data.to_numpy() if hasattr(data, "to_numpy") else data, dtype=np.float64)
        except (TypeError, ValueError) as e:
            raise ValueError(f"data: expected numbers (an array, a list, a DataFrame or a Series), got "
                             f"{type(data).__name__} ({e})") from None
        if arr.ndim == 1:
            arr = arr.reshape(-1, 1)
        if arr.ndim != 2 or arr.shape[0] == 0:
            raise ValueError(f"data: expected a non-empty 2-D array (samples, features), got shape {arr.shape}")
        if not np.all(np.isfinite(arr)):
            bad = np.argwhere(~np.isfinite(arr))[0]
            raise ValueError(f"data: expected finite numbers, got NaN or infinity (first at index "
                             f"({bad[0]}, {bad[1]})); drop or fill those values before adapt()")
        n = arr.shape[1]
        if self._input_size is not None and n != self._input_size:
            raise ValueError(f"data: expected {self._input_size} features (the layer's input), got {n}")
        if self.axis is None:
            mean, var = np.array(arr.mean()), np.array(arr.var())
        else:
            mean, var = arr.mean(axis=0), arr.var(axis=0)
        if self._input_size is None:
            self._input_size = n
        weights = [mean, var, np.array(0.0)]  # Keras 3's adapt leaves `count` at 0
        if self._home is not None:
            engine, i = self._home
            count = engine.net.get_weights(i)[2]
            engine.net.set_weights(i, [mean, var, count])
        else:
            self._pending_weights = weights
        self._adapted = True

    def get_weights(self):
        if self._home is None and self._pending_weights is not None:  # adapted, not yet in a built model
            return [np.array(w) for w in self._pending_weights]
        return super().get_weights()

    def _check_ready(self):
        if self.input_mean is None and not self._adapted:
            raise ValueError(f"layer {self.name!r} (Normalization): it has no mean and variance yet; call "
                             f"{self.name}.adapt(data) on the training features, or create it with mean= and "
                             "variance=")

    def _engine_op(self):
        args = {"invert": self.invert, "per_feature": self.axis is not None}
        if self.input_mean is not None:
            args["mean"] = np.atleast_1d(self.input_mean).tolist()
            args["variance"] = np.atleast_1d(self.input_variance).tolist()
        return "normalization", args

    def _weight_shapes(self):
        if self.input_mean is not None or self._input_size is None:
            return []
        shape = () if self.axis is None else (self._input_size,)
        return [shape, shape, ()]

    def set_weights(self, weights):
        super().set_weights(weights)
        self._adapted = True

    def get_config(self):
        cfg = super().get_config()
        cfg.update(axis=self.axis, invert=self.invert,
                   mean=None if self.input_mean is None else np.asarray(self.input_mean).tolist(),
                   variance=None if self.input_variance is None else np.asarray(self.input_variance).tolist())
        if self._input_size is not None:
            cfg["input_dim"] = self._input_size
        return cfg


class Rescaling(Layer):
    """Keras's Rescaling preprocessing layer: x * scale + offset."""

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = _finite_number(scale, "scale")
        self.offset = _finite_number(offset, "offset")

    def _engine_op(self):
        return "rescaling", {"scale": self.scale, "offset": self.offset}

    def get_config(self):
        cfg = super().get_config()
        cfg.update(scale=self.scale, offset=self.offset)
        return cfg


def _finite_number(v, name):
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not np.isfinite(v):
        raise ValueError(f"{name}: expected a finite number, got {v!r}")
    return float(v)


def _positive(v, name):
    v = _finite_number(v, name)
    if v <= 0:
        raise ValueError(f"{name}: expected a number > 0, got {v!r}")
    return v


def _finite_values(v, name, axis):
    """mean= / variance= of Normalization: one number, or (axis=-1) a 1-D list with one per feature."""
    try:
        a = np.asarray(v, dtype=np.float64)
    except (TypeError, ValueError):
        a = None
    if a is None or a.ndim > 1 or (axis is None and a.size != 1) or a.size == 0 or not np.all(np.isfinite(a)):
        raise ValueError(f"{name}: expected {'one finite number' if axis is None else 'a finite number or a 1-D list of them'}"
                         f", got {v!r}")
    return a


class Flatten(Layer):
    """Flattens each sample to 1-D (as the first layer: `Flatten(input_shape=(28, 28))`); no weights."""

    def get_config(self):
        cfg = super().get_config()
        if self._sample_shape:
            cfg["input_shape"] = list(self._sample_shape)
        return cfg


class InputLayer(Layer):
    """The input of a functional model; `Input(shape=...)` creates one and returns its tensor."""

    def __init__(self, shape=None, batch_size=None, dtype=None, name=None, input_shape=None, **kwargs):
        shape = shape if shape is not None else input_shape
        if shape is None:
            raise ValueError("shape: expected the shape of one sample, such as (13,), got None")
        super().__init__(name=name, dtype=dtype, input_shape=shape, **kwargs)
        self.output = KerasTensor((None, self._input_size), self)
        self.shape = (None,) + tuple(self._sample_shape)

    def get_config(self):
        cfg = super().get_config()
        cfg["shape"] = list(self._sample_shape)
        return cfg


def Input(shape=None, batch_size=None, dtype=None, name=None, **kwargs):
    """A symbolic input tensor for the functional API: `x = Input(shape=(2,))`."""
    return InputLayer(shape=shape, dtype=dtype, name=name, **kwargs).output


ENGINE_LAYERS = (Dense, Activation, Dropout, BatchNormalization, LayerNormalization, UnitNormalization, Normalization,
                 Rescaling)
LAYER_CLASSES = {c.__name__: c for c in ENGINE_LAYERS + (Flatten, InputLayer)}


# The activation and noise layers live in their own modules (Keras keeps a file per family too).
from .activation_layers import ELU, Identity, LeakyReLU, PReLU, ReLU, Softmax  # noqa: E402
from .noise_layers import AlphaDropout, GaussianDropout, GaussianNoise  # noqa: E402

ENGINE_LAYERS += (Softmax, ReLU, LeakyReLU, PReLU, ELU, GaussianNoise, GaussianDropout, AlphaDropout)
LAYER_CLASSES.update({c.__name__: c for c in (Softmax, ReLU, LeakyReLU, PReLU, ELU, Identity, GaussianNoise,
                                              GaussianDropout, AlphaDropout)})
