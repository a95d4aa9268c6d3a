"""Example 7: a hyperparameter search spread over a Dask cluster, with the same results as on one process.

scikit-learn's GridSearchCV of a Pipeline(StandardScaler, fastnn.sklearn.MLPClassifier) on the 8x8 digits
(1797 images, 10 classes): first serially in this process, then with every fit sent to the workers of a
dask.distributed cluster through joblib's "dask" backend. The estimators travel to the workers pickled (a fastnn
model pickles as its safetensors bytes), and with a fixed random_state each fit gives the same weights wherever it
runs, so the two cv_results_ are equal, score for score.

Threads: Dask's nanny starts each worker process with OMP_NUM_THREADS=1, which fastnn reads when it is imported,
so every fit on a worker trains on one thread and a worker running `threads_per_worker` fits at once uses that
many cores: its share of the machine. The example prints the thread count each worker reports.

    python examples/07_model_search_dask.py [--out DIR] [--quick] [--seed S] [--workers N] [--scheduler ADDRESS]

By default it starts a LocalCluster of --workers processes (one thread each) on 127.0.0.1 and closes it at the
end; --scheduler tcp://HOST:8786 uses a running cluster instead (its workers need fastnn installed).
Needs: pip install "fastnn-cpp[dask]" (scikit-learn, dask, distributed).
"""

import logging
import os
import time
import warnings

import numpy as np

from _common import Run, section

import fastnn


def _arguments(parser):
    parser.add_argument("--workers", type=int, default=2, help="worker processes of the local cluster (default 2)")
    parser.add_argument("--scheduler", default=None, help="address of a running Dask scheduler (default: start a "
                                                          "local cluster)")


def _quiet():
    """Short searches stop at max_iter on purpose: no ConvergenceWarning per fit (here and on each worker)."""
    from sklearn.exceptions import ConvergenceWarning
    warnings.simplefilter("ignore", ConvergenceWarning)


def _worker_report():
    """Run on each worker: its process id, fastnn's thread count and the OpenMP limit Dask set."""
    import fastnn as fn
    return {"pid": os.getpid(), "fastnn_threads": fn.get_num_threads(),
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS")}


def main(argv=None):
    run = Run("07_model_search_dask", __doc__.splitlines()[0], argv, _arguments)
    import joblib
    import matplotlib.pyplot as plt
    from dask.distributed import Client, LocalCluster, get_task_stream
    from sklearn.datasets import load_digits
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from fastnn.sklearn import MLPClassifier

    _quiet()
    X, y = load_digits(return_X_y=True)
    max_iter = 8 if run.quick else 40
    grid = {"mlpclassifier__hidden_layer_sizes": [(32,), (64,)], "mlpclassifier__alpha": [1e-4, 1e-1]}
    if not run.quick:
        grid["mlpclassifier__learning_rate_init"] = [1e-3, 1e-2]
    pipe = make_pipeline(StandardScaler(), MLPClassifier(max_iter=max_iter, learning_rate_init=0.01,
                                                          random_state=run.args.seed))
    n_candidates = int(np.prod([len(v) for v in grid.values()]))
    print(f"digits: {X.shape[0]} images of {X.shape[1]} pixels, 10 classes; {n_candidates} candidates x 3 folds "
          f"= {3 * n_candidates} fits of MLPClassifier(max_iter={max_iter})")

    section("1. The search in this process")
    start = time.perf_counter()
    serial = GridSearchCV(pipe, grid, cv=3, n_jobs=1).fit(X, y)
    serial_seconds = time.perf_counter() - start
    print(f"{serial_seconds:.1f} s; best {serial.best_params_} with accuracy {serial.best_score_:.4f}")

    section("2. The same search on a Dask cluster")
    if run.args.scheduler:
        cluster, client = None, Client(run.args.scheduler)
    else:
        cluster = LocalCluster(n_workers=run.args.workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address=None, silence_logs=logging.ERROR)
        client = Client(cluster)
    try:
        client.run(_quiet)
        reports = client.run(_worker_report)
        for address, report in sorted(reports.items()):
            print(f"worker {address}: pid {report['pid']}, fastnn threads {report['fastnn_threads']} "
                  f"(OMP_NUM_THREADS={report['OMP_NUM_THREADS']})")
        start = time.perf_counter()
        with get_task_stream(client) as stream, joblib.parallel_backend("dask"):
            distributed = GridSearchCV(pipe, grid, cv=3, n_jobs=-1).fit(X, y)
        dask_seconds = time.perf_counter() - start
        workers_used = sorted({task["worker"] for task in stream.data})
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    print(f"{dask_seconds:.1f} s on {len(reports)} workers ({len(workers_used)} ran fits); best "
          f"{distributed.best_params_} with accuracy {distributed.best_score_:.4f}")

    section("3. The two searches agree")
    keys = [f"split{i}_test_score" for i in range(3)] + ["mean_test_score", "rank_test_score"]
    same = all(np.array_equal(serial.cv_results_[k], distributed.cv_results_[k]) for k in keys)
    print(f"{'candidate':66s} {'serial':>8s} {'dask':>8s}")
    for params, a, b in zip(serial.cv_results_["params"], serial.cv_results_["mean_test_score"],
                            distributed.cv_results_["mean_test_score"]):
        short = ", ".join(f"{k.split('__')[1]}={v}" for k, v in params.items())
        print(f"{short:66s} {a:8.4f} {b:8.4f}")
    print(f"every split score equal: {same}")

    fig, ax = plt.subplots(figsize=(7, 3.2))
    index = np.arange(n_candidates)
    ax.bar(index - 0.2, serial.cv_results_["mean_test_score"], 0.4, label="one process")
    ax.bar(index + 0.2, distributed.cv_results_["mean_test_score"], 0.4, label="Dask workers")
    ax.set_xticks(index, [str(i) for i in index])
    ax.set_xlabel("candidate")
    ax.set_ylabel("mean CV accuracy")
    ax.set_ylim(max(0.0, float(serial.cv_results_["mean_test_score"].min()) - 0.1), 1.0)
    ax.legend(loc="lower right")
    run.save(fig, "07_search_scores.png")

    run.results.update(
        candidates=n_candidates, max_iter=max_iter, same_cv_results=bool(same),
        serial_mean_test_score=[float(v) for v in serial.cv_results_["mean_test_score"]],
        dask_mean_test_score=[float(v) for v in distributed.cv_results_["mean_test_score"]],
        serial_split_scores=[[float(v) for v in serial.cv_results_[k]] for k in keys[:3]],
        dask_split_scores=[[float(v) for v in distributed.cv_results_[k]] for k in keys[:3]],
        best_params={k: list(v) if isinstance(v, tuple) else v for k, v in serial.best_params_.items()},
        worker_threads=[r["fastnn_threads"] for r in reports.values()],
        worker_pids=[r["pid"] for r in reports.values()], main_pid=os.getpid(),
        workers=len(reports), workers_used=len(workers_used),
        serial_seconds=round(serial_seconds, 2), dask_seconds=round(dask_seconds, 2),
        main_threads=fastnn.get_num_threads())
    run.finish()
    return run.results


if __name__ == "__main__":
    main()
