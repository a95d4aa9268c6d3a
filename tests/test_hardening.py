"""Hardening (issue 11): no crash after a refused call, limits from one table checked before work, files that save
always load, every integer checked against the engine's range, values that overflow the model's dtype refused.

The engine-level half (fault injection on every allocation, the allocation-free step loop) is in
test_fault_injection.py; Ctrl-C during predict/evaluate in test_reliability_faults.py; structure frozen during fit
in test_reliability_threads.py.
"""

import os
import subprocess
import sys
import tempfile
import textwrap

import numpy as np
import pytest

import fastnn
from fastnn import Input, Model, Sequential, _core, _limits
from fastnn.errors import ModelFileError
from fastnn.layers import Dense


def _child(code, timeout=300):
    """Runs code in a fresh interpreter (from a folder without the source tree): a crash fails the test, not
    pytest. Returns its stdout."""
    run = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                         timeout=timeout, cwd=tempfile.gettempdir())
    assert run.returncode == 0, f"exit code {run.returncode}\n{run.stdout[-2000:]}\n{run.stderr[-3000:]}"
    return run.stdout


# ------------------------------------------------------------------ a refused call leaves the model usable
def test_huge_batches_are_refused_and_the_next_call_works():
    # Before: MemoryError('std::bad_alloc') from the engine, then SIGSEGV on the next ordinary call (the workspace
    # kept its new size with its buffers half-made). Now: refused with what ran out, before the engine allocates;
    # and the engine itself (a direct _core call) recovers too.
    out = _child("""
        import numpy as np, fastnn
        from fastnn import Sequential, _limits
        from fastnn.layers import Dense
        m = Sequential([Dense(100000, input_shape=(20,)), Dense(1)])
        m.compile("adam", "mse")
        rows = 2 * _limits.physical_memory() // (100001 * 4) + 1  # one batch's outputs: twice the machine's memory
        print("rows", rows)
        x = np.zeros((rows, 20), np.float32); y = np.zeros((rows, 1), np.float32)
        xs, ys = np.ones((4, 20), np.float32), np.ones((4, 1), np.float32)
        before = [w.copy() for w in m.get_weights()]
        calls = {"predict": lambda: m.predict(x, batch_size=rows, verbose=0),
                 "fit": lambda: m.fit(x, y, batch_size=rows, verbose=0),
                 "train_on_batch": lambda: m.train_on_batch(x, y),
                 "evaluate": lambda: m.evaluate(x, y, batch_size=rows, verbose=0),
                 "core predict": lambda: m._net.predict(x, rows, 0, -1, False),
                 "core evaluate": lambda: m._net.evaluate(x, y, None, rows),
                 "core train_on_batch": lambda: m._net.train_on_batch(x, y, None)}
        for name, call in calls.items():
            try:
                call()
                print(name, "accepted")
            except MemoryError as e:
                print(name, "MemoryError", str(e)[:400])
            assert all((a == b).all() for a, b in zip(before, m.get_weights())), name + " changed the weights"
            assert m.predict(xs, verbose=0).shape == (4, 1)
            assert np.isfinite(m.evaluate(xs, ys, verbose=0))
        m.fit(xs, ys, epochs=2, verbose=0)
        m.train_on_batch(xs, ys)
        print("usable")
    """)
    lines = out.strip().splitlines()
    assert lines[-1] == "usable"
    rows = int(lines[0].split()[1])
    for name in ("predict", "fit", "train_on_batch", "evaluate"):
        line = next(l for l in lines if l.startswith(name + " "))
        assert "MemoryError" in line and f"activations of a batch of {rows} samples" in line, line
        assert "use a smaller batch_size" in line, line
    # The engine's own check says what ran out.
    for name, what in (("core predict", "inference"), ("core evaluate", "inference"),
                       ("core train_on_batch", "training")):
        count = f"{rows}" if rows < 10 ** 6 else f"{rows:.3g}"
        assert any(l.startswith(f"{name} MemoryError out of memory: {what} buffers for a batch of {count} samples "
                                "needs ") for l in lines), out


def test_memory_estimate_counts_gradients_optimizer_slots_and_activations(monkeypatch):
    m = Sequential([Dense(1000, input_shape=(1000,)), Dense(1)])
    n = m.count_params()
    itemsize = 4
    # Room for weights and gradients but not for the three optimizer slots: compile is refused, with what ran out.
    monkeypatch.setattr(_limits, "physical_memory", lambda: 3 * n * itemsize)
    with pytest.raises(MemoryError, match=rf"compile: model '{m.name}' \({n:,} parameters\) needs .* \(weights .* \+ "
                                          r"gradients .* \+ optimizer state .*\), more than this machine's"):
        m.compile("adam", "mse")
    assert not m.compiled
    monkeypatch.setattr(_limits, "physical_memory", lambda: 5 * n * itemsize + 100_000)
    m.compile("adam", "mse")
    x = np.zeros((64, 1000), np.float32)
    m.predict(x, batch_size=8, verbose=0)
    with pytest.raises(MemoryError, match="activations of a batch of 64 samples"):
        m.fit(x, np.zeros(64), batch_size=64, verbose=0)


def test_a_failed_compile_keeps_the_previous_settings(monkeypatch):
    m = Sequential([Dense(100, input_shape=(100,)), Dense(1)])
    m.compile("sgd", "mse")
    monkeypatch.setattr(_limits, "physical_memory", lambda: 1000)
    with pytest.raises(MemoryError):
        m.compile("adam", "mae")
    monkeypatch.undo()
    assert m.optimizer.__class__.__name__ == "SGD" and m.loss.engine_name == "mse"
    m.fit(np.zeros((8, 100)), np.zeros(8), verbose=0)


# ------------------------------------------------------------------ threads
def test_thread_count_has_a_sane_maximum():
    # Before: accepted, and the next large product died with SIGSEGV.
    most = _limits.max_threads()
    assert most == 4 * (os.cpu_count() or 1)
    before = fastnn.get_num_threads()
    try:
        for call in (fastnn.set_num_threads, _core.set_num_threads):
            with pytest.raises(ValueError, match=rf"n: expected an integer in \[1, {most}\], got 1000000"):
                call(10 ** 6)
            with pytest.raises(ValueError, match="got 0"):
                call(0)
        assert fastnn.get_num_threads() == before
        fastnn.set_num_threads(most)
    finally:
        fastnn.set_num_threads(before)


# ------------------------------------------------------------------ integers beyond the engine's range
def _small():
    m = Sequential([Dense(2, input_shape=(3,)), Dense(1)])
    m.compile("sgd", "mse")
    return m


BIG = 2 ** 63
X3, Y1 = np.zeros((4, 3)), np.zeros((4, 1))


@pytest.mark.parametrize("call, message", [
    (lambda m: m.fit(X3, Y1, epochs=BIG, verbose=0), r"epochs: expected an integer in \[0, 9223372036854775807\]"),
    (lambda m: m.fit(X3, Y1, epochs=BIG + 1, initial_epoch=BIG, verbose=0), r"epochs: expected an integer in"),
    (lambda m: m.fit(X3, Y1, batch_size=BIG, verbose=0), r"batch_size: expected an integer in \[1, "),
    (lambda m: m.fit(X3, Y1, validation_split=0.5, validation_batch_size=BIG, verbose=0),
     r"validation_batch_size: expected an integer in \[1, "),
    (lambda m: m.predict(X3, batch_size=BIG, verbose=0), r"batch_size: expected an integer in \[1, "),
    (lambda m: m.predict(X3.astype(np.float32), batch_size=BIG, verbose=0), r"batch_size: expected an integer in"),
    (lambda m: m.evaluate(X3, Y1, batch_size=BIG, verbose=0), r"batch_size: expected an integer in \[1, "),
    (lambda m: fastnn.utils.set_random_seed(2 ** 64), r"seed: expected an integer in \[0, 18446744073709551615\]"),
    (lambda m: fastnn.Perceptron(epochs=2 ** 31), r"epochs: expected an integer in \[0, 2147483647\]"),
    (lambda m: fastnn.Perceptron(seed=2 ** 32), r"seed: expected an integer in \[0, 4294967295\]"),
    (lambda m: Dense(2 ** 24 + 1), r"units: expected an integer in \[1, 16777216\], got 16777217"),
    (lambda m: Dense(3, input_dim=2 ** 24 + 1), r"input_dim: expected an integer in \[1, 16777216\]"),
    (lambda m: Input(shape=(2 ** 12, 2 ** 12 + 1)), r"input_shape: expected at most 8 dimensions and 16777216"),
])
def test_integers_beyond_the_engine_range_get_the_usual_message(call, message):
    # Before: a raw pybind11 TypeError listing the binding's signature (or a silent wrap-around of the seed).
    m = _small()
    before = [w.copy() for w in m.get_weights()]
    with pytest.raises(ValueError, match=message):
        call(m)
    assert all((a == b).all() for a, b in zip(before, m.get_weights()))


# ------------------------------------------------------------------ set_weights
@pytest.mark.parametrize("where", ["model", "layer"])
def test_set_weights_refuses_values_that_overflow_the_model_dtype(where):
    m = _small()
    before = [w.copy() for w in m.get_weights()]
    new = [w.astype(np.float64) for w in before]
    new[0][1, 0] = 1e39  # finite in float64, infinity in float32
    target = m if where == "model" else m.layers[0]
    with pytest.raises(ValueError, match=r"expected finite numbers, got 1e\+39 at index \(1, 0\), which is too "
                                         r"large for float32 \(it becomes infinity\)"):
        target.set_weights(new if where == "model" else new[:2])
    assert all((a == b).all() for a, b in zip(before, m.get_weights()))
    m64 = Sequential([Dense(2, input_shape=(3,), dtype="float64"), Dense(1, dtype="float64")])
    m64.set_weights(new)
    assert m64.get_weights()[0][1, 0] == 1e39


# ------------------------------------------------------------------ files: limits checked before work
def _rewrite(path, out, change):
    """A copy of a model file with its config changed, re-checksummed (a consistent but hostile file)."""
    from fastnn import saving
    tensors, cfg = saving.read_model_file(path)
    change(cfg)
    saving.write_model_file(out, tensors, cfg)


def test_a_functional_file_declaring_a_huge_layer_is_refused_before_anything_is_built(tmp_path, monkeypatch):
    # Before: the functional model was built (about 2 GiB allocated and initialized) before the tensors were
    # compared with the architecture. Now nothing is built: an engine created during load fails this test.
    x = Input(shape=(4,))
    Model(inputs=x, outputs=Dense(1)(Dense(3)(x))).save(tmp_path / "f.fnn")
    Sequential([Dense(3, input_shape=(4,)), Dense(1)]).save(tmp_path / "s.fnn")

    def huge(cfg):
        cfg["model"]["layers"][1]["config"]["units"] = 2 ** 24
        cfg["model"]["layers"][2]["config"]["input_dim"] = 2 ** 24
        cfg["model"]["layers"][2]["config"]["units"] = 2 ** 5
    for kind in ("f", "s"):
        _rewrite(tmp_path / f"{kind}.fnn", tmp_path / f"huge_{kind}.fnn", huge)
        assert os.path.getsize(tmp_path / f"huge_{kind}.fnn") < 4096

    def no_engine(*args, **kwargs):
        raise AssertionError("an engine was created while loading a file that does not match its architecture")
    monkeypatch.setattr(_core, "Network", no_engine)
    for kind in ("f", "s"):
        with pytest.raises(ModelFileError, match="weight tensors do not match the architecture"):
            fastnn.load_model(tmp_path / f"huge_{kind}.fnn")


def test_a_file_beyond_the_parameter_limit_is_refused_before_building(tmp_path, monkeypatch):
    m = Sequential([Dense(5, input_shape=(4,)), Dense(2)])  # 25 + 12 = 37 parameters
    m.save(tmp_path / "m.fnn")
    monkeypatch.setattr(_limits, "MAX_PARAMS", 36)
    monkeypatch.setattr(_core, "Network", lambda *a, **k: pytest.fail("built before the limits were checked"))
    with pytest.raises(ModelFileError, match=r"expected at most 36 parameters .*, got 37"):
        fastnn.load_model(tmp_path / "m.fnn")
    monkeypatch.setattr(_limits, "physical_memory", lambda: 37 * 4 * 2 - 1)  # weights + gradients do not fit
    monkeypatch.setattr(_limits, "MAX_PARAMS", 37)
    with pytest.raises(MemoryError, match=r"loading .* \(37 parameters\) needs .* \(weights 148 B \+ gradients "
                                          r"148 B\)"):
        fastnn.load_model(tmp_path / "m.fnn", compile=False)


def _roundtrip(model, path):
    model.save(path)
    loaded = fastnn.load_model(path)
    assert loaded.name == model.name
    assert [l.name for l in loaded.layers] == [l.name for l in model.layers]
    assert all((a == b).all() for a, b in zip(model.get_weights(), loaded.get_weights()))
    return loaded


def test_whatever_save_writes_load_reads_at_each_limit(tmp_path, monkeypatch):
    # Before: save() wrote names of 300 characters, 1001 layers and Dense(2**24 + 1), and load_model refused them.
    # Now one table: at the limit a model saves and loads; one past it cannot be made.
    n = _limits.MAX_NAME_CHARS
    m = Sequential([Dense(2, input_shape=(3,), name="d" * n)], name="m" * n)
    _roundtrip(m, tmp_path / "name.fnn")
    for make in (lambda: Sequential(name="m" * (n + 1)), lambda: Dense(2, name="d" * (n + 1)),
                 lambda: Model(inputs=Input(shape=(2,)), outputs=None, name="f" * (n + 1))):
        with pytest.raises(ValueError, match=rf"name: expected at most {n} characters, got {n + 1}"):
            make()
    # A name changed after construction: save refuses, writes nothing.
    m.layers[0].name = "x" * (n + 1)
    with pytest.raises(ValueError, match="load_model would refuse the file, so it is not written"):
        m.save(tmp_path / "renamed.fnn")
    assert not (tmp_path / "renamed.fnn").exists()

    layers = [Dense(1, input_shape=(1,))] + [Dense(1) for _ in range(_limits.MAX_LAYERS - 1)]
    deep = Sequential(layers)
    deep.compile("sgd", "mse")
    assert len(_roundtrip(deep, tmp_path / "deep.fnn").layers) == _limits.MAX_LAYERS
    with pytest.raises(ValueError, match=rf"expected at most {_limits.MAX_LAYERS} layers, got {_limits.MAX_LAYERS + 1}"):
        deep.add(Dense(1))
    assert len(deep.layers) == _limits.MAX_LAYERS
    t = x = Input(shape=(1,))
    for _ in range(_limits.MAX_LAYERS + 1):
        t = Dense(1)(t)
    with pytest.raises(ValueError, match=f"expected at most {_limits.MAX_LAYERS} layers"):
        Model(inputs=x, outputs=t)

    wide = Sequential([Dense(_limits.MAX_UNITS, input_shape=(1,), use_bias=False)])
    _roundtrip(wide, tmp_path / "wide.fnn")
    del wide

    # The parameter limit, lowered so that a model at it is small: one past it cannot be built.
    monkeypatch.setattr(_limits, "MAX_PARAMS", 37)
    _roundtrip(Sequential([Dense(6, input_shape=(4,)), Dense(1)]), tmp_path / "params.fnn")
    with pytest.raises(ValueError, match=r"expected at most 37 parameters .*, got 38"):
        Sequential([Dense(6, input_shape=(4,)), Dense(1), Dense(1, use_bias=False)])


def test_save_refuses_what_load_would_refuse(tmp_path, monkeypatch):
    m = Sequential([Dense(2, input_shape=(3,))])
    m.save(tmp_path / "ok.fnn")
    before = (tmp_path / "ok.fnn").read_bytes()
    monkeypatch.setattr(_limits, "MAX_LAYERS", 0)  # as if the reader's table were stricter
    with pytest.raises(ValueError, match="load_model would refuse the file"):
        m.save(tmp_path / "ok.fnn")
    assert (tmp_path / "ok.fnn").read_bytes() == before  # the old file is untouched


def test_compile_refuses_more_metrics_than_files_hold():
    m = _small()
    with pytest.raises(ValueError, match=f"metrics: expected at most {_limits.MAX_METRICS} metrics, got 65"):
        m.compile("sgd", "mse", metrics=["mae"] * 65)


# ------------------------------------------------------------------ structure frozen during training
def _mid_fit(model, x, y, **fit_kwargs):
    """Starts model.fit in a thread and returns (thread, release, errors) once fit is inside its first batch."""
    import threading
    from fastnn.callbacks import LambdaCallback
    started, release, errors = threading.Event(), threading.Event(), []

    def hold(batch, logs=None):
        if batch == 0 and not started.is_set():
            started.set()
            assert release.wait(60)

    def run():
        try:
            model.fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=[LambdaCallback(on_train_batch_begin=hold)],
                      **fit_kwargs)
        except BaseException as e:  # noqa: BLE001 - reported to the test
            errors.append(e)
    thread = threading.Thread(target=run)
    thread.start()
    assert started.wait(60)
    return thread, release, errors


def test_structure_is_frozen_while_fit_runs_in_another_thread():
    # Before: pop() / add() from another thread during fit were accepted, and the rest of the fit trained an engine
    # the model no longer used.
    m = Sequential([Dense(4, input_shape=(3,), activation="relu"), Dense(1)])
    m.compile("sgd", "mse")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 3)), rng.normal(size=(64, 1))
    engine, layers = m._engine, list(m.layers)
    thread, release, errors = _mid_fit(m, x, y)
    try:
        changes = {"pop": m.pop, "add": lambda: m.add(Dense(2)), "compile": lambda: m.compile("adam", "mae"),
                   "build": lambda: m.build((None, 3)),
                   "model.trainable": lambda: setattr(m, "trainable", False),
                   "layer.trainable": lambda: setattr(m.layers[0], "trainable", False)}
        for what, change in changes.items():
            with pytest.raises(RuntimeError, match=r"is being trained .*its structure cannot change until it "
                                                   "returns"):
                change()
            assert m.layers == layers and m._engine is engine, what
        assert m.trainable and m.layers[0].trainable
        assert m.optimizer.__class__.__name__ == "SGD" and m.loss.engine_name == "mse"
        m.predict(x, verbose=0)  # reading is allowed while it trains
        m.set_weights(m.get_weights())  # so is replacing weights (between two steps)
    finally:
        release.set()
        thread.join(60)
    assert not errors, errors
    assert len(m.history.history["loss"]) == 2
    m.pop()  # and once fit returned, the structure can change again
    m.layers[0].trainable = True


def test_callbacks_cannot_change_the_structure_of_the_model_they_train():
    from fastnn.callbacks import LambdaCallback
    m = Sequential([Dense(4, input_shape=(3,)), Dense(1)])
    m.compile("sgd", "mse")
    x, y = np.ones((16, 3)), np.ones((16, 1))
    before = [w.copy() for w in m.get_weights()]
    for change in (lambda: m.pop(), lambda: m.compile("adam", "mse"),
                   lambda: m.fit(x, y, verbose=0), lambda: m.train_on_batch(x, y)):
        cb = LambdaCallback(on_epoch_begin=lambda epoch, logs=None, change=change: change())
        with pytest.raises(RuntimeError, match="is being trained|already being trained"):
            m.fit(x, y, epochs=1, verbose=0, callbacks=[cb])
        assert len(m.layers) == 2 and all((a == b).all() for a, b in zip(before, m.get_weights()))
    m.fit(x, y, epochs=1, verbose=0)


# ------------------------------------------------------------------ Ctrl-C in every long call
@pytest.mark.parametrize("call", ["predict", "evaluate"])
def test_ctrl_c_stops_a_long_predict_or_evaluate_within_a_batch(call):
    # Before: a SIGINT during a ~10 s predict or evaluate was honoured only when the call ended.
    out = _child(f"""
        import os, signal, threading, time
        import numpy as np, fastnn
        from fastnn import Sequential
        from fastnn.layers import Dense
        fastnn.utils.set_random_seed(3)
        m = Sequential([Dense(2048, input_shape=(64,), activation="relu"), Dense(2048, activation="relu"), Dense(1)])
        m.compile("sgd", "mse")
        rng = np.random.default_rng(0)
        probe = rng.random((256, 64)).astype(np.float32)
        t0 = time.perf_counter(); expected = m.predict(probe, batch_size=256, verbose=0)
        per_batch = time.perf_counter() - t0
        rows = 256 * max(8, int(10.0 / per_batch))  # about 10 s of work
        x = np.tile(probe, (rows // 256, 1)); y = np.zeros((rows, 1), np.float32)
        weights = m.get_weights()
        fired = []
        threading.Timer(0.5, lambda: (fired.append(time.perf_counter()), os.kill(os.getpid(), signal.SIGINT))).start()
        t0 = time.perf_counter()
        try:
            m.{call}(x, {'y, ' if call == 'evaluate' else ''}batch_size=256, verbose=0)
            print("completed")
        except KeyboardInterrupt:
            print("interrupted", time.perf_counter() - fired[0], per_batch, time.perf_counter() - t0)
        assert all((a == b).all() for a, b in zip(weights, m.get_weights()))
        assert m.predict(probe, batch_size=256, verbose=0).tobytes() == expected.tobytes()
        print("usable")
    """)
    lines = out.split("\n")
    assert lines[0].startswith("interrupted"), out
    after, per_batch, total = map(float, lines[0].split()[1:])
    assert after < 1.0 + 3 * per_batch, f"{after:.2f} s from SIGINT to KeyboardInterrupt (a batch takes {per_batch:.3f} s)"
    assert total < 5, total
    assert lines[1] == "usable"


# ------------------------------------------------------------------ found as a careless or hostile user
def test_save_never_replaces_a_device_fifo_or_directory(tmp_path):
    # Before: save("/dev/full") as root replaced the device node with a regular file (the atomic rename replaces
    # whatever is at the path); a directory gave an error naming the temporary file.
    m = Sequential([Dense(2, input_shape=(3,))])
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for call in (m.save, m.save_weights):
        with pytest.raises(ValueError, match="expected a regular file .* nothing was written"):
            call(fifo)
        assert fifo.is_fifo()
        with pytest.raises(IsADirectoryError, match="cannot save a model file over a directory"):
            call(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo"]  # no temporary file left behind


def test_class_weights_that_overflow_the_model_dtype_are_refused():
    # Before: accepted; the float32 weight became infinity and the model's weights NaN.
    m = _small()
    before = [w.copy() for w in m.get_weights()]
    with pytest.raises(ValueError, match=r"class_weight: .* got 1e\+39 for class 0, which is too large for float32"):
        m.fit(X3, Y1, class_weight={0: 1e39}, verbose=0)
    assert all((a == b).all() for a, b in zip(before, m.get_weights()))


def test_summary_line_length_is_bounded():
    # Before: summary(line_length=10**9) built gigabytes of text (13 GB and counting when stopped).
    with pytest.raises(ValueError, match=r"line_length: expected an integer in \[20, 1000\]"):
        _small().summary(line_length=10 ** 9)


def test_direct_engine_calls_cannot_bypass_the_caps():
    # The caps of _limits.py mirrored where the engine allocates: a direct _core call gets a MemoryError saying
    # what ran out, before anything is allocated (an overcommitted buffer would be granted, then kill the process).
    net = _core.Network("float32", 0)
    with pytest.raises(MemoryError, match=r"out of memory: 4.4e\+12 parameters is above fastnn's limit"):
        net.add_op("dense", 3, 2 ** 40, {})
    net.add_op("dense", 3, 2, {})
    net.compile("mse", False, "adam", {}, [])
    with pytest.raises(MemoryError, match=r"out of memory: the shuffling order of 1.13e\+15 samples needs 8.00 PiB, "
                                          "more than this machine's"):
        net.begin_epoch(2 ** 50, True, 32)
    with pytest.raises(ValueError, match="number of samples: expected an integer >= 0, got -1"):
        net.begin_epoch(-1, True, 32)
    assert net.n_params == 8
    assert net.train_on_batch(np.zeros((5, 3), np.float32), np.zeros((5, 2), np.float32), None) == [0.0]
