"""Checking and converting what users pass in, once, before the engine sees it.

Inputs may be NumPy arrays of any numeric dtype, order or strides, lists, or pandas DataFrames/Series; they are
never modified, and a C-contiguous array of the model's dtype is passed through without a copy. Messages name
the argument, what was expected and what was received.
"""

import math
import numbers

import numpy as np

from . import _core, _limits, config


def to_array(data, name):
    """A NumPy view of `data` (pandas objects through to_numpy, lists through asarray); checks the dtype kind."""
    if data is None:
        raise ValueError(f"{name}: expected an array, got None")
    try:
        if hasattr(data, "to_numpy") and not isinstance(data, np.ndarray):  # pandas DataFrame / Series
            data = data.to_numpy(dtype=_common_column_dtype(data))
        arr = np.asarray(data)
    except (ValueError, TypeError) as e:
        raise ValueError(f"{name}: expected a rectangular numeric array, got {type(data).__name__} ({e})") from None
    if arr.dtype.kind not in "biuf":
        what = {"c": "complex numbers", "O": "Python objects", "U": "strings", "S": "bytes", "M": "datetimes",
                "m": "timedeltas", "V": "structured records"}.get(arr.dtype.kind, str(arr.dtype))
        raise TypeError(f"{name}: expected numbers (bool, integer or float), got an array of {what} "
                        f"(dtype {arr.dtype})")
    return arr


def _common_column_dtype(frame):
    """The NumPy dtype holding every column of a DataFrame whose columns are all numeric (bool, int, float,
    pandas' nullable ones too), so mixed columns do not become Python objects; None otherwise."""
    dtypes = getattr(frame, "dtypes", None)
    if dtypes is None or isinstance(dtypes, np.dtype) or not len(dtypes):
        return None
    if not all(getattr(d, "kind", "O") in "biuf" for d in dtypes):
        return None
    return np.result_type(*[np.dtype(getattr(d, "numpy_dtype", d)) for d in dtypes])


def _convert(arr, dtype):
    """C-contiguous `dtype` (no copy when it already is); values beyond the float range become infinity quietly,
    for _check_finite to report."""
    with np.errstate(over="ignore", invalid="ignore"):
        return np.ascontiguousarray(arr, dtype=dtype)


def _check_finite(arr, name, source=None):
    """Refuses NaN and infinity in the converted array `arr`; `source` (the user's array) tells a value that was
    finite but too large for arr's dtype."""
    if not (config.check_finite() and arr.dtype.kind == "f" and arr.size):
        return
    if arr.dtype in (np.float32, np.float64) and arr.flags.c_contiguous:
        flat = _core.first_non_finite(arr)  # one pass in C++, no temporary as large as the data
    else:
        nonfinite = np.flatnonzero(~np.isfinite(arr))
        flat = int(nonfinite[0]) if nonfinite.size else None
    if flat is not None:
        bad = tuple(int(i) for i in np.unravel_index(flat, arr.shape))
        if source is not None and source.shape == arr.shape and source.dtype.kind in "biuf" and \
                np.isfinite(source[bad]):
            raise ValueError(f"{name}: expected finite numbers, got {source[bad].item()!r} at index {bad}, which is "
                             f"too large for {arr.dtype} (it becomes infinity)")
        raise ValueError(f"{name}: expected finite numbers, got NaN or infinity (first at index {bad}); "
                         "clean the data, or call fastnn.config.set_check_finite(False) to skip this scan")


def as_features(data, n_in, dtype, name="x", flatten=None):
    """(N, n_in) C-contiguous array of `dtype`. n_in None: the model is not built yet, any width goes.

    A 1-D input is a column of samples for a one-input model, or one sample when its length is the input width.
    `flatten` (a tuple) is the per-sample shape a Flatten layer accepts."""
    arr = to_array(data, name)
    if flatten is not None and arr.ndim >= 2 and tuple(arr.shape[1:]) == tuple(flatten):
        arr = arr.reshape(arr.shape[0], -1)
    elif flatten is not None and tuple(arr.shape) == tuple(flatten):
        arr = arr.reshape(1, -1)
    if arr.ndim == 0:
        raise ValueError(f"{name}: expected a 2-D array (samples, features), got a scalar")
    if arr.ndim == 1:
        if n_in is None or n_in == 1:
            arr = arr.reshape(-1, 1)
        elif arr.shape[0] == n_in:
            arr = arr.reshape(1, -1)
        else:
            raise ValueError(f"{name}: expected a 2-D array of shape (N, {n_in}) (a 1-D array must have length "
                             f"{n_in} for one sample), got a 1-D array of length {arr.shape[0]}")
    elif arr.ndim > 2:
        raise ValueError(f"{name}: expected a 2-D array of shape (N, {n_in if n_in else 'features'}), got shape "
                         f"{arr.shape}; reshape it to (N, {int(np.prod(arr.shape[1:]))}) or start the model with "
                         "Flatten(input_shape=...)")
    if arr.shape[0] == 0:
        raise ValueError(f"{name}: expected at least one sample, got an array of shape {arr.shape}")
    if arr.shape[1] == 0:
        raise ValueError(f"{name}: expected at least one feature per sample, got an array of shape {arr.shape}")
    if n_in is not None and arr.shape[1] != n_in:
        raise ValueError(f"{name}: expected {n_in} features per sample (shape (N, {n_in})), got shape {arr.shape}")
    out = _convert(arr, dtype)
    _check_finite(out, name, arr)
    return out


def as_targets(data, n_samples, n_out, dtype, sparse, name="y"):
    """Targets as the engine wants them: (N, n_out), or (N, 1) class indices when `sparse`."""
    arr = to_array(data, name)
    if arr.ndim == 0:
        raise ValueError(f"{name}: expected an array of targets, got a scalar")
    if arr.shape[0] != n_samples:
        raise ValueError(f"{name}: expected {n_samples} targets (as many as x has samples), got {arr.shape[0]}")
    if sparse:
        if arr.ndim > 2 or (arr.ndim == 2 and arr.shape[1] != 1):
            raise ValueError(f"{name}: expected integer class labels of shape (N,) or (N, 1) for "
                             f"sparse_categorical_crossentropy, got shape {arr.shape}; for one-hot targets use "
                             "categorical_crossentropy")
        flat = arr.reshape(-1)
        if flat.dtype.kind == "f":
            _check_finite(flat, name)
            if not np.all(flat == np.floor(flat)):
                bad = flat[flat != np.floor(flat)][0]
                raise ValueError(f"{name}: expected integer class labels in [0, {n_out}), got {bad.item()!r}")
        if flat.size and (flat.min() < 0 or flat.max() >= n_out):
            bad = flat[(flat < 0) | (flat >= n_out)][0]
            raise ValueError(f"{name}: expected integer class labels in [0, {n_out}) (the model has {n_out} "
                             f"outputs), got {bad.item()!r}")
        return _convert(flat.reshape(-1, 1), dtype)
    if arr.ndim == 1:
        if n_out != 1:
            raise ValueError(f"{name}: expected targets of shape (N, {n_out}) for a model with {n_out} outputs, "
                             f"got a 1-D array of shape {arr.shape}; for integer class labels use "
                             "loss='sparse_categorical_crossentropy' or fastnn.utils.to_categorical(y)")
        arr = arr.reshape(-1, 1)
    elif arr.ndim > 2 or arr.shape[1] != n_out:
        raise ValueError(f"{name}: expected targets of shape (N, {n_out}) (the model has {n_out} outputs), "
                         f"got shape {arr.shape}")
    out = _convert(arr, dtype)
    _check_finite(out, name, arr)
    return out


def as_sample_weight(data, n_samples, dtype, name="sample_weight"):
    if data is None:
        return None
    arr = to_array(data, name).reshape(-1) if np.ndim(data) == 2 and np.shape(data)[1:] == (1,) else to_array(data, name)
    if arr.ndim != 1 or arr.shape[0] != n_samples:
        raise ValueError(f"{name}: expected a 1-D array of {n_samples} weights, got shape {arr.shape}")
    out = _convert(arr, dtype)
    _check_finite(out, name, arr)
    if (out < 0).any():
        raise ValueError(f"{name}: expected weights >= 0, got {out[out < 0][0].item()!r}")
    return out


def check_int(value, name, minimum, allow_none=False, maximum=_limits.MAX_INDEX):
    """An int in [minimum, maximum] (bools and non-integral floats refused); the default maximum is the largest
    index the engine takes, so no integer reaches the binding out of its range."""
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {value!r}")
    if value > maximum:
        raise ValueError(f"{name}: expected an integer in [{minimum}, {maximum}], got {value!r}")
    return int(value)


def check_fraction(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < 1:
        raise ValueError(f"{name}: expected a number in [0, 1), got {value!r}")
    return float(value)


def check_number(name, value, low=None, low_open=False, high=None):
    """`value` as a float: finite, >= low (> low when low_open) and <= high where given; else ValueError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name}: expected a finite number, got {value!r}")
    value = float(value)
    if low is not None and (value <= low if low_open else value < low):
        raise ValueError(f"{name}: expected a number {'>' if low_open else '>='} {low}, got {value!r}")
    if high is not None and value > high:
        raise ValueError(f"{name}: expected a number <= {high}, got {value!r}")
    return value
