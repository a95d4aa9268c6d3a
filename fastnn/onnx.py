"""ONNX export: a built fastnn model as an ONNX graph for inference anywhere (onnxruntime, Netron, ...).

    fastnn.onnx.export(model, "model.onnx")          # or model.export("model.onnx", format="onnx")

The graph has one input named after the model's input layer, shape (batch, features...) with a dynamic batch
axis, and one output named after the model's last layer. Each layer becomes a few standard ONNX operators: one
row per layer class in LAYERS, one row per activation name in ACTIVATIONS (Keras 3's formulas: gelu in its exact
erf form, hard_sigmoid = clip(x / 6 + 1/2, 0, 1), leaky_relu with slope 0.2, selu with Keras's constants).
Layers that only act in training (Dropout and the noise layers) export as Identity: the graph computes what
`predict` computes. The model's dtype is kept (float32, or float64). The graph is built with onnx.helper and
checked with onnx.checker.check_model before it is written, atomically (a temporary file renamed).
Needs the onnx package: `pip install "fastnn-cpp[onnx]"`.
"""

import math
import warnings

import numpy as np

__all__ = ["export", "LAYERS", "ACTIVATIONS", "DEFAULT_OPSET", "MIN_OPSET"]

DEFAULT_OPSET = 17  # what runtimes of the last years all read
MIN_OPSET = 13  # Softmax over the last axis alone, ReduceSum with axes as an input


def _require_onnx():
    try:
        import onnx
        from onnx import helper, numpy_helper
    except ImportError:
        raise ImportError('ONNX export needs the onnx package: pip install "fastnn-cpp[onnx]" (or pip install '
                          "onnx)") from None
    return onnx, helper, numpy_helper


class _Graph:
    """Nodes and initializers being collected, with fresh names and constants of the model's dtype."""

    def __init__(self, dtype, opset):
        self.onnx, self.helper, self.numpy_helper = _require_onnx()
        self.dtype, self.opset = np.dtype(dtype), opset
        self.nodes, self.initializers, self._count, self._used = [], [], {}, set()
        self.notes = set()  # what the export had to change, said once as a warning

    def name(self, base):
        """A name no tensor or node of the graph has yet: base, else base_1, base_2, ..."""
        k = self._count.get(base, 0)
        name = base if k == 0 else f"{base}_{k}"
        while name in self._used:
            k += 1
            name = f"{base}_{k}"
        self._count[base] = k + 1
        self._used.add(name)
        return name

    def const(self, value, base="const", dtype=None):
        array = np.asarray(value, dtype=dtype or self.dtype)
        name = self.name(base)
        self.initializers.append(self.numpy_helper.from_array(np.asarray(array, order="C"), name))
        return name

    def op(self, op_type, inputs, base=None, **attrs):
        out = self.name(base or op_type.lower())
        self.nodes.append(self.helper.make_node(op_type, list(inputs), [out], name=self.name(f"{out}_node"),
                                                **attrs))
        return out


# ----------------------------------------------------------------------------- activations (Keras 3 formulas)


# Each is written with operators onnxruntime runs in float32 and float64 alike, constants in the model's dtype;
# the one exception is Erf, which onnxruntime has only in float32 (see _erf).


def _erf(g, x):
    if g.dtype == np.float64:  # onnxruntime has no double Erf: computed in float32 (error ~1e-7), said at export
        g.notes.add("gelu's erf runs in float32 inside the float64 graph (onnxruntime has no float64 Erf)")
        elem = g.helper.np_dtype_to_tensor_dtype(g.dtype)
        single = g.op("Cast", [x], "erf_in", to=g.onnx.TensorProto.FLOAT)
        return g.op("Cast", [g.op("Erf", [single])], "erf", to=elem)
    return g.op("Erf", [x])


def _gelu(g, x):  # 0.5 x (1 + erf(x / sqrt(2))): Keras's default approximate=False
    t = _erf(g, g.op("Mul", [x, g.const(math.sqrt(0.5), "sqrt_half")]))
    return g.op("Mul", [g.op("Mul", [x, g.const(0.5, "half")]), g.op("Add", [t, g.const(1.0, "one")])], "gelu")


def _expm1_neg(g, x):  # exp(min(x, 0)) - 1: elu's negative side, 0 for x >= 0
    return g.op("Sub", [g.op("Exp", [g.op("Min", [x, g.const(0.0, "zero")])]), g.const(1.0, "one")])


def _elu(g, x):  # x > 0 ? x : exp(x) - 1
    return g.op("Add", [g.op("Relu", [x]), _expm1_neg(g, x)], "elu")


def _selu(g, x):  # scale * (x > 0 ? x : alpha (exp(x) - 1)), Keras's constants
    neg = g.op("Mul", [_expm1_neg(g, x), g.const(1.6732632423543772, "selu_alpha")])
    return g.op("Mul", [g.op("Add", [g.op("Relu", [x]), neg]), g.const(1.0507009873554805, "selu_scale")], "selu")


def _leaky_relu(g, x):  # max(x, 0.2 x): keras.activations.leaky_relu's slope
    return g.op("Max", [x, g.op("Mul", [x, g.const(0.2, "slope")])], "leaky_relu")


def _hard_sigmoid(g, x):  # clip(x / 6 + 1/2, 0, 1), Keras 3's definition
    v = g.op("Add", [g.op("Div", [x, g.const(6.0, "six")]), g.const(0.5, "half")])
    return g.op("Min", [g.op("Relu", [v]), g.const(1.0, "one")], "hard_sigmoid")


def _swish(g, x):
    return g.op("Mul", [x, g.op("Sigmoid", [x])], "swish")


def _softplus(g, x):  # max(x, 0) + log(1 + exp(-|x|)): no overflow for large |x|
    e = g.op("Exp", [g.op("Neg", [g.op("Abs", [x])])])
    return g.op("Add", [g.op("Relu", [x]), g.op("Log", [g.op("Add", [e, g.const(1.0, "one")])])], "softplus")


def _softsign(g, x):  # x / (1 + |x|)
    return g.op("Div", [x, g.op("Add", [g.op("Abs", [x]), g.const(1.0, "one")])], "softsign")


def _step(g, x):  # 1 where x >= 0, else 0
    return g.op("Cast", [g.op("GreaterOrEqual", [x, g.const(0.0, "zero")])], "step",
                to=g.helper.np_dtype_to_tensor_dtype(g.dtype))


ACTIVATIONS = {
    "linear": lambda g, x: x,
    "relu": lambda g, x: g.op("Relu", [x]),
    "leaky_relu": _leaky_relu,
    "elu": _elu,
    "selu": _selu,
    "gelu": _gelu,
    "swish": _swish,
    "sigmoid": lambda g, x: g.op("Sigmoid", [x]),
    "hard_sigmoid": _hard_sigmoid,
    "tanh": lambda g, x: g.op("Tanh", [x]),
    "softplus": _softplus,
    "softsign": _softsign,
    "softmax": lambda g, x: g.op("Softmax", [x], axis=-1),
    "step": _step,
}


def _activation(g, name, x, where):
    if name not in ACTIVATIONS:
        raise ValueError(f"{where}: activation {name!r} has no ONNX form in fastnn.onnx.ACTIVATIONS")
    return ACTIVATIONS[name](g, x)


# ----------------------------------------------------------------------------- layers


def _dense(g, layer, x):
    weights = layer.get_weights()
    kernel = g.const(weights[0], f"{layer.name}/kernel")
    if layer.use_bias:
        y = g.op("Gemm", [x, kernel, g.const(weights[1], f"{layer.name}/bias")], f"{layer.name}/dense")
    else:
        y = g.op("MatMul", [x, kernel], f"{layer.name}/dense")
    return _activation(g, layer.activation_name, y, f"layer {layer.name!r}")


def _identity(g, layer, x):
    return g.op("Identity", [x], layer.name)


def _relu_layer(g, layer, x):
    """Keras's relu(x, negative_slope, max_value, threshold): clip(x * [x > threshold], 0, max_value)
    - negative_slope * relu(threshold - x)."""
    t = g.const(layer.threshold, f"{layer.name}/threshold")
    mask = g.op("Cast", [g.op("Greater", [x, t])], to=g.helper.np_dtype_to_tensor_dtype(g.dtype))
    y = g.op("Relu", [g.op("Mul", [x, mask])])
    if layer.max_value is not None:
        y = g.op("Min", [y, g.const(layer.max_value, f"{layer.name}/max_value")])
    if layer.negative_slope:
        below = g.op("Relu", [g.op("Sub", [t, x])])
        y = g.op("Sub", [y, g.op("Mul", [below, g.const(layer.negative_slope, f"{layer.name}/slope")])])
    return y


def _slope_below_zero(g, x, slope):  # relu(x) - slope * relu(-x): x for x >= 0, slope * x below (exact)
    return g.op("Sub", [g.op("Relu", [x]), g.op("Mul", [g.op("Relu", [g.op("Neg", [x])]), slope])])


def _elu_layer(g, layer, x):  # x > 0 ? x : alpha (exp(x) - 1)
    neg = g.op("Mul", [_expm1_neg(g, x), g.const(layer.alpha, f"{layer.name}/alpha")])
    return g.op("Add", [g.op("Relu", [x]), neg], layer.name)


def _mean_over_features(g, x):  # (batch, n) -> (batch, 1)
    if g.opset >= 18:
        return g.op("ReduceMean", [x, g.const(np.array([-1]), "axes", dtype=np.int64)], keepdims=1)
    return g.op("ReduceMean", [x], axes=[-1], keepdims=1)


def _sum_over_features(g, x):  # (batch, n) -> (batch, 1); axes as an input since opset 13
    return g.op("ReduceSum", [x, g.const(np.array([-1]), "axes", dtype=np.int64)], keepdims=1)


def _scale_shift(g, layer, y, gamma, beta):
    if gamma is not None:
        y = g.op("Mul", [y, g.const(gamma, f"{layer.name}/gamma")])
    if beta is not None:
        y = g.op("Add", [y, g.const(beta, f"{layer.name}/beta")])
    return y


def _gamma_beta(layer, weights):
    k = 0
    gamma = beta = None
    if layer.scale:
        gamma, k = weights[k], k + 1
    if layer.center:
        beta, k = weights[k], k + 1
    return gamma, beta, weights[k:]


def _batch_normalization(g, layer, x):  # inference: gamma (x - moving_mean) / sqrt(moving_variance + eps) + beta
    gamma, beta, (mean, variance) = _gamma_beta(layer, layer.get_weights())
    std = g.op("Sqrt", [g.op("Add", [g.const(variance, f"{layer.name}/moving_variance"),
                                     g.const(layer.epsilon, f"{layer.name}/epsilon")])])
    y = g.op("Div", [g.op("Sub", [x, g.const(mean, f"{layer.name}/moving_mean")]), std])
    return _scale_shift(g, layer, y, gamma, beta)


def _layer_normalization(g, layer, x):  # per sample: gamma (x - mu) / sqrt(var + eps) + beta, biased variance
    gamma, beta, _ = _gamma_beta(layer, layer.get_weights())
    centered = g.op("Sub", [x, _mean_over_features(g, x)])
    var = _mean_over_features(g, g.op("Mul", [centered, centered]))
    std = g.op("Sqrt", [g.op("Add", [var, g.const(layer.epsilon, f"{layer.name}/epsilon")])])
    return _scale_shift(g, layer, g.op("Div", [centered, std]), gamma, beta)


def _unit_normalization(g, layer, x):  # x / sqrt(max(sum x^2, 1e-24))
    total = _sum_over_features(g, g.op("Mul", [x, x]))
    norm = g.op("Sqrt", [g.op("Max", [total, g.const(1e-24, f"{layer.name}/epsilon_squared")])])
    return g.op("Div", [x, norm], layer.name)


def _normalization(g, layer, x):  # (x - mean) / max(sqrt(variance), 1e-7); invert: mean + x * max(...)
    if layer.input_mean is not None:
        mean, variance = np.asarray(layer.input_mean), np.asarray(layer.input_variance)
    else:
        mean, variance = layer.get_weights()[:2]
    std = g.op("Max", [g.op("Sqrt", [g.const(variance, f"{layer.name}/variance")]),
                       g.const(1e-7, f"{layer.name}/epsilon")])
    mean = g.const(mean, f"{layer.name}/mean")
    if layer.invert:
        return g.op("Add", [mean, g.op("Mul", [x, std])], layer.name)
    return g.op("Div", [g.op("Sub", [x, mean]), std], layer.name)


def _rescaling(g, layer, x):
    y = g.op("Mul", [x, g.const(layer.scale, f"{layer.name}/scale")])
    return g.op("Add", [y, g.const(layer.offset, f"{layer.name}/offset")], layer.name)


LAYERS = {
    "Dense": _dense,
    "Activation": lambda g, layer, x: _activation(g, layer.activation_name, x, f"layer {layer.name!r}"),
    "Dropout": _identity,
    "Flatten": lambda g, layer, x: g.op("Flatten", [x], layer.name, axis=1),
    "Softmax": lambda g, layer, x: g.op("Softmax", [x], layer.name, axis=-1),
    "ReLU": _relu_layer,
    "LeakyReLU": lambda g, layer, x: _slope_below_zero(g, x, g.const(layer.negative_slope, f"{layer.name}/slope")),
    "PReLU": lambda g, layer, x: _slope_below_zero(g, x, g.const(layer.get_weights()[0], f"{layer.name}/alpha")),
    "ELU": _elu_layer,
    "Identity": _identity,
    "GaussianNoise": _identity,  # the noise layers act in training only
    "GaussianDropout": _identity,
    "AlphaDropout": _identity,
    "BatchNormalization": _batch_normalization,  # the moving statistics, as predict uses them
    "LayerNormalization": _layer_normalization,
    "UnitNormalization": _unit_normalization,
    "Normalization": _normalization,
    "Rescaling": _rescaling,
}


# ----------------------------------------------------------------------------- the model


def _emit(g, model, x):
    """Appends the model's layers (nested models in place) to the graph; returns the output's name."""
    from .models import Model
    for layer in model._chain:
        if isinstance(layer, Model):
            x = _emit(g, layer, x)
            continue
        kind = type(layer).__name__
        if kind not in LAYERS:
            raise ValueError(f"layer {layer.name!r} ({kind}) has no ONNX form in fastnn.onnx.LAYERS")
        x = LAYERS[kind](g, layer, x)
    return x


def _input_shape(model):
    layer = model._input_layer
    shape = getattr(layer, "_sample_shape", None) if layer is not None else None
    if not shape and model._chain and getattr(model._chain[0], "_sample_shape", None):
        shape = model._chain[0]._sample_shape
    return list(shape) if shape else [int(model._n_in)]


def to_onnx(model, opset=None):
    """The model as an onnx.ModelProto (checked with onnx.checker)."""
    onnx, helper, _ = _require_onnx()
    from .models import Model
    if not isinstance(model, Model):
        raise TypeError(f"model: expected a fastnn model, got {type(model).__name__}")
    model._require_built("export")
    top = onnx.defs.onnx_opset_version()
    opset = DEFAULT_OPSET if opset is None else opset
    if isinstance(opset, bool) or not isinstance(opset, (int, np.integer)) or not MIN_OPSET <= opset <= top:
        raise ValueError(f"opset: expected an integer from {MIN_OPSET} to {top} (this onnx package's newest), "
                         f"got {opset!r}")
    dtype = np.dtype(model.dtype)
    g = _Graph(dtype, int(opset))
    input_name = model._input_layer.name if model._input_layer is not None else "input"
    output_name = model._chain[-1].name if model._chain else "output"
    if output_name == input_name:
        output_name = f"{output_name}_output"
    g._used.update((input_name, output_name))
    y = _emit(g, model, input_name)
    g.nodes.append(helper.make_node("Identity", [y], [output_name], name=g.name("output_node")))
    elem = helper.np_dtype_to_tensor_dtype(dtype)
    graph = helper.make_graph(
        g.nodes, model.name,
        [helper.make_tensor_value_info(input_name, elem, ["batch"] + _input_shape(model))],
        [helper.make_tensor_value_info(output_name, elem, ["batch", int(model._n_out)])],
        initializer=g.initializers)
    from . import __version__
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", int(opset))],
                              producer_name="fastnn", producer_version=__version__)
    proto.ir_version = min(proto.ir_version, _IR_FOR_OPSET.get(int(opset), proto.ir_version))
    onnx.checker.check_model(proto, full_check=True)
    for note in sorted(g.notes):
        warnings.warn(f"ONNX export of model {model.name!r}: {note}", stacklevel=3)
    return proto


# The newest IR version each opset can be paired with (onnx's VERSION_TABLE), so that older runtimes load it.
_IR_FOR_OPSET = {13: 7, 14: 7, 15: 8, 16: 8, 17: 8, 18: 8, 19: 9, 20: 9, 21: 10, 22: 10}


def export(model, path, opset=None):
    """Writes `model` as an ONNX file at `path` (atomically); returns the path.

    opset: the ONNX operator set (default 17; 13 up to the onnx package's newest).
    """
    from . import saving
    proto = to_onnx(model, opset)
    where = saving._fspath(path, "path")
    saving._atomic_write(where, [proto.SerializeToString()])
    return where
