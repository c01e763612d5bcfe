#include "litestage/kernels/flop_peak.hpp"

#include <algorithm>
#include <cstdint>
#include <vector>

#include <ATen/Parallel.h>

#include "litestage/kernels/matvec.hpp"
#include "litestage/kernels/simd.hpp"
#include "litestage/util/timer.hpp"

namespace litestage {

namespace {

// Independent sums per thread: enough to cover the multiply-add latency on two units.
constexpr int kSums = 12;
constexpr int64_t kSteps = int64_t{1} << 21;  // steps of kSums operations: about 4 ms per thread on a 2-core AMD EPYC

// Each loop returns a value that depends on every sum, so none is optimised away; each step
// multiplies by 1 and adds 0 (or pairs of ones times tiny values), so nothing overflows.
float fma_generic() {
  float a[kSums];
  for (int k = 0; k < kSums; ++k) a[k] = static_cast<float>(k);
  volatile float one_v = 1.0f, zero_v = 0.0f;
  const float one = one_v, zero = zero_v;
  for (int64_t i = 0; i < kSteps; ++i)
    for (float& s : a) s = s * one + zero;
  float sum = 0;
  for (float s : a) sum += s;
  return sum;
}

#ifdef LITESTAGE_X86_KERNELS
// The sum of the lanes of the kSums vectors.
LITESTAGE_AVX512 float lane_sum(const __m512* a) {
  __m512 sum = _mm512_setzero_ps();
  for (int k = 0; k < kSums; ++k) sum = _mm512_add_ps(sum, a[k]);
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, sum);
  float out = 0;
  for (float v : lanes) out += v;
  return out;
}

LITESTAGE_AVX512 float fma_avx512() {
  __m512 a[kSums];
  for (int k = 0; k < kSums; ++k) a[k] = _mm512_set1_ps(static_cast<float>(k));
  volatile float one_v = 1.0f;
  const __m512 one = _mm512_set1_ps(one_v), zero = _mm512_setzero_ps();
  for (int64_t i = 0; i < kSteps; ++i)
    for (__m512& s : a) s = _mm512_fmadd_ps(s, one, zero);
  return lane_sum(a);
}

LITESTAGE_AVX2 float fma_avx2() {
  __m256 a[kSums];
  for (int k = 0; k < kSums; ++k) a[k] = _mm256_set1_ps(static_cast<float>(k));
  volatile float one_v = 1.0f;
  const __m256 one = _mm256_set1_ps(one_v), zero = _mm256_setzero_ps();
  for (int64_t i = 0; i < kSteps; ++i)
    for (__m256& s : a) s = _mm256_fmadd_ps(s, one, zero);
  alignas(32) float lanes[8];
  __m256 sum = _mm256_setzero_ps();
  for (__m256 s : a) sum = _mm256_add_ps(sum, s);
  _mm256_store_ps(lanes, sum);
  float out = 0;
  for (float v : lanes) out += v;
  return out;
}
#endif

#ifdef LITESTAGE_AVX512_BF16
LITESTAGE_AVX512_BF16 float pairs_avx512_bf16() {
  __m512 a[kSums];
  for (int k = 0; k < kSums; ++k) a[k] = _mm512_setzero_ps();
  volatile uint16_t tiny_v = 0x0080;  // the smallest normal bf16: sums stay far from overflow
  const __m512bh x = (__m512bh)_mm512_set1_epi16(static_cast<short>(0x3f80));  // 1.0
  const __m512bh y = (__m512bh)_mm512_set1_epi16(static_cast<short>(tiny_v));
  for (int64_t i = 0; i < kSteps; ++i)
    for (__m512& s : a) s = _mm512_dpbf16_ps(s, x, y);
  return lane_sum(a);
}
#endif

// GFLOP/s of `loop` (kSteps * kSums operations of `flops_per_op` each) on every intra-op thread at
// once: the best of `tries` runs, each timed from the start to the last thread's end.
double peak(float (*loop)(), double flops_per_op, int tries) {
  const int threads = std::max(at::get_num_threads(), 1);
  std::vector<float> sink(threads);
  double best = 0;
  for (int t = 0; t < std::max(tries, 1); ++t) {
    Timer timer;
    at::parallel_for(0, threads, 1, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) sink[i] = loop();
    });
    const double seconds = timer.seconds();
    best = std::max(best, threads * static_cast<double>(kSteps) * kSums * flops_per_op / seconds / 1e9);
  }
  volatile float keep = sink[0];
  (void)keep;
  return best;
}

}  // namespace

double f32_fma_peak_gflops(int tries) {
#ifdef LITESTAGE_X86_KERNELS
  switch (vector_isa()) {
    case VectorIsa::Avx512: return peak(fma_avx512, 2.0 * 16, tries);
    case VectorIsa::Avx2: return peak(fma_avx2, 2.0 * 8, tries);
    case VectorIsa::Generic: break;
  }
#endif
  return peak(fma_generic, 2.0, tries);
}

double bf16_pair_peak_gflops([[maybe_unused]] int tries) {
#ifdef LITESTAGE_AVX512_BF16
  if (native_bf16_supported()) return peak(pairs_avx512_bf16, 2.0 * 32, tries);
#endif
  return 0;
}

}  // namespace litestage
