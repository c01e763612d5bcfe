#include "litestage/model/gemm.hpp"

#include <algorithm>
#include <vector>

#include <ATen/Parallel.h>
#include <torch/types.h>

#include "litestage/model/matvec.hpp"
#include "litestage/model/simd.hpp"

namespace litestage {

namespace {

constexpr int kTileRows = 6;  // rows of x per inner tile

struct Gemm {
  const float* x;
  const float* w;
  const float* b;  // nullptr: no bias
  int64_t M, N, K;
  float* y;
  bool w_by_k;  // w is (K, N), not (N, K)
};

// One tile's place: rows m0.. of x and y, columns n0..n0+cols of y.
struct Tile {
  int64_t m0, n0, cols;
  const float* panel;  // (K, width): columns n0.. of W^T
};

// Columns [n0, n0 + width) of W^T as a (K, width) panel, zero past N. Rows k < k_from of the
// panel already hold their columns j < j_to (filled by pack_avx512's transposes) and keep them.
void pack(const Gemm& g, int64_t n0, int64_t width, float* panel, int64_t k_from = 0, int64_t j_to = 0) {
  const int64_t cols = std::min(width, g.N - n0);
  if (cols < width && k_from == 0) std::fill_n(panel, g.K * width, 0.0f);
  if (g.w_by_k) {  // already (K, N): copy each row's slice
    for (int64_t k = 0; k < g.K; ++k) std::copy_n(g.w + k * g.N + n0, cols, panel + k * width);
    return;
  }
  const float* w = g.w + n0 * g.K;
  for (int64_t k = 0; k < g.K; ++k)
    for (int64_t j = k < k_from ? j_to : 0; j < cols; ++j) panel[k * width + j] = w[j * g.K + k];
}

// Any CPU: `rows` rows of a tile.
void tile_generic(const Gemm& g, const Tile& t, int rows, int64_t width) {
  for (int r = 0; r < rows; ++r) {
    const float* x = g.x + (t.m0 + r) * g.K;
    float* y = g.y + (t.m0 + r) * g.N + t.n0;
    for (int64_t j = 0; j < t.cols; ++j) y[j] = g.b ? g.b[t.n0 + j] : 0.0f;
    for (int64_t k = 0; k < g.K; ++k)
      for (int64_t j = 0; j < t.cols; ++j) y[j] += x[k] * t.panel[k * width + j];
  }
}

#ifdef LITESTAGE_X86_KERNELS
// out[c * ldo + i] = w[i * ld + c] for a 16 x 16 block: unpack pairs of rows, shuffle groups of
// four, then swap 128-bit lanes. The zero-masked forms of the shuffles, because GCC 12's unmasked
// ones read an "undefined" register that -Wall flags.
constexpr __mmask16 kAll = 0xFFFF;
#define LITESTAGE_SHUFFLE(a, b, imm) _mm512_maskz_shuffle_ps(kAll, a, b, imm)
#define LITESTAGE_LANES(a, b, imm) _mm512_maskz_shuffle_f32x4(kAll, a, b, imm)
LITESTAGE_AVX512 void transpose16(const float* w, int64_t ld, float* out, int64_t ldo) {
  __m512 r[16], t[16];
  for (int i = 0; i < 16; ++i) r[i] = _mm512_loadu_ps(w + i * ld);
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_maskz_unpacklo_ps(kAll, r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_maskz_unpackhi_ps(kAll, r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 4; ++i) {  // r[4i + c]: rows 4i..4i+3 at column 4L + c in each lane L
    r[4 * i] = LITESTAGE_SHUFFLE(t[4 * i], t[4 * i + 2], 0x44);
    r[4 * i + 1] = LITESTAGE_SHUFFLE(t[4 * i], t[4 * i + 2], 0xEE);
    r[4 * i + 2] = LITESTAGE_SHUFFLE(t[4 * i + 1], t[4 * i + 3], 0x44);
    r[4 * i + 3] = LITESTAGE_SHUFFLE(t[4 * i + 1], t[4 * i + 3], 0xEE);
  }
  for (int c = 0; c < 4; ++c) {
    const __m512 s0 = LITESTAGE_LANES(r[c], r[4 + c], 0x44), s1 = LITESTAGE_LANES(r[c], r[4 + c], 0xEE);
    const __m512 s2 = LITESTAGE_LANES(r[8 + c], r[12 + c], 0x44);
    const __m512 s3 = LITESTAGE_LANES(r[8 + c], r[12 + c], 0xEE);
    _mm512_storeu_ps(out + c * ldo, LITESTAGE_LANES(s0, s2, 0x88));
    _mm512_storeu_ps(out + (4 + c) * ldo, LITESTAGE_LANES(s0, s2, 0xDD));
    _mm512_storeu_ps(out + (8 + c) * ldo, LITESTAGE_LANES(s1, s3, 0x88));
    _mm512_storeu_ps(out + (12 + c) * ldo, LITESTAGE_LANES(s1, s3, 0xDD));
  }
}

// pack() with the full 16 x 16 blocks transposed in registers.
void pack_avx512(const Gemm& g, int64_t n0, int64_t width, float* panel) {
  const int64_t cols = std::min(width, g.N - n0), full_k = g.K / 16 * 16, full_j = cols / 16 * 16;
  if (cols < width) std::fill_n(panel, g.K * width, 0.0f);
  for (int64_t j = 0; j < full_j; j += 16)
    for (int64_t k = 0; k < full_k; k += 16) transpose16(g.w + (n0 + j) * g.K + k, g.K, panel + k * width + j, width);
  pack(g, n0, width, panel, full_k, full_j);
}
#undef LITESTAGE_SHUFFLE
#undef LITESTAGE_LANES

// R rows x 32 columns in 2R zmm sums: per step of k, two panel loads and 2R multiply-adds.
template <int R>
LITESTAGE_AVX512 void tile_avx512(const Gemm& g, const Tile& t) {
  const int64_t cols = t.cols;
  const __mmask16 lo = static_cast<__mmask16>(cols >= 16 ? 0xFFFF : (1u << cols) - 1);
  const __mmask16 hi = static_cast<__mmask16>(cols >= 32 ? 0xFFFF : cols > 16 ? (1u << (cols - 16)) - 1 : 0);
  const __m512 b0 = g.b ? _mm512_maskz_loadu_ps(lo, g.b + t.n0) : _mm512_setzero_ps();
  const __m512 b1 = g.b ? _mm512_maskz_loadu_ps(hi, g.b + t.n0 + 16) : _mm512_setzero_ps();
  __m512 acc[R][2];
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) acc[r][0] = b0, acc[r][1] = b1;
  const float* x = g.x + t.m0 * g.K;
  const float* panel = t.panel;
  for (int64_t k = 0; k < g.K; ++k) {
    const __m512 w0 = _mm512_loadu_ps(panel + k * 32), w1 = _mm512_loadu_ps(panel + k * 32 + 16);
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      const __m512 xv = _mm512_set1_ps(x[r * g.K + k]);
      acc[r][0] = _mm512_fmadd_ps(xv, w0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(xv, w1, acc[r][1]);
    }
  }
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) {
    float* y = g.y + (t.m0 + r) * g.N + t.n0;
    _mm512_mask_storeu_ps(y, lo, acc[r][0]);
    _mm512_mask_storeu_ps(y + 16, hi, acc[r][1]);
  }
}

// R rows x 16 columns in 2R ymm sums; a partial panel goes through a small buffer.
template <int R>
LITESTAGE_AVX2 void tile_avx2(const Gemm& g, const Tile& t) {
  const int64_t cols = t.cols;
  alignas(32) float bias[16] = {};
  if (g.b) std::copy_n(g.b + t.n0, cols, bias);
  __m256 acc[R][2];
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) acc[r][0] = _mm256_load_ps(bias), acc[r][1] = _mm256_load_ps(bias + 8);
  const float* x = g.x + t.m0 * g.K;
  const float* panel = t.panel;
  for (int64_t k = 0; k < g.K; ++k) {
    const __m256 w0 = _mm256_loadu_ps(panel + k * 16), w1 = _mm256_loadu_ps(panel + k * 16 + 8);
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      const __m256 xv = _mm256_set1_ps(x[r * g.K + k]);
      acc[r][0] = _mm256_fmadd_ps(xv, w0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(xv, w1, acc[r][1]);
    }
  }
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) {
    float* y = g.y + (t.m0 + r) * g.N + t.n0;
    if (cols == 16) {
      _mm256_storeu_ps(y, acc[r][0]);
      _mm256_storeu_ps(y + 8, acc[r][1]);
    } else {
      alignas(32) float out[16];
      _mm256_store_ps(out, acc[r][0]);
      _mm256_store_ps(out + 8, acc[r][1]);
      std::copy_n(out, cols, y);
    }
  }
}

// The tile function for `rows` (1..6) rows.
template <template <int> class Fn>
auto by_rows(int rows) {
  switch (rows) {
    case 1: return &Fn<1>::run;
    case 2: return &Fn<2>::run;
    case 3: return &Fn<3>::run;
    case 4: return &Fn<4>::run;
    case 5: return &Fn<5>::run;
    default: return &Fn<6>::run;
  }
}
template <int R>
struct Avx512Tile {
  static void run(const Gemm& g, const Tile& t) { tile_avx512<R>(g, t); }
};
template <int R>
struct Avx2Tile {
  static void run(const Gemm& g, const Tile& t) { tile_avx2<R>(g, t); }
};
#endif

// Panels [p0, p1) of `width` columns: each packed once, then every tile of rows against it.
void run_panels(const Gemm& g, VectorIsa isa, int64_t width, int64_t p0, int64_t p1) {
  thread_local std::vector<float> panel;
  panel.resize(g.K * width);
  for (int64_t p = p0; p < p1; ++p) {
#ifdef LITESTAGE_X86_KERNELS
    if (isa == VectorIsa::Avx512 && !g.w_by_k)
      pack_avx512(g, p * width, width, panel.data());
    else
#endif
      pack(g, p * width, width, panel.data());
    for (int64_t m0 = 0; m0 < g.M; m0 += kTileRows) {
      const Tile t{m0, p * width, std::min(width, g.N - p * width), panel.data()};
      const int rows = static_cast<int>(std::min<int64_t>(kTileRows, g.M - m0));
#ifdef LITESTAGE_X86_KERNELS
      if (isa == VectorIsa::Avx512) {
        by_rows<Avx512Tile>(rows)(g, t);
        continue;
      }
      if (isa == VectorIsa::Avx2) {
        by_rows<Avx2Tile>(rows)(g, t);
        continue;
      }
#endif
      tile_generic(g, t, rows, width);
    }
  }
}

// Split over the intra-op threads from this many multiply-adds.
constexpr int64_t kParallelWork = int64_t{1} << 17;

void run(const Gemm& g) {
  const VectorIsa isa = vector_isa();
  const int64_t width = isa == VectorIsa::Avx512 ? 32 : 16;
  const int64_t panels = (g.N + width - 1) / width;
  auto loop = [&](int64_t p0, int64_t p1) { run_panels(g, isa, width, p0, p1); };
  if (g.M * g.N * g.K >= kParallelWork && at::get_num_threads() > 1 && !at::in_parallel_region())
    return at::parallel_for(0, panels, 1, loop);
  loop(0, panels);
}

}  // namespace

void gemm(const float* x, int64_t M, const at::Tensor& weight, const at::Tensor& bias, float* y) {
  TORCH_CHECK(weight.dim() == 2 && weight.scalar_type() == torch::kFloat && weight.is_contiguous() &&
                  weight.device().is_cpu(),
              "gemm: weight must be a contiguous f32 CPU matrix");
  TORCH_CHECK(!bias.defined() || (bias.scalar_type() == torch::kFloat && bias.is_contiguous() &&
                                  bias.numel() == weight.size(0)),
              "gemm: bias must be f32 with one value per weight row");
  gemm_nt(x, M, weight.size(1), weight.data_ptr<float>(), weight.size(0), bias.defined() ? bias.data_ptr<float>() : nullptr, y);
}

void gemm_nt(const float* x, int64_t M, int64_t K, const float* w, int64_t N, const float* bias, float* y) {
  run(Gemm{x, w, bias, M, N, K, y, false});
}

void gemm_nn(const float* x, int64_t M, int64_t K, const float* w, int64_t N, float* y) {
  run(Gemm{x, w, nullptr, M, N, K, y, true});
}

}  // namespace litestage
