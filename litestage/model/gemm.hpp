#pragma once
// The f32 matrix products of a prompt (model/prefill_kernel): y = x W^T (+ b) with the rows of W
// split over the intra-op threads. Debian's LibTorch hands such products to OpenBLAS, which runs
// single-threaded inside LibTorch (model/runtime.cpp, set_threads), so a prompt's products used one
// core; this one uses all of them, with a register-tiled AVX-512 (6 x 32) or AVX2 (6 x 16) inner
// kernel over packed panels of W, or plain loops elsewhere (the ISA of model/matvec.hpp).

#include <cstdint>

#include <ATen/core/Tensor.h>

namespace litestage {

// x (M, K) and y (M, N) row-major floats (y not aliasing x); weight (N, K) f32 contiguous; bias
// (N) f32 or undefined.
void gemm(const float* x, int64_t M, const at::Tensor& weight, const at::Tensor& bias, float* y);

// The same on raw row-major arrays: y = x w^T (+ bias) with w (N, K), bias N floats or nullptr ...
void gemm_nt(const float* x, int64_t M, int64_t K, const float* w, int64_t N, const float* bias, float* y);
// ... and y = x w with w (K, N). Inside a parallel region both run on the calling thread.
void gemm_nn(const float* x, int64_t M, int64_t K, const float* w, int64_t N, float* y);

}  // namespace litestage
