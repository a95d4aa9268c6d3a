"""Keras 3 files: the `.keras` archive and `.weights.h5` weights, written and read for every fastnn layer.

Layout (Keras 3's own, keras/src/saving/saving_lib.py):

    NAME.keras        a zip archive, members stored uncompressed:
      metadata.json     {"keras_version": ..., "date_saved": ...}
      config.json       the model as Keras serializes it: {"module", "class_name", "config", "registered_name",
                        "build_config", "compile_config"}; a layer entry is {"module": "keras.layers",
                        "class_name": "Dense", "config": {...}, "registered_name": null, "build_config": ...}
      model.weights.h5  HDF5: the model's layers in order under layers/<snake_case class name>[_k]/vars,
                        each variable a dataset "0", "1", ... in Keras's variable order (Dense: kernel, bias);
                        a nested model keeps its own layers/... inside its group; the model's own (empty) /vars
    NAME.weights.h5   the same HDF5 file on its own (Model.save_weights / load_weights).

What a layer means in Keras's vocabulary is one row of LAYERS below: its Keras class name, the fastnn class, how
its settings translate each way and how its variables are ordered; adding a layer is adding a row.

Reading is as careful as for fastnn's own files (fastnn/saving.py): the archive's members are a closed list, their
declared sizes and compression ratios are checked before anything is decompressed, names are never used as paths;
config.json is parsed under the same JSON limits; every class name, "module" and "registered_name" comes from a
closed list and nothing is imported or called by name (no Lambda, no custom objects); every setting fastnn cannot
honour is refused, not ignored; the model is built from the config and each HDF5 dataset's shape and dtype are
compared to it before its data is read; links, external and virtual datasets are refused. Every failure is a
ModelFileError (a ValueError) naming the file. Writes are atomic (a temporary file in the same folder, renamed).
h5py is the one extra dependency: `pip install "fastnn-cpp[keras-files]"`.
"""

import datetime
import io
import json
import math
import os
import re
import stat
import warnings
import zipfile
import zlib

import numpy as np

from . import activations, initializers, layers as layers_module, losses, metrics as metrics_module, optimizers
from . import saving
from .errors import ModelFileError

__all__ = ["save_keras_model", "load_keras_model", "save_keras_weights", "load_keras_weights", "is_keras_archive",
           "is_hdf5", "KERAS_VERSION", "LAYERS"]

KERAS_VERSION = "3.10.0"  # the Keras 3 release whose format these files follow (written into metadata.json)

CONFIG_NAME, METADATA_NAME, WEIGHTS_NAME = "config.json", "metadata.json", "model.weights.h5"
_MEMBERS = (METADATA_NAME, CONFIG_NAME, WEIGHTS_NAME)
MAX_METADATA_BYTES = 1 << 20
MAX_ARCHIVE_MEMBERS = 64  # Keras writes 3 (more only for layers with assets, which fastnn has none of)
MAX_EXPANSION = 1100  # DEFLATE cannot expand more than ~1032:1; anything claiming more is a bomb
MAX_LAYERS = 1000
MAX_VARIABLES = 64  # per layer
MAX_UNITS = 1 << 24
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_INT_DTYPES = tuple(np.dtype(f"{order}{kind}{size}") for order in "<>" for kind in "iu" for size in (4, 8))
_FLOAT_DTYPES = (np.dtype("<f4"), np.dtype(">f4"), np.dtype("<f8"), np.dtype(">f8"), np.dtype("<f2"),
                 np.dtype(">f2"))

# Keras's module strings that may appear in a file; they are compared, never imported.
_MODEL_MODULES = {"keras", "keras.models", "keras.src.models.functional", "keras.src.models.sequential",
                  "keras.src.models.model", "keras.src.models"}
_LAYER_MODULES = {"keras.layers"}
_OPTIMIZER_MODULE = re.compile(r"keras\.optimizers|keras\.src\.optimizers(\.\w+)?|"
                               r"keras\.src\.backend\.(torch|jax|tensorflow|numpy|openvino)\.optimizers(\.\w+)?")


def _require_h5py():
    try:
        import h5py
    except ImportError:
        raise ImportError('Keras files (.keras, .weights.h5) need h5py: pip install "fastnn-cpp[keras-files]" '
                          "(or pip install h5py)") from None
    return h5py


def to_snake_case(name):
    """Keras's keras.src.utils.naming.to_snake_case (the HDF5 group names come from it)."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def is_keras_archive(head):
    return head[:4] in _ZIP_MAGIC


def is_hdf5(head):
    return head[:8] == _HDF5_MAGIC


# ----------------------------------------------------------------------------- settings, checked


class _NotSupported(ModelFileError):
    """A Keras built-in that fastnn does not have (a class, an activation, a setting): refused in a layer; in the
    compile settings it leaves the model uncompiled, with a warning."""


class _Settings:
    """A Keras config dict being translated: each key taken once, the rest must be absent or at Keras's default.

    `where` names the place in the file for error messages.
    """

    def __init__(self, cfg, where):
        if not isinstance(cfg, dict):
            raise ModelFileError(f"{where}: expected a JSON object of settings, got {_short(cfg)}")
        self.cfg, self.where, self.used = cfg, where, set()

    def fail(self, message):
        raise _NotSupported(f"{self.where}: {message}")

    def get(self, key, default=None):
        self.used.add(key)
        return self.cfg.get(key, default)

    def int(self, key, default=None, low=1, high=MAX_UNITS):
        v = self.get(key, default)
        if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high:
            self.fail(f"{key} must be an integer in [{low}, {high}], got {_short(v)}")
        return v

    def number(self, key, default=None, low=-math.inf, high=math.inf):
        v = self.get(key, default)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not low <= v <= high:
            self.fail(f"{key} must be a finite number in [{low}, {high}], got {_short(v)}")
        return float(v)

    def bool(self, key, default=None):
        v = self.get(key, default)
        if not isinstance(v, bool):
            self.fail(f"{key} must be true or false, got {_short(v)}")
        return v

    def default(self, key, *allowed):
        """A setting fastnn cannot change: absent or one of `allowed` (Keras's default first)."""
        v = self.get(key, allowed[0])
        if not any(v == a and type(v) is type(a) for a in allowed):
            self.fail(f"{key}={_short(v)} is not supported by fastnn (it takes {_short(allowed[0])})")
        return v

    def finish(self, ignore=()):
        """Refuses keys nobody took, unless null/false (an unused option of a newer Keras)."""
        for key, value in self.cfg.items():
            if key in self.used or key in ignore or value is None or value is False:
                continue
            self.fail(f"unknown setting {key!r}={_short(value)}; fastnn cannot honour it")


def _short(value, limit=60):
    text = json.dumps(value) if isinstance(value, (dict, list, str, int, float, bool, type(None))) else repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _object(entry, where, modules, classes):
    """Checks a serialized Keras object {"module", "class_name", "config", "registered_name"} against closed lists;
    returns (class_name, config)."""
    if not isinstance(entry, dict):
        raise ModelFileError(f"{where}: expected a serialized Keras object, got {_short(entry)}")
    cls, module, registered = entry.get("class_name"), entry.get("module"), entry.get("registered_name")
    ok_module = isinstance(module, str) and (module in modules if isinstance(modules, (set, frozenset))
                                             else modules.fullmatch(module))
    if module is not None and not ok_module:
        raise ModelFileError(f"{where}: {_short(cls)} from module {_short(module)} is not a Keras built-in")
    if registered is not None and registered != cls:
        raise ModelFileError(f"{where}: registered_name {_short(registered)} names a custom object; "
                             "fastnn loads only Keras's built-in classes")
    if not isinstance(cls, str) or cls not in classes:
        raise _NotSupported(f"{where}: class {_short(cls)} is not one fastnn reads (it reads "
                            f"{', '.join(sorted(classes))}); custom objects and Lambda layers are never loaded")
    unknown = set(entry) - {"module", "class_name", "config", "registered_name", "build_config", "compile_config",
                            "name", "inbound_nodes", "shared_object_id"}
    if unknown:
        raise ModelFileError(f"{where}: unexpected keys {sorted(unknown)[:4]} in a serialized {cls}")
    return cls, entry.get("config", {})


def _dtype_policy(value, where):
    """float32 / float64 from a Keras dtype (a name or a DTypePolicy object)."""
    if isinstance(value, dict):
        cls, cfg = _object(value, where, {"keras", "keras.dtype_policies", "keras.mixed_precision"},
                           {"DTypePolicy", "FloatDTypePolicy"})
        value = cfg.get("name") if isinstance(cfg, dict) else None
    if value is None:
        return None
    if value not in ("float32", "float64", "mixed_bfloat16"):
        raise ModelFileError(f"{where}: dtype {_short(value)} is not supported (fastnn computes in float32, "
                             "float64 or mixed_bfloat16)")
    return value


def _keras_dtype_policy(dtype):
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": dtype}, "registered_name": None}


# ----------------------------------------------------------------------------- initializers, regularizers, activations

_INITIALIZERS = {  # fastnn engine name -> (Keras class, config keys)
    "glorot_uniform": ("GlorotUniform", ()), "glorot_normal": ("GlorotNormal", ()),
    "he_uniform": ("HeUniform", ()), "he_normal": ("HeNormal", ()),
    "lecun_uniform": ("LecunUniform", ()), "lecun_normal": ("LecunNormal", ()),
    "zeros": ("Zeros", ()), "ones": ("Ones", ()), "constant": ("Constant", ("value",)),
    "random_normal": ("RandomNormal", ("mean", "stddev")), "truncated_normal": ("TruncatedNormal", ("mean", "stddev")),
    "random_uniform": ("RandomUniform", ("minval", "maxval")),
}
_INITIALIZER_BY_KERAS = {cls: name for name, (cls, _) in _INITIALIZERS.items()}
_STRING_INITIALIZERS = set(_INITIALIZERS)


def _initializer_to_keras(init):
    cls, keys = _INITIALIZERS[init.engine_name]
    cfg = dict(init.get_config())
    if cls not in ("Zeros", "Ones", "Constant"):
        cfg["seed"] = None
    return {"module": "keras.initializers", "class_name": cls, "config": cfg, "registered_name": None}


def _initializer_from_keras(value, where):
    if isinstance(value, str):
        if value.lower() not in _STRING_INITIALIZERS:
            raise ModelFileError(f"{where}: initializer {_short(value)} is not one fastnn has "
                                 f"({', '.join(sorted(_STRING_INITIALIZERS))})")
        return initializers.get(value.lower())
    cls, cfg = _object(value, where, {"keras.initializers"}, set(_INITIALIZER_BY_KERAS))
    name = _INITIALIZER_BY_KERAS[cls]
    s = _Settings(cfg, f"{where} ({cls})")
    kwargs = {key: s.number(key) for key in _INITIALIZERS[name][1] if key in cfg}
    s.get("seed")  # a seed only changes the draw; fastnn draws from its own seeded generator
    s.finish(ignore=("input_axes", "output_axes"))
    try:
        return initializers.get({"class_name": name, "config": kwargs})
    except (TypeError, ValueError) as e:
        raise ModelFileError(f"{where}: invalid {cls} settings: {e}") from None


def _regularizer_to_keras(reg):
    if reg is None:
        return None
    return {"module": "keras.regularizers", "class_name": "L1L2", "config": {"l1": reg.l1, "l2": reg.l2},
            "registered_name": None}


def _regularizer_from_keras(value, where):
    if value is None:
        return None
    cls, cfg = _object(value, where, {"keras.regularizers"}, {"L1", "L2", "L1L2"})
    s = _Settings(cfg, f"{where} ({cls})")
    l1 = s.number("l1", 0.0, 0.0) if cls != "L2" else 0.0
    l2 = s.number("l2", 0.0, 0.0) if cls != "L1" else 0.0
    s.finish()
    from . import regularizers
    return regularizers.L1L2(l1=l1, l2=l2)


# fastnn activation name -> the name Keras writes (keras.activations.serialize); "step" has no Keras twin.
_ACTIVATION_TO_KERAS = {name: name for name in activations.NAMES if name != "step"}
_ACTIVATION_TO_KERAS["swish"] = "silu"
_ACTIVATION_FROM_KERAS = {keras: name for name, keras in _ACTIVATION_TO_KERAS.items()}
_ACTIVATION_FROM_KERAS["swish"] = "swish"


def _activation_to_keras(name, where):
    if name not in _ACTIVATION_TO_KERAS:
        raise ValueError(f"{where}: the activation {name!r} has no Keras 3 equivalent, so the model cannot be saved "
                         "as a .keras file; save it in fastnn's own format (a .fnn file) instead")
    return _ACTIVATION_TO_KERAS[name]


def _activation_from_keras(value, where):
    if isinstance(value, dict):  # keras.activations.serialize of a built-in gives a string; a dict is custom
        raise ModelFileError(f"{where}: activation {_short(value)} is not a built-in name")
    if value is None:
        return "linear"
    if not isinstance(value, str) or value not in _ACTIVATION_FROM_KERAS:
        raise ModelFileError(f"{where}: activation {_short(value)} is not one fastnn has "
                             f"({', '.join(sorted(_ACTIVATION_FROM_KERAS))})")
    return _ACTIVATION_FROM_KERAS[value]


# ----------------------------------------------------------------------------- the layer table


class LayerRow:
    """How one layer class reads and writes in Keras's format.

    keras_class      the class name in config.json (and, snake_cased, the HDF5 group name); fastnn's class of the
                     same name (fastnn's layers have Keras's names)
    to_keras         layer -> the layer-specific Keras config keys (name, trainable and dtype are added)
    from_keras       (_Settings, dtype) -> fastnn layer (name and trainable are added)
    get_variables    layer -> its weights in Keras's variable order (default: get_weights())
    set_variables    (layer, arrays in Keras's order) -> None (default: set_weights)
    integer_vars     indices of variables Keras stores as integers (read as numbers of the model's dtype)
    """

    def __init__(self, keras_class, to_keras, from_keras, get_variables=None, set_variables=None, integer_vars=()):
        self.keras_class = keras_class
        self.integer_vars = tuple(integer_vars)  # variables Keras keeps as integers (Normalization's count)
        self.to_keras, self.from_keras = to_keras, from_keras
        self.get_variables = get_variables or (lambda layer: list(layer.get_weights()))
        self.set_variables = set_variables or _set_weights


def _set_weights(layer, arrays):
    if arrays or layer.get_weights():
        layer.set_weights(arrays)


def _dense_to_keras(layer):
    where = f"layer {layer.name!r}"
    return {"units": layer.units, "activation": _activation_to_keras(layer.activation_name, where),
            "use_bias": layer.use_bias, "kernel_initializer": _initializer_to_keras(layer.kernel_initializer),
            "bias_initializer": _initializer_to_keras(layer.bias_initializer),
            "kernel_regularizer": _regularizer_to_keras(layer.kernel_regularizer),
            "bias_regularizer": _regularizer_to_keras(layer.bias_regularizer),
            "kernel_constraint": None, "bias_constraint": None}


def _dense_from_keras(s, kwargs):
    out = layers_module.Dense(
        s.int("units"), activation=_activation_from_keras(s.get("activation"), s.where),
        use_bias=s.bool("use_bias", True),
        kernel_initializer=_initializer_from_keras(s.get("kernel_initializer", "glorot_uniform"),
                                                   f"{s.where}, kernel_initializer"),
        bias_initializer=_initializer_from_keras(s.get("bias_initializer", "zeros"), f"{s.where}, bias_initializer"),
        kernel_regularizer=_regularizer_from_keras(s.get("kernel_regularizer"), f"{s.where}, kernel_regularizer"),
        bias_regularizer=_regularizer_from_keras(s.get("bias_regularizer"), f"{s.where}, bias_regularizer"),
        **kwargs)
    s.default("lora_rank", None)
    return out


def _activation_layer_from_keras(s, kwargs):
    return layers_module.Activation(_activation_from_keras(s.get("activation"), s.where), **kwargs)


def _dropout_from_keras(s, kwargs):
    rate = s.number("rate", None, 0.0, 1.0)
    s.get("seed")  # fastnn's dropout draws from the model's seeded generator
    s.default("noise_shape", None)
    return layers_module.Dropout(rate, **kwargs)


def _flatten_from_keras(s, kwargs):
    s.default("data_format", "channels_last", None)
    return layers_module.Flatten(**kwargs)


LAYERS = {}


def add_layer_row(row):
    """Registers a layer row (keyed by its Keras class name)."""
    LAYERS[row.keras_class] = row


add_layer_row(LayerRow("Dense", _dense_to_keras, _dense_from_keras))
add_layer_row(LayerRow("Activation", lambda layer: {"activation": _activation_to_keras(layer.activation_name,
                                                                         f"layer {layer.name!r}")},
                       _activation_layer_from_keras))
add_layer_row(LayerRow("Dropout", lambda layer: {"rate": layer.rate, "seed": None, "noise_shape": None},
                       _dropout_from_keras))
add_layer_row(LayerRow("Flatten", lambda layer: {"data_format": "channels_last"}, _flatten_from_keras))


def _layer_class(name):
    """fastnn's layer class of this (Keras) name: fastnn.layers exports every layer."""
    cls = getattr(layers_module, name, None)
    if not (isinstance(cls, type) and issubclass(cls, layers_module.Layer)):
        raise ModelFileError(f"layer class {name} is not in this fastnn")
    return cls


def _simple_row(name, numbers=(), seed=False, fixed=()):
    """A row for a layer whose settings are a few numbers (or None), an unused seed and Keras-only options that
    must stay at their defaults: fixed = ((key, default), ...)."""
    def to_keras(layer):
        cfg = {key: getattr(layer, key) for key in numbers}
        if seed:
            cfg["seed"] = getattr(layer, "seed", None)
        cfg.update(dict(fixed))
        return cfg

    def from_keras(s, kwargs):
        for key in numbers:
            if key in s.cfg:
                value = s.get(key)
                kwargs[key] = None if value is None else s.number(key)
        if seed:
            value = s.get("seed")
            if value is not None:
                kwargs["seed"] = s.int("seed", None, 0, 2 ** 63 - 1)
        for key, default in fixed:
            s.default(key, default)
        return _layer_class(name)(**kwargs)

    add_layer_row(LayerRow(name, to_keras, from_keras))


# The activation and noise layers: numbers in, numbers out (ReLU's max_value may be None).
_simple_row("ReLU", ("max_value", "negative_slope", "threshold"))
_simple_row("LeakyReLU", ("negative_slope",))
_simple_row("ELU", ("alpha",))
_simple_row("Identity")
_simple_row("GaussianNoise", ("stddev",), seed=True)
_simple_row("GaussianDropout", ("rate",), seed=True)
_simple_row("AlphaDropout", ("rate",), seed=True, fixed=(("noise_shape", None),))


def _feature_axis(s, key="axis"):
    """Keras's axis of a normalization layer: fastnn's samples are 1-D, so the features (-1, or 1)."""
    axis = s.get(key, -1)
    if axis not in (-1, 1, [-1], [1]):
        s.fail(f"{key}={_short(axis)}: fastnn samples are 1-D, so it normalizes over the features (-1)")
    return -1


def _normalization_settings(s, keys):
    """Initializers and regularizers of gamma/beta (and the moving statistics), constraints absent."""
    kwargs = {}
    for key in keys:
        kwargs[f"{key}_initializer"] = _initializer_from_keras(s.get(f"{key}_initializer", _NORM_INIT[key]),
                                                               f"{s.where}, {key}_initializer")
    for key in ("beta", "gamma"):
        kwargs[f"{key}_regularizer"] = _regularizer_from_keras(s.get(f"{key}_regularizer"),
                                                               f"{s.where}, {key}_regularizer")
        s.default(f"{key}_constraint", None)
    return kwargs


_NORM_INIT = {"beta": "zeros", "gamma": "ones", "moving_mean": "zeros", "moving_variance": "ones"}


def _normalization_to_keras(layer, keys):
    cfg = {"axis": -1, "epsilon": layer.epsilon, "center": layer.center, "scale": layer.scale}
    for key in keys:
        cfg[f"{key}_initializer"] = _initializer_to_keras(getattr(layer, f"{key}_initializer"))
    for key in ("beta", "gamma"):
        cfg[f"{key}_regularizer"] = _regularizer_to_keras(getattr(layer, f"{key}_regularizer"))
        cfg[f"{key}_constraint"] = None
    return cfg


def _batchnorm_from_keras(s, kwargs):
    _feature_axis(s)
    kwargs.update(_normalization_settings(s, ("beta", "gamma", "moving_mean", "moving_variance")))
    s.default("renorm", False)
    s.default("renorm_clipping", None)
    s.get("renorm_momentum")  # used only with renorm
    return _layer_class("BatchNormalization")(
        momentum=s.number("momentum", 0.99, 0.0, 1.0), epsilon=s.number("epsilon", 1e-3, 0.0),
        center=s.bool("center", True), scale=s.bool("scale", True), synchronized=s.bool("synchronized", False),
        **kwargs)


def _batchnorm_to_keras(layer):
    cfg = _normalization_to_keras(layer, ("beta", "gamma", "moving_mean", "moving_variance"))
    cfg.update(momentum=layer.momentum, synchronized=bool(getattr(layer, "synchronized", False)))
    return cfg


def _layernorm_from_keras(s, kwargs):
    _feature_axis(s)
    kwargs.update(_normalization_settings(s, ("beta", "gamma")))
    s.default("rms_scaling", False)
    return _layer_class("LayerNormalization")(epsilon=s.number("epsilon", 1e-3, 0.0), center=s.bool("center", True),
                                              scale=s.bool("scale", True), **kwargs)


def _normalization_layer_from_keras(s, kwargs):
    axis = s.get("axis", -1)
    if axis not in (-1, 1, [-1], [1], None, []):
        s.fail(f"axis={_short(axis)}: fastnn normalizes per feature (-1) or over everything (None)")
    mean, variance = s.get("mean"), s.get("variance")
    for key, value in (("mean", mean), ("variance", variance)):
        if value is not None and not (isinstance(value, (int, float)) and not isinstance(value, bool)) and not (
                isinstance(value, list) and len(value) <= MAX_UNITS and all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
            s.fail(f"{key} must be a number or a list of numbers, got {_short(value)}")
    return _layer_class("Normalization")(axis=None if axis in (None, []) else -1, mean=mean, variance=variance,
                                         invert=s.bool("invert", False), **kwargs)


def _normalization_layer_to_keras(layer):
    return {"axis": None if layer.axis is None else [-1], "invert": layer.invert,
            "mean": None if layer.input_mean is None else np.asarray(layer.input_mean).tolist(),
            "variance": None if layer.input_variance is None else np.asarray(layer.input_variance).tolist()}


def _normalization_layer_variables(layer):
    weights = list(layer.get_weights())
    if len(weights) == 3:  # adapted: mean, variance, count (an integer in Keras)
        weights[2] = np.asarray(weights[2]).astype(np.int64)
    return weights


add_layer_row(LayerRow("BatchNormalization", _batchnorm_to_keras, _batchnorm_from_keras))
add_layer_row(LayerRow("LayerNormalization", lambda layer: dict(_normalization_to_keras(layer, ("beta", "gamma")),
                                                                rms_scaling=False), _layernorm_from_keras))
add_layer_row(LayerRow("UnitNormalization", lambda layer: {"axis": -1},
                       lambda s, kwargs: (_feature_axis(s), _layer_class("UnitNormalization")(**kwargs))[1]))
add_layer_row(LayerRow("Normalization", _normalization_layer_to_keras, _normalization_layer_from_keras,
                       get_variables=_normalization_layer_variables, integer_vars=(2,)))
_simple_row("Rescaling", ("scale", "offset"))


def _softmax_from_keras(s, kwargs):
    axis = s.get("axis", -1)
    if axis not in (-1, 1, [-1], [1]):
        s.fail(f"axis={_short(axis)}: fastnn samples are 1-D, so the softmax runs over the features (-1)")
    return _layer_class("Softmax")(axis=-1, **kwargs)


add_layer_row(LayerRow("Softmax", lambda layer: {"axis": -1}, _softmax_from_keras))


def _prelu_from_keras(s, kwargs):
    init = _initializer_from_keras(s.get("alpha_initializer", "zeros"), f"{s.where}, alpha_initializer")
    reg = _regularizer_from_keras(s.get("alpha_regularizer"), f"{s.where}, alpha_regularizer")
    s.default("alpha_constraint", None)
    shared = s.get("shared_axes")
    if shared is not None:
        s.fail(f"shared_axes={_short(shared)}: fastnn's PReLU has one alpha per feature (shared_axes=None)")
    return _layer_class("PReLU")(alpha_initializer=init, alpha_regularizer=reg, **kwargs)


add_layer_row(LayerRow("PReLU", lambda layer: {
    "alpha_initializer": _initializer_to_keras(layer.alpha_initializer),
    "alpha_regularizer": _regularizer_to_keras(layer.alpha_regularizer), "alpha_constraint": None,
    "shared_axes": None}, _prelu_from_keras))


def _row_for(layer):
    row = LAYERS.get(type(layer).__name__)
    if row is not None and isinstance(layer, layers_module.Layer):
        return row
    raise ValueError(f"layer {layer.name!r} ({type(layer).__name__}) has no Keras file form; save the model in "
                     "fastnn's own format (a .fnn file) instead")


# ----------------------------------------------------------------------------- writing


def _is_model(obj):
    from .models import Model
    return isinstance(obj, Model)


def _model_kind(model):
    from .models import Sequential
    return "Sequential" if isinstance(model, Sequential) else "Functional"


def _input_sample_shape(model):
    layer = model._input_layer
    if layer is not None and getattr(layer, "_sample_shape", None):
        return list(layer._sample_shape)
    first = model._chain[0] if model._chain else None
    if first is not None and getattr(first, "_sample_shape", None):
        return list(first._sample_shape)
    return [int(model._n_in)]


def _input_layer_entry(name, shape, dtype):
    return {"module": "keras.layers", "class_name": "InputLayer",
            "config": {"batch_shape": [None] + list(shape), "dtype": dtype, "sparse": False, "name": name},
            "registered_name": None}


def _layer_entry(layer, dtype, n_in_shape):
    """config.json entry of one layer (or nested model) and its output shape (without the batch axis)."""
    if _is_model(layer):
        return _model_entry(layer, dtype, n_in_shape), [int(layer._n_out)]
    row = _row_for(layer)
    policy = getattr(layer, "_dtype_policy", None)
    policy_name = policy.name if policy is not None and getattr(policy, "is_mixed", False) else dtype
    cfg = {"name": layer.name, "trainable": bool(layer.trainable), "dtype": _keras_dtype_policy(policy_name)}
    cfg.update(row.to_keras(layer))
    entry = {"module": "keras.layers", "class_name": row.keras_class, "config": cfg, "registered_name": None,
             "build_config": {"input_shape": [None] + list(n_in_shape)}}
    n_in = int(np.prod(n_in_shape))
    return entry, [int(layer.output_size(n_in))]


def _model_entry(model, dtype, in_shape=None):
    """config.json entry of a model: Sequential or Functional (a chain from its input to its output)."""
    shape = _input_sample_shape(model)
    kind = _model_kind(model)
    input_name = model._input_layer.name if model._input_layer is not None else "input_layer"
    entries, current = [], shape
    for layer in model._chain:
        entry, out_shape = _layer_entry(layer, dtype, current)
        entries.append((entry, current, layer.name))
        current = out_shape
    if kind == "Sequential":
        config = {"name": model.name, "trainable": bool(model.trainable), "dtype": _keras_dtype_policy(dtype),
                  "layers": [_input_layer_entry(input_name, shape, dtype)] + [e for e, _, _ in entries],
                  "build_input_shape": [None] + shape}
        return {"module": "keras", "class_name": "Sequential", "config": config, "registered_name": None,
                "build_config": {"input_shape": [None] + shape}}
    layers_cfg = [dict(_input_layer_entry(input_name, shape, dtype), name=input_name, inbound_nodes=[])]
    previous = input_name
    for entry, in_shape_k, name in entries:
        tensor = {"class_name": "__keras_tensor__",
                  "config": {"shape": [None] + list(in_shape_k), "dtype": dtype, "keras_history": [previous, 0, 0]}}
        layers_cfg.append(dict(entry, name=name, inbound_nodes=[{"args": [tensor], "kwargs": {}}]))
        previous = name
    config = {"name": model.name, "trainable": bool(model.trainable), "layers": layers_cfg,
              "input_layers": [input_name, 0, 0], "output_layers": [previous, 0, 0]}
    return {"module": "keras.src.models.functional", "class_name": "Functional", "config": config,
            "registered_name": "Functional", "build_config": {"input_shape": None}}


def _compile_to_keras(model):
    if not model.compiled:
        return None
    opt = model.optimizer
    opt_cfg = opt.get_config()
    opt_cls = _OPTIMIZER_CLASSES[opt.engine_name]
    keras_opt = {"module": "keras.optimizers", "class_name": opt_cls, "config": opt_cfg, "registered_name": None}
    loss = model.loss
    loss_cfg = dict(loss.get_config())
    loss_cfg.setdefault("reduction", "sum_over_batch_size")
    if not loss_cfg.get("from_logits"):
        loss_cfg.pop("from_logits", None)  # Keras's regression losses take no from_logits
    keras_loss = {"module": "keras.losses", "class_name": type(loss).__name__, "config": loss_cfg,
                  "registered_name": None}
    keras_metrics = [_metric_to_keras(m) for m in model._metric_ids]
    weighted = [_metric_to_keras(m) for m in getattr(model, "_weighted_metric_ids", None) or []]
    return {"optimizer": keras_opt, "loss": keras_loss, "loss_weights": None, "metrics": keras_metrics or None,
            "weighted_metrics": weighted or None, "run_eagerly": False, "steps_per_execution": 1,
            "jit_compile": False}


def _metric_to_keras(m):
    """A compile() metric as Keras serializes it: a name stays a name, a Metric object becomes its config."""
    if isinstance(m, type) and issubclass(m, metrics_module.Metric):
        m = m()
    if isinstance(m, metrics_module.Metric):
        cfg = dict(m.get_config()) if hasattr(m, "get_config") else {"name": m.name}
        cfg.setdefault("dtype", "float32")
        return {"module": "keras.metrics", "class_name": type(m).__name__, "config": cfg, "registered_name": None}
    return m if isinstance(m, str) else m.__name__


_OPTIMIZER_CLASSES = {"sgd": "SGD", "rmsprop": "RMSprop", "adagrad": "Adagrad", "adadelta": "Adadelta",
                      "adam": "Adam", "adamw": "AdamW", "adamax": "Adamax", "nadam": "Nadam"}


def model_config(model):
    """config.json of a built fastnn model, as Keras 3 writes it (a dict)."""
    dtype = model.dtype
    entry = _model_entry(model, dtype)
    compile_cfg = _compile_to_keras(model)
    if compile_cfg is not None:
        entry["compile_config"] = compile_cfg
    return entry


def _write_layer_vars(h5, path, layer):
    """Writes one layer's (or nested model's) variables under `path`, Keras's _save_state layout."""
    if _is_model(layer):
        _write_model_vars(h5, path, layer)
        return
    group = h5.create_group(f"{path}/vars") if path else h5.create_group("vars")
    group.attrs["name"] = layer.name
    for k, array in enumerate(_row_for(layer).get_variables(layer)):
        group.create_dataset(str(k), data=np.asarray(array, order="C"))  # 0-d stays 0-d


def _write_model_vars(h5, path, model):
    group = h5.create_group(f"{path}/vars") if path else h5.create_group("vars")
    group.attrs["name"] = model.name
    used = {}
    # Keras's Sequential.layers leaves out the InputLayer; a Functional's list starts with it.
    members = list(model._chain) if _model_kind(model) == "Sequential" else \
        [model._input_layer or layers_module.InputLayer(shape=(model._n_in,))] + list(model._chain)
    prefix = f"{path}/layers" if path else "layers"
    h5.create_group(prefix)
    for layer in members:
        base = "functional" if _is_model(layer) and _model_kind(layer) == "Functional" else \
            to_snake_case(type(layer).__name__)
        name = _unique(base, used)
        if isinstance(layer, layers_module.InputLayer):
            g = h5.create_group(f"{prefix}/{name}/vars")
            g.attrs["name"] = layer.name
        else:
            _write_layer_vars(h5, f"{prefix}/{name}", layer)


def _unique(name, used):
    """Keras's saving_lib._get_unique_name."""
    if name in used:
        used[name] += 1
        return f"{name}_{used[name]}"
    used[name] = 0
    return name


def _h5_bytes(model):
    h5py = _require_h5py()
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as h5:
        _write_model_vars(h5, "", model)
    return buffer.getvalue()


def _check_writable(model, what):
    model._require_built(what)
    if model.dtype not in ("float32", "float64"):
        raise ValueError(f"{what}: Keras files hold float32 or float64 models, this one is {model.dtype}")


def save_keras_model(model, filepath):
    """Writes `model` as a Keras 3 `.keras` archive at `filepath`, atomically."""
    _check_writable(model, "save")
    config_json = json.dumps(model_config(model))
    metadata_json = json.dumps({"keras_version": KERAS_VERSION,
                                "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
                                "saved_by": "fastnn"})
    weights = _h5_bytes(model)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(METADATA_NAME, metadata_json)
        archive.writestr(CONFIG_NAME, config_json)
        archive.writestr(WEIGHTS_NAME, weights)
    saving._atomic_write(os.fspath(filepath), [buffer.getvalue()])


def save_keras_weights(model, filepath):
    """Writes the model's weights as a Keras 3 `.weights.h5` file at `filepath`, atomically."""
    _check_writable(model, "save_weights")
    saving._atomic_write(os.fspath(filepath), [_h5_bytes(model)])


# ----------------------------------------------------------------------------- reading: the archive


def _read_member(archive, info, limit, where):
    """The bytes of one zip member, refusing bombs before decompressing: declared size, ratio, then a bounded
    read that must end exactly at the declared size (zipfile checks the CRC)."""
    if info.file_size > limit:
        raise ModelFileError(f"archive member {info.filename!r} declares {info.file_size} bytes, above the limit of "
                             f"{limit}", where)
    if info.compress_type == zipfile.ZIP_STORED:
        if info.compress_size != info.file_size:
            raise ModelFileError(f"archive member {info.filename!r} is stored with {info.compress_size} bytes but "
                                 f"declares {info.file_size} (damaged archive)", where)
    elif info.compress_type == zipfile.ZIP_DEFLATED:
        if info.file_size > MAX_EXPANSION * max(info.compress_size, 1):
            raise ModelFileError(f"archive member {info.filename!r} declares {info.file_size} bytes from "
                                 f"{info.compress_size} compressed: a decompression bomb", where)
    else:
        raise ModelFileError(f"archive member {info.filename!r} uses compression method {info.compress_type}; "
                             "Keras files are stored or deflated", where)
    if info.flag_bits & 0x1:
        raise ModelFileError(f"archive member {info.filename!r} is encrypted", where)
    try:
        with archive.open(info, "r") as f:
            data = f.read(info.file_size + 1)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, RuntimeError,
            NotImplementedError) as e:
        raise ModelFileError(f"archive member {info.filename!r} cannot be read: {e}", where) from None
    if len(data) != info.file_size:
        raise ModelFileError(f"archive member {info.filename!r} holds {len(data)} bytes, not the {info.file_size} it "
                             "declares (damaged archive)", where)
    return data


class _Archive:
    """An open .keras archive whose member list has been checked: a closed list of names (no path), each once, the
    stored sizes adding up to no more than the file. `read(name, limit)` then checks the member's declared size
    against `limit` before decompressing it."""

    def __init__(self, path, where):
        self.where = where
        self.stream, size = saving.open_regular(path, where)
        try:
            head = self.stream.read(8)
            self.stream.seek(0)
            if not is_keras_archive(head):
                raise ModelFileError("not a zip archive, so not a .keras file", where)
            try:
                self.zip = zipfile.ZipFile(self.stream, "r")
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError) as e:
                raise ModelFileError(f"not a valid zip archive ({e})", where) from None
            self.members = self._check_members(self.zip.infolist(), size)
        except BaseException:
            self.stream.close()
            raise

    def _check_members(self, infos, size):
        where = self.where
        if len(infos) > MAX_ARCHIVE_MEMBERS:
            raise ModelFileError(f"archive has {len(infos)} members, above {MAX_ARCHIVE_MEMBERS}", where)
        found = {}
        for info in infos:
            name = info.filename
            if name.startswith(("/", "\\")) or ".." in re.split(r"[\\/]", name) or ":" in name or "\0" in name:
                raise ModelFileError(f"archive member name {name[:80]!r} points outside the archive (path "
                                     "traversal)", where)
            if name in found:
                raise ModelFileError(f"archive holds {name!r} twice", where)
            if name not in _MEMBERS:
                if name.startswith("assets/"):
                    raise ModelFileError(f"archive holds layer assets ({name[:80]!r}); fastnn's layers have none",
                                         where)
                raise ModelFileError(f"unexpected archive member {name[:80]!r}; a .keras file holds "
                                     f"{', '.join(_MEMBERS)}", where)
            found[name] = info
        total = sum(info.compress_size for info in infos)
        if total > size:
            raise ModelFileError(f"archive members claim {total} stored bytes, more than the file's {size}", where)
        missing = [name for name in _MEMBERS if name not in found]
        if missing:
            raise ModelFileError(f"archive has no {', '.join(missing)} (not a complete .keras file)", where)
        return found

    def read(self, name, limit):
        try:
            return _read_member(self.zip, self.members[name], limit, self.where)
        except OSError as e:
            raise ModelFileError(f"reading failed: {e.strerror or e}", self.where) from None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.zip.close()
        self.stream.close()


def _weights_limit(model, max_bytes):
    """The most bytes a Keras weights file for `model` can need: every variable in float64, plus HDF5's own
    headers (a few kilobytes per group and dataset). A member declaring more is refused before it is read."""
    variables = params = 0
    for layer in _all_layers(model):
        for array in layer.get_weights():
            variables += 1
            params += array.size
    return min(max_bytes, 8 * params + 16384 * (variables + 2 * len(_all_layers(model)) + 8))


def _all_layers(model):
    out = []
    for layer in model._chain:
        out += _all_layers(layer) if _is_model(layer) else [layer]
    return out


def _parse_json(data, what, where, limit):
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ModelFileError(f"{what} is not UTF-8 text", where) from None
    depth, containers, commas = saving._json_structure(text)
    if depth > saving.MAX_JSON_DEPTH:
        raise ModelFileError(f"{what} is nested {depth} levels deep, above the limit of {saving.MAX_JSON_DEPTH}",
                             where)
    if containers + commas > limit:
        raise ModelFileError(f"{what} has {containers + commas} objects, arrays and commas, above {limit}", where)
    value = saving._loads(text, what, where)
    if not isinstance(value, dict):
        raise ModelFileError(f"{what} is a JSON {type(value).__name__}, expected an object", where)
    return value


# ----------------------------------------------------------------------------- reading: HDF5


def _open_h5(data, where):
    h5py = _require_h5py()
    if not is_hdf5(data[:8]):
        raise ModelFileError("the weights are not an HDF5 file", where)
    try:
        return h5py.File(io.BytesIO(data), "r")
    except Exception as e:  # h5py raises OSError and others on damaged files
        raise ModelFileError(f"the weights are not a readable HDF5 file ({e})", where) from None


def _h5_child(group, name, kind, where):
    """group[name], refusing soft/external links and objects of the wrong kind."""
    h5py = _require_h5py()
    try:
        link = group.get(name, default=None, getlink=True)
    except Exception as e:
        raise ModelFileError(f"HDF5 entry {group.name}/{name} cannot be read ({e})", where) from None
    if link is None:
        return None
    if not isinstance(link, h5py.HardLink):
        raise ModelFileError(f"HDF5 entry {group.name}/{name} is a {type(link).__name__}; links are refused", where)
    try:
        obj = group[name]
    except Exception as e:
        raise ModelFileError(f"HDF5 entry {group.name}/{name} cannot be read ({e})", where) from None
    cls = h5py.Group if kind == "group" else h5py.Dataset
    if not isinstance(obj, cls):
        raise ModelFileError(f"HDF5 entry {obj.name} is not a {kind}", where)
    return obj


def _read_vars(h5, path, expected, where):
    """The datasets "0".."n-1" under path/vars, each checked against `expected` (shapes) before it is read."""
    group = h5
    for part in (path.split("/") if path else []) + ["vars"]:
        child = _h5_child(group, part, "group", where)
        if child is None:
            if not expected:
                return []
            raise ModelFileError(f"the weights have no group /{path}/vars for a layer with {len(expected)} "
                                 "variables", where)
        group = child
    try:
        names = list(group.keys())
    except Exception as e:
        raise ModelFileError(f"HDF5 group {group.name} cannot be listed ({e})", where) from None
    if sorted(names) != sorted(str(k) for k in range(len(expected))):
        raise ModelFileError(f"HDF5 group {group.name} holds {sorted(names)[:8]}, expected {len(expected)} "
                             f"variables named 0..{len(expected) - 1}", where)
    arrays = []
    for k, (shape, dtype, integer) in enumerate(expected):
        try:
            arrays.append(_read_dataset(group, str(k), shape, dtype, integer, where))
        except ModelFileError:
            raise
        except Exception as e:  # h5py's errors on a damaged file: OSError, KeyError, ValueError, ...
            raise ModelFileError(f"HDF5 dataset {group.name}/{k} cannot be read ({type(e).__name__}: {e})",
                                 where) from None
    return arrays


def _read_dataset(group, name, shape, dtype, integer, where):
    """One variable: a hard-linked dataset in the file, floating point, of the expected shape, finite."""
    ds = _h5_child(group, name, "dataset", where)
    if ds is None:
        raise ModelFileError(f"HDF5 dataset {group.name}/{name} is missing", where)
    if ds.external or ds.is_virtual:
        raise ModelFileError(f"HDF5 dataset {ds.name} keeps its data outside the file; refused", where)
    if ds.dtype not in _FLOAT_DTYPES and not (integer and ds.dtype in _INT_DTYPES):
        raise ModelFileError(f"HDF5 dataset {ds.name} has dtype {ds.dtype}, expected "
                             f"{'a number' if integer else 'floating point'}", where)
    if tuple(ds.shape) != tuple(shape):
        raise ModelFileError(f"HDF5 dataset {ds.name} has shape {tuple(ds.shape)}, the model's config implies "
                             f"{tuple(shape)}", where)
    array = np.asarray(ds[()], dtype=dtype)
    if not np.isfinite(array).all():
        raise ModelFileError(f"HDF5 dataset {ds.name} holds NaN or infinity", where)
    return array


def _read_model_vars(h5, path, model, where):
    """Reads every layer's variables (Keras's layout) and sets them; nothing is set until all are read."""
    from .models import Sequential
    pending = []
    _collect_vars(h5, path, model, where, pending, Sequential)
    for layer, row, arrays in pending:
        row.set_variables(layer, arrays)


def _collect_vars(h5, path, model, where, pending, Sequential):
    members = list(model._chain) if isinstance(model, Sequential) else [model._input_layer] + list(model._chain)
    used = {}
    prefix = f"{path}/layers" if path else "layers"
    for layer in members:
        base = "functional" if _is_model(layer) and not isinstance(layer, Sequential) else \
            to_snake_case(type(layer).__name__)
        name = _unique(base, used)
        if _is_model(layer):
            _collect_vars(h5, f"{prefix}/{name}", layer, where, pending, Sequential)
        elif isinstance(layer, layers_module.InputLayer):
            continue
        else:
            row = _row_for(layer)
            current = row.get_variables(layer)
            dtype = np.dtype(layer.dtype)
            expected = [(a.shape, dtype, k in row.integer_vars) for k, a in enumerate(current)]
            arrays = _read_vars(h5, f"{prefix}/{name}", expected, where)
            pending.append((layer, row, arrays))


# ----------------------------------------------------------------------------- reading: config -> model


def _layer_from_entry(entry, where, dtype):
    cls, cfg = _object(entry, where, _LAYER_MODULES | _MODEL_MODULES, set(LAYERS) | {"Sequential", "Functional",
                                                                                   "InputLayer"})
    if cls in ("Sequential", "Functional"):
        return _model_from_entry(entry, where, dtype)
    s = _Settings(cfg, f"{where} ({cls})")
    name = s.get("name")
    if not isinstance(name, str) or not 0 < len(name) <= 200:
        s.fail(f"name must be a short string, got {_short(name)}")
    layer_dtype = _dtype_policy(s.get("dtype"), s.where) or dtype
    kwargs = {"name": name, "trainable": s.bool("trainable", True)}
    if layer_dtype == "mixed_bfloat16" and dtype == "float32" and cls != "InputLayer":
        kwargs["dtype"] = layer_dtype  # float32 weights, bfloat16 products
    elif layer_dtype != dtype and not (cls == "InputLayer" and layer_dtype == "mixed_bfloat16"):
        s.fail(f"dtype {layer_dtype} differs from the model's {dtype}; fastnn models have one dtype")
    if cls == "InputLayer":
        shape = s.get("batch_shape", s.get("batch_input_shape"))
        if shape is None and "shape" in cfg:
            shape = [None] + list(s.get("shape") or [])
        if not isinstance(shape, list) or not 2 <= len(shape) <= 5 or shape[0] is not None or any(
                isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= MAX_UNITS for v in shape[1:]) \
                or math.prod(shape[1:]) > MAX_UNITS:
            s.fail(f"batch_shape must be [null, n, ...] with positive sizes, got {_short(shape)}")
        s.default("sparse", False)
        s.default("ragged", False)
        s.default("optional", False)
        kwargs.pop("trainable")
        layer = layers_module.InputLayer(shape=tuple(shape[1:]), **kwargs)
    else:
        try:
            layer = LAYERS[cls].from_keras(s, kwargs)
        except ModelFileError:
            raise
        except (ValueError, TypeError) as e:
            raise ModelFileError(f"{s.where}: invalid settings: {e}") from None
    s.finish()
    return layer


def _model_from_entry(entry, where, dtype=None):
    """A fastnn model (built when its input shape is known) from a serialized Keras Sequential or Functional."""
    from .models import Model, Sequential
    cls, cfg = _object(entry, where, _MODEL_MODULES, {"Sequential", "Functional", "Model"})
    s = _Settings(cfg, f"{where} ({cls})")
    name = s.get("name")
    if not isinstance(name, str) or not 0 < len(name) <= 200:
        s.fail(f"model name must be a short string, got {_short(name)}")
    layer_entries = s.get("layers")
    if not isinstance(layer_entries, list) or not 1 <= len(layer_entries) <= MAX_LAYERS:
        s.fail(f"expected a list of 1 to {MAX_LAYERS} layers")
    dtype = _dtype_policy(s.get("dtype"), s.where) or dtype or _first_layer_dtype(layer_entries, s.where)
    if dtype == "mixed_bfloat16":  # the model's variables are float32; each layer says its own policy
        dtype = "float32"
    trainable = s.bool("trainable", True)
    if cls == "Sequential":
        built = s.get("build_input_shape")
        parsed = [_layer_from_entry(e, f"{s.where}, layer {i}", dtype) for i, e in enumerate(layer_entries)]
        if any(isinstance(layer, layers_module.InputLayer) for layer in parsed[1:]):
            s.fail("an InputLayer can only come first")
        if not isinstance(parsed[0], layers_module.InputLayer):
            if not isinstance(built, list) or len(built) < 2:
                s.fail("the model has no InputLayer and no build_input_shape: it was never built, so it has no "
                       "weights")
            parsed.insert(0, _layer_from_entry(_input_layer_entry("input_layer", built[1:], dtype), s.where, dtype))
        s.finish()
        try:
            model = Sequential(parsed, name=name, dtype=dtype, trainable=trainable)
        except (ValueError, TypeError) as e:
            raise ModelFileError(f"{s.where}: the layers do not make a fastnn model: {e}") from None
        return model
    # Functional: a chain from one InputLayer to one output, each layer fed by the one before it.
    names, chain = [], []
    for i, e in enumerate(layer_entries):
        lw = f"{s.where}, layer {i}"
        layer = _layer_from_entry(e, lw, dtype)
        nodes = e.get("inbound_nodes") if isinstance(e, dict) else None
        if i == 0:
            if not isinstance(layer, layers_module.InputLayer) or nodes not in ([], None):
                raise ModelFileError(f"{lw}: a functional model's layers start with its one InputLayer")
        else:
            if isinstance(layer, layers_module.InputLayer):
                raise ModelFileError(f"{lw}: fastnn models have one input")
            _check_inbound(nodes, names[-1], lw)
        names.append(layer.name if not _is_model(layer) else layer.name)
        chain.append(layer)
    for key, want in (("input_layers", names[0]), ("output_layers", names[-1])):
        ref = s.get(key)
        if isinstance(ref, list) and len(ref) == 1 and isinstance(ref[0], list):
            ref = ref[0]
        if ref != [want, 0, 0]:
            s.fail(f"{key} is {_short(ref)}; fastnn models are a chain from [{want!r}, 0, 0]")
    s.finish()
    try:
        t = chain[0].output
        for layer in chain[1:]:
            t = layer(t)
        return Model(inputs=chain[0].output, outputs=t, name=name, dtype=dtype)
    except (ValueError, TypeError) as e:
        raise ModelFileError(f"{s.where}: the layers do not make a fastnn model: {e}") from None


def _first_layer_dtype(entries, where):
    """A Functional config has no dtype of its own: its first layer's (the InputLayer's) is the model's."""
    first = entries[0].get("config") if isinstance(entries[0], dict) else None
    value = first.get("dtype") if isinstance(first, dict) else None
    value = _dtype_policy(value, f"{where}, layer 0") or "float32"
    return "float32" if value == "mixed_bfloat16" else value


def _check_inbound(nodes, previous, where):
    if not isinstance(nodes, list) or len(nodes) != 1 or not isinstance(nodes[0], dict):
        raise ModelFileError(f"{where}: fastnn models are chains: each layer is called once, got inbound nodes "
                             f"{_short(nodes)}")
    node = nodes[0]
    args, kwargs = node.get("args"), node.get("kwargs", {})
    if set(node) - {"args", "kwargs"} or not isinstance(args, list) or len(args) != 1 or not isinstance(kwargs, dict):
        raise ModelFileError(f"{where}: expected one input tensor, got {_short(node)}")
    for key, value in kwargs.items():
        if key not in ("mask", "training") or value not in (None, False, True):
            raise ModelFileError(f"{where}: call argument {key}={_short(value)} is not supported")
    tensor = args[0]
    history = tensor.get("config", {}).get("keras_history") if isinstance(tensor, dict) and \
        isinstance(tensor.get("config"), dict) else None
    if not isinstance(tensor, dict) or tensor.get("class_name") != "__keras_tensor__" or history != [previous, 0, 0]:
        raise ModelFileError(f"{where}: fastnn models are chains: this layer must take the output of {previous!r}, "
                             f"got {_short(tensor)}")


def _compile_from_keras(model, cfg, where):
    """Compiles `model` as config.json's compile_config says, with fastnn's optimizers, losses and metrics."""
    if not cfg:
        return
    s = _Settings(cfg, f"{where}, compile_config")
    opt_entry = s.get("optimizer")
    if isinstance(opt_entry, str):
        try:
            optimizer = optimizers.get(opt_entry)
        except ValueError as e:
            s.fail(str(e))
    else:
        by_keras = {v: k for k, v in _OPTIMIZER_CLASSES.items()}
        cls, opt_cfg = _object(opt_entry, f"{s.where}, optimizer", _OPTIMIZER_MODULE, set(by_keras))
        o = _Settings(opt_cfg, f"{s.where}, optimizer {cls}")
        kwargs = {"learning_rate": _learning_rate_from_keras(o)}
        engine = by_keras[cls]
        for key, default in optimizers._BY_NAME[engine]._defaults.items():
            if key in opt_cfg:
                kwargs[key] = o.bool(key) if isinstance(default, bool) else o.number(key, None, 0.0)
        for key in ("weight_decay", "clipnorm", "clipvalue", "global_clipnorm"):
            if o.get(key) is not None:
                kwargs[key] = o.number(key, None, 0.0)
        o.get("name")
        o.default("use_ema", False)
        o.default("loss_scale_factor", None)
        o.default("gradient_accumulation_steps", None)
        o.finish(ignore=("ema_momentum", "ema_overwrite_frequency"))
        try:
            optimizer = optimizers._BY_NAME[engine](**kwargs)
        except (ValueError, TypeError) as e:
            o.fail(f"invalid settings: {e}")
    loss = _loss_from_keras(s.get("loss"), f"{s.where}, loss")
    lists = {}
    for key in ("metrics", "weighted_metrics"):
        entries = s.get(key) or []
        if not isinstance(entries, list) or len(entries) > 32:
            s.fail(f"{key} must be a list of at most 32 entries, got {_short(entries)}")
        lists[key] = [_metric_from_keras(m, f"{s.where}, {key}[{i}]") for i, m in enumerate(entries)]
    s.default("loss_weights", None)
    s.finish(ignore=("run_eagerly", "steps_per_execution", "jit_compile", "auto_scale_loss"))
    kwargs = {"weighted_metrics": lists["weighted_metrics"]} if lists["weighted_metrics"] else {}
    try:
        model.compile(optimizer=optimizer, loss=loss, metrics=lists["metrics"], **kwargs)
    except (ValueError, TypeError) as e:
        raise _NotSupported(f"{where}: invalid compile settings: {e}") from None


# fastnn's public loss and metric classes (they have Keras's names): the closed lists of compile settings.
_LOSS_CLASSES = {name: c for name, c in vars(losses).items() if not name.startswith("_") and isinstance(c, type)
                 and issubclass(c, losses.Loss) and c is not losses.Loss and name == c.__name__}
_METRIC_CLASSES = {name: c for name, c in vars(metrics_module).items() if not name.startswith("_") and
                   isinstance(c, type) and issubclass(c, metrics_module.Metric) and c is not metrics_module.Metric
                   and name == c.__name__}


_SCHEDULE_MODULE = re.compile(r"keras\.optimizers\.schedules|keras\.src\.optimizers\.schedules(\.\w+)?")


def _learning_rate_from_keras(o):
    """A number, or a Keras learning-rate schedule that fastnn.optimizers.schedules has (checked, then built from
    its plain settings)."""
    value = o.get("learning_rate", 0.001)
    if not isinstance(value, dict):
        return o.number("learning_rate", 0.001, 0.0)
    schedules = getattr(optimizers, "schedules", None)
    classes = set(getattr(schedules, "_CLASSES", ()))
    cls, cfg = _object(value, f"{o.where}, learning_rate", _SCHEDULE_MODULE, classes)
    settings = _plain_settings(_Settings(cfg, f"{o.where}, learning_rate ({cls})"))
    try:
        return schedules.deserialize({"class_name": cls, "config": settings})
    except (ValueError, TypeError) as e:
        o.fail(f"learning_rate: {e}")


_LOSS_MODULES = {"keras.losses", "keras.src.losses.losses", "keras.src.losses"}
_METRIC_MODULES = {"keras.metrics", "keras.src.metrics", "keras.src.losses.losses", "keras.losses"}


def _function_name(entry, where, modules):
    """The name of a built-in loss or metric function Keras serialized as {"class_name": "function", "config":
    name}; None for anything else."""
    if not (isinstance(entry, dict) and entry.get("class_name") == "function"):
        return None
    module, name = entry.get("module"), entry.get("config")
    registered = entry.get("registered_name")
    if not isinstance(module, str) or module not in modules or registered not in (None, "function") or \
            not isinstance(name, str) or not re.fullmatch(r"[a-z_]{1,64}", name):
        raise ModelFileError(f"{where}: function {_short(name)} from {_short(module)} is not a Keras built-in")
    return name


def _plain_settings(s):
    """A loss's or metric's settings as keyword arguments: JSON scalars and lists of them; dtype (float32 or
    float64, the metric's accumulator in Keras) is left to fastnn."""
    s.default("dtype", None, "float32", "float64")
    kwargs = {}
    for key, value in s.cfg.items():
        if key == "dtype":
            continue
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,63}", key) or isinstance(value, dict) or (
                isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value)):
            s.fail(f"setting {_short(key)}={_short(value)} is not a plain value")
        kwargs[key] = s.get(key)
    return kwargs


def _loss_from_keras(entry, where):
    if isinstance(entry, str):
        try:
            return losses.get(entry)
        except ValueError as e:
            raise _NotSupported(f"{where}: {e}") from None
    name = _function_name(entry, where, _LOSS_MODULES)
    if name is not None:
        return _loss_from_keras(name, where)
    cls, cfg = _object(entry, where, _LOSS_MODULES, set(_LOSS_CLASSES))
    s = _Settings(cfg, f"{where} ({cls})")
    # The settings go to fastnn's class of the same name, which takes Keras's arguments and refuses what it cannot
    # honour (TypeError, ValueError); they are JSON numbers, strings and lists, never objects.
    kwargs = _plain_settings(s)
    try:
        return _LOSS_CLASSES[cls](**kwargs)
    except (ValueError, TypeError) as e:
        raise _NotSupported(f"{where}: invalid {cls} settings: {e}") from None


def _metric_from_keras(entry, where):
    if isinstance(entry, str):
        return entry
    name = _function_name(entry, where, _METRIC_MODULES)
    if name is not None:
        return name
    cls, cfg = _object(entry, where, _METRIC_MODULES, set(_METRIC_CLASSES))
    s = _Settings(cfg, f"{where} ({cls})")
    kwargs = _plain_settings(s)
    try:
        return _METRIC_CLASSES[cls](**kwargs)
    except (ValueError, TypeError) as e:
        raise _NotSupported(f"{where}: invalid {cls} settings: {e}") from None


def _check_metadata(metadata, where):
    version = metadata.get("keras_version")
    if not isinstance(version, str) or not re.fullmatch(r"\d+\.\d+(\.\d+)?\S{0,40}", version):
        raise ModelFileError(f"metadata.json has keras_version {_short(version)}, expected a version string", where)
    if int(version.split(".")[0]) != 3:
        raise ModelFileError(f"the file was written by Keras {version}; fastnn reads Keras 3 files", where)


def load_keras_model(filepath, compile=True, max_bytes=saving.DEFAULT_MAX_BYTES):
    """A fastnn model from a Keras 3 `.keras` archive (see the module docstring for what is checked)."""
    _require_h5py()
    where = saving._fspath(filepath, "filepath")
    with _Archive(where, where) as archive:
        _check_metadata(_parse_json(archive.read(METADATA_NAME, MAX_METADATA_BYTES), "metadata.json", where, 10_000),
                        where)
        config = _parse_json(archive.read(CONFIG_NAME, saving.MAX_CONFIG_BYTES), "config.json", where,
                             saving.MAX_CONFIG_ITEMS)
        try:
            model = _model_from_entry(config, "config.json")
        except ModelFileError as e:
            raise ModelFileError(e.reason, where) from None
        if not model.built:
            raise ModelFileError("config.json: the model has no input shape (it was never built)", where)
        weights = archive.read(WEIGHTS_NAME, _weights_limit(model, max_bytes))
    with _open_h5(weights, where) as h5:
        try:
            _read_model_vars(h5, "", model, where)
        except ModelFileError:
            raise
        except (ValueError, TypeError) as e:
            raise ModelFileError(f"the weights do not fit the model: {e}", where) from None
    if compile:
        try:
            _compile_from_keras(model, config.get("compile_config"), "config.json")
        except _NotSupported as e:  # built-ins fastnn lacks (an AUC metric, say): the model itself is fine
            warnings.warn(f"{where}: the model is loaded uncompiled, its compile settings name what fastnn does not "
                          f"have ({e.reason}); call compile() with fastnn's settings", stacklevel=3)
        except ModelFileError as e:
            raise ModelFileError(e.reason, where) from None
    return model


def load_keras_weights(model, filepath, max_bytes=saving.DEFAULT_MAX_BYTES):
    """Reads weights into a built `model` from a Keras `.weights.h5` file or a `.keras` archive."""
    _require_h5py()
    where = saving._fspath(filepath, "filepath")
    limit = _weights_limit(model, max_bytes)
    stream, size = saving.open_regular(where, where)
    with stream:
        head = stream.read(8)
        if is_hdf5(head):
            if size > limit:
                raise ModelFileError(f"file has {size} bytes, more than weights for model {model.name!r} can need "
                                     f"({limit})", where)
            stream.seek(0)
            weights = stream.read(size + 1)
    if is_keras_archive(head):
        with _Archive(where, where) as archive:
            weights = archive.read(WEIGHTS_NAME, limit)
    elif not is_hdf5(head):
        raise ModelFileError("neither a Keras weights file (HDF5) nor a .keras archive", where)
    with _open_h5(weights, where) as h5:
        try:
            _read_model_vars(h5, "", model, where)
        except ModelFileError:
            raise
        except (ValueError, TypeError) as e:
            raise ModelFileError(f"the weights do not fit the model: {e}", where) from None


# ----------------------------------------------------------------------------- which format a path means

FASTNN_SUFFIXES = (".fnn", ".fastnn", ".safetensors")


def format_for_save(filepath, weights_only):
    """"keras" or "fastnn" for a path given to save (weights_only=False) or save_weights; refuses other names with
    the choices, as Keras 3 refuses names it does not know."""
    name = os.fsdecode(os.fspath(filepath)).lower()
    try:
        mode = os.stat(filepath).st_mode
    except (OSError, ValueError):
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        return "fastnn"  # a directory, device or FIFO is there: the writer refuses it, whatever the name says
    if weights_only:
        if name.endswith(".weights.h5"):
            return "keras"
        if name.endswith(FASTNN_SUFFIXES):
            return "fastnn"
        raise ValueError(f"filepath: save_weights writes Keras's weights format to a name ending in '.weights.h5' "
                         "or fastnn's own format to a name ending in '.fnn' (or '.fastnn', '.safetensors'); got "
                         f"{filepath!r}")
    if name.endswith(".keras"):
        return "keras"
    if name.endswith(FASTNN_SUFFIXES):
        return "fastnn"
    if name.endswith(".weights.h5"):
        raise ValueError(f"filepath: {filepath!r} names a weights file; use model.save_weights() for it, or a name "
                         "ending in '.keras' (Keras 3 archive) or '.fnn' (fastnn's format) for model.save()")
    if name.endswith((".h5", ".hdf5")):
        raise ValueError(f"filepath: {filepath!r} names Keras 2's legacy HDF5 model format, which fastnn does not "
                         "write; use a name ending in '.keras' (Keras 3 archive) or '.fnn' (fastnn's format)")
    raise ValueError(f"filepath: model.save() writes a Keras 3 archive to a name ending in '.keras' or fastnn's "
                     f"own format to a name ending in '.fnn' (or '.fastnn', '.safetensors'); got {filepath!r}")


def sniff(filepath):
    """"keras" (a zip archive), "hdf5" or "fastnn" (anything else, left to fastnn's own reader) from the first
    bytes of the file."""
    try:
        stream, _ = saving.open_regular(os.fspath(filepath), "")  # O_NONBLOCK: a FIFO does not hang
        with stream:
            head = stream.read(8)
    except (ModelFileError, OSError, TypeError, ValueError):
        return "fastnn"
    if is_keras_archive(head):
        return "keras"
    if is_hdf5(head):
        return "hdf5"
    return "fastnn"
