#pragma once
// The AVX-512 row kernels behind kernels/matvec.cpp's products: R weight rows against a vector at
// once (f32 rows; bf16 rows as native pairs), their R sums through one lane-sum tree, and the
// batched forms that keep a chunk of the rows in L1 for every vector of a short forward.
// Whatever the batch, the chunking and R, each row's sum runs the same operations in the same
// order: a short forward's rows equal decode steps bitwise (model/decode_kernel.hpp).

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "litestage/kernels/simd.hpp"

namespace litestage::row_kernels {

inline float widen(float v) { return v; }
// bf16 -> f32 is exact: the bf16 bits are the top half of the f32's.
inline float widen(uint16_t v) {
  const uint32_t bits = static_cast<uint32_t>(v) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

#ifdef LITESTAGE_X86_KERNELS
LITESTAGE_AVX512 inline __m512 load16(const float* p) { return _mm512_loadu_ps(p); }
// The zero-masked forms: GCC 12's unmasked ones read an "undefined" register that -Wall flags.
LITESTAGE_AVX512 inline __m512 load16(const uint16_t* p) {
  constexpr __mmask16 all = 0xFFFF;
  const __m256i half = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  return _mm512_castsi512_ps(_mm512_maskz_slli_epi32(all, _mm512_maskz_cvtepu16_epi32(all, half), 16));
}

// out[k] = the lanes of a[k][0] + a[k][1] summed, k < R (R <= 16): all of them in one simd::lane_sums
// tree, several times cheaper than R horizontal sums where rows are short (the demo model's 128
// columns), and each row's sum the same whatever R.
template <int R>
LITESTAGE_AVX512 inline void store_sums(const __m512 (*a)[2], float* out) {
  static_assert(R >= 1 && R <= 16, "store_sums: 1 to 16 rows");
  __m512 slots[16];
  for (int k = 0; k < 16; ++k) slots[k] = k < R ? _mm512_add_ps(a[k][0], a[k][1]) : _mm512_setzero_ps();
  _mm512_mask_storeu_ps(out, static_cast<__mmask16>((1u << R) - 1), simd::lane_sums(slots));
}

// The full 32-column steps of R rows against x over columns [begin, end) into the row sums a,
// as dot_rows_avx512 runs them: split at multiples of 32, the steps run in the same order.
template <int R>
LITESTAGE_AVX512 void dot_rows_span(const float* x, const float* w, int64_t begin, int64_t end, int64_t stride,
                                    __m512 (*a)[2]) {
  for (int64_t i = begin; i + 32 <= end; i += 32) {
    const __m512 x0 = _mm512_loadu_ps(x + i), x1 = _mm512_loadu_ps(x + i + 16);
    for (int k = 0; k < R; ++k) {
      a[k][0] = _mm512_fmadd_ps(load16(w + k * stride + i), x0, a[k][0]);
      a[k][1] = _mm512_fmadd_ps(load16(w + k * stride + i + 16), x1, a[k][1]);
    }
  }
}

// The columns after the last full 32-column step, then the sums.
template <int R>
LITESTAGE_AVX512 void dot_rows_finish(const float* x, const float* w, int64_t cols, int64_t stride, __m512 (*a)[2],
                                      float* out) {
  int64_t i = cols / 32 * 32;
  for (; i + 16 <= cols; i += 16)
    for (int k = 0; k < R; ++k) a[k][0] = _mm512_fmadd_ps(load16(w + k * stride + i), _mm512_loadu_ps(x + i), a[k][0]);
  store_sums<R>(a, out);
  for (int k = 0; k < R; ++k)
    for (int64_t j = i; j < cols; ++j) out[k] += x[j] * widen(w[k * stride + j]);
}

// R rows of W against x at once: out[k] = row k . x, row k at w + k * stride (cols values each).
// R streams in flight per core read faster than one where rows are long: on a 2-core AMD EPYC, 8
// rows of 5632 floats streamed 64-69 GB/s where one row at a time reached 48-50 (x, 22 KB, no
// longer stays in L1 beside one stream's prefetched lines). Product::run spaces the R rows far
// apart (`stride` several rows), so that each stream goes on through the following rows.
template <int R>
LITESTAGE_AVX512 void dot_rows_avx512(const float* x, const float* w, int64_t cols, int64_t stride, float* out) {
  __m512 a[R][2];
  for (int k = 0; k < R; ++k) a[k][0] = a[k][1] = _mm512_setzero_ps();
  dot_rows_span<R>(x, w, 0, cols, stride, a);
  dot_rows_finish<R>(x, w, cols, stride, a, out);
}

// Row sums kept between column chunks: R x 2 vectors per vector of the batch, at `state`.
template <int R>
LITESTAGE_AVX512 void load_sums(const float* state, __m512 (*a)[2]) {
  for (int k = 0; k < R; ++k)
    for (int h = 0; h < 2; ++h) a[k][h] = _mm512_loadu_ps(state + (2 * k + h) * 16);
}
template <int R>
LITESTAGE_AVX512 void save_sums(__m512 (*a)[2], float* state) {
  for (int k = 0; k < R; ++k)
    for (int h = 0; h < 2; ++h) _mm512_storeu_ps(state + (2 * k + h) * 16, a[k][h]);
}

// dot_rows_avx512 for `batch` vectors (x: batch rows of cols), out[v * R + k], bitwise its results:
// the columns go in chunks of `chunk` (a multiple of 32) and each chunk of the R rows, read once
// into L1, serves every vector before the next; the row sums wait in a buffer between chunks.
template <int R>
LITESTAGE_AVX512 void dot_rows_batch(const float* x, int64_t batch, const float* w, int64_t cols, int64_t stride,
                                     int64_t chunk, float* out) {
  thread_local std::vector<float> state;
  constexpr int64_t per = R * 2 * 16;
  state.assign(static_cast<size_t>(batch * per), 0.0f);
  const int64_t full = cols / 32 * 32;
  __m512 a[R][2];
  for (int64_t c0 = 0; c0 < full; c0 += chunk)
    for (int64_t v = 0; v < batch; ++v) {
      load_sums<R>(&state[v * per], a);
      dot_rows_span<R>(x + v * cols, w, c0, std::min(c0 + chunk, full), stride, a);
      save_sums<R>(a, &state[v * per]);
    }
  for (int64_t v = 0; v < batch; ++v) {
    load_sums<R>(&state[v * per], a);
    dot_rows_finish<R>(x + v * cols, w, cols, stride, a, out + v * R);
  }
}

#ifdef LITESTAGE_AVX512_BF16
// 32 bf16 values from p as a vector of pairs; with n < 32, the first n and zeros after them.
LITESTAGE_AVX512_BF16 inline __m512bh load_pairs(const uint16_t* p) { return (__m512bh)_mm512_loadu_si512(p); }
LITESTAGE_AVX512_BF16 inline __m512bh load_pairs(const uint16_t* p, int64_t n) {
  return (__m512bh)_mm512_maskz_loadu_epi16(static_cast<__mmask32>((uint64_t{1} << n) - 1), p);
}
// R rows of bf16 W against bf16 x, laid out as in dot_rows_avx512: out[k] = row k . x, each pair
// of products added into an f32 lane at once (vdpbf16ps), two sums per row. Over TinyLlama-1.1B's
// bf16 shapes on a 2-core AMD EPYC, with the R rows adjacent, this ran at 1.14-1.32x a plain
// 8-stream read of the same bytes where widening took 1.36-1.47x (3 alternating runs); blocks of 4
// rows matched 8, and one row at a time with pairs was slower than widening. Spacing the rows as
// Product::run does took it from 1.16-1.21x to 1.04-1.08x (6 runs; docs/architecture.md).
// Inlined by force: called apart, the sums would go through memory every step (a decode step ran
// 1.45x slower so).
template <int R>
LITESTAGE_AVX512_BF16 __attribute__((always_inline)) inline void dot_pairs_span(const uint16_t* x, const uint16_t* w, int64_t begin, int64_t end,
                                          int64_t stride, __m512 (*a)[2]) {
  for (int64_t i = begin; i + 64 <= end; i += 64) {
    const __m512bh x0 = load_pairs(x + i), x1 = load_pairs(x + i + 32);
    for (int k = 0; k < R; ++k) {
      a[k][0] = _mm512_dpbf16_ps(a[k][0], load_pairs(w + k * stride + i), x0);
      a[k][1] = _mm512_dpbf16_ps(a[k][1], load_pairs(w + k * stride + i + 32), x1);
    }
  }
}

// The columns after the last full 64-column step, then the sums.
template <int R>
LITESTAGE_AVX512_BF16 __attribute__((always_inline)) inline void dot_pairs_finish(const uint16_t* x, const uint16_t* w, int64_t cols, int64_t stride,
                                            __m512 (*a)[2], float* out) {
  for (int64_t i = cols / 64 * 64; i < cols; i += 32) {
    const int64_t n = std::min<int64_t>(32, cols - i);
    const __m512bh xt = load_pairs(x + i, n);
    for (int k = 0; k < R; ++k) a[k][0] = _mm512_dpbf16_ps(a[k][0], load_pairs(w + k * stride + i, n), xt);
  }
  store_sums<R>(a, out);
}

template <int R>
LITESTAGE_AVX512_BF16 void dot_rows_bf16(const uint16_t* x, const uint16_t* w, int64_t cols, int64_t stride,
                                         float* out) {
  __m512 a[R][2];
  for (int k = 0; k < R; ++k) a[k][0] = a[k][1] = _mm512_setzero_ps();
  dot_pairs_span<R>(x, w, 0, cols, stride, a);
  dot_pairs_finish<R>(x, w, cols, stride, a, out);
}

// dot_rows_bf16 for `batch` vectors, bitwise its results, as dot_rows_batch does for f32 rows:
// column chunks of `chunk` (a multiple of 64) serve every vector from L1 in turn.
template <int R>
LITESTAGE_AVX512_BF16 void dot_rows_bf16_batch(const uint16_t* x, int64_t batch, const uint16_t* w, int64_t cols,
                                               int64_t stride, int64_t chunk, float* out) {
  thread_local std::vector<float> state;
  constexpr int64_t per = R * 2 * 16;
  state.assign(static_cast<size_t>(batch * per), 0.0f);
  const int64_t full = cols / 64 * 64;
  __m512 a[R][2];
  for (int64_t c0 = 0; c0 < full; c0 += chunk)
    for (int64_t v = 0; v < batch; ++v) {
      load_sums<R>(&state[v * per], a);
      dot_pairs_span<R>(x + v * cols, w, c0, std::min(c0 + chunk, full), stride, a);
      save_sums<R>(a, &state[v * per]);
    }
  for (int64_t v = 0; v < batch; ++v) {
    load_sums<R>(&state[v * per], a);
    dot_pairs_finish<R>(x + v * cols, w, cols, stride, a, out + v * R);
  }
}
#endif
#endif  // LITESTAGE_X86_KERNELS

}  // namespace litestage::row_kernels
