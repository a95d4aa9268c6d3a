"""Shared set-up of the pytest-benchmark suites: one thread limit for every library, and extra_info records.

Run with `pytest benchmarks/ --benchmark-only` (the directory is outside the default test path);
`--bench-threads N` changes the limit (default 2), applied to fastnn, PyTorch and NumPy's BLAS alike.
"""

import pytest

import peers


def pytest_addoption(parser):
    parser.addoption("--bench-threads", type=int, default=2,
                     help="thread limit for fastnn, PyTorch and NumPy's BLAS in the benchmarks (default 2)")


@pytest.fixture(scope="session")
def thread_info(request):
    n = request.config.getoption("--bench-threads")
    if n < 1:
        raise pytest.UsageError(f"--bench-threads: expected an integer >= 1, got {n}")
    info = peers.apply_thread_limit(n)
    yield {k: v for k, v in info.items() if not k.startswith("_")}
    info["_limiter"].restore_original_limits()


@pytest.fixture
def need_impl():
    """Skips the test when the implementation's library is missing (PyTorch is optional)."""
    def check(impl):
        if impl not in peers.available_impls():
            pytest.skip(f"{impl} is not installed")
    return check


@pytest.fixture
def record(thread_info):
    """record(benchmark, flops=None, samples=None) after the run: thread settings and rates into extra_info."""
    return lambda benchmark, flops=None, samples=None: _record(benchmark, thread_info, flops, samples)


def _record(benchmark, thread_info, flops, samples):
    """Thread settings, and GFLOP/s / samples per second from the median time, into extra_info."""
    benchmark.extra_info["threads"] = thread_info["threads"]
    benchmark.extra_info["fastnn_threads"] = thread_info["fastnn"]
    if "torch" in thread_info:
        benchmark.extra_info["torch_threads"] = thread_info["torch"]
    benchmark.extra_info["blas"] = "; ".join(f"{b['lib']} x{b['num_threads']} ({b['kernel']})"
                                             for b in thread_info["blas"])
    stats = getattr(benchmark, "stats", None)
    if stats is None:  # --benchmark-disable: the function ran once, untimed
        return
    median = stats.stats.median
    if flops is not None:
        benchmark.extra_info["flops"] = flops
        benchmark.extra_info["gflops"] = round(flops / median / 1e9, 3)
    if samples is not None:
        benchmark.extra_info["samples_per_s"] = round(samples / median, 1)
