// fastnn engine: one knob for the number of threads, applied to OpenMP and OpenBLAS together.
#pragma once

namespace fastnn {

void set_num_threads(int n);  // n >= 1
int get_num_threads();
bool have_openmp();

// Elementwise loops shorter than this run on one thread: waking threads costs more than it saves.
constexpr long kParallelMinElements = 1L << 15;

}  // namespace fastnn
