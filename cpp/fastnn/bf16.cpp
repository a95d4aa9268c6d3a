// fastnn engine: bfloat16 products through oneDNN (see bf16.hpp). oneDNN is opened with dlopen on first use,
// so the engine links and imports without it; its C API is reached through the function table below.
#include "bf16.hpp"

#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#include <vector>

#include "common.hpp"
#include "threads.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#ifdef __linux__
#include <dlfcn.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif
#ifdef FASTNN_HAVE_OPENMP
#include <omp.h>
#endif
#ifdef FASTNN_HAVE_ONEDNN_HEADERS
#include <oneapi/dnnl/dnnl.h>
#endif

namespace fastnn {

// ---------------------------------------------------------------------------------------------------------------
// CPU features

namespace {
#if defined(__x86_64__)
std::uint64_t xgetbv0() {
    std::uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (std::uint64_t(hi) << 32) | lo;
}
#endif

// Linux keeps AMX tile data off until a process asks (arch_prctl ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA = 18).
bool request_amx_permission() {
#if defined(__linux__) && defined(__x86_64__)
    constexpr long kArchGetXcompPerm = 0x1022, kArchReqXcompPerm = 0x1023;
    constexpr int kXtiledata = 18;
    if (syscall(SYS_arch_prctl, kArchReqXcompPerm, kXtiledata) != 0) return false;
    unsigned long bitmask = 0;
    if (syscall(SYS_arch_prctl, kArchGetXcompPerm, &bitmask) != 0) return false;
    return (bitmask >> kXtiledata) & 1;
#else
    return false;
#endif
}
}  // namespace

CpuFeatures cpu_features() {
    CpuFeatures f;
#if defined(__x86_64__)
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return f;  // OSXSAVE
    const std::uint64_t xcr0 = xgetbv0();
    if (__get_cpuid_max(0, nullptr) < 7) return f;
    __cpuid_count(7, 0, a, b, c, d);
    f.avx512f = b & (1u << 16);
    f.amx_bf16 = d & (1u << 22);
    f.amx_tile = d & (1u << 24);
    __cpuid_count(7, 1, a, b, c, d);
    f.avx512_bf16 = a & (1u << 5);
    f.os_avx512 = (xcr0 & 0xe6) == 0xe6;  // SSE, AVX, opmask, ZMM_Hi256, Hi16_ZMM
    const bool xcr0_tiles = (xcr0 & (3ull << 17)) == (3ull << 17);
    f.os_amx = f.amx_tile && xcr0_tiles && request_amx_permission();
#endif
    return f;
}

// ---------------------------------------------------------------------------------------------------------------
// Conversions

void to_bf16(std::uint16_t* out, const float* in, std::size_t n) {
#pragma omp simd
    for (std::size_t i = 0; i < n; ++i) {
        std::uint32_t u;
        std::memcpy(&u, &in[i], 4);
        const bool nan = (u & 0x7fffffffu) > 0x7f800000u;
        const std::uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
        out[i] = std::uint16_t(nan ? ((u >> 16) | 0x40u) : rounded);
    }
}

void from_bf16(float* out, const std::uint16_t* in, std::size_t n) {
#pragma omp simd
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint32_t u = std::uint32_t(in[i]) << 16;
        std::memcpy(&out[i], &u, 4);
    }
}

// ---------------------------------------------------------------------------------------------------------------
// The thread's mode

namespace {
thread_local bool t_bf16 = false;
thread_local const float* t_params_begin = nullptr;
thread_local const float* t_params_end = nullptr;
thread_local std::uint64_t t_pass = 0;
thread_local const Bf16Weights* t_copy = nullptr;
std::atomic<std::uint64_t> g_pass{0};
}  // namespace
bool compute_bf16() { return t_bf16; }
std::uint64_t bf16_new_pass() { return ++g_pass; }
// Where p (n values) lies in the scope's parameter buffer, or false.
bool bf16_param_offset(const float* p, std::size_t n, std::size_t* offset) {
    if (!t_params_begin || p < t_params_begin || p >= t_params_end || n > std::size_t(t_params_end - p)) return false;
    *offset = std::size_t(p - t_params_begin);
    return true;
}
const Bf16Weights* bf16_scope_copy() { return t_copy; }
const std::uint16_t* bf16_weights_copy(const float* p, std::size_t n) {
    std::size_t off;
    return t_copy && bf16_param_offset(p, n, &off) ? t_copy->plain(off) : nullptr;
}
Bf16Scope<float>::Bf16Scope(bool on, const float* params, std::size_t n_params, std::uint64_t pass,
                            const Bf16Weights* copy)
    : prev_on_(t_bf16), prev_begin_(t_params_begin), prev_end_(t_params_end), prev_pass_(t_pass),
      prev_copy_(t_copy) {
    t_bf16 = on;
    t_params_begin = params;
    t_params_end = params ? params + n_params : nullptr;
    t_pass = pass;
    t_copy = params ? copy : nullptr;
}
Bf16Scope<float>::~Bf16Scope() {
    t_bf16 = prev_on_;
    t_params_begin = prev_begin_;
    t_params_end = prev_end_;
    t_pass = prev_pass_;
    t_copy = prev_copy_;
}

const char* bf16_isa_name(Bf16Isa isa) {
    switch (isa) {
        case Bf16Isa::Amx: return "amx";
        case Bf16Isa::Avx512Bf16: return "avx512_bf16";
        default: return "none";
    }
}

#ifdef FASTNN_HAVE_ONEDNN_HEADERS
// ---------------------------------------------------------------------------------------------------------------
// oneDNN, opened at run time

namespace {

#define FASTNN_DNNL_FUNCTIONS(X)                                                                              \
    X(dnnl_engine_create) X(dnnl_stream_create) X(dnnl_stream_wait) X(dnnl_stream_destroy)                     \
    X(dnnl_memory_desc_create_with_strides) X(dnnl_memory_desc_destroy) X(dnnl_memory_desc_get_size)           \
    X(dnnl_memory_create) X(dnnl_memory_destroy) X(dnnl_primitive_attr_create) X(dnnl_primitive_attr_destroy) \
    X(dnnl_primitive_attr_set_scratchpad_mode) X(dnnl_matmul_primitive_desc_create)                           \
    X(dnnl_primitive_desc_query) X(dnnl_primitive_desc_query_md) X(dnnl_primitive_desc_destroy)               \
    X(dnnl_primitive_create) X(dnnl_primitive_destroy) X(dnnl_primitive_execute) X(dnnl_set_max_cpu_isa)       \
    X(dnnl_get_effective_cpu_isa)

struct Dnnl {
#define FASTNN_DNNL_PTR(name) decltype(&::name) name = nullptr;
    FASTNN_DNNL_FUNCTIONS(FASTNN_DNNL_PTR)
#undef FASTNN_DNNL_PTR
    dnnl_engine_t engine = nullptr;
};

std::mutex g_load_mtx;
std::string g_load_error = "oneDNN was not loaded (fastnn._core.load_onednn was not called)";
bool g_load_tried = false;
std::atomic<const Dnnl*> g_dnnl{nullptr};

const Dnnl* dnnl() { return g_dnnl.load(std::memory_order_acquire); }

void check(dnnl_status_t st, const char* what) {
    if (st == dnnl_out_of_memory) throw std::bad_alloc();
    if (st != dnnl_success)
        throw std::runtime_error(std::string("oneDNN: ") + what + " failed (status " + std::to_string(int(st)) + ")");
}

bool env_set(const char* name) {
    const char* v = std::getenv(name);
    return v && *v && std::strcmp(v, "0") != 0;
}
}  // namespace

std::string load_onednn(const std::string& path) {
    std::lock_guard<std::mutex> g(g_load_mtx);
    if (g_load_tried) return dnnl() ? std::string() : g_load_error;
    g_load_tried = true;
#ifdef __linux__
    void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char* e = dlerror();
        g_load_error = std::string("cannot open oneDNN at ") + path + ": " + (e ? e : "unknown error");
        return g_load_error;
    }
    auto d = std::make_unique<Dnnl>();
#define FASTNN_DNNL_SYM(name)                                                          \
    d->name = reinterpret_cast<decltype(&::name)>(dlsym(h, #name));                   \
    if (!d->name) {                                                                    \
        g_load_error = std::string("oneDNN at ") + path + " has no function " #name; \
        return g_load_error;                                                           \
    }
    FASTNN_DNNL_FUNCTIONS(FASTNN_DNNL_SYM)
#undef FASTNN_DNNL_SYM
    // The fallbacks forced by the environment cap oneDNN's instruction set before its first primitive.
    if (env_set("FASTNN_DISABLE_AMX")) d->dnnl_set_max_cpu_isa(dnnl_cpu_isa_avx512_core_bf16);
    if (d->dnnl_engine_create(&d->engine, dnnl_cpu, 0) != dnnl_success) {
        g_load_error = "oneDNN could not create its CPU engine";
        return g_load_error;
    }
    g_dnnl.store(d.release(), std::memory_order_release);
    return std::string();
#else
    (void)path;
    g_load_error = "oneDNN is only loaded on Linux";
    return g_load_error;
#endif
}

bool onednn_loaded() { return dnnl() != nullptr; }

Bf16Isa bf16_isa() {
    static std::atomic<int> decided{-1};  // decided once oneDNN is there; before that, None without deciding
    const int v = decided.load(std::memory_order_acquire);
    if (v >= 0) return Bf16Isa(v);
    if (!dnnl()) return Bf16Isa::None;
    Bf16Isa isa = Bf16Isa::None;
    const CpuFeatures f = cpu_features();
    if (!env_set("FASTNN_DISABLE_AVX512_BF16") && f.os_avx512) {
        if (f.amx_bf16 && f.os_amx && !env_set("FASTNN_DISABLE_AMX")) isa = Bf16Isa::Amx;
        else if (f.avx512_bf16) isa = Bf16Isa::Avx512Bf16;
    }
    decided.store(int(isa), std::memory_order_release);
    return isa;
}

namespace {

// One matmul primitive per product shape (creating one costs 0.3-2 ms; the shapes of a fit repeat).
struct Matmul {
    const Dnnl* d = nullptr;
    dnnl_memory_desc_t a = nullptr, b = nullptr, c = nullptr, scratch = nullptr;
    dnnl_primitive_t prim = nullptr;
    std::size_t scratch_bytes = 0;
    std::string impl;
    ~Matmul() {
        if (prim) d->dnnl_primitive_destroy(prim);
        for (dnnl_memory_desc_t md : {a, b, c, scratch})
            if (md) d->dnnl_memory_desc_destroy(md);
    }
};

using Key = std::tuple<int, int, int, bool, bool, int>;
std::mutex g_cache_mtx;
std::map<Key, std::shared_ptr<const Matmul>> g_cache;

std::shared_ptr<const Matmul> make_matmul(const Dnnl* d, int M, int N, int K, bool ta, bool tb, int ldc) {
    auto mm = std::make_shared<Matmul>();
    mm->d = d;
    // The operands are packed densely: op(A) is stored (M, K), or (K, M) when transposed; likewise op(B).
    const dnnl_dims_t ad = {M, K}, bd = {K, N}, cd = {M, N};
    const dnnl_dims_t as = {ta ? 1 : K, ta ? M : 1}, bs = {tb ? 1 : N, tb ? K : 1}, cs = {ldc, 1};
    check(d->dnnl_memory_desc_create_with_strides(&mm->a, 2, ad, dnnl_bf16, as), "memory_desc A");
    check(d->dnnl_memory_desc_create_with_strides(&mm->b, 2, bd, dnnl_bf16, bs), "memory_desc B");
    check(d->dnnl_memory_desc_create_with_strides(&mm->c, 2, cd, dnnl_f32, cs), "memory_desc C");
    dnnl_primitive_attr_t attr = nullptr;
    check(d->dnnl_primitive_attr_create(&attr), "attr");
    // A scratchpad per call (not per primitive) lets several threads run one primitive at once.
    d->dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
    dnnl_primitive_desc_t pd = nullptr;
    const dnnl_status_t st =
        d->dnnl_matmul_primitive_desc_create(&pd, d->engine, mm->a, mm->b, nullptr, mm->c, attr);
    d->dnnl_primitive_attr_destroy(attr);
    check(st, "matmul descriptor");
    const char* impl = nullptr;
    if (d->dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success && impl) mm->impl = impl;
    const_dnnl_memory_desc_t smd = d->dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    mm->scratch_bytes = smd ? d->dnnl_memory_desc_get_size(smd) : 0;
    if (mm->scratch_bytes) {
        const dnnl_dims_t sd = {dnnl_dim_t(mm->scratch_bytes)}, ss = {1};
        check(d->dnnl_memory_desc_create_with_strides(&mm->scratch, 1, sd, dnnl_u8, ss), "memory_desc scratch");
    }
    const dnnl_status_t pst = d->dnnl_primitive_create(&mm->prim, pd);
    d->dnnl_primitive_desc_destroy(pd);
    check(pst, "matmul primitive");
    return mm;
}

std::shared_ptr<const Matmul> get_matmul(int M, int N, int K, bool ta, bool tb, int ldc) {
    const Dnnl* d = dnnl();
    if (!d) throw std::runtime_error("fastnn: bfloat16 products need oneDNN, which is not loaded");
    const Key key{M, N, K, ta, tb, ldc};
    std::lock_guard<std::mutex> g(g_cache_mtx);
    auto it = g_cache.find(key);
    if (it != g_cache.end()) return it->second;
    if (g_cache.size() >= 256) g_cache.clear();  // entries in use live on through their shared_ptr
    auto mm = make_matmul(d, M, N, K, ta, tb, ldc);
    g_cache.emplace(key, mm);
    return mm;
}

// A weight matrix converted in this pass (see Bf16Scope).
struct Converted {
    const float* src = nullptr;
    int rows = 0, cols = 0, ld = 0;
    std::vector<std::uint16_t> data;
};

struct ThreadState {
    dnnl_stream_t stream = nullptr;
    std::vector<std::uint16_t> a, b;
    std::uint64_t pass = 0;
    std::vector<Converted> weights;  // of `pass`; the vectors' storage is kept from pass to pass
    std::size_t n_weights = 0;
    std::vector<unsigned char> scratch;
    ~ThreadState() {
        if (stream) dnnl()->dnnl_stream_destroy(stream);
    }
};
thread_local ThreadState t_state;

// v's storage with room for n elements. Buffers only grow: a vector's resize zero-fills what it adds, and the
// products of a step take turns with different sizes (W3: about 1 MB of zero-filling a step, were they resized).
template <class V>
typename V::value_type* room(V& v, std::size_t n) {
    if (v.size() < n) v.resize(n);
    return v.data();
}

// A conversion to make: the stored (rows, cols) matrix x with row stride ld, as dense bfloat16 rows in out.
struct Pack {
    std::uint16_t* out = nullptr;
    const float* x = nullptr;
    int rows = 0, cols = 0, ld = 0;
    void rows_range(int r0, int r1) const {
        if (ld == cols) {
            to_bf16(out + std::size_t(r0) * cols, x + std::size_t(r0) * ld, std::size_t(r1 - r0) * cols);
            return;
        }
        for (int r = r0; r < r1; ++r) to_bf16(out + std::size_t(r) * cols, x + std::size_t(r) * ld, cols);
    }
};

// Conversions of fewer elements than this run on the calling thread. Measured on W3 (2 cores): converting 150k
// elements takes 11-16 us on one thread and 8 us on two, but every parallel region is a barrier, and when another
// process holds one of the cores a barrier can cost a scheduler time slice: only the large conversions get one.
constexpr double kParallelMinConvert = 1 << 18;

// Runs the conversions of one product (A's, and B's when it is not cached) in one parallel region: each thread
// converts its share of the rows of both, so the team is woken once per product and each conversion streams
// through both cores' caches at once.
void run_packs(const Pack& a, const Pack& b) {
    const double elements = double(a.rows) * a.cols + (b.out ? double(b.rows) * b.cols : 0.0);
    const int parts = elements >= kParallelMinConvert ? get_num_threads() : 1;
    FASTNN_PARALLEL_FOR_ABOVE(parts, 2)
    for (int p = 0; p < parts; ++p)
        for (const Pack* k : {&a, &b}) {
            if (!k->out) continue;
            const std::int64_t rows = k->rows;
            k->rows_range(int(rows * p / parts), int(rows * (p + 1) / parts));
        }
}

// Where B's dense bfloat16 rows are: in the network's copy (inference), or for a weight of the scope's parameter
// buffer converted once per pass (a conversion to make is added to `pack`), else in the thread's buffer, converted
// every call.
const std::uint16_t* packed_b(ThreadState& ts, Pack& pack, const float* B, int rows, int cols, int ld) {
    pack = Pack{nullptr, B, rows, cols, ld};
    if (ld == cols)  // dense rows: the network's copy (an inference pass) has them as they are
        if (const std::uint16_t* copy = bf16_weights_copy(B, std::size_t(rows) * std::size_t(cols))) return copy;
    if (!(t_pass && B >= t_params_begin && B < t_params_end)) {
        pack.out = room(ts.b, std::size_t(rows) * cols);
        return pack.out;
    }
    if (ts.pass != t_pass) {
        ts.pass = t_pass;
        ts.n_weights = 0;
    }
    for (std::size_t i = 0; i < ts.n_weights; ++i) {
        const Converted& c = ts.weights[i];
        if (c.src == B && c.rows == rows && c.cols == cols && c.ld == ld) return c.data.data();
    }
    if (ts.n_weights == ts.weights.size()) ts.weights.emplace_back();
    Converted& c = ts.weights[ts.n_weights];
    std::uint16_t* out = room(c.data, std::size_t(rows) * cols);
    c.src = B;
    c.rows = rows;
    c.cols = cols;
    c.ld = ld;
    ++ts.n_weights;  // (the conversion itself, in run_packs, cannot fail)
    pack.out = out;
    return pack.out;
}

struct MemoryGuard {
    const Dnnl* d;
    std::array<dnnl_memory_t, 4> m{};
    ~MemoryGuard() {
        for (dnnl_memory_t x : m)
            if (x) d->dnnl_memory_destroy(x);
    }
};

}  // namespace

std::string bf16_kernel_name(int M, int N, int K) { return get_matmul(M, N, K, false, false, N)->impl; }

void gemm_bf16(bool transA, bool transB, int M, int N, int K, const float* A, int lda, const float* B, int ldb,
               float* C, int ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        for (int r = 0; r < M; ++r) std::fill(C + std::size_t(r) * ldc, C + std::size_t(r) * ldc + N, 0.0f);
        return;
    }
    auto mm = get_matmul(M, N, K, transA, transB, ldc);
    const Dnnl* d = mm->d;
    ThreadState& ts = t_state;
    if (!ts.stream) check(d->dnnl_stream_create(&ts.stream, d->engine, dnnl_stream_default_flags), "stream");
    Pack pa{nullptr, A, transA ? K : M, transA ? M : K, lda}, pb;
    pa.out = room(ts.a, std::size_t(pa.rows) * pa.cols);
    const std::uint16_t* b16 = packed_b(ts, pb, B, transB ? N : K, transB ? K : N, ldb);
    run_packs(pa, pb);
    unsigned char* scratch = room(ts.scratch, mm->scratch_bytes);
    MemoryGuard mem{d};
    check(d->dnnl_memory_create(&mem.m[0], mm->a, d->engine, pa.out), "memory A");
    check(d->dnnl_memory_create(&mem.m[1], mm->b, d->engine, const_cast<std::uint16_t*>(b16)), "memory B");
    check(d->dnnl_memory_create(&mem.m[2], mm->c, d->engine, C), "memory C");
    int nargs = 3;
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, mem.m[0]}, {DNNL_ARG_WEIGHTS, mem.m[1]}, {DNNL_ARG_DST, mem.m[2]}, {}};
    if (mm->scratch) {
        check(d->dnnl_memory_create(&mem.m[3], mm->scratch, d->engine, scratch), "memory scratchpad");
        args[nargs++] = {DNNL_ARG_SCRATCHPAD, mem.m[3]};
    }
#ifdef FASTNN_HAVE_OPENMP
    // oneDNN's team is the calling thread's OpenMP team: size it as the engine's.
    const int prev = omp_get_max_threads();
    omp_set_num_threads(get_num_threads());
#endif
    dnnl_status_t st = d->dnnl_primitive_execute(mm->prim, ts.stream, nargs, args);
    if (st == dnnl_success) st = d->dnnl_stream_wait(ts.stream);
#ifdef FASTNN_HAVE_OPENMP
    omp_set_num_threads(prev);
#endif
    check(st, "matmul");
}

#else  // built without oneDNN's headers: bfloat16 products are never available

std::string load_onednn(const std::string&) { return "this build of fastnn has no oneDNN support"; }
bool onednn_loaded() { return false; }
Bf16Isa bf16_isa() { return Bf16Isa::None; }
std::string bf16_kernel_name(int, int, int) { return "none"; }
void gemm_bf16(bool, bool, int, int, int, const float*, int, const float*, int, float*, int) {
    throw std::runtime_error("fastnn: this build has no bfloat16 products");
}

#endif

}  // namespace fastnn
