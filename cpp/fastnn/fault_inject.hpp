// fastnn engine, test builds only (CMake option FASTNN_FAULT_INJECT): a replaced global operator new that can
// be told to throw std::bad_alloc on the N-th allocation from now, and that counts allocations.
//
// The replacement lives in the _core module (linked with -Bsymbolic, so the module's own allocations bind to it
// even when a sanitizer runtime preloaded its own operator new); it allocates with malloc and frees with free.
// tests/test_fault_injection.py drives it through fastnn._core._fault_arm / _fault_disarm / _alloc_count, which
// exist only in this build.
#pragma once

#include <cstdint>

namespace fastnn::fault {

// The n-th allocation (1-based) from now throws std::bad_alloc, once; n <= 0 disarms.
void arm(std::int64_t n);
// Disarms; returns true when the armed failure was delivered.
bool disarm();
// Allocations made through operator new since the last reset_count (all threads).
std::int64_t count();
void reset_count();

}  // namespace fastnn::fault
