"""Thread ownership (issue 12): the engine's OpenMP team is its only thread pool, whatever OpenBLAS's or OpenMP's
global settings say. Each case runs in a child process whose stderr file descriptor is captured whole, so that
anything a library prints from C (OpenBLAS's "Detect OpenMP Loop" warning) is seen:
  - threadpool_limits(1) and (2) around a fit/predict: the engine uses the limit (never limit x its own count),
    and prints nothing;
  - OPENBLAS_NUM_THREADS / OMP_NUM_THREADS in the environment: the same;
  - joblib with two loky workers, each fitting a model: each worker's engine runs on the thread count loky gives
    it (cpu_count // 2), and nothing is printed.
"""

import json
import os
import subprocess
import sys
import tempfile
import textwrap

import pytest

pytest.importorskip("threadpoolctl")

CHILD = textwrap.dedent("""
    import json, sys
    import numpy as np
    import threadpoolctl
    import fastnn
    from fastnn import Sequential
    from fastnn.layers import Dense

    def work(seed=0):
        rng = np.random.default_rng(seed)
        x = rng.random((1200, 784)).astype(np.float32)
        y = rng.integers(0, 10, size=1200)
        m = Sequential([Dense(256, input_shape=(784,), activation="relu"), Dense(10, activation="softmax")])
        m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        m.fit(x, y, epochs=1, batch_size=300, verbose=0)
        m.predict(x, verbose=0)
        return {"threads": fastnn.get_num_threads(), "team": fastnn._core._team_size()}

    mode, asked = sys.argv[1], int(sys.argv[2])
    fastnn.set_num_threads(asked)
    if mode == "plain":
        out = work()
    elif mode.startswith("limit"):
        with threadpoolctl.threadpool_limits(int(mode[5:])):
            out = work()
        out["after"] = fastnn.get_num_threads()
    elif mode == "joblib":
        from joblib import Parallel, delayed
        from joblib.externals.loky import cpu_count
        out = {"workers": Parallel(n_jobs=2, backend="loky")(delayed(work)(s) for s in range(2)),
               "expected": max(1, cpu_count() // 2)}
    print(json.dumps(out))
""")


def child(mode, asked, **env_extra):
    env = dict(os.environ, **env_extra)
    proc = subprocess.run([sys.executable, "-c", CHILD, mode, str(asked)], capture_output=True, text=True,
                          timeout=600, env=env, cwd=tempfile.gettempdir())
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout), proc.stderr


needs_openmp = pytest.mark.skipif(
    not __import__("fastnn")._core.have_openmp(), reason="this build has no OpenMP: the engine runs on one thread")


@needs_openmp
@pytest.mark.parametrize("limit,asked", [(1, 2), (2, 2), (2, 1)])
def test_threadpool_limits_give_the_thread_count_used_and_print_nothing(limit, asked):
    out, err = child(f"limit{limit}", asked)
    assert err == ""  # no "OpenBLAS Warning : Detect OpenMP Loop ..."
    assert out["threads"] == min(limit, asked)
    assert out["team"] == min(limit, asked)  # the team really has that many threads, not limit x asked
    assert out["after"] == asked


@needs_openmp
@pytest.mark.parametrize("var", ["OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"])
def test_environment_thread_settings_are_honoured_and_silent(var):
    out, err = child("plain", 1 if var == "OMP_NUM_THREADS" else 2, **{var: "2"})
    assert err == ""
    assert out["team"] == out["threads"] == (1 if var == "OMP_NUM_THREADS" else 2)


@needs_openmp
def test_joblib_loky_workers_use_their_share_and_print_nothing():
    pytest.importorskip("joblib")
    out, err = child("joblib", 2)
    assert "Warning" not in err and "OpenBLAS" not in err, err[-2000:]
    assert len(out["workers"]) == 2
    for w in out["workers"]:
        assert w["threads"] == w["team"] == out["expected"]
