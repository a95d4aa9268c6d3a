"""Layers (Keras 3 names and arguments): Dense, Input/InputLayer, Dropout, Activation, Flatten.

A layer is a description until a model builds it; its weights then live in that model's engine (the flat
parameter buffer), and `get_weights()` returns copies of them: `[kernel (n_in, n_out), bias (n_out,)]`.
Calling a layer on a symbolic tensor (`Dense(3)(Input(shape=(2,)))`) chains layers for the functional API.
"""

import numpy as np

from . import activations, initializers, regularizers
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
        return check_int(input_dim, "input_dim", 1), None
    if input_shape is None:
        return None, None
    if isinstance(input_shape, (int, np.integer)):
        input_shape = (input_shape,)
    shape = tuple(input_shape)
    if shape and shape[0] is None:
        shape = shape[1:]
    if not shape or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1 for s in shape):
        raise ValueError(f"input_shape: expected a tuple of positive integers such as (13,), got {input_shape!r}")
    if len(shape) > 1 and where != "Flatten" and where != "InputLayer":
        raise ValueError(f"input_shape: {where} takes 1-D samples such as (784,), got {tuple(input_shape)!r}; "
                         f"put Flatten(input_shape={tuple(shape)!r}) first, or reshape x to (N, {int(np.prod(shape))})")
    return int(np.prod(shape)), shape


class WeightsView:
    """Keras's weight properties, for layers and models: copies from get_weights(); every weight is trainable."""

    @property
    def weights(self):
        return self.get_weights()

    @property
    def trainable_weights(self):
        return self.get_weights()

    @property
    def non_trainable_weights(self):
        return []


class Layer(WeightsView):
    _prefix = None

    def __init__(self, name=None, dtype=None, input_shape=None, input_dim=None, trainable=True, **kwargs):
        kwargs.pop("batch_input_shape", None)
        kwargs.pop("batch_size", None)
        if kwargs:
            raise TypeError(f"{type(self).__name__} got unexpected keyword argument(s): {', '.join(sorted(kwargs))}")
        if name is not None and (not isinstance(name, str) or not name):
            raise ValueError(f"name: expected a non-empty string, got {name!r}")
        self.name = name or unique_name(self._prefix or to_snake_case(type(self).__name__))
        if dtype not in (None, "float32", "float64", np.float32, np.float64):
            raise ValueError(f"dtype: expected 'float32' or 'float64', got {dtype!r}")
        self._dtype = None if dtype is None else np.dtype(dtype).name
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
        return self._dtype or (self._home[0].dtype if self._home else "float32")

    @property
    def built(self):
        return self._home is not None

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
        _check_weight_list(weights, shapes, f"layer {self.name!r}")
        engine, i = self._home
        engine.net.set_weights(i, [np.asarray(w) for w in weights])

    def count_params(self):
        return int(sum(int(np.prod(s)) for s in self._weight_shapes()))

    def get_config(self):
        cfg = {"name": self.name, "trainable": self.trainable}
        if self._dtype:
            cfg["dtype"] = self._dtype
        return cfg

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


def _check_weight_list(weights, shapes, where):
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


class Dense(Layer):
    """A fully-connected layer: output = activation(input @ kernel + bias)."""

    _prefix = "dense"

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        self.units = check_int(units, "units", 1)
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


ENGINE_LAYERS = (Dense, Activation, Dropout)
LAYER_CLASSES = {c.__name__: c for c in (Dense, Activation, Dropout, Flatten, InputLayer)}
