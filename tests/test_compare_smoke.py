"""Smoke run of benchmarks/compare.py --quick: it exits 0, prints a row per workload and writes its JSON.

The numbers of a --quick run mean nothing; this only proves the comparison script still runs end to end
(fastnn, the NumPy peer, PyTorch when installed) and passes its own correctness checks.
"""

import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# W3r (raw Fashion-MNIST pixels) runs where Debian's dataset-fashion-mnist is installed, as in CI
WORKLOADS = ("W1", "W2", "W3", "W4", "W3t", "W5a", "W5b") + (
    ("W3r",) if os.path.isdir("/usr/share/datasets/fashion-mnist") else ())


def test_compare_quick_runs_and_prints_every_workload(tmp_path):
    out_json = tmp_path / "out.json"
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "compare.py"), "--quick",
                           "--json", str(out_json)], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, f"compare.py --quick failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    lines = proc.stdout.splitlines()
    for wid in WORKLOADS:
        rows = [ln for ln in lines if re.match(rf"{wid}\s{{2,}}", ln)]
        assert len(rows) == 1, f"expected one table row for {wid}; output:\n{proc.stdout}"
        row = rows[0]
        assert re.search(r"\d+(\.\d+)?( s| us|k/s)", row), f"{wid} row has no fastnn figure: {row!r}"
        try:
            import torch  # noqa: F401
        except ImportError:
            assert "not installed" in row, row
        else:
            assert re.search(r"\d+\.\d\dx", row), f"{wid} row has no ratio to PyTorch: {row!r}"
            if wid in ("W3", "W4", "W3r"):  # and to PyTorch's fused Adam
                assert len(re.findall(r"\d+\.\d\dx", row)) >= 2, row
    assert re.search(r"fastnn W3 = [\d.]+% of the GEMM rate", proc.stdout), proc.stdout
    assert "W3 fit peak RSS fastnn" in proc.stdout, proc.stdout

    data = json.loads(out_json.read_text())
    assert set(data["workloads"]) == set(WORKLOADS)
    assert data["threads"]["fastnn"] == 2
    assert data["workloads"]["W3t"]["vs_w3"] > 0
    assert data["workloads"]["W3t"]["stderr"]["fastnn"] == ""  # nothing printed inside threadpool_limits(2)
    for wid in WORKLOADS:
        res = data["workloads"][wid]["results"]["fastnn"]
        assert res["median"] > 0 and res["samples_per_s"] > 0, (wid, res)


def test_compare_rejects_unknown_workload():
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "compare.py"), "--only", "W9"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 2
    assert "--only" in proc.stderr and "W9" in proc.stderr
