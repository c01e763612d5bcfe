#pragma once
// Compiling the hand-vectorised loops (model/matvec.cpp, model/gemm.cpp): on x86-64 each loop is
// built for AVX-512 or AVX2+FMA through a function attribute, so the rest of the build keeps the
// baseline ISA and the choice is made at run time (`vector_isa()`, model/matvec.hpp).

#if defined(__x86_64__)
#include <immintrin.h>
#define LITESTAGE_X86_KERNELS 1
#define LITESTAGE_AVX512 __attribute__((target("avx512f")))
#define LITESTAGE_AVX2 __attribute__((target("avx2,fma")))
#endif
