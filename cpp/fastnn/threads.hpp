// fastnn engine: one knob for the number of threads, applied to OpenMP and OpenBLAS together.
#pragma once

namespace fastnn {

void set_num_threads(int n);  // n >= 1
int get_num_threads();
bool have_openmp();

// Elementwise loops shorter than this run on one thread: waking threads costs more than it saves.
constexpr long kParallelMinElements = 1L << 15;

// An OpenMP parallel loop over n independent elements, when n is large enough to pay for the threads.
// Each element's arithmetic does not depend on the thread count, so results are the same at any count.
#ifdef FASTNN_HAVE_OPENMP
#define FASTNN_PRAGMA(x) _Pragma(#x)
#define FASTNN_PARALLEL_FOR(n) FASTNN_PRAGMA(omp parallel for schedule(static) if ((long)(n) >= fastnn::kParallelMinElements))
#else
#define FASTNN_PARALLEL_FOR(n)
#endif

}  // namespace fastnn
