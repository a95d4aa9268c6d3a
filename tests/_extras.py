"""Optional dependencies in tests: skip when missing, fail when the run promises the extras.

    from _extras import require      # tests/ is on sys.path (as for `from conftest import ...`)
    sklearn = require("sklearn")      # module-level or inside a test

`require(modname, minversion=None)` is `pytest.importorskip(modname, minversion)` on an ordinary run.
When the environment sets FASTNN_REQUIRE_EXTRAS=1 (the CI job that installs every extra), a missing
module is a failure instead of a skip, with the pip line that installs it, so a broken extras
install cannot hide behind skipped tests. tests/conftest.py applies the same rule to plain
`pytest.importorskip` calls. The API (require, EXTRA_OF, install_hint, extras_required) is stable.
"""

import importlib
import os

import pytest

_importorskip = pytest.importorskip  # the original, kept before tests/conftest.py wraps it

# Which extra of pyproject.toml brings a module (the hint printed when it is missing).
EXTRA_OF = {
    "sklearn": "sklearn",
    "joblib": "sklearn",
    "dask": "dask",
    "distributed": "dask",
    "mpi4py": "mpi",
    "onnx": "onnx",
    "onnxruntime": "onnx",
    "h5py": "keras-files",
    "keras": "keras-files",
}


def install_hint(modname):
    """The pip line that installs `modname` for fastnn's tests."""
    top = modname.split(".")[0]
    extra = EXTRA_OF.get(top)
    if extra is None:
        return f"pip install {top}"
    return f'pip install "fastnn-cpp[{extra}]"'


def extras_required():
    """True when FASTNN_REQUIRE_EXTRAS=1: missing optional modules fail instead of skipping."""
    return os.environ.get("FASTNN_REQUIRE_EXTRAS", "").strip() not in ("", "0", "false", "False")


def require(modname, minversion=None, reason=None):
    """Import and return `modname`; skip the test if it is missing (fail under FASTNN_REQUIRE_EXTRAS=1)."""
    if not extras_required():
        return _importorskip(modname, minversion=minversion,
                                   reason=reason or f"{modname} is not installed ({install_hint(modname)})")
    try:
        mod = importlib.import_module(modname)
    except ImportError as e:
        pytest.fail(f"FASTNN_REQUIRE_EXTRAS=1 but {modname} cannot be imported ({e}); "
                    f"install it with: {install_hint(modname)}", pytrace=False)
    if minversion is not None:
        # Same comparison as pytest.importorskip.
        from packaging.version import Version
        have = getattr(mod, "__version__", None)
        if have is None or Version(have) < Version(minversion):
            pytest.fail(f"FASTNN_REQUIRE_EXTRAS=1 but {modname} {have} is older than {minversion}; "
                        f"install it with: {install_hint(modname)}", pytrace=False)
    return mod
