#pragma once
// Per-row pieces shared by the plain-loop kernels (model/decode_kernel, model/prefill_kernel):
// RMSNorm and rotate-half RoPE on f32 rows, with weights and tables of type T (float or
// BFloat16), and the check that a layer's tensors suit a kernel.

#include <cmath>
#include <cstdint>

#include <torch/types.h>

#include "litestage/model/layers.hpp"
#include "litestage/kernels/matvec.hpp"

namespace litestage::kernel {

// out = weight * (x / rms(x)), as RMSNormImpl computes it in f32.
template <typename T>
void rms_norm(const float* x, const RMSNormImpl& norm, int64_t n, float* out) {
  const T* w = norm.weight.data_ptr<T>();
  const float ss = dot(x, x, n);
  const float inv = 1.0f / std::sqrt(ss / static_cast<float>(n) + static_cast<float>(norm.eps));
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(w[i]) * (x[i] * inv);
}

// rotate_half RoPE on `heads` vectors of head_dim D at one position's cos/sin rows.
template <typename T>
void rope(float* x, int64_t heads, int64_t D, const T* cos, const T* sin) {
  const int64_t half = D / 2;
  for (int64_t h = 0; h < heads; ++h) {
    float* v = x + h * D;
    for (int64_t i = 0; i < half; ++i) {
      const float a = v[i], b = v[i + half];
      v[i] = a * static_cast<float>(cos[i]) - b * static_cast<float>(sin[i]);
      v[i + half] = b * static_cast<float>(cos[i + half]) + a * static_cast<float>(sin[i + half]);
    }
  }
}

// Whether every weight of the layer is `dtype` (when one of `dtypes`), contiguous and on the CPU,
// with q/k/v and gate/up fused (model/fused_rows.hpp); an undefined bias suits.
bool layer_suits(const DecoderLayerImpl& layer, std::initializer_list<c10::ScalarType> dtypes);

}  // namespace litestage::kernel
