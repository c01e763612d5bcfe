#pragma once
// The softmax of the prompt kernel (model/prefill_kernel) with a vectorised exp (SLEEF's
// AVX-512 or AVX2 expf, 1-ulp; std::exp elsewhere), picked by the ISA of model/matvec.hpp.

#include <cstdint>

namespace litestage {

// In place: x[0..visible) becomes its softmax and x[visible..n) zero (a causal row), visible >= 1.
void softmax_prefix(float* x, int64_t visible, int64_t n);

}  // namespace litestage
