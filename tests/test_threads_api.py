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


def test_engine_products_do_not_run_on_openblas_threads(restore_threads):
    # The products are the engine's own kernels inside its OpenMP team: raising OpenBLAS's own thread count
    # (as threadpool_limits(2) does when it restores or limits) changes nothing in the engine.
    if not fastnn._core.have_openmp():
        pytest.skip("this build has no OpenMP: the engine runs on the calling thread")
    fastnn.set_num_threads(1)
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        assert fastnn.get_num_threads() == 1
        assert fastnn._core._team_size() == 1


def test_threadpoolctl_limit_on_fastnns_openblas_is_honoured(restore_threads):
    if not fastnn._core.have_openmp():
        pytest.skip("this build has no OpenMP: the engine runs on the calling thread")
    fastnn.set_num_threads(2)
    ours = [p for p in threadpoolctl.threadpool_info() if "libscipy_openblas." in p["filepath"]]
    if not ours or ours[0]["num_threads"] < 2:
        pytest.skip("fastnn's OpenBLAS started with one thread: no lower limit to set")
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        assert fastnn.get_num_threads() == 1
        assert fastnn._core._team_size() == 1
    assert fastnn.get_num_threads() == 2
