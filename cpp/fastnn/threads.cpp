// fastnn engine: thread count for OpenMP (when built with it) and OpenBLAS.
#include "threads.hpp"

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
#endif
    blas_set_num_threads(n);
}

int get_num_threads() {
    const int n = g_threads.load();
    if (n > 0) return n;
#ifdef FASTNN_HAVE_OPENMP
    return omp_get_max_threads();
#else
    return blas_get_num_threads();
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
