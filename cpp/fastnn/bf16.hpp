// fastnn engine: bfloat16 products for the mixed_bfloat16 dtype policy.
//
// Under the policy, weights, optimizer state, losses and metrics stay float32; the operands of each large
// product are rounded to bfloat16 (round to nearest even) and multiplied with float32 accumulation. The
// products run in oneDNN's matmul (AMX tiles where the CPU has them, else AVX-512-BF16), loaded at run time
// from the onednn-cpu-gomp wheel (libdnnl.so.3, GNU OpenMP: the engine's own thread pool). Where neither
// instruction set is there (or oneDNN is missing), the products stay float32 and Python warns once.
//
// Dispatch is decided once, on first use, from the CPU's features (cpuid, the OS's XSAVE state, Linux's
// permission for AMX tile data) and two environment variables that force the fallbacks:
//   FASTNN_DISABLE_AMX=1          no AMX tiles (AVX-512-BF16 if present)
//   FASTNN_DISABLE_AVX512_BF16=1  no bfloat16 products at all (float32)
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace fastnn {

enum class Bf16Isa { None = 0, Avx512Bf16 = 1, Amx = 2 };

struct CpuFeatures {
    bool avx512f = false, avx512_bf16 = false, amx_tile = false, amx_bf16 = false;
    bool os_avx512 = false;  // XCR0 has the AVX-512 state
    bool os_amx = false;     // XCR0 has the tile state and Linux granted permission to use it
};
CpuFeatures cpu_features();

// Loads oneDNN from `path` (the Python package finds the wheel's library); returns "" on success, else why not.
// Idempotent: later calls return the first call's result.
std::string load_onednn(const std::string& path);
bool onednn_loaded();

// The instruction set the bfloat16 products use (None: float32 products), decided on first call.
Bf16Isa bf16_isa();
const char* bf16_isa_name(Bf16Isa isa);
// oneDNN's name of the kernel it picked for a product of this shape ("brg:avx512_core_bf16", ...), for tests.
std::string bf16_kernel_name(int M, int N, int K);

// out (n,) = round-to-nearest-even bfloat16 of in (n,); NaN stays NaN.
void to_bf16(std::uint16_t* out, const float* in, std::size_t n);
void from_bf16(float* out, const std::uint16_t* in, std::size_t n);

// C (M, N) = op(A) (M, K) @ op(B) (K, N), operands rounded to bfloat16, float32 accumulation, C overwritten.
// A is stored (M, K) with row stride lda, or (K, M) when transA; B likewise. Requires bf16_isa() != None.
void gemm_bf16(bool transA, bool transB, int M, int N, int K, const float* A, int lda, const float* B, int ldb,
               float* C, int ldc);

// While a Bf16Scope with on=true lives in a thread, that thread's float32 products (gemm<float>) that are large
// enough for it to pay run as gemm_bf16. Scopes nest; each restores what it found.
//
// Weights are converted once per pass: a scope may name the network's parameter buffer and the id of the current
// forward pass (bf16_new_pass); a B operand inside that buffer is converted on its first product of the pass and
// reused by the others (the forward's W and the backward's W^T share one bfloat16 copy). Parameters must not
// change within a pass: the optimizer updates them between passes.
// An inference pass may also hand over a Bf16Weights (below) that the network makes once per weight change:
// weights are then read from it and never converted.
bool compute_bf16();

// The bfloat16 copies of a network's parameters that inference under the policy reads (bf16_infer.cpp):
//   plain:  every parameter at its float32 offset (the batched products' operands);
//   paired: each (n_in, n_out) kernel for the one-row product, in pieces of 16 columns, each piece k-pair-major
//           ((k, k+1) of one column adjacent: AVX-512-BF16's dot-product layout), zero past n_in and n_out.
class Bf16Weights {
public:
    struct Kernel {
        std::size_t offset, n_in, n_out, paired;  // offset in the float32 buffer, shape, offset in `paired`
    };
    // Remakes both copies from params (n values) and the kernels at (offset, n_in, n_out); all or nothing.
    void make(const float* params, std::size_t n, const std::vector<Kernel>& kernels);
    const std::uint16_t* plain(std::size_t offset) const { return plain_.data() + offset; }
    const Kernel* kernel(std::size_t offset) const;
    const std::uint16_t* paired(const Kernel& k) const { return paired_.data() + k.paired; }

private:
    std::vector<std::uint16_t> plain_, paired_;
    std::vector<Kernel> kernels_;
};

// The plain bfloat16 copy of the parameter at p (p inside the scope's parameter buffer, n values from p), or null
// when the scope has no copy or p is not in the buffer.
const std::uint16_t* bf16_weights_copy(const float* p, std::size_t n);
// (For bf16_infer.cpp) where p (n values) lies in the scope's parameter buffer, and the scope's copy.
bool bf16_param_offset(const float* p, std::size_t n, std::size_t* offset);
const Bf16Weights* bf16_scope_copy();
// z (n_out,) = bf16(x) @ bf16(W) with float32 sums, for one row, when W is a kernel of the scope's copy and the CPU
// has AVX-512-BF16; returns false (z untouched) otherwise.
bool gemv_bf16(float* z, const float* x, const float* W, std::size_t n_in, std::size_t n_out);
std::uint64_t bf16_new_pass();
template <class T>
class Bf16Scope;
template <>
class Bf16Scope<float> {
public:
    Bf16Scope(bool on, const float* params = nullptr, std::size_t n_params = 0, std::uint64_t pass = 0,
              const Bf16Weights* copy = nullptr);
    ~Bf16Scope();
    Bf16Scope(const Bf16Scope&) = delete;
    Bf16Scope& operator=(const Bf16Scope&) = delete;

private:
    bool prev_on_;
    const float *prev_begin_, *prev_end_;
    std::uint64_t prev_pass_;
    const Bf16Weights* prev_copy_;
};
template <>
class Bf16Scope<double> {  // float64 networks have no bfloat16 products
public:
    Bf16Scope(bool, const double* = nullptr, std::size_t = 0, std::uint64_t = 0, const Bf16Weights* = nullptr) {}
};

}  // namespace fastnn
