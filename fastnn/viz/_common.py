"""Shared helpers of fastnn.viz: the result type, model reading, NumPy activations, labels, colours.

Models are duck-typed: anything with ``predict``; for weight-based figures, ``layers`` whose
class names are ``Dense`` / ``Activation`` / ``Dropout`` / ``Flatten`` / ``InputLayer`` (``get_weights()``,
``get_config()["activation"]``), or a Perceptron with ``w_`` (bias first). matplotlib is imported
only inside :func:`pyplot`, so importing fastnn.viz stays cheap and headless-safe.
"""

import inspect
import math

import numpy as np


class Drawing(dict):
    """What a plotting function drew (axes, figure, artists, computed arrays).

    A dict whose keys are also attributes: ``d["ax"]`` and ``d.ax`` are the same object. Like
    scikit-learn's Display objects, every Drawing also has ``.figure`` (the matplotlib Figure, so
    ``plot_x(...).figure.savefig("x.png")`` works) and ``.axes`` (the Axes drawn on: a list, or an array
    for grids), and
    ``.ax`` when it drew on one Axes; ``figure_``, ``ax_`` and ``axes_`` are scikit-learn's
    spellings of the same. These are derived from the stored keys and are not dict keys.
    """

    def __getattr__(self, key):
        try:
            return self[key]
        except KeyError:
            pass
        if key in _DERIVED:  # a derived attribute whose property raised: raise its own message again
            return _DERIVED[key].fget(self)
        raise AttributeError(key)

    def _all_axes(self):
        if "axes" in self:
            found = self["axes"]
        elif "ax" in self:
            found = [self["ax"]]
        else:
            found = [a for k in ("filter_axes", "bar_axes") for a in self.get(k) or []]
        return list(np.ravel(np.asarray(found, dtype=object))) if found is not None else []

    @property
    def figure(self):
        """The matplotlib Figure drawn on."""
        if "figure" in self:
            return self["figure"]
        if self.get("fig") is not None:
            return self["fig"]
        axes = self._all_axes()
        if not axes:
            raise AttributeError("figure: this drawing holds no Axes")
        return axes[0].figure

    @property
    def axes(self):
        """The matplotlib Axes drawn on: the stored ``axes`` (a list or, for grids, an array of Axes) or a
        one-item list for single-panel drawings."""
        if "axes" in self:
            return self["axes"]
        return self._all_axes()

    @property
    def ax(self):
        """The Axes, for drawings made on one Axes (use ``.axes`` for grids of panels)."""
        if "ax" in self:
            return self["ax"]
        axes = self._all_axes()
        if len(axes) != 1:
            raise AttributeError(f"ax: this drawing has {len(axes)} Axes; use .axes (a list) or .figure")
        return axes[0]

    figure_ = figure
    axes_ = axes
    ax_ = ax


_DERIVED = {name: getattr(Drawing, name) for name in ("figure", "axes", "ax", "figure_", "axes_", "ax_")}


def pyplot():
    import matplotlib.pyplot as plt

    return plt


def new_axes(ax, figsize=None, projection=None):
    """``ax`` itself, or a new figure's single Axes."""
    if ax is not None:
        if projection == "3d" and getattr(ax, "name", None) != "3d":
            kind = getattr(ax, "name", type(ax).__name__)
            raise ValueError(f"ax: expected a 3-D Axes (projection='3d'), got a {kind!r} Axes")
        return ax
    fig = pyplot().figure(figsize=figsize)
    return fig.add_subplot(projection=projection)


def new_figure(fig, figsize=None):
    """``fig`` itself, or a new figure of ``figsize`` with constrained layout."""
    if fig is not None:
        return fig
    return pyplot().figure(figsize=figsize, layout="constrained")


def class_colors(n):
    """``n`` distinct RGBA colours, the tab10 (then tab20) cycle."""
    from matplotlib import colormaps

    cmap = colormaps["tab10"] if n <= 10 else colormaps["tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


# ---------------------------------------------------------------------------------------------
# Arrays and labels


def as_2d(x, name, columns=None):
    """``x`` as a float64 (N, d) array; a 1-D ``x`` is a column of samples."""
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D array (samples, features), got shape {a.shape}")
    if columns is not None and a.shape[1] != columns:
        raise ValueError(f"{name}: expected {columns} feature column(s), got shape {a.shape}")
    if len(a) == 0:
        raise ValueError(f"{name}: expected at least one sample, got shape {a.shape}")
    return a


def to_labels(y, name="y", threshold=0.5):
    """Class labels from labels, one-hot rows, probabilities or scores.

    2-D with several columns: argmax. One column or 1-D: integer-valued entries are labels as
    they are (e.g. -1/1 of a Perceptron, 0/1 of a step output); other values are thresholded.
    """
    a = np.asarray(y)
    if a.ndim == 2 and a.shape[1] > 1:
        return np.argmax(a, axis=1)
    if a.ndim == 2:
        a = a[:, 0]
    if a.ndim != 1:
        raise ValueError(f"{name}: expected labels (N,), scores (N, 1) or one-hot/probabilities (N, K), "
                         f"got shape {a.shape}")
    if a.dtype.kind in "iub":
        return a.astype(np.int64)
    if a.dtype.kind in "f":
        if np.all(np.isfinite(a)) and np.all(a == np.round(a)):
            return a.astype(np.int64)
        return (a >= threshold).astype(np.int64)
    return a  # strings or objects: labels as given


def call_predict(model, x):
    """``model.predict(x, verbose=0)`` when predict accepts ``verbose``, else ``model.predict(x)``."""
    fn = getattr(model, "predict", None)
    if not callable(fn):
        raise TypeError(f"model: expected an object with a predict(x) method, got {type(model).__name__}")
    try:
        params = inspect.signature(fn).parameters.values()
        quiet = any(p.name == "verbose" or p.kind is p.VAR_KEYWORD for p in params)
    except (TypeError, ValueError):
        quiet = False
    out = fn(x, verbose=0) if quiet else fn(x)
    return np.asarray(out)


def image_size(image_shape):
    shape = tuple(int(s) for s in image_shape)
    if len(shape) not in (2, 3) or (len(shape) == 3 and shape[2] not in (1, 3, 4)) or min(shape) < 1:
        raise ValueError("image_shape: expected (height, width) or (height, width, channels) with 1, 3 or 4 "
                         f"channels, got {image_shape!r}")
    return shape, int(np.prod(shape))


# ---------------------------------------------------------------------------------------------
# Activations in NumPy (Keras 3 formulas; "step" is fastnn's [z >= 0])

_erf = np.vectorize(math.erf, otypes=[np.float64])


def _sigmoid(z):
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _selu(z):
    alpha, scale = 1.6732632423543772, 1.0507009873554805
    return scale * np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0.0)))


ACTIVATIONS = {
    "linear": lambda z: z,
    "relu": lambda z: np.maximum(z, 0.0),
    "leaky_relu": lambda z: np.where(z >= 0, z, 0.2 * z),
    "elu": lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0.0))),
    "selu": _selu,
    "gelu": lambda z: z * 0.5 * (1.0 + _erf(z / math.sqrt(2.0))),
    "swish": lambda z: z * _sigmoid(z),
    "silu": lambda z: z * _sigmoid(z),
    "sigmoid": _sigmoid,
    "hard_sigmoid": lambda z: np.clip(z / 6.0 + 0.5, 0.0, 1.0),
    "tanh": np.tanh,
    "softplus": lambda z: np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z))),
    "softsign": lambda z: z / (1.0 + np.abs(z)),
    "softmax": _softmax,
    "step": lambda z: np.where(z >= 0, 1.0, 0.0),
}


def activation_fn(name):
    if name not in ACTIVATIONS:
        raise ValueError(f"activation: expected one of {sorted(ACTIVATIONS)}, got {name!r}")
    return ACTIVATIONS[name]


def net_threshold(activation, threshold=0.5):
    """The pre-activation value z where a single output crosses ``threshold``, or None."""
    if activation == "sigmoid":
        return math.log(threshold / (1.0 - threshold)) if 0.0 < threshold < 1.0 else None
    if activation == "step":
        return 0.0
    if activation == "linear":
        return float(threshold)
    if activation == "tanh":
        return math.atanh(threshold) if -1.0 < threshold < 1.0 else None
    if activation == "hard_sigmoid":
        return 6.0 * (threshold - 0.5) if 0.0 < threshold < 1.0 else None
    return None


# ---------------------------------------------------------------------------------------------
# Reading a model's dense stack


class Stage:
    """One affine map and what follows it: ``act(x @ kernel + bias)``.

    ``index`` is the Dense layer's position in ``model.layers`` (None for a Perceptron);
    ``activations`` are the non-linear activations applied in order (a Dense's own, then any
    Activation layers after it).
    """

    def __init__(self, kernel, bias, activations, index, name, has_bias=True):
        self.kernel = kernel
        self.bias = bias
        self.has_bias = has_bias  # False for Dense(use_bias=False): bias is then zeros
        self.activations = activations
        self.index = index
        self.name = name

    @property
    def activation(self):
        return self.activations[-1] if self.activations else "linear"

    def forward(self, x):
        a = x @ self.kernel + self.bias
        for name in self.activations:
            a = activation_fn(name)(a)
        return a


def layer_activation(layer):
    """The activation name of a Dense or Activation layer ("linear" for None)."""
    act = None
    get_config = getattr(layer, "get_config", None)
    if callable(get_config):
        act = get_config().get("activation")
    if act is None:
        act = getattr(layer, "activation", None)
    if isinstance(act, dict):
        act = act.get("config", {}).get("name", act.get("class_name"))
    if callable(act):
        act = getattr(act, "__name__", str(act))
    return "linear" if act is None else str(act)


def layer_name(layer, index):
    return getattr(layer, "name", None) or f"{type(layer).__name__.lower()}_{index}"


def is_perceptron(model):
    return hasattr(model, "w_") and not hasattr(model, "layers")


def dense_stages(model, layers=None, start=0):
    """The model's Dense layers as :class:`Stage` objects, in order.

    ``layers`` defaults to ``model.layers``; ``start`` is the index of ``layers[0]`` in
    ``model.layers`` (so stage indices point into ``model.layers``).
    """
    if layers is None:
        if is_perceptron(model):
            w = np.asarray(model.w_, dtype=np.float64).ravel()
            if w.size < 2:
                raise ValueError(f"model.w_: expected bias then at least one weight, got {w.size} value(s); "
                                 "fit the Perceptron first")
            return [Stage(w[1:, None], w[:1], ["step"], None, "perceptron")]
        layers = getattr(model, "layers", None)
        if layers is None:
            raise TypeError("model: expected a fastnn model (with layers) or a Perceptron (with w_), "
                            f"got {type(model).__name__}")
    stages = []
    for offset, layer in enumerate(layers):
        i = start + offset
        kind = type(layer).__name__
        if kind in ("InputLayer", "Dropout", "Flatten"):
            continue
        if kind == "Dense":
            weights = layer.get_weights()
            if not weights:
                raise ValueError(f"model.layers[{i}] ({layer_name(layer, i)}): expected a built Dense layer with "
                                 "weights, got one with none; build the model (give an input shape, call or fit it) "
                                 "first")
            kernel = np.asarray(weights[0], dtype=np.float64)
            bias = np.asarray(weights[1], dtype=np.float64) if len(weights) > 1 else np.zeros(kernel.shape[1])
            act = layer_activation(layer)
            stages.append(Stage(kernel, bias, [] if act == "linear" else [act], i, layer_name(layer, i),
                                has_bias=len(weights) > 1))
        elif kind == "Activation":
            if not stages:
                raise ValueError(f"model.layers[{i}]: expected a Dense layer before Activation, got Activation first")
            act = layer_activation(layer)
            if act != "linear":
                stages[-1].activations.append(act)
        else:
            raise ValueError(f"model.layers[{i}]: expected Dense, Activation, Dropout, Flatten or InputLayer, "
                             f"got {kind}")
    if not stages:
        raise ValueError("model: expected at least one Dense layer, got none")
    return stages


def single_layer(model, what):
    """The only stage of a one-Dense-layer model or Perceptron; ValueError otherwise."""
    stages = dense_stages(model)
    if len(stages) != 1:
        raise ValueError(f"model: {what} needs a single-layer model (one Dense layer) or a Perceptron, "
                         f"got {len(stages)} Dense layers")
    return stages[0]


def model_layers(model):
    """``model.layers`` and the offset of activations(X) (1 when layers start with an InputLayer)."""
    layers = list(getattr(model, "layers", None) or [])
    if not layers:
        raise TypeError(f"model: expected a fastnn model with layers, got {type(model).__name__}")
    offset = 1 if type(layers[0]).__name__ == "InputLayer" else 0
    return layers, offset


def resolve_layer(model, layer, argname="layer"):
    """Index into ``model.layers`` of ``layer`` given as an index, a name or the layer object."""
    layers, _ = model_layers(model)
    if isinstance(layer, (int, np.integer)) and not isinstance(layer, bool):
        i = int(layer)
        if not -len(layers) <= i < len(layers):
            raise ValueError(f"{argname}: expected an index in [{-len(layers)}, {len(layers)}), got {i}")
        return i % len(layers)
    if isinstance(layer, str):
        for i, lay in enumerate(layers):
            if getattr(lay, "name", None) == layer:
                return i
        names = [getattr(lay, "name", None) for lay in layers]
        raise ValueError(f"{argname}: expected one of the layer names {names}, got {layer!r}")
    for i, lay in enumerate(layers):
        if lay is layer:
            return i
    raise ValueError(f"{argname}: expected a layer index, name or a layer of this model, got {type(layer).__name__}")


def linear_pairs(kernel, bias, activation, threshold=0.5):
    """Linear decision boundaries ``w . x = c`` of an affine output layer.

    Returns a list of ``(w, c, i, j)``: one output -> the threshold crossing (i=1, j=0: w points
    to class 1); several outputs -> for each pair i < j, ``(w_i - w_j) . x = b_j - b_i``
    (w points to class i).
    """
    n_out = kernel.shape[1]
    if n_out == 1:
        c = net_threshold(activation, threshold)
        if c is None:
            return []
        return [(kernel[:, 0], c - bias[0], 1, 0)]
    pairs = []
    for i in range(n_out):
        for j in range(i + 1, n_out):
            pairs.append((kernel[:, i] - kernel[:, j], bias[j] - bias[i], i, j))
    return pairs
