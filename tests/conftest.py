"""Tolerances for comparing fastnn._core with the float64 NumPy oracle (tests/reference.py).

One table, per dtype and per kind of check (|actual - expected| <= atol + rtol * |expected|):
  forward     activations, losses, predictions, metrics (float32 GEMM: ~3e-6 error on outputs of order 5)
  backward    gradients of one forward/backward pass
  trajectory  values after several optimizer or training steps (errors accumulate step by step)
  gradcheck   analytic gradients against central differences (eps 1e-6, float64 only) of the engine's own loss
Float32 results are compared with the oracle run on the same float32-rounded inputs, so the table
covers the engine's arithmetic only, not the rounding of the inputs.
"""

import numpy as np

TOL = {
    ("float32", "forward"): dict(rtol=1e-5, atol=1e-5),
    ("float32", "backward"): dict(rtol=1e-4, atol=1e-5),
    ("float32", "trajectory"): dict(rtol=1e-5, atol=1e-5),
    ("float64", "forward"): dict(rtol=1e-10, atol=1e-12),
    ("float64", "backward"): dict(rtol=1e-9, atol=1e-11),
    ("float64", "trajectory"): dict(rtol=1e-9, atol=1e-11),
    ("float64", "gradcheck"): dict(rtol=1e-5, atol=1e-7),
    # mixed_bfloat16: product operands carry 8 significant bits (unit roundoff u = 2**-8), so each product term
    # is off by up to 2u relative; sums of such terms stay within ~2u of their magnitude. Four u's of slack.
    ("bfloat16", "forward"): dict(rtol=2.0**-6, atol=2.0**-6),
    # a few optimizer steps on bfloat16 gradients: the error of each step adds up
    ("bfloat16", "trajectory"): dict(rtol=2.0**-4, atol=2.0**-5),
}


def assert_close(actual, expected, dtype, kind):
    """Assert |actual - expected| <= atol + rtol*|expected| elementwise, with TOL[(dtype, kind)].

    ``dtype`` is a string or anything np.dtype accepts; infinities and NaNs must sit at the same
    places in both. The message gives the count of bad elements, the max error and the worst element.
    """
    key = (dtype if dtype == "bfloat16" else np.dtype(dtype).name, kind)
    if key not in TOL:
        raise ValueError(f"assert_close: expected (dtype, kind) among {sorted(TOL)}, got {key}")
    tol = TOL[key]
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if actual.shape != expected.shape:
        raise AssertionError(f"shape mismatch: actual {actual.shape}, expected {expected.shape}")
    same_nonfinite = np.where(np.isfinite(expected), np.isfinite(actual),
                              (actual == expected) | (np.isnan(actual) & np.isnan(expected)))
    if not np.all(same_nonfinite):
        raise AssertionError(f"{key}: non-finite values differ\nactual={actual}\nexpected={expected}")
    finite = np.isfinite(expected)
    err = np.where(finite, np.abs(actual - expected), 0.0)
    bound = tol["atol"] + tol["rtol"] * np.abs(np.where(finite, expected, 0.0))
    if np.any(err > bound):
        worst = np.unravel_index(np.argmax(err - bound), err.shape) if err.ndim else ()
        raise AssertionError(
            f"{key}: {int(np.sum(err > bound))} of {err.size} elements differ beyond "
            f"rtol={tol['rtol']}, atol={tol['atol']}; max abs error {err.max():.3e}; worst at "
            f"{worst}: actual {actual[worst]!r}, expected {expected[worst]!r}")


# The engine must be importable: a missing extension fails the run instead of skipping the engine tests.
# (From the repository root, `python -m pytest` would import the source folder, which has no _core;
# run plain `pytest`, as the README says, or use an editable install.)
try:
    import fastnn._core  # noqa: F401
except ImportError as e:  # pragma: no cover - a set-up error, reported once
    import pytest

    raise pytest.UsageError(f"fastnn._core cannot be imported ({e}); install the package first "
                            "(pip install .) and run `pytest`, not `python -m pytest`, from the repository root")


# Optional dependencies: under FASTNN_REQUIRE_EXTRAS=1 (the CI job with every extra installed), a
# missing module makes `pytest.importorskip` fail with the install line instead of skipping
# (tests/_extras.py::require does the same and says which extra brings the module).
import os as _os  # noqa: E402

if _os.environ.get("FASTNN_REQUIRE_EXTRAS", "").strip() not in ("", "0", "false", "False"):
    import pytest as _pytest

    import _extras

    def _strict_importorskip(modname, minversion=None, reason=None, **kwargs):
        return _extras.require(modname, minversion=minversion)

    _pytest.importorskip = _strict_importorskip
