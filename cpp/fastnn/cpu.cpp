// fastnn engine: FTZ/DAZ for the engine's threads (see cpu.hpp).
#include "cpu.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define FASTNN_HAVE_MXCSR 1
#endif

namespace fastnn {

namespace {
std::atomic<bool> g_flush{true};
constexpr unsigned kFtzDaz = 0x8040;  // MXCSR bit 15 (flush to zero) | bit 6 (denormals are zero)
}  // namespace

WorkerFp g_worker_fp;

void set_flush_denormals(bool on) { g_flush = on; }
bool flush_denormals() { return g_flush; }

unsigned read_fp_state() {
#ifdef FASTNN_HAVE_MXCSR
    return _mm_getcsr();
#else
    return 0;
#endif
}

void write_fp_state(unsigned s) {
#ifdef FASTNN_HAVE_MXCSR
    _mm_setcsr(s);
#else
    (void)s;
#endif
}

FpScope::FpScope(bool worker) {
#ifdef FASTNN_HAVE_MXCSR
    const bool flush = g_flush.load(std::memory_order_relaxed);
    if (!flush && !worker) return;  // the caller's own mode stands
    saved_ = _mm_getcsr();
    const unsigned want = flush ? saved_ | kFtzDaz : saved_ & ~kFtzDaz;
    if (want != saved_) {
        _mm_setcsr(want);
        set_ = true;
    }
#else
    (void)worker;
#endif
}

FpScope::~FpScope() {
#ifdef FASTNN_HAVE_MXCSR
    if (set_) _mm_setcsr(saved_);
#endif
}

}  // namespace fastnn
