#include "litestage/kernels/vector_math.hpp"

#include <algorithm>
#include <cmath>

#include "litestage/kernels/matvec.hpp"
#include "litestage/kernels/simd.hpp"

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

namespace litestage {

namespace {

inline float widen_value(float v) { return v; }
inline float widen_value(c10::BFloat16 v) { return static_cast<float>(v); }

// Plain loops: the reference order, for CPUs without AVX-512 and head sizes that are not whole
// vectors.
template <typename T>
void attend_generic(const float* q, const T* keys, const T* values, int64_t S, int64_t D, float scale, float* scores,
                    float* o) {
  for (int64_t t = 0; t < S; ++t) {
    float sum = 0.0f;
    for (int64_t i = 0; i < D; ++i) sum += q[i] * widen_value(keys[t * D + i]);
    scores[t] = sum * scale;
  }
  softmax_prefix(scores, S, S);
  std::fill_n(o, D, 0.0f);
  for (int64_t t = 0; t < S; ++t)
    for (int64_t i = 0; i < D; ++i) o[i] += scores[t] * widen_value(values[t * D + i]);
}

#ifdef LITESTAGE_X86_KERNELS
LITESTAGE_AVX512 inline __m512 load16(const float* p) { return _mm512_loadu_ps(p); }
LITESTAGE_AVX512 inline __m512 load16(const c10::BFloat16* p) {
  constexpr __mmask16 all = 0xFFFF;
  const __m256i half = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  return _mm512_castsi512_ps(_mm512_maskz_slli_epi32(all, _mm512_maskz_cvtepu16_epi32(all, half), 16));
}

// attend_generic for D a multiple of 16: the scores of 16 keys at a time (each key's products
// summed within its own vector, then lane_sums), the weighted sum of values with four partial sums.
template <typename T>
LITESTAGE_AVX512 void attend_avx512(const float* q, const T* keys, const T* values, int64_t S, int64_t D,
                                    float scale, float* scores, float* o) {
  const __m512 scale16 = _mm512_set1_ps(scale);
  for (int64_t t0 = 0; t0 < S; t0 += 16) {
    const int64_t n = std::min<int64_t>(16, S - t0);
    __m512 acc[16];
    for (int64_t j = 0; j < 16; ++j) acc[j] = _mm512_setzero_ps();
    for (int64_t j = 0; j < n; ++j)
      for (int64_t i = 0; i < D; i += 16)
        acc[j] = _mm512_fmadd_ps(_mm512_loadu_ps(q + i), load16(keys + (t0 + j) * D + i), acc[j]);
    const auto mask = static_cast<__mmask16>((1u << n) - 1);
    _mm512_mask_storeu_ps(scores + t0, mask, _mm512_mul_ps(simd::lane_sums(acc), scale16));
  }
  softmax_prefix(scores, S, S);
  for (int64_t i = 0; i < D; i += 16) {
    __m512 part[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    for (int64_t t = 0; t < S; ++t)
      part[t % 4] = _mm512_fmadd_ps(_mm512_set1_ps(scores[t]), load16(values + t * D + i), part[t % 4]);
    _mm512_storeu_ps(o + i, _mm512_add_ps(_mm512_add_ps(part[0], part[1]), _mm512_add_ps(part[2], part[3])));
  }
}

LITESTAGE_AVX512 void silu_mul_avx512(const float* gate, const float* up, float* out, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(out + i, simd::silu_mul(_mm512_loadu_ps(gate + i), _mm512_loadu_ps(up + i)));
  if (i < n) {
    const auto mask = static_cast<__mmask16>((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(out + i, mask,
                          simd::silu_mul(_mm512_maskz_loadu_ps(mask, gate + i), _mm512_maskz_loadu_ps(mask, up + i)));
  }
}
#endif

template <typename T>
void attend_any(const float* q, const T* keys, const T* values, int64_t S, int64_t D, float scale, float* scores,
                float* o) {
#ifdef LITESTAGE_X86_KERNELS
  if (D % 16 == 0 && vector_isa() == VectorIsa::Avx512) return attend_avx512(q, keys, values, S, D, scale, scores, o);
#endif
  attend_generic(q, keys, values, S, D, scale, scores, o);
}

}  // namespace

void silu_mul(const float* gate, const float* up, float* out, int64_t n) {
#ifdef LITESTAGE_X86_KERNELS
  if (vector_isa() == VectorIsa::Avx512) return silu_mul_avx512(gate, up, out, n);
#endif
  for (int64_t i = 0; i < n; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

void attend_query(const float* q, const float* keys, const float* values, int64_t S, int64_t D, float scale,
                  float* scores, float* o) {
  attend_any(q, keys, values, S, D, scale, scores, o);
}

void attend_query(const float* q, const c10::BFloat16* keys, const c10::BFloat16* values, int64_t S, int64_t D,
                  float scale, float* scores, float* o) {
  attend_any(q, keys, values, S, D, scale, scores, o);
}

}  // namespace litestage
