#include "litestage/kernels/gemm.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include <torch/types.h>

#include "litestage/kernels/matvec.hpp"
#include "litestage/kernels/parallel.hpp"
#include "litestage/kernels/simd.hpp"

namespace litestage {

namespace {

struct Gemm {
  const float* x;
  const float* w;
  const float* b;  // nullptr: no bias
  int64_t M, N, K;  // N: rows of W, columns of the product
  float* y;
  int64_t ldy;
  bool w_by_k;  // w is (K, N), not (N, K)
  GemmStore store;
  int64_t band;  // < 0, or the causal band (gemm_nt: of y's columns; gemm_nn: of x's entries)
  int64_t outputs() const { return store == GemmStore::SwiGLU ? N / 2 : N; }
};

// One tile's place: rows m0.. of x and y, output columns n0..n0+cols of y.
struct Tile {
  int64_t m0, n0, cols;
  const float* panel;  // (K, width): the columns of W^T that feed them
  const float* bias;   // width values, in panel order
};

// Output columns per panel: all of it, or a gate half beside an up half.
int64_t outputs_per_panel(const Gemm& g, int64_t width) { return g.store == GemmStore::SwiGLU ? width / 2 : width; }

// Row r of a tile from its sums s (panel order), stored as g.store says.
void store_row(const Gemm& g, const Tile& t, int r, const float* s, int64_t width) {
  float* y = g.y + (t.m0 + r) * g.ldy + t.n0;
  const int64_t half = width / 2;
  for (int64_t j = 0; j < t.cols; ++j) switch (g.store) {
      case GemmStore::Set: y[j] = s[j]; break;
      case GemmStore::Add: y[j] += s[j]; break;
      case GemmStore::SwiGLU: y[j] = s[j] * s[half + j] / (1.0f + std::exp(-s[j])); break;
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

#undef LITESTAGE_SHUFFLE
#undef LITESTAGE_LANES

// Rows of a tile multiply-add up to x's last entry a causal band leaves nonzero.
int64_t k_end(const Gemm& g, int64_t m0, int rows) {
  return g.w_by_k && g.band >= 0 ? std::min(g.K, g.band + m0 + rows) : g.K;
}

// R rows x 16V columns (V = 1 or 2) in RV zmm sums: per step of k, V panel loads and RV
// multiply-adds.
template <int R, int V>
LITESTAGE_AVX512 void tile_avx512(const Gemm& g, const Tile& t) {
  constexpr int width = 16 * V;
  __m512 acc[R][V];
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < V; ++v) acc[r][v] = _mm512_loadu_ps(t.bias + 16 * v);
  const float* x = g.x + t.m0 * g.K;
  const float* panel = t.panel;
  for (int64_t k = 0, end = k_end(g, t.m0, R); k < end; ++k) {
    __m512 w[V];
    for (int v = 0; v < V; ++v) w[v] = _mm512_loadu_ps(panel + k * width + 16 * v);
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      const __m512 xv = _mm512_set1_ps(x[r * g.K + k]);
      for (int v = 0; v < V; ++v) acc[r][v] = _mm512_fmadd_ps(xv, w[v], acc[r][v]);
    }
  }
  const bool full = t.cols == outputs_per_panel(g, width);
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) {
    float* y = g.y + (t.m0 + r) * g.ldy + t.n0;
    if (!full) {
      alignas(64) float sums[width];
      for (int v = 0; v < V; ++v) _mm512_store_ps(sums + 16 * v, acc[r][v]);
      store_row(g, t, r, sums, width);
    } else if (g.store == GemmStore::SwiGLU) {
      _mm512_storeu_ps(y, simd::silu_mul(acc[r][0], acc[r][V - 1]));
    } else {
      const bool add = g.store == GemmStore::Add;
      for (int v = 0; v < V; ++v)
        _mm512_storeu_ps(y + 16 * v, add ? _mm512_add_ps(acc[r][v], _mm512_loadu_ps(y + 16 * v)) : acc[r][v]);
    }
  }
}

// R rows x 16 columns in 2R ymm sums.
template <int R>
LITESTAGE_AVX2 void tile_avx2(const Gemm& g, const Tile& t) {
  __m256 acc[R][2];
  const __m256 b0 = _mm256_loadu_ps(t.bias), b1 = _mm256_loadu_ps(t.bias + 8);
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) acc[r][0] = b0, acc[r][1] = b1;
  const float* x = g.x + t.m0 * g.K;
  const float* panel = t.panel;
  for (int64_t k = 0, end = k_end(g, t.m0, R); k < end; ++k) {
    const __m256 w0 = _mm256_loadu_ps(panel + k * 16), w1 = _mm256_loadu_ps(panel + k * 16 + 8);
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      const __m256 xv = _mm256_set1_ps(x[r * g.K + k]);
      acc[r][0] = _mm256_fmadd_ps(xv, w0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(xv, w1, acc[r][1]);
    }
  }
  const bool full = t.cols == outputs_per_panel(g, 16);
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) {
    float* y = g.y + (t.m0 + r) * g.ldy + t.n0;
    if (!full) {
      alignas(32) float sums[16];
      _mm256_store_ps(sums, acc[r][0]);
      _mm256_store_ps(sums + 8, acc[r][1]);
      store_row(g, t, r, sums, 16);
    } else if (g.store == GemmStore::SwiGLU) {
      _mm256_storeu_ps(y, simd::silu_mul(acc[r][0], acc[r][1]));
    } else {
      const bool add = g.store == GemmStore::Add;
      _mm256_storeu_ps(y, add ? _mm256_add_ps(acc[r][0], _mm256_loadu_ps(y)) : acc[r][0]);
      _mm256_storeu_ps(y + 8, add ? _mm256_add_ps(acc[r][1], _mm256_loadu_ps(y + 8)) : acc[r][1]);
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
  static void run(const Gemm& g, const Tile& t) { tile_avx512<R, 2>(g, t); }
};
template <int R>
struct Avx512NarrowTile {  // 16 columns: products with at most 16 outputs (an attention head's)
  static void run(const Gemm& g, const Tile& t) { tile_avx512<R, 1>(g, t); }
};
template <int R>
struct Avx2Tile {
  static void run(const Gemm& g, const Tile& t) { tile_avx2<R>(g, t); }
};
#endif

// Any CPU: `rows` rows of a tile.
void tile_generic(const Gemm& g, const Tile& t, int rows, int64_t width) {
  float sums[32];
  for (int r = 0; r < rows; ++r) {
    const float* x = g.x + (t.m0 + r) * g.K;
    std::copy_n(t.bias, width, sums);
    for (int64_t k = 0, end = k_end(g, t.m0, rows); k < end; ++k)
      for (int64_t j = 0; j < width; ++j) sums[j] += x[k] * t.panel[k * width + j];
    store_row(g, t, r, sums, width);
  }
}

// `cols` columns of W^T from W's row `row0` on (or of w's column row0 on, when it is (K, N)) into
// a panel `width` wide, from its column 0.
void pack_columns(const Gemm& g, int64_t row0, int64_t cols, float* panel, int64_t width, VectorIsa isa) {
  if (g.w_by_k) {
    for (int64_t k = 0; k < g.K; ++k) std::copy_n(g.w + k * g.N + row0, cols, panel + k * width);
    return;
  }
  const float* w = g.w + row0 * g.K;
  int64_t full_k = 0, full_j = 0;  // the part done as 16 x 16 transposes in registers
#ifdef LITESTAGE_X86_KERNELS
  if (isa == VectorIsa::Avx512) {
    full_k = g.K / 16 * 16, full_j = cols / 16 * 16;
    for (int64_t j = 0; j < full_j; j += 16)
      for (int64_t k = 0; k < full_k; k += 16) transpose16(w + j * g.K + k, g.K, panel + k * width + j, width);
  }
#else
  (void)isa;
#endif
  for (int64_t k = 0; k < g.K; ++k)
    for (int64_t j = k < full_k ? full_j : 0; j < cols; ++j) panel[k * width + j] = w[j * g.K + k];
}

// Panel p (K, width) and its bias (width); returns the output columns it feeds. Columns past the
// product are zero.
int64_t pack(const Gemm& g, int64_t p, int64_t width, VectorIsa isa, float* panel, float* bias) {
  const int64_t per = outputs_per_panel(g, width), n0 = p * per, cols = std::min(per, g.outputs() - n0);
  if (cols < per) std::fill_n(panel, g.K * width, 0.0f);
  std::fill_n(bias, width, 0.0f);
  // One block of W's rows, or gate rows then up rows (the second half of W) for SwiGLU.
  const int blocks = g.store == GemmStore::SwiGLU ? 2 : 1;
  for (int i = 0; i < blocks; ++i) {
    const int64_t row0 = i * g.outputs() + n0;
    pack_columns(g, row0, cols, panel + i * per, width, isa);
    if (g.b) std::copy_n(g.b + row0, cols, bias + i * per);
  }
  return cols;
}

// Panels packed ahead (PackedPanels): panel p at panels + p K width, its bias at biases + p width.
struct Prepacked {
  const float* panels = nullptr;
  const float* biases = nullptr;
};

// Panels [p0, p1) of `width` columns: each packed once (unless packed ahead), then every tile of
// rows against it.
void run_panels(const Gemm& g, VectorIsa isa, int64_t width, int64_t p0, int64_t p1, const Prepacked& ready) {
  thread_local std::vector<float> buffer, bias_buffer;
  if (!ready.panels) buffer.resize(g.K * width), bias_buffer.resize(width);
  const int64_t per = outputs_per_panel(g, width);
  for (int64_t p = p0; p < p1; ++p) {
    const int64_t n0 = p * per, cols = std::min(per, g.outputs() - n0);
    const float* panel = ready.panels ? ready.panels + p * g.K * width : buffer.data();
    const float* bias = ready.panels ? ready.biases + p * width : bias_buffer.data();
    if (!ready.panels) pack(g, p, width, isa, buffer.data(), bias_buffer.data());
    for (int64_t m0 = 0; m0 < g.M; m0 += kGemmTileRows) {
      const int rows = static_cast<int>(std::min<int64_t>(kGemmTileRows, g.M - m0));
      if (!g.w_by_k && g.band >= 0 && n0 > g.band + m0 + rows - 1) continue;  // past every row's band
      const Tile t{m0, n0, cols, panel, bias};
#ifdef LITESTAGE_X86_KERNELS
      if (isa == VectorIsa::Avx512) {
        (width == 32 ? by_rows<Avx512Tile>(rows) : by_rows<Avx512NarrowTile>(rows))(g, t);
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

// Split over the intra-op threads from this many multiply-adds, in chunks of panels of at least
// kChunkWork each (kernels/parallel.hpp).
constexpr int64_t kParallelWork = int64_t{1} << 17;
constexpr int64_t kChunkWork = int64_t{1} << 20;

// Panel width: 32 columns with AVX-512 (16 for a product with at most 16 outputs), else 16.
int64_t panel_width(const Gemm& g, VectorIsa isa) {
  return isa == VectorIsa::Avx512 && (g.store == GemmStore::SwiGLU || g.outputs() > 16) ? 32 : 16;
}

int64_t panel_count(const Gemm& g, int64_t width) {
  const int64_t per = outputs_per_panel(g, width);
  return (g.outputs() + per - 1) / per;
}

void run(const Gemm& g, VectorIsa isa, const Prepacked& ready = {}) {
  const int64_t width = panel_width(g, isa), panels = panel_count(g, width);
  auto loop = [&](int64_t p0, int64_t p1) { run_panels(g, isa, width, p0, p1, ready); };
  if (g.M * g.N * g.K < kParallelWork) return loop(0, panels);
  parallel_chunks(panels, chunk_grain(panels, g.M * g.K * width, kChunkWork), loop);
}

}  // namespace

// The panels of a PackedPanels, packed again when what they were packed from has changed.
class PanelCache {
 public:
  static Prepacked ready(PackedPanels& cache, const Gemm& g, VectorIsa isa, const at::Tensor& weight,
                         const at::Tensor& bias) {
    const int64_t width = panel_width(g, isa), panels = panel_count(g, width);
    const std::array<int64_t, 8> key{reinterpret_cast<int64_t>(g.w), weight._version(),
                                     reinterpret_cast<int64_t>(g.b), bias.defined() ? bias._version() : 0,
                                     g.N, g.K, static_cast<int64_t>(g.store), width};
    std::lock_guard<std::mutex> lock(cache.mutex_);
    if (cache.key_ != key || cache.panels_.empty()) {
      cache.panels_.assign(panels * g.K * width, 0.0f);
      cache.biases_.assign(panels * width, 0.0f);
      for (int64_t p = 0; p < panels; ++p)
        pack(g, p, width, isa, cache.panels_.data() + p * g.K * width, cache.biases_.data() + p * width);
      cache.key_ = key;
    }
    return {cache.panels_.data(), cache.biases_.data()};
  }
};

void gemm(const float* x, int64_t M, const at::Tensor& weight, const at::Tensor& bias, float* y, GemmStore store,
          PackedPanels* packed) {
  TORCH_CHECK(weight.dim() == 2 && weight.scalar_type() == torch::kFloat && weight.is_contiguous() &&
                  weight.device().is_cpu(),
              "gemm: weight must be a contiguous f32 CPU matrix");
  TORCH_CHECK(!bias.defined() || (bias.scalar_type() == torch::kFloat && bias.is_contiguous() &&
                                  bias.numel() == weight.size(0)),
              "gemm: bias must be f32 with one value per weight row");
  TORCH_CHECK(store != GemmStore::SwiGLU || weight.size(0) % 2 == 0,
              "gemm: SwiGLU needs gate and up rows of equal count, got ", weight.size(0), " rows");
  const int64_t N = weight.size(0);
  const Gemm g{x, weight.data_ptr<float>(), bias.defined() ? bias.data_ptr<float>() : nullptr, M, N, weight.size(1), y,
               store == GemmStore::SwiGLU ? N / 2 : N, false, store, -1};
  const VectorIsa isa = vector_isa();
  if (!packed || weight.is_inference() || (bias.defined() && bias.is_inference())) return run(g, isa);
  run(g, isa, PanelCache::ready(*packed, g, isa, weight, bias));
}

void gemm_nt(const float* x, int64_t M, int64_t K, const float* w, int64_t N, const float* bias, float* y,
             int64_t band) {
  run(Gemm{x, w, bias, M, N, K, y, N, false, GemmStore::Set, band}, vector_isa());
}

void gemm_nn(const float* x, int64_t M, int64_t K, const float* w, int64_t N, float* y, int64_t ldy, int64_t band) {
  run(Gemm{x, w, nullptr, M, N, K, y, ldy > 0 ? ldy : N, true, GemmStore::Set, band}, vector_isa());
}

}  // namespace litestage
