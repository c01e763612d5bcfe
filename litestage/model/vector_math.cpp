#include "litestage/model/vector_math.hpp"

#include <algorithm>
#include <cmath>

#include "litestage/model/matvec.hpp"
#include "litestage/model/simd.hpp"

namespace litestage {

namespace {

// x[i] = exp(x[i] - shift) for i < n; returns their sum.
float exp_sum_generic(float* x, int64_t n, float shift) {
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) sum += (x[i] = std::exp(x[i] - shift));
  return sum;
}

#ifdef LITESTAGE_X86_KERNELS
// softmax_prefix on whole vectors, the last one masked.
LITESTAGE_AVX512 void softmax_avx512(float* x, int64_t visible, int64_t n) {
  auto mask = [&](int64_t i) { return static_cast<__mmask16>(visible - i >= 16 ? 0xFFFF : (1u << (visible - i)) - 1); };
  __m512 top = _mm512_set1_ps(x[0]);
  for (int64_t i = 0; i < visible; i += 16) top = _mm512_mask_max_ps(top, mask(i), top, _mm512_maskz_loadu_ps(mask(i), x + i));
  alignas(64) float lanes[16];  // not _mm512_reduce_*: GCC 12 flags their unmasked extracts
  _mm512_store_ps(lanes, top);
  const __m512 shift = _mm512_set1_ps(*std::max_element(lanes, lanes + 16));
  __m512 sum = _mm512_setzero_ps();
  for (int64_t i = 0; i < visible; i += 16) {
    const __m512 e = Sleef_expf16_u10avx512f(_mm512_sub_ps(_mm512_maskz_loadu_ps(mask(i), x + i), shift));
    sum = _mm512_mask_add_ps(sum, mask(i), sum, e);
    _mm512_mask_storeu_ps(x + i, mask(i), e);
  }
  _mm512_store_ps(lanes, sum);
  float total = 0.0f;
  for (float v : lanes) total += v;
  const __m512 inv = _mm512_set1_ps(1.0f / total);
  for (int64_t i = 0; i < visible; i += 16)
    _mm512_mask_storeu_ps(x + i, mask(i), _mm512_mul_ps(_mm512_maskz_loadu_ps(mask(i), x + i), inv));
  std::fill(x + visible, x + n, 0.0f);
}

LITESTAGE_AVX2 float exp_sum_avx2(float* x, int64_t n, float shift) {
  const __m256 s = _mm256_set1_ps(shift);
  __m256 acc = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 e = Sleef_expf8_u10avx2(_mm256_sub_ps(_mm256_loadu_ps(x + i), s));
    _mm256_storeu_ps(x + i, e);
    acc = _mm256_add_ps(acc, e);
  }
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, acc);
  float sum = 0.0f;
  for (float v : lanes) sum += v;
  return sum + exp_sum_generic(x + i, n - i, shift);
}

#endif

float exp_sum(float* x, int64_t n, float shift) {
#ifdef LITESTAGE_X86_KERNELS
  if (vector_isa() == VectorIsa::Avx2) return exp_sum_avx2(x, n, shift);
#endif
  return exp_sum_generic(x, n, shift);
}

}  // namespace

void softmax_prefix(float* x, int64_t visible, int64_t n) {
#ifdef LITESTAGE_X86_KERNELS
  if (vector_isa() == VectorIsa::Avx512) return softmax_avx512(x, visible, n);
#endif
  float top = x[0];
  for (int64_t i = 1; i < visible; ++i) top = std::max(top, x[i]);
  const float inv = 1.0f / exp_sum(x, visible, top);
  for (int64_t i = 0; i < visible; ++i) x[i] *= inv;
  std::fill(x + visible, x + n, 0.0f);
}

}  // namespace litestage
