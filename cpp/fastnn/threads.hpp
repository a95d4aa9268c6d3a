// fastnn engine: one knob for the number of threads: the engine's OpenMP team is its only thread pool.
//
// The count used is the one set with set_num_threads, lowered by a limit set from outside while the engine runs:
// OpenMP's limit in the calling thread (threadpoolctl's threadpool_limits, omp_set_num_threads, joblib's workers),
// or a runtime limit on fastnn's OpenBLAS below its value at start-up (threadpoolctl with user_api="blas"). The
// products are the engine's own kernels (blas.cpp), so no other pool runs inside the team, whatever OpenBLAS's
// setting (OPENBLAS_NUM_THREADS, threadpoolctl): threads are never multiplied, and OpenBLAS prints nothing.
#pragma once

#include <vector>

#include "cpu.hpp"

namespace fastnn {

void set_num_threads(int n);  // n >= 1
void init_threads();          // the default: OMP_NUM_THREADS or the core count
int get_num_threads();
bool have_openmp();
int team_size();  // the number of threads a parallel region of the engine runs on now (tests)
// Each thread's MXCSR in a plain OpenMP team of get_num_threads() threads, outside any engine call (tests).
std::vector<unsigned> team_fp_states();

// Elementwise loops shorter than this run on one thread: waking threads costs more than it saves. (OpenMP is the
// engine's only thread pool: OpenBLAS runs single-threaded inside it, see blas.cpp.)
constexpr long kParallelMinElements = 1L << 15;
// Products (and the one-row product) smaller than this many multiply-adds run on one thread.
constexpr long kParallelMinMacs = 1L << 16;

// An OpenMP parallel loop over n independent elements, when n is large enough to pay for the threads.
// Each element's arithmetic does not depend on the thread count, so results are the same at any count.
#ifdef FASTNN_HAVE_OPENMP
#define FASTNN_PRAGMA(x) _Pragma(#x)
#define FASTNN_PARALLEL_FOR(n) FASTNN_PARALLEL_FOR_ABOVE(n, fastnn::kParallelMinElements)
// num_threads: the count set with set_num_threads applies to teams started from any thread (omp_set_num_threads
// alone would only reach teams started by the thread that called it). firstprivate(g_worker_fp): each thread of the
// team flushes subnormals for the duration of the region (cpu.hpp).
#define FASTNN_PARALLEL_FOR_ABOVE(n, min)                                                                    \
    FASTNN_PRAGMA(omp parallel for schedule(static) num_threads(fastnn::get_num_threads()) if ((long)(n) >= (min)) \
                      firstprivate(fastnn::g_worker_fp))
#else
#define FASTNN_PARALLEL_FOR(n)
#define FASTNN_PARALLEL_FOR_ABOVE(n, min)
#endif

}  // namespace fastnn
