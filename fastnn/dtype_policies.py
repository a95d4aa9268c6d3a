"""Dtype policies, as Keras 3's: what a layer stores its weights in and what it computes in.

    "float32"         float32 weights and arithmetic (the default)
    "float64"         float64 weights and arithmetic
    "mixed_bfloat16"  float32 weights, optimizer state, loss and metrics; the operands of the large matrix
                      products rounded to bfloat16, multiplied with float32 accumulation (AMX tiles or
                      AVX-512-BF16 through oneDNN); bias, activations and the small products in float32

Where the CPU has neither AMX nor AVX-512-BF16 (or FASTNN_DISABLE_AVX512_BF16=1), "mixed_bfloat16" computes in
float32 and warns once. "float16", "mixed_float16" and "bfloat16" (bfloat16 weights) are Keras policies fastnn does
not have: they are refused, naming the choices.
"""

import importlib.metadata
import os
import warnings

from . import _core

POLICIES = ("float32", "float64", "mixed_bfloat16")
_VARIABLE_DTYPE = {"float32": "float32", "float64": "float64", "mixed_bfloat16": "float32"}
_COMPUTE_DTYPE = {"float32": "float32", "float64": "float64", "mixed_bfloat16": "bfloat16"}


class DTypePolicy:
    """A dtype policy: ``DTypePolicy("mixed_bfloat16")``; ``name``, ``compute_dtype``, ``variable_dtype``."""

    def __init__(self, name=None):
        if name is None:
            from . import config
            name = config.floatx()
        if isinstance(name, DTypePolicy):
            name = name.name
        if not isinstance(name, str) or name not in POLICIES:
            raise ValueError(f"dtype policy: expected one of {', '.join(repr(p) for p in POLICIES)}, got {name!r}")
        self._name = name

    @property
    def name(self):
        return self._name

    @property
    def compute_dtype(self):
        return _COMPUTE_DTYPE[self._name]

    @property
    def variable_dtype(self):
        return _VARIABLE_DTYPE[self._name]

    @property
    def is_mixed(self):
        return self.compute_dtype != self.variable_dtype

    def get_config(self):
        return {"name": self._name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __eq__(self, other):
        return isinstance(other, DTypePolicy) and other.name == self.name

    def __hash__(self):
        return hash(self._name)

    def __repr__(self):
        return f'<DTypePolicy "{self._name}">'


Policy = DTypePolicy  # Keras's alias in keras.mixed_precision

_GLOBAL = None  # None: follow config.floatx()


def get(identifier):
    """A DTypePolicy from a policy, a policy name, a NumPy float dtype, or None (the global policy)."""
    if identifier is None:
        return dtype_policy()
    if isinstance(identifier, DTypePolicy):
        return identifier
    if isinstance(identifier, dict) and set(identifier) <= {"class_name", "config", "module", "registered_name"}:
        return DTypePolicy.from_config(identifier.get("config", {}))
    try:
        import numpy as np
        if not isinstance(identifier, str):
            identifier = np.dtype(identifier).name
    except TypeError:
        pass
    return DTypePolicy(identifier)


def set_dtype_policy(policy):
    """Set the global policy new layers and models take: a name or a DTypePolicy."""
    global _GLOBAL
    _GLOBAL = get(policy) if policy is not None else None
    if _GLOBAL is not None and _GLOBAL.is_mixed:
        bf16_available(warn=True)


def dtype_policy():
    """The global policy (``DTypePolicy(floatx())`` unless set)."""
    return _GLOBAL if _GLOBAL is not None else DTypePolicy()


_STATE = {"checked": False, "available": False, "why": ""}


def _onednn_path():
    try:
        dist = importlib.metadata.distribution("onednn-cpu-gomp")
    except importlib.metadata.PackageNotFoundError:
        return None
    for f in dist.files or ():
        if str(f).endswith("libdnnl.so.3"):
            path = str(dist.locate_file(f))
            return os.path.realpath(path) if os.path.exists(path) else None
    return None


def bf16_available(warn=False):
    """Whether this machine runs bfloat16 products; loads oneDNN on first call. With warn=True, warns once
    (a RuntimeWarning) when it does not, saying why."""
    if not _STATE["checked"]:
        _STATE["checked"] = True
        path = _onednn_path()
        why = "the onednn-cpu-gomp package is not installed" if path is None else _core.load_onednn(path)
        if not why and _core.bf16_isa() == "none":
            feats = _core.cpu_features()
            why = ("FASTNN_DISABLE_AVX512_BF16 is set" if os.environ.get("FASTNN_DISABLE_AVX512_BF16", "0") not in ("", "0")
                   else "this CPU has neither AMX nor AVX-512-BF16" if not (feats["avx512_bf16"] or feats["amx_bf16"])
                   else "the operating system does not enable AVX-512 state")
        _STATE["available"], _STATE["why"] = not why, why
        if why and warn:
            warnings.warn(f"mixed_bfloat16: {why}; the products run in float32 instead", RuntimeWarning, stacklevel=3)
    return _STATE["available"]


def bf16_isa():
    """The instruction set of the bfloat16 products: "amx", "avx512_bf16" or "none" (float32 fallback)."""
    bf16_available()
    return _core.bf16_isa()
