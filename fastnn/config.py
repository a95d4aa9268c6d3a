"""Global settings: the default float type, whether inputs are scanned for NaN and infinity, and whether the
engine flushes subnormal floats to zero while it runs."""

_FLOATX = "float32"
_CHECK_FINITE = True


def floatx():
    """The default dtype of new models ("float32" unless set_floatx said otherwise)."""
    return _FLOATX


def set_floatx(value):
    """Set the default dtype of new models: "float32" or "float64"."""
    global _FLOATX
    if value not in ("float32", "float64"):
        raise ValueError(f"set_floatx: expected 'float32' or 'float64', got {value!r}")
    _FLOATX = value


def check_finite():
    """Whether fit/evaluate/predict scan x, y and sample weights for NaN and infinity (default True)."""
    return _CHECK_FINITE


def set_check_finite(enabled):
    """Turn the NaN/infinity scan of inputs on or off (off saves one pass over the data)."""
    global _CHECK_FINITE
    _CHECK_FINITE = bool(enabled)


def flush_denormals():
    """Whether the engine's threads flush subnormal floats to zero while it runs (default True)."""
    from . import _core
    return _core.flush_denormals()


def set_flush_denormals(enabled):
    """Turn flush-to-zero / denormals-are-zero in the engine's threads on (the default) or off.

    Subnormal floats (magnitudes below about 1.2e-38 in float32) are 2-3x slower to compute with; they appear on
    real data (Adam's moments of weights whose gradient stays zero, saturated units). While on, every engine call
    treats them as zero in the threads doing its arithmetic and restores the caller's floating-point state after;
    off gives IEEE gradual underflow, as NumPy computes by default.
    """
    from . import _core
    _core.set_flush_denormals(bool(enabled))


def set_dtype_policy(policy):
    """Set the global dtype policy: "float32", "float64" or "mixed_bfloat16" (see fastnn.dtype_policies)."""
    from . import dtype_policies
    dtype_policies.set_dtype_policy(policy)


def dtype_policy():
    """The global dtype policy (a DTypePolicy)."""
    from . import dtype_policies
    return dtype_policies.dtype_policy()
