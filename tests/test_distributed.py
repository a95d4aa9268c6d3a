"""fastnn.distributed: the engine's gradient hook (without MPI), the helpers' argument checks, and, when mpi4py is
installed, the MPI runs launched with mpiexec: the tests/mpi suite, faults (a rank that raises, is killed or hangs;
Ctrl-C on the launcher) each bounded by a timeout, and resuming a run on another number of ranks."""

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import fastnn
import fastnn.distributed as fd
from _extras import require

HERE = os.path.dirname(os.path.abspath(__file__))


def small_model(dtype="float64", seed=0):
    fastnn.utils.set_random_seed(seed)
    model = fastnn.Sequential([fastnn.layers.Input((3,)), fastnn.layers.Dense(5, activation="tanh"),
                               fastnn.layers.Dense(1)], dtype=dtype)
    return model


RNG = np.random.default_rng(0)
X = RNG.normal(size=(24, 3))
Y = X.sum(axis=1, keepdims=True)


# ---------------------------------------------------------------- the engine's gradient hook
def test_the_hook_sees_every_step_s_gradient_between_backward_and_update():
    model = small_model()
    model.compile(optimizer=fastnn.optimizers.SGD(0.1), loss="mse")
    seen = []
    model._net._set_gradient_hook(lambda g: seen.append(g.copy()))
    w0 = model.get_weights()
    _, grads = model._net.forward_backward(X[:8], Y[:8])
    model.fit(X, Y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    assert len(seen) == 3 and all(g.shape == (model.count_params(),) for g in seen)
    np.testing.assert_array_equal(seen[0], np.concatenate([g.ravel() for g in grads]))
    assert not np.array_equal(model.get_weights()[0], w0[0])


@pytest.mark.parametrize("per_batch", [False, True])
def test_what_the_hook_writes_is_what_the_optimizer_applies(per_batch):
    # Halving the gradient with SGD(lr) is SGD(lr / 2): bitwise, both scalings being exact.
    a, b = small_model(), small_model()
    a.compile(optimizer=fastnn.optimizers.SGD(0.1), loss="mse")
    b.compile(optimizer=fastnn.optimizers.SGD(0.05), loss="mse")

    def halve(g):
        g *= 0.5

    a._net._set_gradient_hook(halve)
    cbs = [fastnn.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: None)] if per_batch else None
    a.fit(X, Y, batch_size=5, epochs=3, verbose=0, callbacks=cbs)
    b.fit(X, Y, batch_size=5, epochs=3, verbose=0, callbacks=cbs)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    a.train_on_batch(X[:4], Y[:4])
    b.train_on_batch(X[:4], Y[:4])
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)


def test_a_non_finite_gradient_from_the_hook_stops_training_under_terminate_on_nan():
    # What a peer's non-finite loss looks like after the allreduce: this process stops at the same step.
    model = small_model()
    model.compile(optimizer=fastnn.optimizers.SGD(0.1), loss="mse")
    calls = []

    def hook(g):
        calls.append(1)
        if len(calls) == 2:
            g[:] = np.nan

    model._net._set_gradient_hook(hook)
    ref = small_model()
    ref.compile(optimizer=fastnn.optimizers.SGD(0.1), loss="mse")
    ref.fit(X[:8], Y[:8], batch_size=8, epochs=1, shuffle=False, verbose=0)
    history = model.fit(X, Y, batch_size=8, epochs=4, shuffle=False, verbose=0,
                        callbacks=[fastnn.callbacks.TerminateOnNaN()])
    assert len(calls) == 2 and len(history.history["loss"]) == 1
    for w, r in zip(model.get_weights(), ref.get_weights()):
        np.testing.assert_array_equal(w, r)  # the second step was not applied


def test_an_exception_in_the_hook_stops_the_step_and_propagates():
    model = small_model()
    model.compile(optimizer="sgd", loss="mse")
    w0 = model.get_weights()

    def hook(g):
        raise RuntimeError("peer gone")

    model._net._set_gradient_hook(hook)
    with pytest.raises(RuntimeError, match="peer gone"):
        model.fit(X, Y, epochs=1, verbose=0)
    for w, r in zip(model.get_weights(), w0):
        np.testing.assert_array_equal(w, r)
    model.compile(optimizer="sgd", loss="mse")  # a plain optimizer removes the hook
    model.fit(X, Y, epochs=1, verbose=0)


def test_bad_arguments_without_init():
    with pytest.raises(ValueError, match="init\\(\\) has not been called"):
        fd.rank()
    with pytest.raises(ValueError, match="init\\(\\) has not been called"):
        fd.DistributedOptimizer("adam")
    with pytest.raises(ValueError, match="rank: expected an integer in \\[0, 2\\)"):
        fd.shard(X, rank=2, size=2)
    with pytest.raises(ValueError, match="same length"):
        fd.shard(X, Y[:3], rank=0, size=2)
    with pytest.raises(ValueError, match="cannot give each of 4 ranks"):
        fd.shard(X[:3], rank=0, size=4)
    x0, y0 = fd.shard(X, Y, rank=0, size=5)
    np.testing.assert_array_equal(x0, X[0:20:5])
    assert len(y0) == 4
    with pytest.raises(ValueError, match="MPI handle size"):
        fastnn._core.mpi_average({"iallreduce": 1, "test": 1, "comm": 0, "datatype": 0, "op": 0, "in_place": 0,
                                  "handle_size": 3, "size": 2, "timeout": 0.0}, np.zeros(2))


# ---------------------------------------------------------------- under mpiexec
def mpiexec():
    require("mpi4py")
    here = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    path = here if os.path.exists(here) else shutil.which("mpiexec")
    if path is None:
        pytest.fail("mpi4py is installed but no mpiexec was found (pip install \"fastnn-cpp[mpi]\")")
    return path


def launch(n, args, timeout, cwd=None):
    """Runs `mpiexec -n n python args...` with a time limit; returns (CompletedProcess, seconds)."""
    t0 = time.monotonic()
    proc = subprocess.run([mpiexec(), "-n", str(n), sys.executable, *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, cwd=cwd)
    return proc, time.monotonic() - t0


def test_the_mpi_suite_under_mpiexec_with_2_ranks(tmp_path):
    proc, _ = launch(2, ["-m", "pytest", "-q", "-p", "no:cacheprovider", os.path.join(HERE, "mpi")], timeout=600,
                     cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert proc.stdout.count(" passed") == 2, proc.stdout[-2000:]


FAULT = textwrap.dedent("""
    import os, signal, sys, time
    import numpy as np
    import fastnn, fastnn.distributed as fd
    mode, timeout = sys.argv[1], float(sys.argv[2])
    fd.init(timeout=timeout)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4000, 8)); y = x.sum(axis=1, keepdims=True)
    model = fastnn.Sequential([fastnn.layers.Input((8,)), fastnn.layers.Dense(32, activation="relu"),
                               fastnn.layers.Dense(1)])
    model.compile(optimizer=fd.DistributedOptimizer("adam"), loss="mse")

    def on_epoch_end(epoch, logs):
        if epoch == 1 and fd.rank() == 1:
            if mode == "raise":
                raise RuntimeError("rank 1 fails")
            if mode == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            if mode == "hang":
                time.sleep(3600)
        if epoch == 1 and mode == "wait":
            print("READY", flush=True)

    xs, ys = fd.shard(x, y)
    model.fit(xs, ys, batch_size=8, epochs=10**6, verbose=0,
              callbacks=[fastnn.callbacks.LambdaCallback(on_epoch_end=on_epoch_end)])
""")


@pytest.mark.parametrize("mode", ["raise", "kill", "hang"])
def test_a_rank_that_fails_stops_every_rank_in_bounded_time(tmp_path, mode):
    script = tmp_path / "fault.py"
    script.write_text(FAULT)
    proc, seconds = launch(2, [script, mode, 10.0], timeout=180)
    report = f"exit {proc.returncode} after {seconds:.1f} s; stderr:\n{proc.stderr[-3000:]}"
    assert proc.returncode != 0, report
    assert seconds < 120, report
    if mode == "raise":
        assert "rank 1 fails" in proc.stderr and "aborting the MPI job" in proc.stderr, report
    if mode == "hang":  # rank 0 gives up on the allreduce, its exception aborts the job
        assert "waited more than 10" in proc.stderr, report


def test_ctrl_c_on_the_launcher_stops_every_rank(tmp_path):
    script = tmp_path / "fault.py"
    script.write_text(FAULT)
    proc = subprocess.Popen([mpiexec(), "-n", "2", sys.executable, str(script), "wait", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        line = ""
        while time.monotonic() < deadline and "READY" not in line:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                break
        assert "READY" in line, proc.stderr.read()
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(timeout=60)
        assert rc != 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


RESUME = textwrap.dedent("""
    import json, os, signal, sys
    import numpy as np
    import fastnn, fastnn.distributed as fd
    backup, out, kill_at = sys.argv[1], sys.argv[2], int(sys.argv[3])
    fd.init(timeout=60)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(240, 5)); y = x @ rng.normal(size=(5, 1))
    fastnn.utils.set_random_seed(fd.rank())  # different weights on each rank: the broadcast makes them equal
    model = fastnn.Sequential([fastnn.layers.Input((5,)), fastnn.layers.Dense(16, activation="tanh"),
                               fastnn.layers.Dense(1)])
    model.compile(optimizer=fd.DistributedOptimizer(fastnn.optimizers.Adam(0.01)), loss="mse")

    def on_epoch_end(epoch, logs):
        if epoch == kill_at and fd.rank() == fd.size() - 1:
            os.kill(os.getpid(), signal.SIGKILL)

    xs, ys = fd.shard(x, y)
    fresh_loss = model.evaluate(x, y, verbose=0)
    h = model.fit(xs, ys, batch_size=8, epochs=8, verbose=0, callbacks=[
        fd.callbacks.BroadcastGlobalVariablesCallback(0), fastnn.callbacks.BackupAndRestore(backup),
        fastnn.callbacks.LambdaCallback(on_epoch_end=on_epoch_end)])
    same = fd._world.comm.allgather([w.tobytes() for w in model.get_weights()])
    if fd.rank() == 0:
        with open(out, "w") as f:
            json.dump({"epochs": h.epoch, "loss": h.history["loss"], "size": fd.size(),
                       "equal": all(s == same[0] for s in same),
                       "full_loss": model.evaluate(x, y, verbose=0), "fresh_loss": fresh_loss}, f)
""")


@pytest.mark.parametrize("first, second", [(2, 1), (1, 2)])
def test_a_killed_mpi_run_resumes_from_rank_0_s_backup_on_another_number_of_ranks(tmp_path, first, second):
    script = tmp_path / "resume.py"
    script.write_text(RESUME)
    backup, out = tmp_path / "backup", tmp_path / "out.json"
    proc, _ = launch(first, [script, backup, out, 3], timeout=120)
    assert proc.returncode != 0 and not out.exists()
    meta = json.loads((backup / "training_metadata.json").read_text())
    assert meta["epoch"] in (3, 4)  # killed after the backup of epoch 3 (index) was written, or while rank 0 wrote it
    proc, _ = launch(second, [script, backup, out, -1], timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["size"] == second and result["equal"]
    assert result["epochs"] == list(range(meta["epoch"], 8)), "training continues from the backup's epoch"
    # The resumed run starts from the backup's weights (far below a fresh model's loss) and keeps improving.
    assert result["loss"][0] < 0.2 * result["fresh_loss"]
    assert result["full_loss"] < result["loss"][0]
    assert not backup.exists()


def test_example_6_runs_under_mpiexec(tmp_path):
    proc, _ = launch(2, [os.path.join(os.path.dirname(HERE), "examples", "06_distributed_mpi.py"), "--quick",
                         "--out", tmp_path], timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads((tmp_path / "06_distributed_mpi.json").read_text())
    assert results["ranks"] == 2 and results["same_weights"] is True
    assert results["max_weight_difference"] < 1e-9
    assert results["checkpoint"] and results["backup_deleted"]
    assert results["accuracy"] > 0.9
    assert (tmp_path / "06_loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert proc.stdout.count("=== 1. 2 ranks") == 1, "rank 0 alone prints"


def test_a_frozen_first_tensor_does_not_fake_a_peer_s_non_finite_loss():
    # The NaN flag is read on the first trainable gradient: a frozen tensor's gradient (not rewritten by backward
    # passes) keeps the NaN of a stopped step, and must not stop the next fit.
    model = small_model()
    model.compile(optimizer=fastnn.optimizers.SGD(0.1), loss="mse")
    model._net.set_trainable(0, False)
    calls = []

    def hook(g):
        calls.append(1)
        if len(calls) == 2:
            g[:] = np.nan

    model._net._set_gradient_hook(hook)
    stop = fastnn.callbacks.TerminateOnNaN()
    assert len(model.fit(X, Y, batch_size=8, epochs=3, verbose=0, callbacks=[stop]).history["loss"]) == 1
    assert len(model.fit(X, Y, batch_size=8, epochs=3, verbose=0, callbacks=[stop]).history["loss"]) == 3
    assert len(calls) == 2 + 9
