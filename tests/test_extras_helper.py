"""tests/_extras.py: optional modules skip on an ordinary run and fail under FASTNN_REQUIRE_EXTRAS=1."""

import subprocess
import sys
import textwrap

import pytest

import _extras

MISSING = "fastnn_no_such_module_xyz"


def test_require_returns_the_module():
    assert _extras.require("json").dumps([1]) == "[1]"


def test_missing_module_skips_normally(monkeypatch):
    monkeypatch.delenv("FASTNN_REQUIRE_EXTRAS", raising=False)
    with pytest.raises(pytest.skip.Exception, match=MISSING):
        _extras.require(MISSING)


def test_missing_module_fails_when_extras_are_required(monkeypatch):
    monkeypatch.setenv("FASTNN_REQUIRE_EXTRAS", "1")
    with pytest.raises(pytest.fail.Exception, match=r"pip install"):
        _extras.require(MISSING)


def test_install_hint_names_the_extra():
    assert _extras.install_hint("sklearn.base") == 'pip install "fastnn-cpp[sklearn]"'
    assert _extras.install_hint("distributed") == 'pip install "fastnn-cpp[dask]"'


@pytest.mark.parametrize("required, outcome", [("0", "skipped"), ("1", "failed")])
def test_plain_importorskip_follows_the_switch(tmp_path, required, outcome):
    """A test file calling pytest.importorskip on a missing module: skipped, or failed under the switch."""
    import os
    test = tmp_path / "test_opt.py"
    test.write_text(textwrap.dedent(f"""
        import pytest
        def test_it():
            pytest.importorskip("{MISSING}")
    """))
    here = os.path.dirname(os.path.abspath(__file__))
    # Run with this folder's conftest.py: copy it and _extras.py next to the test file.
    for name in ("conftest.py", "_extras.py"):
        (tmp_path / name).write_text(open(os.path.join(here, name)).read())
    env = dict(os.environ, FASTNN_REQUIRE_EXTRAS=required)
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test), "-rA"],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert f"1 {outcome}" in r.stdout, r.stdout + r.stderr
