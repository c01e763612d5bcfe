#pragma once
// Compiling the hand-vectorised loops (model/matvec.cpp, model/gemm.cpp): on x86-64 each loop is
// built for AVX-512 or AVX2+FMA through a function attribute, so the rest of the build keeps the
// baseline ISA and the choice is made at run time (`vector_isa()`, model/matvec.hpp). The
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
}  // namespace litestage::simd
#endif
