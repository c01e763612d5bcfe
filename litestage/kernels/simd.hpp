#pragma once
// Compiling the hand-vectorised loops (kernels/matvec.cpp, kernels/gemm.cpp): on x86-64 each loop is
// built for AVX-512 or AVX2+FMA through a function attribute, so the rest of the build keeps the
// baseline ISA and the choice is made at run time (`vector_isa()`, kernels/matvec.hpp). The
// vectorised exp is SLEEF's (Debian's libsleef-dev, 1-ulp), declared here because sleef.h only
// declares the functions of the ISA a whole file is compiled for.

#if defined(__x86_64__)
#include <immintrin.h>
#define LITESTAGE_X86_KERNELS 1
#define LITESTAGE_AVX512 __attribute__((target("avx512f")))
#define LITESTAGE_AVX2 __attribute__((target("avx2,fma")))
// AVX512-BF16's pair dot products (vdpbf16ps), where the compiler knows them (GCC 10, Clang 9 on).
#if defined(__clang__) ? __clang_major__ >= 9 : __GNUC__ >= 10
#define LITESTAGE_AVX512_BF16 __attribute__((target("avx512f,avx512bw,avx512bf16")))
#endif

extern "C" {
LITESTAGE_AVX512 __m512 Sleef_expf16_u10avx512f(__m512);
LITESTAGE_AVX2 __m256 Sleef_expf8_u10avx2(__m256);
}

namespace litestage::simd {
// silu(g) * u = g * u / (1 + exp(-g)), lane by lane.
LITESTAGE_AVX512 inline __m512 silu_mul(__m512 g, __m512 u) {
  const __m512 e = Sleef_expf16_u10avx512f(_mm512_sub_ps(_mm512_setzero_ps(), g));
  return _mm512_div_ps(_mm512_mul_ps(g, u), _mm512_add_ps(_mm512_set1_ps(1.0f), e));
}
LITESTAGE_AVX2 inline __m256 silu_mul(__m256 g, __m256 u) {
  const __m256 e = Sleef_expf8_u10avx2(_mm256_sub_ps(_mm256_setzero_ps(), g));
  return _mm256_div_ps(_mm256_mul_ps(g, u), _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}
// Lane i of the result: the sum of v[i]'s 16 lanes, for 16 vectors at once (where one horizontal
// sum each costs several times more). Every lane is summed in the same order, ((b0 + b1) + (b2 +
// b3)) over its four 128-bit blocks, each block (l0 + l2) + (l1 + l3): a vector's sum does not
// depend on its slot or on the other vectors.
// The zero-masked forms below: GCC 12's unmasked ones read an "undefined" register that -Wall flags.
constexpr __mmask16 kAll = 0xFFFF;
// The 128-bit blocks 0 and 2 of a, then of b, added to blocks 1 and 3 of each.
LITESTAGE_AVX512 inline __m512 halves(__m512 a, __m512 b) {
  return _mm512_add_ps(_mm512_maskz_shuffle_f32x4(kAll, a, b, 0x88), _mm512_maskz_shuffle_f32x4(kAll, a, b, 0xDD));
}

LITESTAGE_AVX512 inline __m512 lane_sums(const __m512* v) {
  constexpr __mmask16 all = kAll;
  constexpr __mmask8 all_pd = 0xFF;
  __m512 pairs[8], quads[4];
  for (int k = 0; k < 8; ++k)
    pairs[k] = _mm512_add_ps(_mm512_maskz_unpacklo_ps(all, v[2 * k], v[2 * k + 1]),
                             _mm512_maskz_unpackhi_ps(all, v[2 * k], v[2 * k + 1]));
  for (int k = 0; k < 4; ++k) {
    const __m512d a = _mm512_castps_pd(pairs[2 * k]), b = _mm512_castps_pd(pairs[2 * k + 1]);
    quads[k] = _mm512_add_ps(_mm512_castpd_ps(_mm512_maskz_unpacklo_pd(all_pd, a, b)),
                             _mm512_castpd_ps(_mm512_maskz_unpackhi_pd(all_pd, a, b)));
  }
  return halves(halves(quads[0], quads[1]), halves(quads[2], quads[3]));
}

// The sum of v's lanes, in lane_sums' order.
LITESTAGE_AVX512 inline float lane_sum(__m512 v) {
  __m512 slots[16];
  slots[0] = v;
  for (int k = 1; k < 16; ++k) slots[k] = _mm512_setzero_ps();
  return _mm512_cvtss_f32(lane_sums(slots));
}
}  // namespace litestage::simd
#endif
