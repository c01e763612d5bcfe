#pragma once
// The row-wise math of the layer kernels with a vectorised exp (SLEEF's AVX-512 or AVX2 expf,
// 1-ulp; std::exp elsewhere), picked by the ISA of kernels/matvec.hpp: the softmax of the prompt
// kernel (model/prefill_kernel), and the SwiGLU and one query's attention of the decode kernel
// (model/decode_kernel). Each result depends on its own row only, never on how many rows a call
// brings: a short forward's rows equal decode steps bit for bit.

#include <cstdint>

#include <c10/util/BFloat16.h>

namespace litestage {

// In place: x[0..visible) becomes its softmax and x[visible..n) zero (a causal row), visible >= 1.
void softmax_prefix(float* x, int64_t visible, int64_t n);

// out[i] = silu(gate[i]) * up[i] for i < n.
void silu_mul(const float* gate, const float* up, float* out, int64_t n);

// One query's attention: o (D) = softmax(q . keys[t] * scale over t < S) weighted sum of values[t];
// keys and values hold S rows of D; `scores` holds S floats.
void attend_query(const float* q, const float* keys, const float* values, int64_t S, int64_t D, float scale,
                  float* scores, float* o);
void attend_query(const float* q, const c10::BFloat16* keys, const c10::BFloat16* values, int64_t S, int64_t D,
                  float scale, float* scores, float* o);

}  // namespace litestage
