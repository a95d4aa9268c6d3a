"""Threads and memory (issue 7).

- predict from 4 Python threads gives bitwise the serial results;
- the engine releases the GIL: two threads predicting large batches (one engine thread each) take clearly less wall
  time than the same calls made one after the other;
- predict while another thread trains never sees half-updated weights (the rule, documented in fastnn/models.py: a
  training step holds the network's exclusive lock, predict/evaluate a shared one), checked against the complete
  list of weight states of a replayed run;
- two training calls on one model at once are refused with a clear RuntimeError;
- resident memory does not grow over 100,000 predict calls or 200 epochs of fit.
"""

import os
import threading
import time

import numpy as np
import pytest

import fastnn
from fastnn import Sequential
from fastnn.callbacks import LambdaCallback
from fastnn.layers import Dense
from fastnn.optimizers import SGD


@pytest.fixture
def one_engine_thread():
    before = fastnn.get_num_threads()
    fastnn.set_num_threads(1)
    yield
    fastnn.set_num_threads(before)


def run_threads(target, count):
    errors = []

    def guarded(i):
        try:
            target(i)
        except BaseException as e:  # reported in the main thread
            errors.append(e)

    threads = [threading.Thread(target=guarded, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    if errors:
        raise errors[0]


def test_four_threads_predict_bitwise_like_serial():
    fastnn.utils.set_random_seed(0)
    m = Sequential([Dense(96, input_shape=(20,), activation="relu"), Dense(48, activation="tanh"),
                    Dense(5, activation="softmax")])
    rng = np.random.default_rng(1)
    inputs = [rng.normal(size=(int(rng.integers(1, 300)), 20)).astype(np.float32) for _ in range(50)]
    sizes = [32, 64, 1000]  # (a batch size above 256 may change the last bit: the serial run uses the same ones)
    serial = {(k, b): m.predict(x, batch_size=b, verbose=0).tobytes() for k, x in enumerate(inputs) for b in sizes}
    results = {}

    def work(t):
        out = []
        for call in range(250):
            k, b = (call * 7 + t * 13) % len(inputs), sizes[call % 3]
            out.append((k, b, m.predict(inputs[k], batch_size=b, verbose=0).tobytes()))
        results[t] = out

    run_threads(work, 4)
    assert sum(len(v) for v in results.values()) == 1000
    for out in results.values():
        for k, b, got in out:
            assert got == serial[k, b]


def test_two_threads_predict_at_once_and_faster_than_serial(one_engine_thread):
    # Proof that the GIL is released, independent of machine load: the two threads' predict calls overlap in time
    # (with the GIL held, a call could not even start while the other runs). The wall-time gain needs two free cores:
    # it is asserted only when the machine is otherwise idle, and always printed.
    fastnn.utils.set_random_seed(0)
    m = Sequential([Dense(512, input_shape=(512,), activation="relu"), Dense(512, activation="relu"), Dense(10)])
    x = np.random.default_rng(2).normal(size=(2048, 512)).astype(np.float32)
    expected = m.predict(x, batch_size=2048, verbose=0).tobytes()
    reps = 4
    spans = {0: [], 1: []}

    def calls(t=0):
        for _ in range(reps):
            t0 = time.perf_counter()
            out = m.predict(x, batch_size=2048, verbose=0)
            spans[t].append((t0, time.perf_counter()))
            assert out.tobytes() == expected

    ratios, overlaps = [], []
    for attempt in range(3):  # other processes share the two cores: the best of three attempts
        spans[0].clear()
        t0 = time.perf_counter()
        calls()
        calls()
        serial = time.perf_counter() - t0
        spans[0].clear()
        t0 = time.perf_counter()
        run_threads(calls, 2)
        parallel = time.perf_counter() - t0
        overlap = sum(max(0.0, min(a1, b1) - max(a0, b0)) for a0, a1 in spans[0] for b0, b1 in spans[1])
        busy = sum(b - a for a, b in spans[0])
        ratios.append(parallel / serial)
        overlaps.append(overlap / busy)
        print(f"\nserial {serial * 1e3:.0f} ms, two threads {parallel * 1e3:.0f} ms (ratio {ratios[-1]:.2f}); "
              f"calls overlapping {overlaps[-1]:.0%} of the time; load average {os.getloadavg()[0]:.1f}")
        if ratios[-1] < 0.8 and overlaps[-1] > 0.5:
            break
    assert max(overlaps) > 0.5, overlaps
    if os.getloadavg()[0] < 0.5:
        assert min(ratios) < 0.8, ratios  # 1.0 if the GIL were held; 0.5 with two free cores


def test_fit_while_other_threads_predict_never_sees_a_torn_state():
    # A linear model on identity input: predict(I) = W + b shows every weight, so a read between the kernel and the
    # bias update of a step (or in the middle of the kernel) would give rows matching no state of the run.
    rng = np.random.default_rng(3)
    n, d = 128, 8
    x = rng.normal(size=(n, d)).astype(np.float32)
    y = (x @ rng.normal(size=(d, d)) + 0.5 + rng.normal(size=(n, d))).astype(np.float32)  # noise: never settles
    eye = np.eye(d, dtype=np.float32)
    epochs = 150

    def make():
        fastnn.utils.set_random_seed(4)
        m = Sequential([Dense(d, input_shape=(d,))])
        m.compile(optimizer=SGD(learning_rate=0.01, momentum=0.9), loss="mse")
        return m

    # Every state of the run: replayed one step at a time.
    replay = make()
    states = {replay.predict(eye, verbose=0).tobytes()}
    for _ in range(epochs):
        for i in range(n):
            replay.train_on_batch(x[i:i + 1], y[i:i + 1])
            states.add(replay.predict(eye, verbose=0).tobytes())

    m = make()
    initial = m.predict(eye, verbose=0).tobytes()
    done = threading.Event()
    seen = []

    def reader(_):
        while not done.is_set():
            seen.append(m.predict(eye, verbose=0).tobytes())

    readers = [threading.Thread(target=reader, args=(i,)) for i in range(3)]
    for t in readers:
        t.start()
    try:
        m.fit(x, y, epochs=epochs, batch_size=1, shuffle=False, verbose=0)
    finally:
        done.set()
        for t in readers:
            t.join()
    final = m.predict(eye, verbose=0).tobytes()
    assert final == replay.predict(eye, verbose=0).tobytes()
    torn = [s for s in seen if s not in states]
    distinct = len(set(seen) - {initial, final})
    print(f"\n{len(seen)} reads during fit, {distinct} distinct intermediate states of {len(states)}, "
          f"{len(torn)} torn")
    assert not torn
    assert distinct >= 5  # the readers really ran while the weights were changing


@pytest.mark.parametrize("path", ["one-engine-call", "per-epoch"])
def test_two_concurrent_fits_on_one_model_are_refused(path):
    fastnn.utils.set_random_seed(5)
    m = Sequential([Dense(16, input_shape=(4,), activation="relu"), Dense(1)])
    m.compile(optimizer="adam", loss="mse")
    x = np.random.default_rng(5).normal(size=(4096, 4)).astype(np.float32)
    y = x[:, :1] * 2
    cbs = [LambdaCallback(on_epoch_end=lambda e, l: None)] if path == "per-epoch" else []
    result = {}

    def first(_):
        result["history"] = m.fit(x, y, epochs=40, batch_size=1, verbose=0, callbacks=cbs)

    t = threading.Thread(target=first, args=(0,))
    t.start()
    try:
        deadline = time.monotonic() + 10
        while not m._engine.training.locked() and time.monotonic() < deadline:
            time.sleep(0.001)
        assert m._engine.training.locked()
        before = m.history
        with pytest.raises(RuntimeError, match=r"^fit: model '.*' is already being trained \(fit or train_on_batch is "
                                               r"running in another thread\); two training calls on one model cannot "
                                               r"run at once"):
            m.fit(x, y, epochs=1, verbose=0)
        with pytest.raises(RuntimeError, match=r"^train_on_batch: model '.*' is already being trained"):
            m.train_on_batch(x[:8], y[:8])
        assert m.history is before  # the refused call touched nothing
        if path == "one-engine-call":
            # The engine enforces the same rule for the length of each of its calls (here the whole fit; in the
            # per-epoch path only the Python lock spans the gaps between epochs, where callbacks run).
            time.sleep(0.05)
            with pytest.raises(RuntimeError, match="already being trained in another thread"):
                m._net.train_on_batch(x[:8], y[:8], None)
        assert np.isfinite(m.predict(x[:10], verbose=0)).all()  # predicting while training is allowed
    finally:
        t.join(timeout=120)
    assert len(result["history"].history["loss"]) == 40
    m.fit(x[:64], y[:64], epochs=1, verbose=0)  # free again afterwards


# ------------------------------------------------------------------ memory
def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def test_rss_flat_over_100000_predict_calls():
    fastnn.utils.set_random_seed(6)
    m = Sequential([Dense(32, input_shape=(10,), activation="relu"), Dense(3, activation="softmax")])
    xs = [np.random.default_rng(i).normal(size=(8, 10)).astype(np.float32) for i in range(4)]
    for i in range(5000):  # warm-up: allocator pools, caches
        m.predict(xs[i % 4], verbose=0)
    before = rss_bytes()
    t0 = time.perf_counter()
    for i in range(100_000):
        m.predict(xs[i % 4], verbose=0)
    elapsed = time.perf_counter() - t0
    growth = rss_bytes() - before
    print(f"\n100,000 predict calls: {elapsed:.2f} s ({elapsed * 10:.1f} us a call), RSS growth {growth / 1024:.0f} KB")
    assert growth < 2 * 1024 * 1024


@pytest.mark.parametrize("per_epoch", [False, True], ids=["one-engine-call", "per-epoch"])
def test_rss_flat_over_200_epochs_of_fit(per_epoch):
    fastnn.utils.set_random_seed(7)
    m = Sequential([Dense(32, input_shape=(10,), activation="relu"), Dense(3, activation="softmax")])
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(7)
    x = rng.normal(size=(256, 10)).astype(np.float32)
    y = rng.integers(0, 3, size=256)
    cbs = [LambdaCallback(on_epoch_end=lambda e, l: None)] if per_epoch else []
    m.fit(x, y, epochs=10, batch_size=32, verbose=0, callbacks=cbs)
    before = rss_bytes()
    t0 = time.perf_counter()
    if per_epoch:
        m.fit(x, y, epochs=200, batch_size=32, verbose=0, callbacks=cbs)
    else:
        for _ in range(200):  # 200 separate fit calls: each one's History, callbacks and conversions are freed
            m.fit(x, y, epochs=1, batch_size=32, verbose=0)
    growth = rss_bytes() - before
    print(f"\n200 epochs ({'one fit' if per_epoch else '200 fits'}): {time.perf_counter() - t0:.2f} s, "
          f"RSS growth {growth / 1024:.0f} KB")
    assert growth < 2 * 1024 * 1024
