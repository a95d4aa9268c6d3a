// fastnn engine: thread count for OpenMP (when built with it) and OpenBLAS.
#include "threads.hpp"

#include <algorithm>
#include <atomic>
#include <string>

#include "blas.hpp"
#include "common.hpp"

#ifdef FASTNN_HAVE_OPENMP
#include <omp.h>
#endif

namespace fastnn {

namespace {
std::atomic<int> g_threads{0};  // 0: not set yet, ask the libraries
}

void set_num_threads(int n) {
    if (n < 1) fail("n (number of threads)", "an integer >= 1", std::to_string(n));
    g_threads = n;
#ifdef FASTNN_HAVE_OPENMP
    omp_set_num_threads(n);
    blas_set_num_threads(1);  // products are split across the OpenMP threads (blas.cpp)
#else
    blas_set_num_threads(n);  // without OpenMP, OpenBLAS's own threads run the products
#endif
}

void init_threads() {
#ifdef FASTNN_HAVE_OPENMP
    set_num_threads(omp_get_max_threads());  // honours OMP_NUM_THREADS
#else
    set_num_threads(std::max(1, blas_get_num_threads()));
#endif
}

int get_num_threads() {
    const int n = std::max(1, g_threads.load());
#ifdef FASTNN_HAVE_OPENMP
    // A lower OpenMP limit set in the calling thread (threadpoolctl, omp_set_num_threads) is honoured too.
    return std::min(n, omp_get_max_threads());
#else
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

}  // namespace fastnn
