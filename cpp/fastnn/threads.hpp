// fastnn engine: one knob for the number of threads, applied to OpenMP and OpenBLAS together.
#pragma once

namespace fastnn {

void set_num_threads(int n);  // n >= 1
int get_num_threads();
bool have_openmp();

// Elementwise loops shorter than this run on one thread. The training step interleaves them with OpenBLAS calls,
// whose threads keep their cores busy for a while after each product; OpenMP threads started in between would
// compete with them for the same cores (measured on 2 cores: 30x slower under load). So only very long loops
// (an optimizer step over millions of parameters) use OpenMP threads in training.
constexpr long kParallelMinElements = 1L << 22;
// The one-row product (prediction latency) runs no BLAS call, and splits its columns across threads above this.
constexpr long kParallelMinMacs = 1L << 16;

// An OpenMP parallel loop over n independent elements, when n is large enough to pay for the threads.
// Each element's arithmetic does not depend on the thread count, so results are the same at any count.
#ifdef FASTNN_HAVE_OPENMP
#define FASTNN_PRAGMA(x) _Pragma(#x)
#define FASTNN_PARALLEL_FOR(n) FASTNN_PARALLEL_FOR_ABOVE(n, fastnn::kParallelMinElements)
// num_threads: the count set with set_num_threads applies to teams started from any thread (omp_set_num_threads
// alone would only reach teams started by the thread that called it).
#define FASTNN_PARALLEL_FOR_ABOVE(n, min) \
    FASTNN_PRAGMA(omp parallel for schedule(static) num_threads(fastnn::get_num_threads()) if ((long)(n) >= (min)))
#else
#define FASTNN_PARALLEL_FOR(n)
#define FASTNN_PARALLEL_FOR_ABOVE(n, min)
#endif

}  // namespace fastnn
