"""Model search on a Dask cluster: GridSearchCV of fastnn's scikit-learn estimators under
joblib.parallel_backend("dask") on a LocalCluster of 2 worker processes (started and closed here) gives the same
cv_results_ as the serial search, and each worker trains with its share of the threads (one each).

Each run is a subprocess in its own process group, bounded by a timeout: if the cluster hangs, the whole group
(scheduler and workers included) is killed and the test fails instead of hanging."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from _extras import require

require("sklearn")
require("dask")
require("distributed")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIMEOUT = 300

SCRIPT = textwrap.dedent("""
    import json, logging, os, sys, warnings
    import numpy as np
    import joblib
    from dask.distributed import Client, LocalCluster, get_task_stream
    from sklearn.datasets import make_classification, make_regression
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import GridSearchCV
    import fastnn
    from fastnn.layers import Dense
    from fastnn.sklearn import MLPClassifier, MLPRegressor
    from fastnn.wrappers import SKLearnClassifier

    def quiet():
        warnings.simplefilter("ignore", ConvergenceWarning)

    def report():
        import fastnn as fn
        return {"pid": os.getpid(), "threads": fn.get_num_threads()}

    quiet()
    X, y = make_classification(n_samples=300, n_features=8, n_informative=5, n_classes=3, random_state=0)
    Xr, yr = make_regression(n_samples=300, n_features=8, noise=1.0, random_state=0)
    template = fastnn.Sequential([Dense(8, activation="relu", input_shape=(8,)), Dense(3, activation="softmax")])
    template.compile(optimizer="adam", loss="categorical_crossentropy")
    searches = {
        "MLPClassifier": (GridSearchCV(MLPClassifier(max_iter=15, learning_rate_init=0.01, random_state=0),
                                       {"hidden_layer_sizes": [(8,), (16,)], "alpha": [1e-4, 1e-1]}, cv=3), X, y),
        "MLPRegressor": (GridSearchCV(MLPRegressor(max_iter=10, random_state=1, solver="sgd"),
                                      {"learning_rate": ["constant", "invscaling"]}, cv=2), Xr, yr / 100),
        "SKLearnClassifier": (GridSearchCV(SKLearnClassifier(template, random_state=2),
                                           {"fit_kwargs": [{"epochs": 3}, {"epochs": 6}]}, cv=2), X, y),
    }
    keys = None
    out = {"main_pid": os.getpid(), "serial": {}, "dask": {}}
    for name, (search, data, target) in searches.items():
        search.set_params(n_jobs=1).fit(data, target)
        out["serial"][name] = {k: np.asarray(v).tolist() for k, v in search.cv_results_.items()
                               if "test_score" in k}
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None, silence_logs=logging.ERROR)
    client = Client(cluster)
    try:
        client.run(quiet)
        out["workers"] = list(client.run(report).values())
        with get_task_stream(client) as stream, joblib.parallel_backend("dask"):
            for name, (search, data, target) in searches.items():
                search.set_params(n_jobs=-1).fit(data, target)
                out["dask"][name] = {k: np.asarray(v).tolist() for k, v in search.cv_results_.items()
                                     if "test_score" in k}
        out["workers_used"] = len({t["worker"] for t in stream.data})
    finally:
        client.close()
        cluster.close()
    print("RESULT " + json.dumps(out))
""")


def _run_bounded(args, **kwargs):
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd="/",
                            start_new_session=True, env=dict(os.environ, MPLBACKEND="Agg"), **kwargs)
    try:
        stdout, stderr = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        pytest.fail(f"the Dask search did not finish in {TIMEOUT} s (killed):\n{stdout[-2000:]}\n{stderr[-2000:]}")
    assert proc.returncode == 0, f"{stdout[-3000:]}\n{stderr[-3000:]}"
    return stdout


def test_grid_search_on_a_local_dask_cluster_equals_the_serial_search():
    stdout = _run_bounded([sys.executable, "-c", SCRIPT])
    line = [l for l in stdout.splitlines() if l.startswith("RESULT ")]
    assert line, stdout[-3000:]
    out = json.loads(line[-1][len("RESULT "):])
    assert sorted(out["dask"]) == sorted(out["serial"]) == ["MLPClassifier", "MLPRegressor", "SKLearnClassifier"]
    for name in out["serial"]:
        assert out["dask"][name] == out["serial"][name], name  # every split score, bitwise
        assert "mean_test_score" in out["serial"][name]
    assert len(out["workers"]) == 2
    assert [w["threads"] for w in out["workers"]] == [1, 1]  # one thread each: the workers' share of the cores
    assert out["main_pid"] not in {w["pid"] for w in out["workers"]}
    assert out["workers_used"] == 2


def test_example_07_walks_through_the_dask_search(tmp_path):
    stdout = _run_bounded([sys.executable, os.path.join(ROOT, "examples", "07_model_search_dask.py"), "--quick",
                           "--out", str(tmp_path)])
    assert "every split score equal: True" in stdout
    with open(tmp_path / "07_model_search_dask.json") as f:
        results = json.load(f)
    assert results["same_cv_results"] is True
    assert results["serial_split_scores"] == results["dask_split_scores"]
    assert results["worker_threads"] == [1, 1] and results["workers"] == 2
    assert min(results["serial_mean_test_score"]) > 0.8  # digits, 8 epochs
    with open(tmp_path / "07_search_scores.png", "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
