#include "litestage/model/vector_math.hpp"

#include <algorithm>
#include <cmath>

#include "litestage/model/matvec.hpp"
#include "litestage/model/simd.hpp"

#ifdef LITESTAGE_X86_KERNELS
// SLEEF (libsleef, Debian's libsleef-dev) built for each ISA; declared here because sleef.h only
// declares the functions of the ISA the whole file is compiled for.
extern "C" {
LITESTAGE_AVX512 __m512 Sleef_expf16_u10avx512f(__m512);
LITESTAGE_AVX2 __m256 Sleef_expf8_u10avx2(__m256);
}
#endif

namespace litestage {

namespace {

// x[i] = exp(x[i] - shift) for i < n; returns their sum.
float exp_sum_generic(float* x, int64_t n, float shift) {
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) sum += (x[i] = std::exp(x[i] - shift));
  return sum;
}

void silu_mul_generic(const float* gate, const float* up, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = gate[i] * up[i] / (1.0f + std::exp(-gate[i]));
}

#ifdef LITESTAGE_X86_KERNELS
LITESTAGE_AVX512 float exp_sum_avx512(float* x, int64_t n, float shift) {
  const __m512 s = _mm512_set1_ps(shift);
  __m512 acc = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 e = Sleef_expf16_u10avx512f(_mm512_sub_ps(_mm512_loadu_ps(x + i), s));
    _mm512_storeu_ps(x + i, e);
    acc = _mm512_add_ps(acc, e);
  }
  alignas(64) float lanes[16];  // not _mm512_reduce_add_ps: GCC 12 flags its unmasked extracts
  _mm512_store_ps(lanes, acc);
  float sum = 0.0f;
  for (float v : lanes) sum += v;
  return sum + exp_sum_generic(x + i, n - i, shift);
}

LITESTAGE_AVX512 void silu_mul_avx512(const float* gate, const float* up, float* out, int64_t n) {
  const __m512 one = _mm512_set1_ps(1.0f), zero = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 g = _mm512_loadu_ps(gate + i);
    const __m512 e = Sleef_expf16_u10avx512f(_mm512_sub_ps(zero, g));
    _mm512_storeu_ps(out + i, _mm512_div_ps(_mm512_mul_ps(g, _mm512_loadu_ps(up + i)), _mm512_add_ps(one, e)));
  }
  silu_mul_generic(gate + i, up + i, out + i, n - i);
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

LITESTAGE_AVX2 void silu_mul_avx2(const float* gate, const float* up, float* out, int64_t n) {
  const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 g = _mm256_loadu_ps(gate + i);
    const __m256 e = Sleef_expf8_u10avx2(_mm256_sub_ps(zero, g));
    _mm256_storeu_ps(out + i, _mm256_div_ps(_mm256_mul_ps(g, _mm256_loadu_ps(up + i)), _mm256_add_ps(one, e)));
  }
  silu_mul_generic(gate + i, up + i, out + i, n - i);
}
#endif

float exp_sum(float* x, int64_t n, float shift) {
#ifdef LITESTAGE_X86_KERNELS
  switch (vector_isa()) {
    case VectorIsa::Avx512: return exp_sum_avx512(x, n, shift);
    case VectorIsa::Avx2: return exp_sum_avx2(x, n, shift);
    case VectorIsa::Generic: break;
  }
#endif
  return exp_sum_generic(x, n, shift);
}

}  // namespace

void softmax_prefix(float* x, int64_t visible, int64_t n) {
  float top = x[0];
  for (int64_t i = 1; i < visible; ++i) top = std::max(top, x[i]);
  const float inv = 1.0f / exp_sum(x, visible, top);
  for (int64_t i = 0; i < visible; ++i) x[i] *= inv;
  std::fill(x + visible, x + n, 0.0f);
}

void silu_mul(const float* gate, const float* up, float* out, int64_t n) {
#ifdef LITESTAGE_X86_KERNELS
  switch (vector_isa()) {
    case VectorIsa::Avx512: return silu_mul_avx512(gate, up, out, n);
    case VectorIsa::Avx2: return silu_mul_avx2(gate, up, out, n);
    case VectorIsa::Generic: break;
  }
#endif
  silu_mul_generic(gate, up, out, n);
}

}  // namespace litestage
