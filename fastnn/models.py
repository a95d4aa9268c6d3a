"""Models: the structure of Sequential and the functional Model (Keras 3 API), their weights, and model files.

The training loop (compile, fit, evaluate, predict) is in fastnn/trainer.py, a mixin of Model; the summary table is
in fastnn/summary.py.

A model is a chain of layers (fastnn builds dense stacks: one input, one output). Building it creates an engine
(fastnn._core network) holding every weight in one flat buffer; `fit` runs whole epochs inside the engine, one
call per epoch, or per chunk of batches when a progress bar or a batch-level callback needs to hear from it.

Threads: `predict` and `evaluate` may run from several Python threads at once, also while another thread trains
the model (the engine releases the GIL). The rule, enforced by the engine: a training step holds the network's
exclusive lock and predict/evaluate hold a shared lock, so a reader sees the weights as they are between two complete
optimizer steps, never half-updated. Two training calls (fit, train_on_batch) on one model at once are refused with a
RuntimeError; train copies in parallel instead.

Weight sharing (as in Keras, a layer has one set of weights whatever models use it): a functional Model made from
layers of an already-built model, in order from its input (`Model(inputs=model.input,
outputs=model.layers[1].output)`), is a view of that model's engine. Any other model using built layers (a model
nested in another, `Sequential([model, Softmax()])` or `outputs = base(inputs)`, or layers reused in a new model)
builds its own engine, where the nested layers' ops sit in place: each layer's weights live in one engine at a time
(its `_home`), and a model whose layers were moved to another engine since it last ran copies them back before it
predicts, trains or reads weights (`_sync`). So training the outer model trains the nested model's weights.

Freezing: `trainable = False` on a layer or a model (which sets it on all its layers, as Keras does) keeps its
weights out of the optimizer step; as in Keras 3, the trainable flags a model trains with are those of its last
`compile()` (a change takes effect at the next compile; fit warns when the flags changed since).
"""

import json
import math
import threading

import numpy as np

from . import _core, _limits, config, dtype_policies, losses, metrics as metrics_module, optimizers, summary as summary_module
from . import random as fastnn_random
from ._naming import unique_name
from ._validation import check_int, to_array
from .errors import ModelFileError
from .layers import (ENGINE_LAYERS, LAYER_CLASSES, Dense, Flatten, InputLayer, KerasTensor,
                     Layer, WeightsView, _check_weight_list)
from .trainer import Trainer


class _Engine:
    """A core network and the model that built it."""

    def __init__(self, dtype, owner):
        self.dtype = dtype
        self.np_dtype = np.dtype(dtype)
        self.owner = owner
        self.net = _core.Network(dtype, fastnn_random.next_seed())
        self.training = threading.Lock()  # held by fit / train_on_batch: one training call at a time
        self.moves = 0  # how many times a layer's weights moved from this engine to another (see Model._sync)

    def busy(self):
        """True while fit / train_on_batch runs on this engine (the structure of its models is then frozen)."""
        return self.training.locked() or self.net.training


_SYNC_LOCK = threading.Lock()  # moving layers' weights between engines is one step at a time
_MAX_NESTING = 16


def _refuse_while_training(engine, what, name):
    if engine is not None and engine.busy():
        raise RuntimeError(f"{what}: model {name!r} is being trained (fit or train_on_batch is running, in another "
                           "thread or in one of its callbacks); its structure cannot change until it returns")


class Model(Trainer, WeightsView):
    """A functional model: `Model(inputs=x, outputs=y)` for tensors made with Input and layer calls."""

    _name_prefix = "functional"

    def __init__(self, inputs=None, outputs=None, name=None, dtype=None, trainable=True, **kwargs):
        if kwargs:
            raise TypeError(f"{type(self).__name__} got unexpected keyword argument(s): {', '.join(sorted(kwargs))}")
        if name is not None:
            _limits.check_name(name, "name")
        self.name = name or unique_name(self._name_prefix)
        self._dtype = None if dtype is None else dtype_policies.get(dtype).variable_dtype
        self._chain = []
        self._input_layer = None
        self._input_tensor = None
        self._engine = None
        self._first = self._last = 0
        self._op_layers = []
        self._op_inputs = []  # the input width of each op of _op_layers
        self._op_inference = []  # per op: True inside a nested model called with training=False
        self._chain_training = []  # per layer of _chain: the `training` of its call (None: not given)
        self._seen_moves = 0  # the engine's `moves` when this model last checked its layers were all in it
        self._output_tensor = None
        self._trainable = True
        self._unready = []  # layers that must be set up before use (Normalization: adapt or mean=)
        self.optimizer = None
        self.loss = None
        self.compiled = False
        self._metric_ids = []
        self._weighted_metric_ids = []
        self._metric_names = []
        self._metric_sizes = []
        self._engine_compiled = False
        self.stop_training = False
        self._fit_has_validation = False  # set by fit for CSVLogger
        self.history = None
        self.trainable = trainable
        if type(self) is Model or inputs is not None or outputs is not None:
            self._init_functional(inputs, outputs)

    # ---------------------------------------------------------------- structure
    def _init_functional(self, inputs, outputs):
        def single(t, what):
            if isinstance(t, dict):
                t = list(t.values())
            if isinstance(t, (list, tuple)):
                if len(t) != 1:
                    raise ValueError(f"{what}: fastnn models have one input and one output, got {len(t)} tensors")
                t = t[0]
            if not isinstance(t, KerasTensor):
                raise ValueError(f"{what}: expected a symbolic tensor from fastnn.Input(...) or a layer call, "
                                 f"got {type(t).__name__}")
            return t

        inputs, outputs = single(inputs, "inputs"), single(outputs, "outputs")
        chain, training, t = [], [], outputs
        while t is not inputs:
            if t._parent is None:
                raise ValueError(f"outputs: the tensor {outputs} is not computed from inputs {inputs}")
            chain.append(t._layer)
            training.append(getattr(t, "_training", None))
            t = t._parent
            _limits.check_layer_count(len(chain), "outputs")
        chain.reverse()
        training.reverse()
        self._chain_training = training
        self._input_tensor = inputs
        self._input_layer = inputs._layer if isinstance(inputs._layer, InputLayer) else \
            InputLayer(shape=(inputs.shape[-1],))
        self._chain = chain
        self._output_tensor = outputs
        self._build(inputs.shape[-1])

    @property
    def layers(self):
        return ([self._input_layer] if self._input_layer is not None else []) + list(self._chain)

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        """Sets `trainable` on the model and on every layer in it (nested models included), as Keras does; refused
        (RuntimeError) while the model trains."""
        _refuse_while_training(getattr(self, "_engine", None), "trainable", self.name)
        value = bool(value)
        self._trainable = value
        for layer in self._chain:
            layer.trainable = value

    def _trainable_flags(self):
        return [self.trainable and f for layer in self._op_layers for f in layer._trainable_flags()]

    # ---------------------------------------------------------------- a model used as a layer
    @property
    def _input_size(self):
        if self.built:
            return self._n_in
        if self._input_layer is not None:
            return self._input_layer._input_size
        return self._chain[0]._input_size if self._chain else None

    @property
    def _sample_shape(self):
        return self._flatten_shape()

    def output_size(self, n_in):
        self._check_input_width(n_in)
        if not self.built:
            self._build(n_in)
        return self._n_out

    def _check_input_width(self, n_in, what=None):
        if self._input_size is not None and self._input_size != n_in:
            raise ValueError(f"model {self.name!r}: used as a layer, it expects an input of {self._input_size} "
                             f"features, but {what or 'what feeds it'} gives {n_in}")

    def _nested_ops(self, n_in, stack):
        """(layer, input width) for every engine op of this model used as a layer of the models in `stack`."""
        if any(m is self for m in stack):
            raise ValueError(f"model {self.name!r} cannot be nested in itself")
        if len(stack) >= _MAX_NESTING:
            raise ValueError(f"model {self.name!r}: models nest at most {_MAX_NESTING} deep")
        self._check_input_width(n_in)
        if not self.built:
            self._build(n_in)
        return list(zip(self._op_layers, self._op_inputs))

    def _nested_inference(self):
        return list(self._op_inference) or [False] * len(self._op_layers)

    def _contains(self, other):
        return any(layer is other or (isinstance(layer, Model) and layer._contains(other)) for layer in self._chain)

    @property
    def built(self):
        return self._engine is not None

    @property
    def dtype(self):
        if self._engine is not None:
            return self._engine.dtype
        if self._dtype:
            return self._dtype
        for layer in self.layers:
            if layer._dtype:
                return layer._dtype
        return config.floatx()

    @property
    def input(self):
        if self._input_tensor is None:
            raise AttributeError(f"model {self.name!r} has no input yet: give its first layer an input shape or "
                                 "build it (fit, predict or build)")
        return self._input_tensor

    @property
    def output(self):
        if self._input_tensor is None or not self._chain or self._output_tensor is None:
            raise AttributeError(f"model {self.name!r} has no output yet: build it first")
        return self._output_tensor

    @property
    def inputs(self):
        return [self.input]

    @property
    def outputs(self):
        return [self.output]

    @property
    def input_shape(self):
        return self._input_tensor.shape if self._input_tensor is not None else None

    @property
    def output_shape(self):
        return (None, self._n_out) if self.built else None

    def _flatten_shape(self):
        for layer in [self._input_layer] + self._chain[:1]:
            if layer is not None and layer._sample_shape and len(layer._sample_shape) > 1:
                return layer._sample_shape
        return None

    def _starts_with_flatten(self):
        first = self._chain[0] if self._chain else None
        return isinstance(first, Flatten) or (isinstance(first, Model) and first._starts_with_flatten())

    def _build(self, n_in, private=False):
        """Creates (or re-creates) the engine for input width n_in (private: never a view of another engine)."""
        _refuse_while_training(self._engine, "build", self.name)
        n_in = check_int(n_in, "input size", 1)
        if self._flatten_shape() is not None and not self._starts_with_flatten():
            raise ValueError(f"input shape {self._flatten_shape()}: fastnn layers take 1-D samples; put Flatten() "
                             "first to flatten each sample")
        # The ops in order, a nested model contributing its own ops in place (checked before anything changes).
        width, sizes, ops, inference = n_in, [], [], []
        for k, layer in enumerate(self._chain):
            if isinstance(layer, InputLayer):
                raise ValueError(f"{layer.name}: an InputLayer can only be the first layer")
            sizes.append(width)
            if isinstance(layer, Model):
                what = f"the layer before it ({self._chain[k - 1].name!r})" if k else f"the input of {self.name!r}"
                layer._check_input_width(width, what)
                nested_ops = layer._nested_ops(width, [self])
                called_in_inference = k < len(self._chain_training) and self._chain_training[k] is False
                inference += [called_in_inference or f for f in layer._nested_inference()]
                ops += nested_ops
                width = layer._n_out
                continue
            if layer._input_size is not None and layer._input_size != width and not isinstance(layer, Flatten):
                raise ValueError(f"layer {layer.name!r}: expected an input of {layer._input_size} features (its "
                                 f"input_shape), but the layer before it gives {width}")
            if isinstance(layer, ENGINE_LAYERS):
                ops.append((layer, width))
                inference.append(False)
            width = layer.output_size(width)
        if not any(isinstance(layer, Dense) for layer, _ in ops):
            raise ValueError(f"model {self.name!r} has no Dense layer: add one before building it")
        homes = [layer._home for layer, _ in ops]
        nested = any(isinstance(layer, Model) for layer in self._chain)
        if not nested and not private and all(h is not None for h in homes) and len({id(h[0]) for h in homes}) == 1 and \
                homes[0][0].owner is not self and [h[1] for h in homes] == list(range(homes[0][1], homes[0][1] + len(homes))) \
                and homes[0][1] == 0:
            # A view of another model's engine, from its input: shares its weights.
            self._engine, self._first, self._last = homes[0][0], homes[0][1], homes[-1][1]
            self._seen_moves = self._engine.moves
        else:
            _check_allocatable(ops, self.dtype, self.compiled, f"model {self.name!r}")
            engine = _Engine(self.dtype, self)
            net = engine.net
            for layer, size in ops:
                kind, args = layer._engine_op()
                if layer._dtype_policy.is_mixed and self.dtype == "float32" and dtype_policies.bf16_available(warn=True):
                    args = {**args, "compute_dtype": "bfloat16"}
                if inference[net.n_ops]:  # a nested model called with training=False: its noise stays off
                    args = _inference_args(kind, args)
                try:
                    net.add_op(kind, size, layer.output_size(size), args)
                except MemoryError as e:  # the engine's message says what ran out
                    raise MemoryError(f"layer {layer.name!r} ({size} inputs): {e}; use fewer units or "
                                      "inputs") from None
            with _SYNC_LOCK:
                _check_not_training(ops, self)
                for i, (layer, _) in enumerate(ops):
                    home = layer._home
                    if getattr(layer, "_pending_weights", None) is not None:  # adapted before it was built
                        net.set_weights(i, layer._pending_weights)
                        layer._pending_weights = None
                    elif home is not None:  # the layer's weights move to this engine (shared, as in Keras)
                        old = home[0].net.get_weights(home[1])
                        if old and [w.shape for w in old] == [tuple(s) for s in _op_shapes(net, i)]:
                            net.set_weights(i, old)
                    if home is not None:
                        home[0].moves += 1
                    layer._home = (engine, i)
            if self._engine is not None and self._engine.owner is self:
                self._engine.owner = None
            self._engine, self._first, self._last = engine, 0, len(ops) - 1
            self._seen_moves = engine.moves
            if self.optimizer is not None:
                self._engine_compiled = False
        self._op_layers = [layer for layer, _ in ops]
        self._op_inputs = [size for _, size in ops]
        self._op_inference = inference
        self._unready = [layer for layer in self._op_layers if hasattr(layer, "_check_ready")]
        for layer, size in zip(self._chain, sizes):
            if not isinstance(layer, Model):
                layer._input_size = size if not isinstance(layer, Flatten) else layer._input_size or size
        if self._input_tensor is None:
            self._input_layer = self._input_layer or InputLayer(shape=self._flatten_shape() or (n_in,))
            self._input_tensor = self._input_layer.output
        if isinstance(self, Sequential):
            t = self._input_tensor
            for layer in self._chain:
                t = layer(t)
            self._output_tensor = t
        if self.compiled:
            self._compile_engine()

    def build(self, input_shape=None):
        """Builds the model for samples of `input_shape` ((None, n) or (n,))."""
        _refuse_while_training(self._engine, "build", self.name)
        if input_shape is None:
            raise ValueError("input_shape: expected a shape such as (None, 13), got None")
        shape = tuple(input_shape)
        shape = shape[1:] if len(shape) > 1 and shape[0] is None else shape
        self._build(int(np.prod(shape)))

    def _ensure_built(self, x):
        for layer in self._unready:
            layer._check_ready()
        if self.built:
            self._sync()
            return
        arr = to_array(x, "x")
        flat = self._flatten_shape()
        if flat is not None:
            n_in = int(np.prod(flat))
        elif arr.ndim == 1:
            n_in = 1
        elif arr.ndim == 2:
            n_in = arr.shape[1]
        else:
            raise ValueError(f"x: expected a 2-D array (samples, features), got shape {arr.shape}; reshape it or "
                             f"start the model with Flatten(input_shape={arr.shape[1:]})")
        self._build(n_in)
        for layer in self._unready:
            layer._check_ready()

    def _require_built(self, what):
        if not self.built:
            raise ValueError(f"{what}: model {self.name!r} is not built yet; give its first layer an input shape "
                             "(input_shape=(n,) or Input(shape=(n,))), or call fit() or build() first")
        self._sync()

    def _sync(self, write=False):
        """Brings the engine up to date when some of this model's layers were used by another model since (a model
        nesting this one, or sharing its layers): their weights come back to this engine, which becomes their home.
        While the model holding them trains (fit, its callbacks included), a read (predict, evaluate, get_weights)
        copies their current weights and leaves them where they train; a write (training, set_weights) is refused
        with a RuntimeError."""
        engine = self._engine
        if engine is None or engine.moves == self._seen_moves:
            return
        with _SYNC_LOCK:
            ops = [(layer, self._first + k) for k, layer in enumerate(self._op_layers)]
            moving = [(layer, i) for layer, i in ops if layer._home != (engine, i)]
            busy = [(layer, i) for layer, i in moving if layer._home is not None and _busy(layer._home[0])]
            if busy and write:
                _check_not_training(busy, self)
            if moving and engine.net.training:
                raise RuntimeError(f"model {self.name!r} is being trained: its shared layers cannot be updated "
                                   "until fit returns")
            for layer, i in moving:
                if layer._home is not None:
                    home, j = layer._home
                    w = home.net.get_weights(j)
                    if w:
                        engine.net.set_weights(i, w)
                    if (layer, i) in busy:
                        continue  # a snapshot: the weights stay with the model training them
                    home.moves += 1
                layer._home = (engine, i)
            if not busy:
                self._seen_moves = engine.moves

    @property
    def _net(self):
        return self._engine.net

    @property
    def _n_in(self):
        return int(self._net.op_info(self._first)["n_in"])

    @property
    def _n_out(self):
        return int(self._net.op_info(self._last)["n_out"])

    def _is_view(self):
        return self._engine is not None and self._engine.owner is not self

    def __call__(self, x, training=None, mask=None):
        """On a symbolic tensor, the model used as a layer (`outputs = base(inputs)`: it shares base's weights;
        `base(inputs, training=False)` keeps its Dropout and noise layers in inference mode while the outer model
        trains, as in Keras); on data, its predictions."""
        if training is not None and not isinstance(training, bool):
            raise ValueError(f"training: expected None, True or False, got {training!r}")
        if mask is not None:
            raise ValueError(f"mask: fastnn models take no mask, expected None, got {type(mask).__name__}")
        if isinstance(x, (list, tuple)) and len(x) == 1 and isinstance(x[0], KerasTensor):
            x = x[0]
        if isinstance(x, KerasTensor):
            if x._layer is self or (isinstance(x._layer, Model) and x._layer._contains(self)):
                raise ValueError(f"model {self.name!r} cannot be called on its own output")
            self.output_size(x.shape[-1])
            out = KerasTensor((None, self._n_out), self, x)
            out._training = training
            return out
        if training:
            raise ValueError("training=True: calling a model on data predicts (inference mode); use fit or "
                             "train_on_batch to train")
        return self.predict(x, verbose=0)

    # ---------------------------------------------------------------- weights
    def get_weights(self):
        """All weights, layer by layer: [kernel, bias, kernel, bias, ...] (copies)."""
        if not self.built:
            return []
        self._sync()
        out = []
        for i in range(self._first, self._last + 1):
            out.extend(self._net.get_weights(i))
        return out

    def set_weights(self, weights):
        self._require_built("set_weights")
        self._sync(write=True)
        shapes = [s for i in range(self._first, self._last + 1) for s in _op_shapes(self._net, i)]
        _check_weight_list(weights, shapes, f"model {self.name!r}", self._net.dtype)
        k = 0
        for i in range(self._first, self._last + 1):
            m = len(_op_shapes(self._net, i))
            if m:
                self._net.set_weights(i, [np.asarray(w) for w in weights[k:k + m]])
            k += m
        for layer in self._unready:  # given their state (Normalization's mean and variance)
            layer._adapted = True

    def count_params(self):
        self._require_built("count_params")
        return int(sum(int(np.prod(s)) for i in range(self._first, self._last + 1) for s in _op_shapes(self._net, i)))

    def get_layer(self, name=None, index=None):
        if index is not None:
            if name is not None:
                raise ValueError("get_layer: give either name or index, not both")
            layers = self.layers
            if isinstance(index, bool) or not isinstance(index, int) or not -len(layers) <= index < len(layers):
                raise ValueError(f"index: expected an integer in [0, {len(layers)}), got {index!r}")
            return layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No such layer: {name!r}. Existing layers are: {[l.name for l in self.layers]}.")

    # ---------------------------------------------------------------- summary
    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False, show_trainable=False,
                layer_range=None):
        """Prints the model's layers, output shapes and parameter counts in Keras 3's layout (its table for a
        chain of layers: Layer (type), Output Shape, Param #), then total / trainable / non-trainable counts."""
        summary_module.print_summary(self, line_length, positions, print_fn, expand_nested, show_trainable)

    # ---------------------------------------------------------------- files
    def get_config(self):
        # The InputLayer comes first for Sequential models too (as Keras 3 writes them): it keeps the sample shape.
        entries = ([self._input_layer] if self._input_layer is not None else []) + list(self._chain)
        layers = []
        offset = len(entries) - len(self._chain)
        for k, layer in enumerate(entries):
            if isinstance(layer, Model):  # a nested model: its own config, as Keras writes it
                cfg = layer.get_config()
                training = self._chain_training[k - offset] if k - offset < len(self._chain_training) else None
                if training is not None:
                    cfg["call_training"] = training  # base(inputs, training=False)
                layers.append({"class_name": cfg.pop("class_name"), "config": cfg})
            else:
                layers.append({"class_name": type(layer).__name__, "config": layer.get_config()})
        cfg = {"class_name": "Sequential" if isinstance(self, Sequential) else "Functional", "name": self.name,
               "dtype": self.dtype, "layers": layers}
        if not self.trainable:
            cfg["trainable"] = False
        return cfg

    def _compile_config(self):
        if not self.compiled:
            return None
        return {"optimizer": optimizers.serialize(self.optimizer), "loss": losses.serialize(self.loss),
                "metrics": [_metric_entry(m) for m in self._metric_ids],
                "weighted_metrics": [_metric_entry(m) for m in self._weighted_metric_ids]}

    def _tensors(self, include_optimizer):
        self._sync()
        tensors = {}
        for i in range(self._first, self._last + 1):
            for k, w in enumerate(self._net.get_weights(i)):
                tensors[f"weights.{i - self._first}.{k}"] = np.array(w, order="C")  # keeps 0-d
        opt = None
        if include_optimizer and self.compiled and self._engine_compiled and not self._is_view():
            state = self._net.get_optimizer_state()
            for k, slot in enumerate(state["slots"]):
                tensors[f"optimizer.slot{k}"] = np.ascontiguousarray(slot)
            opt = {"iterations": int(state["iterations"]), "u_product": float(state["u_product"])}
        return tensors, opt

    def save(self, filepath, overwrite=True, include_optimizer=True):
        """Writes the model: a name ending in '.keras' gives a Keras 3 archive (architecture, weights, compile
        settings), '.fnn' (or '.fastnn', '.safetensors') fastnn's own file (also the optimizer and generator state)."""
        from . import saving, saving_keras
        self._require_built("save")
        kind = saving_keras.format_for_save(filepath, weights_only=False)
        _check_overwrite(filepath, overwrite)
        if kind == "keras":
            saving_keras.save_keras_model(self, filepath)
            return
        tensors, opt = self._tensors(include_optimizer)
        cfg = {"kind": "model", "model": self.get_config(), "compile": self._compile_config(), "optimizer_state": opt,
               "rng_state": [str(v) for v in self._net.get_rng_state()]}
        # Whatever save writes, load_model reads: the reader's checks run on the config as it will read it.
        try:
            _check_loadable(json.loads(json.dumps(cfg)), tensors, f"save: model {self.name!r}")
        except ModelFileError as e:
            raise ValueError(f"{e.reason}; load_model would refuse the file, so "
                             "it is not written") from None
        saving.write_model_file(filepath, tensors, cfg)

    def save_weights(self, filepath, overwrite=True):
        """Writes only the weights: '.weights.h5' in Keras 3's HDF5 layout, '.fnn' (or '.fastnn', '.safetensors')
        in fastnn's format; load them into a model of the same architecture."""
        from . import saving, saving_keras
        self._require_built("save_weights")
        kind = saving_keras.format_for_save(filepath, weights_only=True)
        _check_overwrite(filepath, overwrite)
        if kind == "keras":
            saving_keras.save_keras_weights(self, filepath)
            return
        tensors, _ = self._tensors(False)
        saving.write_model_file(filepath, tensors, {"kind": "weights", "shapes": {k: list(v.shape) for k, v in
                                                                                 tensors.items()}})

    def load_weights(self, filepath, skip_mismatch=False):
        """Reads weights written by save_weights (or save) into this model, from any of the formats (Keras's
        .weights.h5 or .keras, fastnn's own); shapes must match."""
        from . import saving, saving_keras
        self._require_built("load_weights")
        if saving_keras.sniff(filepath) in ("keras", "hdf5"):
            saving_keras.load_keras_weights(self, filepath)
            return
        tensors, _ = saving.read_model_file(filepath)
        weights, k = [], 0
        for i in range(self._first, self._last + 1):
            for j, shape in enumerate(_op_shapes(self._net, i)):
                key = f"weights.{i - self._first}.{j}"
                if key not in tensors:
                    raise ModelFileError(f"{filepath}: no tensor {key!r}; the file holds {sorted(tensors)[:8]}")
                if tuple(tensors[key].shape) != tuple(shape):
                    raise ModelFileError(f"{filepath}: tensor {key!r} has shape {tensors[key].shape}, the model "
                                         f"expects {tuple(shape)}")
                weights.append(tensors[key])
                k += 1
        extra = sorted(set(t for t in tensors if t.startswith("weights.")) -
                       {f"weights.{i - self._first}.{j}" for i in range(self._first, self._last + 1)
                        for j in range(len(_op_shapes(self._net, i)))})
        if extra:
            raise ModelFileError(f"{filepath}: tensors {extra[:5]} do not belong to this model's architecture")
        self.set_weights(weights)

    def export(self, filepath, format="onnx", verbose=None, input_signature=None, **kwargs):
        """Exports the model for inference (Keras 3's method): format="onnx" writes an ONNX file (fastnn.onnx.export;
        `opset_version=` picks the operator set). Keras's other formats need TensorFlow, JAX or PyTorch."""
        if format != "onnx":
            raise ValueError(f"format: fastnn exports format='onnx', got {format!r}")
        if input_signature is not None:
            raise ValueError("input_signature: fastnn's ONNX graph takes the model's own input (with a dynamic batch "
                             "axis); expected None")
        unknown = set(kwargs) - {"opset_version"}
        if unknown:
            raise TypeError(f"export got unexpected keyword argument(s): {', '.join(sorted(unknown))}")
        from . import onnx as fastnn_onnx
        path = fastnn_onnx.export(self, filepath, opset=kwargs.get("opset_version"))
        if verbose:
            print(f"Saved artifact at '{path}'.")
        return None

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"

    # ---------------------------------------------------------------- pickling and copying
    def __reduce__(self):
        """pickle, copy.copy and copy.deepcopy (as Keras 3): the model travels as the bytes of its model file
        (safetensors tensors + JSON: architecture, compile settings, weights, optimizer state, generator state),
        never as engine internals. The copy is independent of the original (copy.copy too) and, at the same
        thread count, trains on bitwise as the original would; it does not carry `history` or callbacks."""
        if not self.built:  # no weights yet: the copy draws its own when it is built, as a new model does
            from . import saving
            return (_unbuilt_model_from_bytes, (saving.model_file_bytes({}, {
                "kind": "unbuilt_model", "model": self.get_config(), "compile": self._compile_config()}),))
        return (_model_from_bytes, (self._to_bytes(),))

    def _to_bytes(self):
        """The bytes save() would write (with the optimizer state), for a built model."""
        from . import saving
        tensors, opt = self._tensors(True)
        return saving.model_file_bytes(tensors, {
            "kind": "model", "model": self.get_config(), "compile": self._compile_config(), "optimizer_state": opt,
            "rng_state": [str(v) for v in self._net.get_rng_state()]})


class Sequential(Model):
    """A linear stack of layers: `Sequential([Dense(10, activation="relu", input_shape=(3,)), Dense(1)])`."""

    _name_prefix = "sequential"

    def __init__(self, layers=None, name=None, dtype=None, trainable=True, **kwargs):
        super().__init__(name=name, dtype=dtype, trainable=trainable, **kwargs)
        for layer in layers or []:
            self.add(layer, rebuild=False)
        self._maybe_build()

    def add(self, layer, rebuild=True):
        """Appends a layer (or starts the model with an Input tensor / InputLayer)."""
        _refuse_while_training(self._engine, "add", self.name)
        if isinstance(layer, KerasTensor) and isinstance(layer._layer, InputLayer):
            layer = layer._layer
        if isinstance(layer, InputLayer):
            if self._chain or self._input_layer is not None:
                raise ValueError("an Input can only be the first element of a Sequential model")
            self._input_layer = layer
            self._input_tensor = layer.output
            return
        if isinstance(layer, Model) and (layer is self or layer._contains(self)):
            raise ValueError(f"layer: model {layer.name!r} cannot be nested in itself")
        if not isinstance(layer, (Layer, Model)):
            raise ValueError(f"layer: expected a fastnn layer such as Dense(...), got {type(layer).__name__}")
        if any(existing is layer for existing in self._chain):
            raise ValueError(f"layer {layer.name!r} is already in this model")
        _limits.check_layer_count(len(self._chain) + 1, f"model {self.name!r}")
        names = {l.name for l in self._chain}
        if layer.name in names:
            raise ValueError(f"All layers added to a Sequential model should have unique names. Name {layer.name!r} "
                             "is already the name of a layer in this model.")
        if self.built and layer._input_size is not None and not isinstance(layer, Flatten) \
                and layer._input_size != self._n_out:
            what = "model" if isinstance(layer, Model) else "layer"
            raise ValueError(f"{what} {layer.name!r}: expected an input of {layer._input_size} features (its "
                             f"input shape), but the model's last layer gives {self._n_out}")
        self._chain.append(layer)
        if rebuild:
            try:
                self._maybe_build()
            except BaseException:
                self._chain.pop()  # a failed add leaves the model as it was
                self._maybe_build()
                raise

    def pop(self):
        _refuse_while_training(self._engine, "pop", self.name)
        if not self._chain:
            raise ValueError("pop: there are no layers in the model")
        layer = self._chain.pop()
        if _has_dense(self._chain):
            self._maybe_build()
        else:  # nothing left to build an engine from
            self._engine, self._op_layers, self._engine_compiled = None, [], False
            if self._input_layer is None:
                self._input_tensor = None
        return layer

    @property
    def layers(self):
        return list(self._chain)

    def _maybe_build(self):
        n_in = None
        if self._input_layer is not None:
            n_in = self._input_layer._input_size
        elif self._chain and self._chain[0]._input_size is not None:
            n_in = self._chain[0]._input_size
        elif self.built:
            n_in = self._n_in
        if n_in is not None and self._chain and _has_dense(self._chain):
            if self._input_tensor is not None and self._input_layer is None:
                self._input_tensor = None
            self._build(n_in)



def _inference_args(kind, args):
    """The arguments that keep an op in inference mode while the model trains (a nested model called with
    training=False): the noise ops become the identity, BatchNormalization uses its moving statistics."""
    off = {"dropout": "rate", "gaussian_dropout": "rate", "alpha_dropout": "rate", "gaussian_noise": "stddev"}
    if kind == "batch_normalization":
        return dict(args, inference=True)
    return dict(args, **{off[kind]: 0.0}) if kind in off else args


def _has_dense(chain):
    return any(isinstance(l, Dense) or (isinstance(l, Model) and _has_dense(l._chain)) for l in chain)


def _busy(engine):
    """True while a model trains on this engine (inside fit, its callbacks included, or train_on_batch)."""
    return engine.net.training or engine.training.locked()


def _check_not_training(ops, model):
    """Layers whose weights another model is training right now cannot move: RuntimeError, nothing changed."""
    for layer, _ in ops:
        home = layer._home
        if home is not None and _busy(home[0]) and home[0] is not model._engine:
            owner = home[0].owner.name if home[0].owner is not None else "another model"
            raise RuntimeError(f"layer {layer.name!r} is being trained by model {owner!r} (fit or train_on_batch "
                               f"in another thread); model {model.name!r} shares it: wait for that training to end")


def _check_allocatable(ops, dtype, compiled, what):
    """Refuses a model beyond the limits of fastnn._limits before the engine allocates anything: too many
    parameters (ValueError), or weights + gradients (+ the optimizer's slots once compiled) larger than the
    machine's memory (MemoryError): such buffers may be granted by the kernel and then kill the process (out-of-
    memory killer) when they are initialized."""
    total, biggest = 0, None
    for layer, size in ops:
        if isinstance(layer, Dense):
            n = size * layer.units + (layer.units if layer.use_bias else 0)
            total += n
            if biggest is None or n > biggest[1]:
                biggest = (layer, n, size)
    if biggest is None:
        return total
    layer, _, size = biggest
    hint = f"the largest layer is {layer.name!r}: {size} inputs x {layer.units} units; use fewer units or inputs"
    _limits.check_memory(_limits.training_bytes(total, np.dtype(dtype).itemsize, compiled),
                         f"{what} ({total:,} parameters)", hint)
    _limits.check_params(total, what)
    return total


def _op_shapes(net, i):
    specs = net.param_specs()
    return [tuple(specs[k]["shape"]) for k in net.op_info(i)["params"]]



def _check_overwrite(filepath, overwrite):
    import os
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"{filepath} exists and overwrite=False")


# -------------------------------------------------------------------- loading
_LAYER_KEYS = {
    "Dense": {"name", "trainable", "dtype", "units", "activation", "use_bias", "kernel_initializer",
              "bias_initializer", "kernel_regularizer", "bias_regularizer", "input_dim"},
    "Activation": {"name", "trainable", "dtype", "activation"},
    "Dropout": {"name", "trainable", "dtype", "rate"},
    "BatchNormalization": {"name", "trainable", "dtype", "axis", "momentum", "epsilon", "center", "scale",
                           "beta_initializer", "gamma_initializer", "moving_mean_initializer",
                           "moving_variance_initializer", "beta_regularizer", "gamma_regularizer", "synchronized"},
    "LayerNormalization": {"name", "trainable", "dtype", "axis", "epsilon", "center", "scale", "beta_initializer",
                           "gamma_initializer", "beta_regularizer", "gamma_regularizer"},
    "UnitNormalization": {"name", "trainable", "dtype", "axis"},
    "Normalization": {"name", "trainable", "dtype", "axis", "invert", "mean", "variance", "input_dim"},
    "Rescaling": {"name", "trainable", "dtype", "scale", "offset"},
    "Flatten": {"name", "trainable", "dtype", "input_shape"},
    "InputLayer": {"name", "trainable", "dtype", "shape"},
    "Softmax": {"name", "trainable", "dtype", "axis"},
    "ReLU": {"name", "trainable", "dtype", "max_value", "negative_slope", "threshold"},
    "LeakyReLU": {"name", "trainable", "dtype", "negative_slope"},
    "PReLU": {"name", "trainable", "dtype", "alpha_initializer", "alpha_regularizer", "alpha_constraint",
              "shared_axes"},
    "ELU": {"name", "trainable", "dtype", "alpha"},
    "Identity": {"name", "trainable", "dtype"},
    "GaussianNoise": {"name", "trainable", "dtype", "stddev", "seed"},
    "GaussianDropout": {"name", "trainable", "dtype", "rate", "seed"},
    "AlphaDropout": {"name", "trainable", "dtype", "rate", "seed", "noise_shape"},
}
_NO_OP_LAYERS = ("InputLayer", "Flatten", "Identity")  # layers that add no op to the engine
_MAX_UNITS = _limits.MAX_UNITS


_MODEL_KEYS = {"name", "dtype", "layers", "trainable", "call_training"}
_MAX_LAYERS = _limits.MAX_LAYERS + 1  # entries in one file: layers, nested models' too, and InputLayers


def _layer_from_config(entry, where, budget=None):
    if not isinstance(entry, dict) or set(entry) != {"class_name", "config"}:
        raise ModelFileError(f"{where}: a layer entry must be {{'class_name', 'config'}}, got {str(entry)[:80]}")
    cls_name, cfg = entry["class_name"], entry["config"]
    if cls_name in ("Sequential", "Functional"):  # a nested model
        if not isinstance(cfg, dict) or not set(cfg) <= _MODEL_KEYS:
            extra = sorted(set(cfg) - _MODEL_KEYS) if isinstance(cfg, dict) else cfg
            raise ModelFileError(f"{where}: unexpected settings for a nested {cls_name}: {str(extra)[:80]}")
        return model_from_config(dict(cfg, class_name=cls_name), where, budget)
    if "trainable" in cfg and not isinstance(cfg["trainable"], bool):
        raise ModelFileError(f"{where}: trainable must be true or false, got {str(cfg['trainable'])[:20]}")
    if cls_name not in _LAYER_KEYS:
        raise ModelFileError(f"{where}: unknown layer type {str(cls_name)[:40]!r}; fastnn files hold only "
                             f"{', '.join(_LAYER_KEYS)}")
    if not isinstance(cfg, dict) or not set(cfg) <= _LAYER_KEYS[cls_name]:
        extra = sorted(set(cfg) - _LAYER_KEYS[cls_name]) if isinstance(cfg, dict) else cfg
        raise ModelFileError(f"{where}: unexpected settings for {cls_name}: {str(extra)[:80]}")
    if "units" in cfg and (isinstance(cfg["units"], bool) or not isinstance(cfg["units"], int)
                           or not 1 <= cfg["units"] <= _MAX_UNITS):
        raise ModelFileError(f"{where}: units must be an integer in [1, {_MAX_UNITS}], got {str(cfg['units'])[:40]}")
    for key in ("input_dim",):
        if key in cfg and (isinstance(cfg[key], bool) or not isinstance(cfg[key], int) or not 1 <= cfg[key] <= _MAX_UNITS):
            raise ModelFileError(f"{where}: {key} must be an integer in [1, {_MAX_UNITS}], got {str(cfg[key])[:40]}")
    for key in ("shape", "input_shape"):
        if key in cfg:
            s = cfg[key]
            if not isinstance(s, list) or not 1 <= len(s) <= _limits.MAX_SAMPLE_DIMS or any(
                    isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= _MAX_UNITS for v in s) or \
                    int(np.prod(s)) > _MAX_UNITS:
                raise ModelFileError(f"{where}: {key} must be a short list of positive integers, got {str(s)[:40]}")
    kwargs = dict(cfg)
    if cls_name == "InputLayer":
        kwargs["shape"] = tuple(kwargs["shape"])
    if cls_name == "Flatten" and "input_shape" in kwargs:
        kwargs["input_shape"] = tuple(kwargs["input_shape"])
    for key in ("mean", "variance"):  # Normalization's constants: short lists of numbers
        v = kwargs.get(key)
        if v is not None and not (isinstance(v, (int, float)) and not isinstance(v, bool)) and not (
                isinstance(v, list) and len(v) <= _MAX_UNITS and
                all(isinstance(e, (int, float)) and not isinstance(e, bool) for e in v)):
            raise ModelFileError(f"{where}: {key} must be a number or a list of numbers, got {str(v)[:40]}")
    if cls_name in ("Dense", "BatchNormalization", "LayerNormalization", "PReLU"):
        for key in [k for k in kwargs if k.endswith("_initializer")]:
            init = kwargs.get(key)
            if isinstance(init, dict):
                if set(init) - {"class_name", "config"} or not isinstance(init.get("config", {}), dict):
                    raise ModelFileError(f"{where}: bad {key} {str(init)[:60]}")
                from . import initializers
                if init.get("class_name") not in initializers._BY_NAME:
                    raise ModelFileError(f"{where}: unknown initializer {str(init.get('class_name'))[:40]!r}")
        for key in [k for k in kwargs if k.endswith("_regularizer")]:
            reg = kwargs.get(key)
            if reg is not None and (not isinstance(reg, dict) or not set(reg) <= {"l1", "l2"}):
                raise ModelFileError(f"{where}: bad {key} {str(reg)[:60]}")
    try:
        return LAYER_CLASSES[cls_name](**kwargs)
    except (ValueError, TypeError) as e:
        raise ModelFileError(f"{where}: invalid {cls_name} settings: {e}") from None


def model_from_config(cfg, where="config", budget=None):
    """Rebuilds a model (unbuilt weights) from get_config() output, accepting only fastnn's closed lists.
    budget: [layers still allowed, nesting depth still allowed], shared by the nested models of one file."""
    if budget is None:
        budget = [_MAX_LAYERS, _MAX_NESTING]
    if not isinstance(cfg, dict) or cfg.get("class_name") not in ("Sequential", "Functional"):
        raise ModelFileError(f"{where}: expected a Sequential or Functional model config")
    layers_cfg = cfg.get("layers")
    if not isinstance(layers_cfg, list) or not 1 <= len(layers_cfg) <= budget[0]:
        raise ModelFileError(f"{where}: expected a list of 1 to {_MAX_LAYERS} layers (nested models' layers "
                             "and InputLayers included)")
    if budget[1] <= 0:
        raise ModelFileError(f"{where}: models nest at most {_MAX_NESTING} deep")
    budget[0] -= len(layers_cfg)
    trainable = cfg.get("trainable", True)
    if not isinstance(trainable, bool):
        raise ModelFileError(f"{where}: trainable must be true or false, got {str(trainable)[:20]}")
    if cfg.get("call_training") not in (None, False, True):
        raise ModelFileError(f"{where}: call_training must be true, false or absent")
    dtype = cfg.get("dtype", "float32")
    if dtype not in ("float32", "float64"):
        raise ModelFileError(f"{where}: dtype must be float32 or float64, got {str(dtype)[:20]!r}")
    name = cfg.get("name")
    if not isinstance(name, str) or not 0 < len(name) <= _limits.MAX_NAME_CHARS:
        raise ModelFileError(f"{where}: model name must be a string of 1 to {_limits.MAX_NAME_CHARS} characters")
    budget[1] -= 1
    layers = [_layer_from_config(e, f"{where}, layer {i}", budget) for i, e in enumerate(layers_cfg)]
    budget[1] += 1
    if cfg["class_name"] == "Sequential":
        first_in = None
        chain = [l for l in layers if not isinstance(l, InputLayer)]
        if len(chain) != len(layers) and not isinstance(layers[0], InputLayer):
            raise ModelFileError(f"{where}: an InputLayer can only come first")
        model = Sequential(name=name, dtype=dtype)
        for layer in layers:
            model.add(layer, rebuild=False)
        del first_in
        model._trainable = trainable  # the model's own flag: its layers keep theirs (as Keras's from_config)
        return model
    if not isinstance(layers[0], InputLayer) or any(isinstance(l, InputLayer) for l in layers[1:]):
        raise ModelFileError(f"{where}: a functional model's layers start with its one InputLayer")
    t = layers[0].output
    for layer, entry in zip(layers[1:], layers_cfg[1:]):
        t = layer(t, training=entry["config"].get("call_training")) if isinstance(layer, Model) else layer(t)
    model = Model(inputs=layers[0].output, outputs=t, name=name, dtype=dtype)
    model._trainable = trainable
    return model


def _flat_layer_entries(model_cfg, path=""):
    """(position, entry) of every layer in engine order, nested models' layers in place (their InputLayer too)."""
    for i, entry in enumerate(model_cfg["layers"]):
        if entry["class_name"] in ("Sequential", "Functional"):
            yield from _flat_layer_entries(entry["config"], f"{path}{i}.")
        else:
            yield f"{path}{i}", entry


def _expected_tensor_shapes(model_cfg, where):
    """Weight tensor names and shapes implied by a config, computed before anything is allocated."""
    shapes, width, op = {}, None, 0
    for i, entry in _flat_layer_entries(model_cfg):
        cls, cfg = entry["class_name"], entry["config"]
        if cls == "InputLayer":
            if width is not None and int(np.prod(cfg["shape"])) != width:  # a nested model's input
                raise ModelFileError(f"{where}: layer {i} expects {int(np.prod(cfg['shape']))} inputs, the previous "
                                     f"gives {width}")
            width = int(np.prod(cfg["shape"]))
            continue
        if cls == "Flatten":
            if "input_shape" in cfg:
                width = int(np.prod(cfg["input_shape"]))
            continue
        if cls in _NO_OP_LAYERS:
            continue
        if width is None:
            width = cfg.get("input_dim")
        if width is None:
            raise ModelFileError(f"{where}: layer {i} has no input size")
        if cfg.get("input_dim", width) != width:
            raise ModelFileError(f"{where}: layer {i} expects {cfg['input_dim']} inputs, the previous gives {width}")
        layer = _layer_from_config(entry, where)  # a description: nothing is allocated
        layer._input_size = width
        for j, shape in enumerate(layer._weight_shapes()):
            shapes[f"weights.{op}.{j}"] = tuple(shape)
        width = layer.output_size(width)
        op += 1
    return shapes, width


def _check_loadable(cfg, tensors, where, compile=True):
    """Everything load_model checks before it builds anything, for every kind of model: the architecture (closed
    lists and the limits of fastnn._limits), the weight tensors it implies against those in the file, the total
    parameter count, the memory of weights, gradients and (when compiled) optimizer slots, and the compile
    settings. Returns (model config, expected tensor shapes). save() runs it on what it is about
    to write, so that whatever save writes, load_model reads."""
    if not isinstance(cfg, dict) or cfg.get("kind") != "model" or not isinstance(cfg.get("model"), dict):
        raise ModelFileError(f"{where}: not a fastnn model file (a weights-only file? use model.load_weights)")
    model_cfg = cfg["model"]
    try:
        _check_config_limits(model_cfg, where)
        expected, _ = _expected_tensor_shapes(model_cfg, where)
    except ModelFileError:
        raise
    except (ValueError, TypeError, KeyError) as e:  # an inconsistent architecture: still the file's fault
        raise ModelFileError(f"{where}: invalid model architecture: {e}") from None
    unknown = sorted(k for k in tensors if not k.startswith("weights.") and
                     k not in ("optimizer.slot0", "optimizer.slot1", "optimizer.slot2"))
    if unknown:
        raise ModelFileError(f"{where}: unexpected tensors {unknown[:4]}")
    got = {k: tuple(v.shape) for k, v in tensors.items() if k.startswith("weights.")}
    if got != expected:
        missing = sorted(set(expected) - set(got))
        extra = sorted(set(got) - set(expected))
        wrong = sorted(k for k in set(got) & set(expected) if got[k] != expected[k])
        raise ModelFileError(f"{where}: weight tensors do not match the architecture (missing {missing[:4]}, "
                             f"unexpected {extra[:4]}, wrong shape {wrong[:4]})")
    dtype = model_cfg.get("dtype", "float32")
    for k, v in tensors.items():
        if k.startswith("weights.") and v.dtype != np.dtype(dtype):
            raise ModelFileError(f"{where}: tensor {k} is {v.dtype}, the model is {dtype}")
    if "weights.0.0" not in expected:
        raise ModelFileError(f"{where}: cannot tell the model's input size")
    total = sum(int(np.prod(shape, dtype=object)) for shape in expected.values())
    try:
        _limits.check_params(total, f"{where}: the model")
    except ValueError as e:
        raise ModelFileError(str(e)) from None
    comp = cfg.get("compile")
    compiled = compile and comp is not None
    _limits.check_memory(_limits.training_bytes(total, np.dtype(dtype).itemsize, compiled),
                         f"loading {where} ({total:,} parameters)", "load it on a machine with more memory")
    if compiled:
        _compile_arguments(comp, where)
        _check_optimizer_state(cfg.get("optimizer_state"), tensors, total, dtype, where)
    _check_rng_state(cfg.get("rng_state"), where)
    return model_cfg, expected


def _check_config_limits(model_cfg, where):
    """Names and the layer count of a raw config (nested models included) against fastnn._limits; nothing is built
    (model_from_config checks the rest when it builds)."""
    def check_name(name, what):
        if not isinstance(name, str) or not 0 < len(name) <= _limits.MAX_NAME_CHARS:
            raise ModelFileError(f"{where}: {what} name must be a string of 1 to {_limits.MAX_NAME_CHARS} characters")

    def walk(cfg):
        if cfg.get("dtype", "float32") not in ("float32", "float64"):
            raise ModelFileError(f"{where}: dtype must be float32 or float64, got {str(cfg.get('dtype'))[:20]!r}")
        check_name(cfg.get("name"), "model")
        if not isinstance(cfg.get("layers"), list) or not 1 <= len(cfg["layers"]) <= _MAX_LAYERS:
            raise ModelFileError(f"{where}: expected a list of 1 to {_MAX_LAYERS} layers (nested models' layers and "
                                 "InputLayers included)")
        for entry in cfg["layers"]:
            if entry["class_name"] in ("Sequential", "Functional"):
                walk(entry["config"])
            else:
                check_name(entry["config"].get("name"), "layer")
    if model_cfg.get("class_name") not in ("Sequential", "Functional"):
        raise ModelFileError(f"{where}: expected a Sequential or Functional model config")
    walk(model_cfg)
    entries = list(_flat_layer_entries(model_cfg))
    for pos, entry in entries:  # each layer's settings (closed lists, sizes): layer objects, no engine
        _layer_from_config(entry, f"{where}, layer {pos}")
    count = sum(entry["class_name"] != "InputLayer" for _, entry in entries)
    if count > _limits.MAX_LAYERS:
        raise ModelFileError(f"{where}: {count} layers, more than {_limits.MAX_LAYERS}")


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Reads a model written by model.save(): same architecture, bitwise-equal weights, and (when it was
    compiled) its compile settings and optimizer state, so training can continue. The whole file is checked
    (_check_loadable) before anything is built."""
    from . import saving, saving_keras
    if custom_objects:
        raise ValueError("custom_objects: fastnn model files hold only built-in layers; expected None")
    kind = saving_keras.sniff(filepath)
    if kind == "keras":
        return saving_keras.load_keras_model(filepath, compile=compile)
    if kind == "hdf5":
        raise ModelFileError("an HDF5 file: a Keras weights file (read it with model.load_weights) or Keras 2's "
                             "legacy .h5 model format, which fastnn does not read; load_model reads .keras "
                             "archives and fastnn's .fnn files", str(filepath))
    tensors, cfg = saving.read_model_file(filepath)
    where = str(filepath)
    model_cfg, expected = _check_loadable(cfg, tensors, where, compile)
    try:
        model = model_from_config(model_cfg, where)
    except ModelFileError:
        raise
    except (ValueError, TypeError, KeyError) as e:
        raise ModelFileError(f"{where}: invalid model architecture: {e}") from None
    if not model.built:
        model._build(expected["weights.0.0"][0])
    model.set_weights([tensors[f"weights.{i}.{j}"] for i in range(model._last + 1)
                       for j in range(len(_op_shapes(model._net, i)))])
    comp = cfg.get("compile")
    if compile and comp is not None:
        _restore_compile(model, comp, cfg.get("optimizer_state"), tensors, where)
    _restore_rng(model, cfg.get("rng_state"), where)
    return model


def _check_rng_state(state, where):
    if state is None:
        return
    if not isinstance(state, list) or len(state) != 8 or not all(isinstance(v, str) and v.isascii() and v.isdigit() and
                                                                  len(v) <= 20 and int(v) < 2 ** 64 for v in state):
        raise ModelFileError(f"{where}: bad generator state")


def _restore_rng(model, state, where):
    """The shuffling and dropout generator states, so that resumed training repeats the original run."""
    if state is None:
        return
    _check_rng_state(state, where)
    try:
        model._net.set_rng_state([int(v) for v in state])
    except ValueError as e:
        raise ModelFileError(f"{where}: bad generator state ({e})") from None


def _metric_entry(m):
    """A compile() metric as saved: its name (strings and functions) or its class and config (a closed list)."""
    if isinstance(m, type) and issubclass(m, (metrics_module.Metric, losses.Loss)):
        m = m()
    if isinstance(m, losses.Loss):
        m = metrics_module.LossMetric(m)
    if isinstance(m, metrics_module.Metric):
        return metrics_module.serialize(m)
    return m if isinstance(m, str) else m.__name__


def _compile_arguments(comp, where):
    """(optimizer, loss, metrics, weighted_metrics) of a file's compile settings, checked against the closed lists
    and the limits of fastnn._limits; nothing is built."""
    if not isinstance(comp, dict):
        raise ModelFileError(f"{where}: bad compile settings")
    try:
        opt = optimizers.deserialize(comp.get("optimizer"))
        loss = losses.deserialize(comp.get("loss"))
        lists = []
        for key in ("metrics", "weighted_metrics"):
            entries = comp.get(key) or []
            if not isinstance(entries, list) or len(entries) > _limits.MAX_METRICS:
                raise ValueError(f"bad {key} list (at most {_limits.MAX_METRICS} metrics)")
            lists.append(entries)
        classes = comp.get("metric_classes")  # files written before weighted_metrics: names and class names
        if classes is not None:
            if not isinstance(classes, list) or len(classes) != len(lists[0]):
                raise ValueError("bad metrics list")
            lists[0] = [name if cls is None else {"class_name": cls, "config": {"name": name}}
                        for name, cls in zip(lists[0], classes)]
        metrics, weighted = ([m if isinstance(m, str) else metrics_module.deserialize(m) for m in entries]
                             for entries in lists)
    except (ValueError, TypeError) as e:
        raise ModelFileError(f"{where}: invalid compile settings: {e}") from None
    return opt, loss, metrics, weighted


def _check_optimizer_state(opt_state, tensors, n, dtype, where):
    """The optimizer state of a file (None: not saved): three slots of n values, a valid iteration count."""
    if opt_state is None:
        return None
    if not isinstance(opt_state, dict) or set(opt_state) != {"iterations", "u_product"}:
        raise ModelFileError(f"{where}: bad optimizer state")
    slots = []
    for k in range(_limits.OPTIMIZER_SLOTS):
        t = tensors.get(f"optimizer.slot{k}")
        if t is None or t.shape != (n,) or t.dtype != np.dtype(dtype):
            raise ModelFileError(f"{where}: optimizer slot {k} missing or of the wrong shape")
        slots.append(t)
    it, u = opt_state["iterations"], opt_state["u_product"]
    if isinstance(it, bool) or not isinstance(it, int) or not 0 <= it < 2 ** 62:
        raise ModelFileError(f"{where}: bad optimizer iteration count")
    if type(u) is not float or not math.isfinite(u):
        raise ModelFileError(f"{where}: bad optimizer state (u_product)")
    return {"iterations": it, "u_product": float(u), "slots": slots}


def _restore_compile(model, comp, opt_state, tensors, where):
    opt, loss, metrics, weighted = _compile_arguments(comp, where)
    try:
        model.compile(optimizer=opt, loss=loss, metrics=metrics, weighted_metrics=weighted)
    except (ValueError, TypeError) as e:
        raise ModelFileError(f"{where}: invalid compile settings: {e}") from None
    if opt_state is None:  # (an unbuilt model has no engine yet: nothing to restore)
        return
    state = _check_optimizer_state(opt_state, tensors, model._net.n_params, model.dtype, where)
    model._net.set_optimizer_state(state)


def clone_model(model):
    """A new model with the same architecture and freshly initialized weights; compiled with the same settings
    (a fresh optimizer state) when `model` is compiled, as Keras 3's clone_model."""
    clone = model_from_config(model.get_config())
    if model.compiled:
        _restore_compile(clone, model._compile_config(), None, {}, "clone_model")
    return clone


# ---------------------------------------------------------------- unpickling (Model.__reduce__)
_PICKLE_WHERE = "<pickled fastnn model>"


def _model_from_bytes(data):
    """Unpickles a built model. The bytes are a model file and load_model reads them, so every check it makes on
    files applies; they are handed to it as an anonymous in-memory file where the system has one (Linux memfd),
    else as a temporary file removed at once."""
    import os
    import tempfile
    if not isinstance(data, bytes):
        raise ModelFileError(f"expected the bytes of a model file, got {type(data).__name__}", _PICKLE_WHERE)
    fd, path = -1, None
    try:
        if hasattr(os, "memfd_create") and os.path.isdir("/proc/self/fd"):
            try:
                fd = os.memfd_create("fastnn-pickle", getattr(os, "MFD_CLOEXEC", 0))
                path = f"/proc/self/fd/{fd}"
            except OSError:
                fd = -1
        if fd < 0:
            fd, path = tempfile.mkstemp(prefix="fastnn-pickle-", suffix=".fnn")
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        return load_model(path)
    except ModelFileError as e:
        raise ModelFileError(e.reason, _PICKLE_WHERE) from None
    finally:
        if fd >= 0:
            os.close(fd)
        if path is not None and not path.startswith("/proc/"):
            os.unlink(path)


def _unbuilt_model_from_bytes(data):
    """Unpickles a model that had no weights yet: its architecture and compile settings."""
    from . import saving
    tensors, cfg = saving.read_model_bytes(data, where=_PICKLE_WHERE)
    model_cfg = cfg.get("model") if isinstance(cfg, dict) else None
    if tensors or cfg.get("kind") != "unbuilt_model" or not isinstance(model_cfg, dict):
        raise ModelFileError("not an unbuilt fastnn model", _PICKLE_WHERE)
    if model_cfg.get("class_name") == "Sequential" and model_cfg.get("layers") == []:
        model = Sequential(name=model_cfg.get("name"), dtype=model_cfg.get("dtype"))
    else:
        model = model_from_config(model_cfg, _PICKLE_WHERE)
    if cfg.get("compile") is not None:
        _restore_compile(model, cfg["compile"], None, {}, _PICKLE_WHERE)
    return model
