// fastnn engine: the floating-point state of the threads that do the engine's arithmetic.
//
// Subnormal floats (below 1.2e-38 in float32) cost 2-3x on real data: Adam's moments of weights whose gradient
// stays zero decay into them, and saturated units give subnormal gradients. While the engine runs, its threads
// flush subnormal results to zero (FTZ) and read subnormal inputs as zero (DAZ), as TensorFlow's thread pools do;
// fastnn.config.set_flush_denormals(False) turns this off. The caller's state is restored after every call:
//  - EngineCall (RAII) wraps each call from Python in the calling thread (bindings.cpp);
//  - the OpenMP workers get the mode for the duration of each parallel region: every region of the engine
//    (FASTNN_PARALLEL_FOR in threads.hpp) takes a firstprivate WorkerFp, whose copy, made in each thread of the
//    team, saves that thread's MXCSR and sets FTZ/DAZ (or clears them when flushing is off: workers created during
//    an engine call inherit the caller's mode), and whose destructor restores it when the region ends.
// On CPUs other than x86-64 these are no-ops.
#pragma once

#include <atomic>
#include <optional>

namespace fastnn {

// Whether engine calls flush subnormals (default true).
void set_flush_denormals(bool on);
bool flush_denormals();

unsigned read_fp_state();          // the calling thread's MXCSR (0 where there is none)
void write_fp_state(unsigned s);   // (tests)

// Saves the calling thread's state and sets FTZ/DAZ when enabled (a worker also clears them when disabled);
// restores on destruction.
class FpScope {
public:
    explicit FpScope(bool worker = false);
    ~FpScope();
    FpScope(const FpScope&) = delete;
    FpScope& operator=(const FpScope&) = delete;

private:
    unsigned saved_ = 0;
    bool set_ = false;
};

// The firstprivate object of the engine's parallel regions (see above): each thread's copy holds an FpScope; the
// original (a global) holds none.
struct WorkerFp {
    WorkerFp() = default;
    WorkerFp(const WorkerFp&) { scope.emplace(true); }
    WorkerFp& operator=(const WorkerFp&) = delete;
    std::optional<FpScope> scope;
};
extern WorkerFp g_worker_fp;

// What every call from Python into the engine holds while it runs (with the GIL released).
struct EngineCall {
    FpScope fp;
};

}  // namespace fastnn
