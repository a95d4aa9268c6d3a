"""Global settings: the default float type and whether inputs are scanned for NaN and infinity."""

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


def set_dtype_policy(policy):
    """Set the global dtype policy: "float32", "float64" or "mixed_bfloat16" (see fastnn.dtype_policies)."""
    from . import dtype_policies
    dtype_policies.set_dtype_policy(policy)


def dtype_policy():
    """The global dtype policy (a DTypePolicy)."""
    from . import dtype_policies
    return dtype_policies.dtype_policy()
