"""fastnn.set_num_threads / get_num_threads, and threadpoolctl's view of fastnn's thread pools."""

import pytest

import fastnn

threadpoolctl = pytest.importorskip("threadpoolctl")


@pytest.fixture
def restore_threads():
    before = fastnn.get_num_threads()
    yield
    fastnn.set_num_threads(before)


def test_set_num_threads_is_honoured(restore_threads):
    fastnn.set_num_threads(1)
    assert fastnn.get_num_threads() == 1
    fastnn.set_num_threads(2)
    assert fastnn.get_num_threads() == 2


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_set_num_threads_rejects_bad_counts(bad):
    with pytest.raises(ValueError, match="n: expected an integer >= 1"):
        fastnn.set_num_threads(bad)


def test_threadpoolctl_limit_on_openmp_is_honoured(restore_threads):
    if not fastnn._core.have_openmp():
        pytest.skip("this build has no OpenMP: OpenBLAS's own threads run the products")
    fastnn.set_num_threads(2)
    with threadpoolctl.threadpool_limits(1, user_api="openmp"):
        assert fastnn.get_num_threads() == 1
    assert fastnn.get_num_threads() == 2


def test_engine_openblas_runs_single_threaded_inside_openmp(restore_threads):
    if not fastnn._core.have_openmp():
        pytest.skip("this build has no OpenMP: OpenBLAS's own threads run the products")
    fastnn.set_num_threads(2)
    pools = threadpoolctl.threadpool_info()
    ours = [p for p in pools if p["internal_api"] == "openblas" and "libscipy_openblas." in p["filepath"]]
    assert ours and all(p["num_threads"] == 1 for p in ours)
