// fastnn engine: inference under the mixed_bfloat16 policy from bfloat16 copies of the weights (see bf16.hpp).
//
// The one-row product (a prediction of one sample: latency) is bound by reading the kernel, so it reads the
// paired copy, half of float32's bytes, in the layout of AVX-512-BF16's dot product: vdpbf16ps multiplies 16
// pairs (W[k][c], W[k+1][c]) by the pair (x[k], x[k+1]) and adds both products to column c's float32 sum, so one
// 64-byte load and one instruction do 32 multiply-adds. Pieces of 16 columns are k-pair-major and contiguous, so
// each thread streams its own pieces from start to end and keeps them in its L2 between calls. The kernel is
// compiled for AVX-512-BF16 whatever the build's target and only called where the CPU has it (bf16_isa()).
#include "bf16.hpp"

#include <algorithm>
#include <cstring>

#include "common.hpp"
#include "threads.hpp"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define FASTNN_GEMV_BF16 1
#endif

namespace fastnn {

namespace {
constexpr std::size_t kPiece = 16;  // columns per piece: one vector of float32 sums

std::size_t paired_size(std::size_t n_in, std::size_t n_out) {
    return (n_out + kPiece - 1) / kPiece * ((n_in + 1) / 2) * 2 * kPiece;
}

// out[piece][j][c][e] = bf16(W[2j + e][piece * 16 + c]), zero outside W.
void pair_kernel(std::uint16_t* out, const std::uint16_t* w16, std::size_t n_in, std::size_t n_out) {
    const std::size_t pairs = (n_in + 1) / 2, pieces = (n_out + kPiece - 1) / kPiece;
    for (std::size_t p = 0; p < pieces; ++p)
        for (std::size_t j = 0; j < pairs; ++j) {
            std::uint16_t* o = out + (p * pairs + j) * 2 * kPiece;
            for (std::size_t c = 0; c < kPiece; ++c)
                for (std::size_t e = 0; e < 2; ++e) {
                    const std::size_t k = 2 * j + e, col = p * kPiece + c;
                    o[2 * c + e] = k < n_in && col < n_out ? w16[k * n_out + col] : std::uint16_t(0);
                }
        }
}
}  // namespace

void Bf16Weights::make(const float* params, std::size_t n, const std::vector<Kernel>& kernels) {
    std::vector<std::uint16_t> plain(n);
    std::vector<Kernel> ks = kernels;
    std::size_t total = 0;
    for (Kernel& k : ks) {
        k.paired = total;
        total += paired_size(k.n_in, k.n_out);
    }
    std::vector<std::uint16_t> paired(total);
    to_bf16(plain.data(), params, n);
    for (const Kernel& k : ks) pair_kernel(paired.data() + k.paired, plain.data() + k.offset, k.n_in, k.n_out);
    plain_.swap(plain);
    paired_.swap(paired);
    kernels_.swap(ks);
}

const Bf16Weights::Kernel* Bf16Weights::kernel(std::size_t offset) const {
    for (const Kernel& k : kernels_)
        if (k.offset == offset) return &k;
    return nullptr;
}

#ifdef FASTNN_GEMV_BF16
namespace {
// z[piece p0 .. p0 + NV) for columns below n_out. Two sums per piece (even and odd pairs) keep 2 * NV independent
// dot-product chains in flight; each column's result is (even sum) + (odd sum), the same at any thread count.
template <int NV>
__attribute__((target("avx512f,avx512bw,avx512bf16"))) void gemv_pieces(float* z, const std::uint32_t* xpairs,
                                                                        const std::uint16_t* W, std::size_t pairs,
                                                                        std::size_t n_out, std::size_t p0) {
    __m512 a[NV], b[NV];
    for (int v = 0; v < NV; ++v) a[v] = b[v] = _mm512_setzero_ps();
    const std::uint16_t* base = W + p0 * pairs * 2 * kPiece;
    const std::size_t stride = pairs * 2 * kPiece;  // values per piece
    std::size_t j = 0;
    for (; j + 2 <= pairs; j += 2) {
        const __m512bh x0 = (__m512bh)_mm512_set1_epi32(int(xpairs[j]));
        const __m512bh x1 = (__m512bh)_mm512_set1_epi32(int(xpairs[j + 1]));
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) {
            const std::uint16_t* w = base + v * stride + j * 2 * kPiece;
            a[v] = _mm512_dpbf16_ps(a[v], (__m512bh)_mm512_loadu_si512(w), x0);
            b[v] = _mm512_dpbf16_ps(b[v], (__m512bh)_mm512_loadu_si512(w + 2 * kPiece), x1);
        }
    }
    if (j < pairs) {
        const __m512bh x0 = (__m512bh)_mm512_set1_epi32(int(xpairs[j]));
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v)
            a[v] = _mm512_dpbf16_ps(a[v], (__m512bh)_mm512_loadu_si512(base + v * stride + j * 2 * kPiece), x0);
    }
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) {
        const std::size_t c0 = (p0 + std::size_t(v)) * kPiece;
        const std::size_t cols = std::min(kPiece, n_out - c0);
        _mm512_mask_storeu_ps(z + c0, __mmask16((1u << cols) - 1), _mm512_add_ps(a[v], b[v]));
    }
}

void gemv_range(float* z, const std::uint32_t* xpairs, const std::uint16_t* W, std::size_t pairs,
                std::size_t n_out, std::size_t p_begin, std::size_t p_end) {
    constexpr std::size_t kBlock = 8;  // pieces per block: 16 chains
    for (std::size_t p0 = p_begin; p0 < p_end; p0 += kBlock) {
        switch (std::min(kBlock, p_end - p0)) {
            case 8: gemv_pieces<8>(z, xpairs, W, pairs, n_out, p0); break;
            case 7: gemv_pieces<7>(z, xpairs, W, pairs, n_out, p0); break;
            case 6: gemv_pieces<6>(z, xpairs, W, pairs, n_out, p0); break;
            case 5: gemv_pieces<5>(z, xpairs, W, pairs, n_out, p0); break;
            case 4: gemv_pieces<4>(z, xpairs, W, pairs, n_out, p0); break;
            case 3: gemv_pieces<3>(z, xpairs, W, pairs, n_out, p0); break;
            case 2: gemv_pieces<2>(z, xpairs, W, pairs, n_out, p0); break;
            default: gemv_pieces<1>(z, xpairs, W, pairs, n_out, p0); break;
        }
    }
}
}  // namespace

bool gemv_bf16(float* z, const float* x, const float* W, std::size_t n_in, std::size_t n_out) {
    const Bf16Weights* copy = bf16_scope_copy();
    std::size_t off;
    if (!copy || bf16_isa() == Bf16Isa::None || !bf16_param_offset(W, n_in * n_out, &off)) return false;
    const Bf16Weights::Kernel* k = copy->kernel(off);
    if (!k || k->n_in != n_in || k->n_out != n_out) return false;
    // x as bfloat16 pairs (x[2j] low, x[2j + 1] high), zero past n_in.
    const std::size_t pairs = (n_in + 1) / 2;
    thread_local std::vector<std::uint16_t> x16;
    thread_local std::vector<std::uint32_t> xp;
    x16.assign(2 * pairs, 0);
    xp.resize(pairs);
    to_bf16(x16.data(), x, n_in);
    for (std::size_t j = 0; j < pairs; ++j) xp[j] = std::uint32_t(x16[2 * j]) | std::uint32_t(x16[2 * j + 1]) << 16;
    const std::uint32_t* xpairs = xp.data();
    const std::uint16_t* Wp = copy->paired(*k);
    const std::size_t pieces = (n_out + kPiece - 1) / kPiece;
    const int parts = double(n_in) * double(n_out) >= double(kParallelMinMacs) ? get_num_threads() : 1;
    const std::size_t per = (pieces + std::size_t(parts) - 1) / std::size_t(parts);
    FASTNN_PARALLEL_FOR_ABOVE(parts, 2)
    for (int p = 0; p < parts; ++p)
        gemv_range(z, xpairs, Wp, pairs, n_out, std::min(pieces, std::size_t(p) * per),
                   std::min(pieces, std::size_t(p + 1) * per));
    return true;
}
#else
bool gemv_bf16(float*, const float*, const float*, std::size_t, std::size_t) { return false; }
#endif

}  // namespace fastnn
