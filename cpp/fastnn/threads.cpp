// fastnn engine: the thread count of the engine's OpenMP team (see threads.hpp).
#include "threads.hpp"

#include <algorithm>
#include <atomic>
#include <string>
#include <vector>

#include "blas.hpp"
#include "common.hpp"

#ifdef FASTNN_HAVE_OPENMP
#include <omp.h>
#endif

namespace fastnn {

namespace {
std::atomic<int> g_threads{0};    // 0: not set yet, ask the libraries
std::atomic<int> g_blas_start{0};  // OpenBLAS's thread count when the engine started
}  // namespace

void set_num_threads(int n) {
    if (n < 1) fail("n (number of threads)", "an integer >= 1", std::to_string(n));
    g_threads = n;
#ifdef FASTNN_HAVE_OPENMP
    omp_set_num_threads(n);
    // Start the team's threads here, outside any engine call, so that they inherit the caller's floating-point
    // state rather than the engine's (cpu.hpp).
#pragma omp parallel num_threads(n)
    { }
#endif
}

void init_threads() {
    g_blas_start = std::max(1, blas_get_num_threads());
#ifdef FASTNN_HAVE_OPENMP
    set_num_threads(omp_get_max_threads());  // honours OMP_NUM_THREADS
#else
    set_num_threads(1);  // without OpenMP the engine runs on the calling thread
#endif
}

int get_num_threads() {
#ifndef FASTNN_HAVE_OPENMP
    return 1;  // the engine runs on the calling thread
#else
    int n = std::max(1, g_threads.load());
    // A lower OpenMP limit set in the calling thread (threadpoolctl, omp_set_num_threads, joblib) is honoured.
    n = std::min(n, omp_get_max_threads());
    // So is a limit put on fastnn's OpenBLAS since start-up (threadpoolctl with user_api="blas").
    const int blas = blas_get_num_threads();
    if (blas >= 1 && blas < g_blas_start.load()) n = std::min(n, blas);
    return n;
#endif
}

bool have_openmp() {
#ifdef FASTNN_HAVE_OPENMP
    return true;
#else
    return false;
#endif
}

std::vector<unsigned> team_fp_states() {
    std::vector<unsigned> out(std::size_t(get_num_threads()), 0u);
#ifdef FASTNN_HAVE_OPENMP
#pragma omp parallel num_threads(int(out.size()))
    out[std::size_t(omp_get_thread_num())] = read_fp_state();
#else
    out[0] = read_fp_state();
#endif
    return out;
}

int team_size() {
    int size = 1;
#ifdef FASTNN_HAVE_OPENMP
    FASTNN_PARALLEL_FOR_ABOVE(2, 0)
    for (int i = 0; i < 2; ++i)
        if (i == 0) size = omp_get_num_threads();
#endif
    return size;
}

}  // namespace fastnn
