"""Faults during training (issue 7): Ctrl-C in the middle of fit, and a learning rate that blows the loss up.

Ctrl-C: a real SIGINT sent to a child process, and _thread.interrupt_main from a timer thread in this process. Each
time control must come back within about one batch (measured: the time from the signal to the KeyboardInterrupt),
the weights must be bitwise those of a replay of the completed steps, the completed epochs must be in model.history,
and predict and fit must work afterwards. Both fit code paths are run: all epochs in one engine call (no callback
needs per-epoch hooks) and one engine call per epoch (a callback is given).

(Kill-during-save and half-written files are in test_saving_files.py.)
"""

import _thread
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import warnings

import numpy as np
import pytest

import fastnn
from fastnn import Sequential
from fastnn.callbacks import LambdaCallback, TerminateOnNaN
from fastnn.layers import Dense

PATHS = ["one-engine-call", "per-epoch"]

# Shared by the child process and the in-process test: the model, its data, and the replay of k optimizer steps.
COMMON = textwrap.dedent("""
    import numpy as np
    import fastnn
    from fastnn import Sequential
    from fastnn.layers import Dense

    def data(n, d):
        rng = np.random.default_rng(0)
        x = rng.normal(size=(n, d)).astype(np.float32)
        y = np.tanh(x[:, :1] - x[:, 1:2]).astype(np.float32)
        return x, y

    def make(d, width):
        fastnn.utils.set_random_seed(11)
        m = Sequential([Dense(width, input_shape=(d,), activation="relu"), Dense(width, activation="relu"),
                        Dense(1)])
        m.compile(optimizer="adam", loss="mse", metrics=["mae"])
        return m

    def replay(k, x, y, batch, d, width):
        # k optimizer steps of an unshuffled fit, by whole epochs and then single batches.
        m = make(d, width)
        steps = -(-len(x) // batch)
        if k // steps:
            m.fit(x, y, epochs=k // steps, batch_size=batch, shuffle=False, verbose=0)
        for b in range(k % steps):
            m.train_on_batch(x[b * batch:(b + 1) * batch], y[b * batch:(b + 1) * batch])
        return m

    def same_weights(a, b):
        return all(p.tobytes() == q.tobytes() for p, q in zip(a.get_weights(), b.get_weights()))
""")
exec(COMMON)  # noqa: S102  (defines data, make, replay, same_weights here too)

CHILD = COMMON + textwrap.dedent("""
    import json, sys, time
    fastnn.set_num_threads(1)
    path, n, d, width, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    x, y = data(n, d)
    steps = -(-n // batch)
    m = make(d, width)
    t = time.monotonic()
    m.train_on_batch(x[:batch], y[:batch])
    m = make(d, width)  # the warm-up step's time is the batch time; training starts again from the seed
    batch_time = time.monotonic() - t
    cbs = [] if path == "one-engine-call" else [fastnn.callbacks.LambdaCallback(on_epoch_end=lambda e, l: None)]
    print("fitting", flush=True)
    try:
        m.fit(x, y, epochs=10 ** 6, batch_size=batch, shuffle=False, verbose=0, callbacks=cbs)
        out = {"interrupted": False}
    except KeyboardInterrupt:
        caught = time.monotonic()
        k = m.optimizer.iterations
        ref = replay(k, x, y, batch, d, width)
        out = {"interrupted": True, "caught": caught, "batch_time": batch_time, "steps": k,
               "steps_per_epoch": steps,
               "history": len(m.history.history.get("loss", [])) if m.history is not None else None,
               "finite": all(bool(np.isfinite(w).all()) for w in m.get_weights()),
               "replay_equal": same_weights(m, ref),
               "predict_equal": m.predict(x[:100], verbose=0).tobytes() == ref.predict(x[:100], verbose=0).tobytes()}
        h = m.fit(x[:4 * batch], y[:4 * batch], epochs=1, batch_size=batch, shuffle=False, verbose=0)
        out["continued"] = m.optimizer.iterations == k + 4 and bool(np.isfinite(h.history["loss"]).all())
    print(json.dumps(out), flush=True)
""")


@pytest.mark.parametrize("path", PATHS)
def test_sigint_to_a_process_running_fit(path, tmp_path):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    # 65,536 samples in batches of 512: 128 batches of ~10 ms, so an epoch lasts about a second and a check only
    # between epochs would be caught by the latency bound below.
    proc = subprocess.Popen([sys.executable, str(script), path, "65536", "64", "256", "512"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout.readline().strip() == "fitting"
        time.sleep(1.3)  # into the second epoch
        sent = time.monotonic()  # CLOCK_MONOTONIC is system-wide: comparable with the child's
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-2000:]
    r = json.loads(out.strip().splitlines()[-1])
    assert r["interrupted"]
    latency = r["caught"] - sent
    print(f"\n{path}: SIGINT latency {latency * 1e3:.1f} ms, batch {r['batch_time'] * 1e3:.1f} ms, "
          f"stopped after {r['steps']} steps ({r['steps_per_epoch']} per epoch)")
    assert latency < 2 * r["batch_time"] + 0.1, (latency, r["batch_time"])
    assert r["steps"] > r["steps_per_epoch"]  # it did run into the second epoch
    assert r["finite"] and r["replay_equal"] and r["predict_equal"] and r["continued"]
    assert r["history"] == (r["steps"] - 1) // r["steps_per_epoch"]  # completed epochs only


@pytest.mark.parametrize("path", PATHS)
def test_interrupt_main_during_fit(path):
    n, d, width, batch = 8192, 16, 64, 64  # 128 batches of a fraction of a millisecond
    x, y = data(n, d)
    steps = n // batch
    m = make(d, width)
    m.fit(x, y, epochs=1, batch_size=batch, shuffle=False, verbose=0)
    t0 = time.perf_counter()
    m.fit(x, y, epochs=3, batch_size=batch, shuffle=False, verbose=0)
    epoch_time = (time.perf_counter() - t0) / 3
    m = make(d, width)
    sent = []

    def fire():
        sent.append(time.perf_counter())
        _thread.interrupt_main()

    timer = threading.Timer(max(0.3, 2.5 * epoch_time), fire)
    cbs = [] if path == "one-engine-call" else [LambdaCallback(on_epoch_end=lambda e, l: None)]
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            m.fit(x, y, epochs=10 ** 6, batch_size=batch, shuffle=False, verbose=0, callbacks=cbs)
        caught = time.perf_counter()
    finally:
        timer.cancel()
    latency = caught - sent[0]
    k = m.optimizer.iterations
    print(f"\n{path}: interrupt_main latency {latency * 1e3:.2f} ms; batch {epoch_time / steps * 1e3:.2f} ms; "
          f"{k} steps")
    assert latency < 0.05 + 2 * epoch_time / steps
    assert k > 2 * steps
    assert all(np.isfinite(w).all() for w in m.get_weights())
    ref = replay(k, x, y, batch, d, width)
    assert same_weights(m, ref)
    assert len(m.history.history["loss"]) == (k - 1) // steps and m.history.epoch == list(range((k - 1) // steps))
    assert m.predict(x[:64], verbose=0).tobytes() == ref.predict(x[:64], verbose=0).tobytes()
    h = m.fit(x, y, epochs=1, batch_size=batch, shuffle=False, verbose=0, callbacks=cbs)
    ref.fit(x, y, epochs=1, batch_size=batch, shuffle=False, verbose=0)
    assert len(h.history["loss"]) == 1 and same_weights(m, ref)  # training continues exactly as without the stop


def test_an_interrupted_fit_replaces_the_previous_history():
    x, y = data(65536, 8)
    m = make(8, 16)
    m.fit(x[:64], y[:64], epochs=2, verbose=0)
    old = m.history
    timer = threading.Timer(0.05, _thread.interrupt_main)
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            m.fit(x, y, epochs=10 ** 6, batch_size=1, shuffle=False, verbose=0)  # 65,536 batches an epoch
    finally:
        timer.cancel()
    k = m.optimizer.iterations - 4  # the earlier fit made 2 steps an epoch (batches of 32)
    assert m.history is not old and len(m.history.history.get("loss", [])) == (k - 1) // 65536


# ------------------------------------------------------------------ a learning rate that blows the loss up
N, BATCH = 64, 8
STEPS = N // BATCH


def exploding():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(N, 4)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5], [3.0]]) + 1).astype(np.float32)
    fastnn.utils.set_random_seed(2)
    m = Sequential([Dense(8, input_shape=(4,), activation="linear"), Dense(1)])
    m.compile(optimizer=fastnn.optimizers.SGD(learning_rate=0.15), loss="mse")  # diverges after a few epochs
    return m, x, y


def first_bad_step():
    """Steps one batch at a time: the index of the first batch whose loss is not finite, and the weights then."""
    m, x, y = exploding()
    for j in range(40 * STEPS):
        before = m.get_weights()
        b = j % STEPS
        loss = m.train_on_batch(x[b * BATCH:(b + 1) * BATCH], y[b * BATCH:(b + 1) * BATCH])
        if not np.isfinite(loss):
            return j, before
    raise AssertionError("the loss never blew up")


def test_the_setup_blows_up_in_a_later_epoch():
    j, _ = first_bad_step()
    assert j >= STEPS and j % STEPS != 0  # not in the first epoch, not on an epoch boundary
    print(f"\nloss first non-finite at step {j} (epoch {j // STEPS + 1}, batch {j % STEPS})")


def test_terminate_on_nan_stops_within_the_batch(capsys):
    j, weights = first_bad_step()
    m, x, y = exploding()
    h = m.fit(x, y, epochs=50, batch_size=BATCH, shuffle=False, verbose=0, callbacks=[TerminateOnNaN()])
    assert m.optimizer.iterations == j  # the bad batch's step was not applied
    assert all(a.tobytes() == b.tobytes() for a, b in zip(m.get_weights(), weights))
    assert all(np.isfinite(w).all() for w in m.get_weights())
    assert len(h.history["loss"]) == j // STEPS + 1 and not np.isfinite(h.history["loss"][-1])
    assert np.isfinite(h.history["loss"][:-1]).all()
    # The engine stops at the batch; the callback hears of it at the end of that epoch.
    assert capsys.readouterr().out == f"Epoch {j // STEPS + 1}: Invalid loss, terminating training\n"
    assert np.isfinite(m.predict(x, verbose=0)).all()


@pytest.mark.parametrize("path", PATHS)
def test_without_terminate_on_nan_one_warning_names_the_epoch(path):
    j, _ = first_bad_step()
    m, x, y = exploding()
    cbs = [] if path == "one-engine-call" else [LambdaCallback(on_epoch_end=lambda e, l: None)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        h = m.fit(x, y, epochs=j // STEPS + 4, batch_size=BATCH, shuffle=False, verbose=0, callbacks=cbs)
    runtime = [w for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(runtime) == 1, [str(w.message) for w in caught]
    message = str(runtime[0].message)
    assert message.startswith(f"Epoch {j // STEPS + 1}: the training loss is "), message
    assert "TerminateOnNaN" in message and runtime[0].filename == __file__  # points at the user's fit call
    assert len(h.history["loss"]) == j // STEPS + 4  # training went on
    assert np.isfinite(h.history["loss"][:j // STEPS]).all()
    assert not np.isfinite(h.history["loss"][j // STEPS:]).any()
