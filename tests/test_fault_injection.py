"""Exception safety of the engine, proved by fault injection (issue 11), and the allocation-free step loop.

Needs the test build with FASTNN_FAULT_INJECT=ON (cpp/fastnn/fault_inject.cpp): its operator new throws
std::bad_alloc on the N-th allocation after fastnn._core._fault_arm(N), and counts allocations. For each of build,
compile, fit, evaluate, predict, train_on_batch, set_weights and load, N runs over every allocation the call makes
(until a run completes without reaching the N-th); after each failure a normal call must succeed, and what the
failed call must not change (weights, predictions, files) is compared bit for bit. .ci/sanitize.sh runs this file
under AddressSanitizer + UndefinedBehaviorSanitizer (FASTNN_REQUIRE_FAULT_INJECT=1 turns the skip into a failure
there). Other builds skip it.
"""

import os

import numpy as np
import pytest

import fastnn
from fastnn import Sequential, _core
from fastnn.callbacks import LambdaCallback
from fastnn.layers import BatchNormalization, Dense, Dropout, LayerNormalization

HAVE_FAULTS = hasattr(_core, "_fault_arm")
if not HAVE_FAULTS and os.environ.get("FASTNN_REQUIRE_FAULT_INJECT") == "1":
    raise ImportError("FASTNN_REQUIRE_FAULT_INJECT=1 but fastnn._core was built without FASTNN_FAULT_INJECT=ON")
pytestmark = pytest.mark.skipif(not HAVE_FAULTS, reason="needs the fault-injection build (FASTNN_FAULT_INJECT=ON, "
                                                        "as .ci/sanitize.sh builds it)")

MAX_POINTS = 20000  # a call with more allocation points than this fails the test (a runaway loop)


def each_failure(call, setup=None):
    """Runs call() with its 1st, 2nd, 3rd, ... allocation failing (after setup(), run unarmed); yields after each
    run in which the failure was delivered (the call raised MemoryError, or recovered by itself) and returns when a
    run made fewer allocations than N. Any exception other than MemoryError fails the test."""
    for n in range(1, MAX_POINTS):
        if setup is not None:
            setup()
        _core._fault_arm(n)
        try:
            call()
        except MemoryError:
            pass
        finally:
            fired = _core._fault_disarm()
        if not fired:
            assert n > 1, "the call made no allocation through operator new: is the fault build active?"
            return
        yield n
    pytest.fail(f"more than {MAX_POINTS} allocations in one call")


def _data(n=48, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, n)]
    return x, y


def _model(compiled=True, width=8):
    fastnn.utils.set_random_seed(7)
    # the normalization ops run row-major only: they are in the wide (row-major) variant
    norm = [BatchNormalization(), LayerNormalization()] if width > 8 else []
    m = Sequential([Dense(width, input_shape=(4,), activation="relu")] + norm[:1] + [Dropout(0.25)] + norm[1:] +
                   [Dense(3, activation="softmax")])
    if compiled:
        m.compile("adam", "categorical_crossentropy", metrics=["accuracy"])
    return m


def _same(a, b):
    return len(a) == len(b) and all(x.shape == y.shape and x.tobytes() == y.tobytes() for x, y in zip(a, b))


@pytest.mark.parametrize("width", [8, 200], ids=["feature-major", "row-major"])
def test_every_allocation_of_build_and_compile_can_fail(width):
    x, y = _data()
    points = 0
    for _ in each_failure(lambda: _model(compiled=False, width=width)):
        points += 1
        m = _model(compiled=False, width=width)
        assert m.predict(x, verbose=0).shape == (48, 3)
    assert points > 0

    m = _model(compiled=False, width=width)
    before = m.get_weights()
    for _ in each_failure(lambda: m.compile("adam", "categorical_crossentropy", metrics=["accuracy"])):
        assert _same(before, m.get_weights())
        probe = _model(compiled=False, width=width)
        probe.compile("sgd", "mse")
        probe.fit(x, y, epochs=1, verbose=0)
    m.compile("adam", "categorical_crossentropy", metrics=["accuracy"])
    m.fit(x, y, epochs=1, verbose=0)
    # A recompile that fails keeps the previous settings usable.
    for _ in each_failure(lambda: m.compile("rmsprop", "mse", metrics=["mae"])):
        m.fit(x, y, epochs=1, batch_size=16, verbose=0)
        assert np.isfinite(m.evaluate(x, y, verbose=0)).all()


@pytest.mark.parametrize("width", [8, 200], ids=["feature-major", "row-major"])
@pytest.mark.parametrize("path", ["one-engine-call", "per-batch"])
def test_every_allocation_of_fit_can_fail(width, path):
    x, y = _data()
    m = _model(width=width)
    kwargs = dict(epochs=2, batch_size=16, verbose=0)
    if path == "per-batch":
        kwargs.update(callbacks=[LambdaCallback(on_train_batch_end=lambda b, logs: None)],
                      validation_data=(x[:8], y[:8]))
    # setup: the training workspace is dropped, so that every armed call makes it anew
    for _ in each_failure(lambda: m.fit(x, y, **kwargs), setup=lambda: m._net._set_layout(-1)):
        # The weights are those of the steps that completed: finite, and the model trains on.
        assert all(np.isfinite(w).all() for w in m.get_weights())
        h = m.fit(x, y, epochs=1, batch_size=16, verbose=0)
        assert np.isfinite(h.history["loss"]).all()
        assert np.isfinite(m.predict(x, verbose=0)).all()


@pytest.mark.parametrize("width", [8, 200], ids=["feature-major", "row-major"])
def test_every_allocation_of_train_on_batch_can_fail(width):
    x, y = _data()
    m = _model(width=width)
    m.train_on_batch(x, y)
    state = {}

    def setup():
        state["before"] = m.get_weights()
        m._net._set_layout(-1)  # drops the training workspace: the armed call makes it anew

    for _ in each_failure(lambda: m.train_on_batch(x[:20], y[:20]), setup):
        # A failed step changes nothing (every allocation comes before the update).
        assert _same(state["before"], m.get_weights())
        m.train_on_batch(x, y)


@pytest.mark.parametrize("width", [8, 200], ids=["feature-major", "row-major"])
def test_every_allocation_of_predict_and_evaluate_can_fail(width):
    x, y = _data()
    m = _model(width=width)
    m.fit(x, y, epochs=1, verbose=0)
    weights = m.get_weights()
    expected_p = m.predict(x, batch_size=7, verbose=0)
    expected_e = m.evaluate(x, y, batch_size=7, verbose=0)
    batch = {"size": 7}

    def larger():  # a batch size larger than any seen: the armed call makes its workspace anew
        batch["size"] += 1

    for _ in each_failure(lambda: m.predict(x, batch_size=batch["size"], verbose=0), setup=larger):
        assert _same(weights, m.get_weights())
        assert m.predict(x, batch_size=7, verbose=0).tobytes() == expected_p.tobytes()
    for _ in each_failure(lambda: m.evaluate(x, y, batch_size=batch["size"], verbose=0), setup=larger):
        assert _same(weights, m.get_weights())
        assert m.evaluate(x, y, batch_size=7, verbose=0) == expected_e
        m.fit(x, y, epochs=1, verbose=0)
        m.set_weights(weights)


def test_every_allocation_of_set_weights_and_optimizer_state_can_fail():
    x, y = _data()
    m = _model()
    m.fit(x, y, epochs=1, verbose=0)
    old = m.get_weights()
    new = [w + 1 for w in old]
    for _ in each_failure(lambda: m.set_weights(new)):
        got = m.get_weights()
        for k in range(0, len(got), 2):  # each layer's kernel and bias: all old or all new
            assert _same(got[k:k + 2], old[k:k + 2]) or _same(got[k:k + 2], new[k:k + 2])
        m.set_weights(old)
    state = m._net.get_optimizer_state()
    fresh = dict(state, slots=[s + 1 for s in state["slots"]])
    for _ in each_failure(lambda: m._net.set_optimizer_state(fresh)):
        now = m._net.get_optimizer_state()
        assert _same(now["slots"], state["slots"]), "a failed set_optimizer_state changed the state"


def test_every_allocation_of_load_can_fail(tmp_path):
    x, y = _data()
    m = _model()
    m.fit(x, y, epochs=2, verbose=0)
    m.save(tmp_path / "m.fnn")
    before = (tmp_path / "m.fnn").read_bytes()
    for _ in each_failure(lambda: fastnn.load_model(tmp_path / "m.fnn")):
        assert (tmp_path / "m.fnn").read_bytes() == before
        loaded = fastnn.load_model(tmp_path / "m.fnn")
        assert _same(loaded.get_weights(), m.get_weights())
    loaded.fit(x, y, epochs=1, verbose=0)


# ------------------------------------------------------------------ the step loop allocates nothing
@pytest.mark.parametrize("width", [8, 200], ids=["feature-major", "row-major"])
@pytest.mark.parametrize("loss, act, cols", [("mse", None, 3), ("categorical_crossentropy", "softmax", 3),
                                              ("categorical_crossentropy", "sigmoid", 3),  # probabilities, not fused
                                              ("sparse_categorical_crossentropy", "softmax", 1),
                                              ("binary_crossentropy", "sigmoid", 3), ("huber", "tanh", 3)])
@pytest.mark.parametrize("weighted", [False, True])
def test_the_step_loop_allocates_nothing(width, loss, act, cols, weighted):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(512, 4)).astype(np.float32)
    labels = rng.integers(0, 3, (512, 1))
    y = (labels if cols == 1 else np.eye(3)[labels[:, 0]] if loss == "categorical_crossentropy"
         else rng.integers(0, 2, (512, cols))).astype(np.float32)
    w = rng.random(512).astype(np.float32) if weighted else None
    # (the normalization ops run row-major only: they are in the row-major variant)
    norm = [BatchNormalization(), LayerNormalization()] if width > 8 else []
    layers = [Dense(width, input_shape=(4,), activation="relu", kernel_regularizer="l2")] + norm[:1] + \
        [Dropout(0.1)] + norm[1:] + [Dense(3, activation=act)]
    m = Sequential(layers)
    m.compile("adam", loss, metrics=["mae"] if act is None else ["accuracy"])
    net = m._net
    assert net.feature_major == (width == 8)

    def batches(k):
        net.begin_epoch(512, True, 16)
        _core._alloc_count(True)
        net.train_batches(x, y, w, 16, 0, k, False, True)
        return _core._alloc_count()

    batches(2)  # the workspace is made by the first call
    counts = [batches(2), batches(8), batches(32)]
    assert counts[0] == counts[1] == counts[2], f"allocations for 2, 8 and 32 batches: {counts}"

    def epochs(k):
        _core._alloc_count(True)
        net.train_epochs(x, y, w, 16, True, k, False)
        return _core._alloc_count()

    epochs(1)
    one, four = epochs(1), epochs(4)
    # Per epoch only its log row (the [loss, metrics...] list appended to the result, a handful of allocations):
    # never per batch (32 batches per epoch here).
    assert four - one <= 3 * 6, (one, four)
