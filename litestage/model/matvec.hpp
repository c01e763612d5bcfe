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

}  // namespace litestage
