"""Determinism across processes and thread counts (issue 7).

Each run is a separate Python process that seeds fastnn, builds, trains (shuffled, with dropout) and reports a hash of
its weights and its History. Two networks:
  small  20-64-32-3, every layer <= 64 wide: the engine's feature-major path (its own loops, fixed order);
  gemm   784-128-10: the GEMM path (the engine's packed kernels, cpp/fastnn/blas.cpp).
What holds (asserted below): the same seed gives bitwise the same weights and History in two processes, at 1 and at
2 threads, for both networks, and 1-thread and 2-thread runs are bitwise the same for both networks (each element
of a product is one running sum over k in order, whatever block of the split computes it, so no reduction order
depends on the thread count; OpenBLAS's Haswell kernels, selected by OPENBLAS_CORETYPE=Haswell, rounded a call's
last tile differently and broke this). Different seeds give different weights.

Children run with OMP_WAIT_POLICY=passive, so that a loaded machine's spinning threads cannot slow them down.
"""

import json
import os
import subprocess
import tempfile
import sys
import textwrap

import pytest

CHILD = textwrap.dedent("""
    import hashlib, json, sys
    import numpy as np
    import fastnn
    from fastnn import Sequential
    from fastnn.layers import Dense, Dropout

    threads, seed = int(sys.argv[1]), int(sys.argv[2])
    fastnn.set_num_threads(threads)
    rng = np.random.default_rng(123)  # the data is the same in every run; only fastnn's seed varies
    out = {}
    for arch in ("small", "gemm"):
        if arch == "small":
            x = rng.normal(size=(600, 20)).astype(np.float32)
            layers = [Dense(64, input_shape=(20,), activation="relu"), Dropout(0.2), Dense(32, activation="tanh"),
                      Dense(3, activation="softmax")]
            classes = 3
        else:
            x = rng.random(size=(640, 784)).astype(np.float32)
            layers = [Dense(128, input_shape=(784,), activation="relu"), Dropout(0.2),
                      Dense(10, activation="softmax")]
            classes = 10
        y = rng.integers(0, classes, size=len(x))
        fastnn.utils.set_random_seed(seed)
        m = Sequential(layers)
        m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        h = m.fit(x, y, epochs=3, batch_size=64, validation_split=0.1, verbose=0)
        digest = hashlib.sha256(b"".join(w.tobytes() for w in m.get_weights())).hexdigest()
        out[arch] = {"weights": digest, "history": h.history,
                     "predict": hashlib.sha256(m.predict(x, verbose=0).tobytes()).hexdigest()}
    print(json.dumps(out))
""")

_cache = {}


def run(threads, seed=0, copy=0):
    """One child's report; `copy` tells apart runs meant to be separate processes with the same settings."""
    key = (threads, seed, copy)
    if key not in _cache:
        env = dict(os.environ, OMP_WAIT_POLICY="passive")
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            env.pop(var, None)
        # cwd: a folder without the source tree, so the child imports the installed package
        proc = subprocess.run([sys.executable, "-c", CHILD, str(threads), str(seed)], capture_output=True,
                              text=True, timeout=300, env=env, cwd=tempfile.gettempdir())
        assert proc.returncode == 0, proc.stderr[-2000:]
        _cache[key] = json.loads(proc.stdout)
    return _cache[key]


@pytest.mark.parametrize("threads", [1, 2])
def test_same_seed_in_two_processes_is_bitwise_identical(threads):
    first, second = run(threads, copy=0), run(threads, copy=1)
    for arch in ("small", "gemm"):
        assert first[arch] == second[arch], arch  # weights, every History value (floats compared exactly), outputs
        assert len(first[arch]["history"]["loss"]) == 3 and "val_loss" in first[arch]["history"]


def test_small_network_is_bitwise_identical_at_one_and_two_threads():
    assert run(1)["small"] == run(2)["small"]


def test_gemm_network_is_bitwise_identical_at_one_and_two_threads():
    # The GEMM path (layers over 64 wide): each product is split into column or row blocks, one per thread, and
    # every block runs the same single-threaded OpenBLAS kernel over the same k order (cpp/fastnn/blas.cpp).
    assert run(1)["gemm"] == run(2)["gemm"]


def test_different_seeds_give_different_weights():
    a, b = run(1, seed=0), run(1, seed=1)
    for arch in ("small", "gemm"):
        assert a[arch]["weights"] != b[arch]["weights"]
        assert a[arch]["history"]["loss"] != b[arch]["history"]["loss"]
