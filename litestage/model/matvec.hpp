#pragma once
// The f32 building blocks of one-token (decode) steps on CPU: a vectorised dot product and the
// matrix-vector product y = W x (+ b), threaded over rows. Used by the decode kernel and by
// Linear for a single f32 token.

#include <cstdint>

#include <ATen/core/Tensor.h>

namespace litestage {

// sum_i a[i] b[i], n floats.
float dot(const float* a, const float* b, int64_t n);

// y = W x (+ bias): weight (rows, cols) contiguous row-major f32, bias (rows) or undefined;
// x has cols floats, y rows floats (not aliasing x).
void matvec(const at::Tensor& weight, const at::Tensor& bias, const float* x, float* y);

// Whether x W^T is one f32 row on the CPU without autograd, W f32 contiguous: then linear_matvec
// streams the weights once, where torch::linear's GEMM with a single row does not reach memory
// bandwidth. bf16 stays on torch::linear (oneDNN): LibTorch's bf16 mv decoded the TinyLlama-1.1B
// shape at 526 ms/token, torch::linear at 290 (one thread, AVX512-BF16 without AMX).
bool matvec_applies(const at::Tensor& x, const at::Tensor& weight);
// x (..., in) with one row, weight (out, in), bias (out) or undefined: x W^T + b as (..., out).
at::Tensor linear_matvec(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias);

}  // namespace litestage
