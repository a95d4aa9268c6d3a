"""bfloat16 products (the mixed_bfloat16 policy) against tests/reference.py: the rounding, each product shape and
transpose, the dispatch and its forced fallbacks (FASTNN_DISABLE_AMX, FASTNN_DISABLE_AVX512_BF16)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import reference as ref
from conftest import assert_close
from fastnn import _core, dtype_policies

HAVE_BF16 = dtype_policies.bf16_available()
FEATURES = _core.cpu_features()
# On a CPU with AVX-512-BF16 or AMX and the oneDNN wheel installed (as pip installs fastnn on x86-64 Linux), the
# bfloat16 path must be there: its absence is a failure, not a skip.
EXPECT_BF16 = (FEATURES["avx512_bf16"] or FEATURES["amx_bf16"]) and FEATURES["os_avx512"] \
    and os.environ.get("FASTNN_DISABLE_AVX512_BF16", "0") in ("", "0")


def test_bf16_is_available_where_the_cpu_has_it():
    assert HAVE_BF16 == EXPECT_BF16, (FEATURES, dtype_policies._STATE)
    if EXPECT_BF16:
        expected = "amx" if FEATURES["amx_bf16"] and FEATURES["os_amx"] and \
            os.environ.get("FASTNN_DISABLE_AMX", "0") in ("", "0") else "avx512_bf16"
        assert dtype_policies.bf16_isa() == expected


def test_rounding_matches_the_reference():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.standard_normal(10000) * 10.0 ** rng.integers(-30, 30, 10000),
                        [0.0, -0.0, 1.0, 1.00390625, 1.005859375, 3.4e38, -3.4e38, 1e-40, np.inf, -np.inf]])
    x = x.astype(np.float32)
    got = _core.to_bf16(x).astype(np.float64)
    np.testing.assert_array_equal(got, ref.to_bfloat16(x))
    # ties go to even: 1 + 2**-8 lies halfway between 1 and 1 + 2**-7
    assert _core.to_bf16(np.array([1 + 2.0 ** -8], np.float32))[0] == 1.0
    assert _core.to_bf16(np.array([1 + 3 * 2.0 ** -8], np.float32))[0] == 1 + 2.0 ** -6
    assert np.isnan(_core.to_bf16(np.array([np.nan], np.float32))[0])


@pytest.mark.skipif(not EXPECT_BF16, reason="this CPU has no bfloat16 products (the float32 fallback is tested below)")
@pytest.mark.parametrize("m,k,n", [(300, 784, 500), (256, 1024, 1024), (64, 96, 33), (1000, 100, 10)])
@pytest.mark.parametrize("ta,tb", [(False, False), (False, True), (True, False), (True, True)])
def test_products_against_the_reference(m, k, n, ta, tb):
    rng = np.random.default_rng(m + k + n)
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(np.float32)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(np.float32)
    got = _core.gemm_bf16(a, b, ta, tb)
    A, B = (a.T if ta else a), (b.T if tb else b)
    # Against bf16-rounded operands multiplied exactly: only float32 accumulation differs.
    exact = ref.matmul_bf16(A, B)
    np.testing.assert_allclose(got, exact, rtol=1e-5, atol=1e-5 * np.sqrt(k))
    # Against the float64 product of the unrounded operands: bfloat16's tolerance (scaled to the sum's size).
    assert_close(got / np.sqrt(k), (A.astype(np.float64) @ B) / np.sqrt(k), "bfloat16", "forward")
    # Really bfloat16: the float32 product is measurably farther from the bf16-exact one than float32 error.
    assert np.abs(A.astype(np.float64) @ B - exact).max() > 1e-3


def _run(code, **env):
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd="/",
                         env={**os.environ, **env})
    assert out.returncode == 0, out.stderr
    return out


FALLBACK_PROBE = """
import json, warnings, numpy as np
from fastnn import _core, mixed_precision
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    mixed_precision.set_global_policy("mixed_bfloat16")
    mixed_precision.set_global_policy("mixed_bfloat16")
rng = np.random.default_rng(1)
a = rng.standard_normal((300, 200)).astype(np.float32); b = rng.standard_normal((200, 100)).astype(np.float32)
c = _core.gemm_bf16(a, b)
exact32 = np.abs(c - (a.astype(np.float64) @ b)).max()
print(json.dumps({"isa": mixed_precision.bf16_isa(), "warnings": [str(x.message) for x in w], "err": float(exact32)}))
"""


def test_disabling_avx512_bf16_falls_back_to_float32_with_one_warning():
    res = json.loads(_run(FALLBACK_PROBE, FASTNN_DISABLE_AVX512_BF16="1").stdout)
    assert res["isa"] == "none"
    assert len(res["warnings"]) == 1 and "float32" in res["warnings"][0], res
    assert res["err"] < 1e-3  # float32 products, not bfloat16 ones


def test_disabling_amx_keeps_avx512_bf16():
    res = json.loads(_run(FALLBACK_PROBE, FASTNN_DISABLE_AMX="1").stdout)
    if EXPECT_BF16:
        assert res["isa"] == "avx512_bf16" and res["warnings"] == []
        assert res["err"] > 1e-2  # bfloat16 operands
    else:
        assert res["isa"] == "none"


@pytest.mark.parametrize("ta,tb", [(False, False), (True, False), (False, True)])
def test_engine_float32_product_against_numpy(ta, tb):
    rng = np.random.default_rng(7)
    a = rng.standard_normal((96, 64) if ta else (64, 96)).astype(np.float32)
    b = rng.standard_normal((33, 96) if tb else (96, 33)).astype(np.float32)
    expected = (a.T if ta else a).astype(np.float64) @ (b.T if tb else b)
    assert_close(_core.gemm_f32(a, b, ta, tb), expected, "float32", "forward")
    with pytest.raises(ValueError, match="b: expected 96 rows"):
        _core.gemm_f32(a if not ta else a.T.copy(), b[:50] if not tb else b[:, :50])


@pytest.mark.skipif(not EXPECT_BF16, reason="this CPU has no bfloat16 products")
def test_bf16_products_benchmark_runs():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.run([sys.executable, os.path.join(root, "benchmarks", "bf16_products.py"), "--quick"],
                          capture_output=True, text=True, timeout=600, cwd=root)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "ceiling (GFLOP/s)" in proc.stdout and "all products of a step" in proc.stdout, proc.stdout
