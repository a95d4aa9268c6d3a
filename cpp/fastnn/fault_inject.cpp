// fastnn engine, test builds only: the fault-injecting, counting global operator new (see fault_inject.hpp).
//
// Every replaceable allocation function of C++17 is defined here (plain, array, aligned, nothrow), and every
// deallocation function, so memory obtained here is always released here: malloc/aligned_alloc and free.
#include "fault_inject.hpp"

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

namespace fastnn::fault {

namespace {
std::atomic<std::int64_t> g_countdown{0};  // > 0: allocations left before the failure
std::atomic<bool> g_fired{false};
std::atomic<std::int64_t> g_count{0};

// True when this allocation is the armed one.
bool should_fail() {
    g_count.fetch_add(1, std::memory_order_relaxed);
    std::int64_t left = g_countdown.load(std::memory_order_relaxed);
    while (left > 0) {
        if (g_countdown.compare_exchange_weak(left, left - 1, std::memory_order_relaxed)) {
            if (left == 1) {
                g_fired = true;
                return true;
            }
            return false;
        }
    }
    return false;
}

void* allocate(std::size_t n, std::size_t align) {
    if (should_fail()) return nullptr;
    if (n == 0) n = 1;
    if (align <= alignof(std::max_align_t)) return std::malloc(n);
    return std::aligned_alloc(align, (n + align - 1) / align * align);
}

void* allocate_or_throw(std::size_t n, std::size_t align) {
    void* p = allocate(n, align);
    if (!p) throw std::bad_alloc();
    return p;
}
}  // namespace

void arm(std::int64_t n) {
    g_fired = false;
    g_countdown = n > 0 ? n : 0;
}

bool disarm() {
    g_countdown = 0;
    return g_fired.exchange(false);
}

std::int64_t count() { return g_count.load(); }
void reset_count() { g_count = 0; }

}  // namespace fastnn::fault

using fastnn::fault::allocate;
using fastnn::fault::allocate_or_throw;

void* operator new(std::size_t n) { return allocate_or_throw(n, 0); }
void* operator new[](std::size_t n) { return allocate_or_throw(n, 0); }
void* operator new(std::size_t n, std::align_val_t a) { return allocate_or_throw(n, std::size_t(a)); }
void* operator new[](std::size_t n, std::align_val_t a) { return allocate_or_throw(n, std::size_t(a)); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return allocate(n, 0); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return allocate(n, 0); }
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
    return allocate(n, std::size_t(a));
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
    return allocate(n, std::size_t(a));
}

void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
