"""Issue 6's workloads as pytest-benchmark tests: one epoch of fit (W1-W4) and predict (W5a, W5b).

Each implementation (fastnn's public API, the float32 NumPy MLP, PyTorch) starts from the same Glorot
weights and is first checked against the float64 oracle (one Adam step, or predict) before it is timed.
W3 and W4 use fewer samples than the issue's table so a round stays short; compare.py runs the full table.
"""

import numpy as np
import pytest

import peers

SPECS = peers.workload_specs()
FIT = {
    "W1": (SPECS["W1"], 30),
    "W2": (SPECS["W2"], 30),
    "W3": (peers.Spec(784, peers.W3_LAYERS, "categorical_crossentropy", 6000, 300, 1), 5),
    "W4": (peers.Spec(784, peers.W4_LAYERS, "categorical_crossentropy", 2560, 256, 1), 3),
}


@pytest.mark.parametrize("wid", list(FIT))
@pytest.mark.parametrize("impl", peers.IMPLS)
def test_fit_one_epoch(benchmark, record, need_impl, impl, wid):
    need_impl(impl)
    spec, rounds = FIT[wid]
    x, y = peers.make_data(spec)
    params = peers.glorot_params(spec)
    b = min(spec.batch_size, 256)
    peers.check_train_step(impl, spec, params, x[:b], y[:b])

    def setup():
        return (peers.make_runner(impl, spec, params),), {}

    benchmark.group = (f"fit_epoch {wid} {spec.describe()} {spec.loss} n={spec.n_samples} "
                       f"batch={spec.batch_size}")
    benchmark.pedantic(lambda runner: runner.fit(x, y, epochs=1), setup=setup, rounds=rounds, warmup_rounds=1)
    record(benchmark, flops=spec.flops_per_sample() * spec.n_samples, samples=spec.n_samples)


@pytest.mark.parametrize("wid", ["W5a", "W5b"])
@pytest.mark.parametrize("impl", peers.IMPLS)
def test_predict(benchmark, record, need_impl, impl, wid):
    need_impl(impl)
    spec = SPECS["W5"]
    x, _ = peers.make_data(spec)
    x = np.ascontiguousarray(x[:1]) if wid == "W5a" else x
    batch = 1 if wid == "W5a" else spec.batch_size
    params = peers.glorot_params(spec)
    peers.check_predict(impl, spec, params, x[:1000])
    runner = peers.make_runner(impl, spec, params)
    benchmark.group = f"predict {wid} {spec.describe()} n={x.shape[0]} batch={batch}"
    benchmark(runner.predict, x, batch)
    record(benchmark, flops=2 * sum(a * b for a, b in spec.shapes) * x.shape[0], samples=x.shape[0])
