#!/usr/bin/env python3
"""One epoch of 784-500-10 (batch 300, 60000 samples, Adam, softmax CCE): fastnn float32/float64 vs the float64
NumPy reference (tests/reference.py).   Usage: python benchmarks/epoch_784_500_10.py"""
import sys, time, numpy as np
import os
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tests'))
import reference as ref  # noqa: E402
import fastnn
g = np.random.default_rng(0)
X64 = g.random((60000, 784)); y = np.eye(10)[g.integers(0, 10, 60000)]
layers = [ref.Dense(784, 500, "relu"), ref.Dense(500, 10, "softmax")]
params = [g.normal(0, 0.05, (784, 500)), np.zeros(500), g.normal(0, 0.05, (500, 10)), np.zeros(10)]
batches = [(X64[i:i + 300], y[i:i + 300]) for i in range(0, 60000, 300)]
t = time.perf_counter(); ref.train(layers, params, batches, "categorical_crossentropy", "adam"); t_ref = time.perf_counter() - t
out = {"numpy float64 reference": t_ref}
for dtype in ("float32", "float64"):
    m = fastnn.Sequential([fastnn.Dense(500, activation="relu", input_shape=(784,)), fastnn.Dense(10, activation="softmax")], dtype=dtype)
    m.compile("adam", "categorical_crossentropy")
    x = X64.astype(dtype); yy = y.astype(dtype)
    m.fit(x[:3000], yy[:3000], batch_size=300, epochs=1, verbose=0)
    t = time.perf_counter(); m.fit(x, yy, batch_size=300, epochs=1, verbose=0, shuffle=False); out["fastnn " + dtype] = time.perf_counter() - t
for k, v in out.items(): print(f"{k}: {v:.2f} s per epoch")
