#pragma once
// The f32 matrix products of a prompt (model/prefill_kernel): y = x W^T (+ b) with the rows of W
// split over the intra-op threads. Debian's LibTorch hands such products to OpenBLAS, which runs
// single-threaded inside LibTorch (kernels/runtime.cpp, set_threads), so a prompt's products used one
// core; this one uses all of them, with a register-tiled AVX-512 (6 x 32) or AVX2 (6 x 16) inner
// kernel over packed panels of W, or plain loops elsewhere (the ISA of kernels/matvec.hpp). What
// follows a product in a decoder layer (a residual add, SwiGLU) is done as each tile is stored,
// while its sums are still in registers.

#include <array>
#include <cstdint>
#include <mutex>
#include <vector>

#include <ATen/core/Tensor.h>

namespace litestage {

// Rows of x per inner tile: callers that split rows among threads split them in whole tiles.
constexpr int64_t kGemmTileRows = 6;

// How a product's sums s = x W^T (+ b) reach y.
enum class GemmStore {
  Set,     // y = s
  Add,     // y += s (a residual stream)
  SwiGLU,  // W stacks gate rows over up rows (2I, K); y (M, I) = silu(s_gate) * s_up
};

// A weight's panels packed once and reused by every product with it. Without it each call packs
// the panels it reads, which costs little when a call has many rows but adds up for a small
// layer's rows split over the threads (each thread then reads every panel). Repacked when the
// weight or bias changes storage or version (an in-place update, a load), or the store mode or the
// panel width changes; inference tensors keep no version, so products with them pack per call.
// Copies start empty. Safe to share between threads.
class PackedPanels {
 public:
  PackedPanels() = default;
  PackedPanels(const PackedPanels&) {}
  PackedPanels& operator=(const PackedPanels&) { return *this; }

 private:
  friend class PanelCache;
  std::mutex mutex_;
  std::array<int64_t, 8> key_{};
  std::vector<float> panels_, biases_;
};

// Whether products with `elements` f32 weights keep packed panels (8 MB of weights or less, as
// every weight of the demo model): packing them again per call costs more than a few rows'
// multiply-adds, and a second copy of a large model's weights would cost too much memory.
constexpr int64_t kKeptPanelBytes = int64_t{8} << 20;
inline bool panels_worth_keeping(int64_t elements) { return elements * int64_t{4} <= kKeptPanelBytes; }

// x (M, K) and y (M, N) row-major floats (y not aliasing x; (M, N/2) for SwiGLU); weight (N, K) f32
// contiguous; bias (N) f32 or undefined; `packed` (optional) keeps the weight's panels between calls.
void gemm(const float* x, int64_t M, const at::Tensor& weight, const at::Tensor& bias, float* y,
          GemmStore store = GemmStore::Set, PackedPanels* packed = nullptr);

// The same on raw row-major arrays: y = x w^T (+ bias) with w (N, K), bias N floats or nullptr.
// With band >= 0 the product is causal: row m's columns n > band + m hold no defined value (tiles
// past every row's band are skipped, and the rest are written whole).
void gemm_nt(const float* x, int64_t M, int64_t K, const float* w, int64_t N, const float* bias, float* y,
             int64_t band = -1);
// y = x w with w (K, N), y's rows ldy floats apart (0: N). With band >= 0, x is causal: its entries
// (m, k > band + m) are zero, and the products skip them. Inside a parallel region both raw
// products run on the calling thread.
void gemm_nn(const float* x, int64_t M, int64_t K, const float* w, int64_t N, float* y, int64_t ldy = 0,
             int64_t band = -1);

}  // namespace litestage
