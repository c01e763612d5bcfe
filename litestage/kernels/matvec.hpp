#pragma once
// The building blocks of one-token (decode) steps on CPU: vectorised dot products and the
// matrix-vector product y = W x (+ b), threaded over rows, for f32 and bf16 weights. Activations
// and sums stay f32, so a bf16 model streams half the bytes of an f32 one. Used by the decode
// kernel and by Linear for a single token.

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>
#include <c10/util/BFloat16.h>

namespace litestage {

// The vector instructions the dot products run with: the best this CPU has (AVX-512, else AVX2
// with FMA, else plain loops) unless set lower, to compare them or to test every path.
enum class VectorIsa { Generic, Avx2, Avx512 };
const char* vector_isa_name(VectorIsa isa);  // "generic", "avx2", "avx512"
VectorIsa vector_isa();
std::vector<VectorIsa> supported_vector_isas();  // Generic first
void set_vector_isa(VectorIsa isa);              // throws if this CPU or build lacks it

// Whether products with bf16 weights multiply-add pairs of bf16 values natively (AVX512-BF16's
// vdpbf16ps) when the instruction set is AVX-512, rather than widening each weight to f32 first:
// on by default where this CPU and build have it (widening made the product compute-bound, 1.4-1.5x
// the read floor on a 2-core AMD EPYC; pairs run at the floor). Both give the same sums up to
// their order: x is rounded to bf16 either way (see matvec).
bool native_bf16_supported();
bool native_bf16();
void set_native_bf16(bool on);  // throws if on and unsupported

// sum_i a[i] b[i], n elements.
float dot(const float* a, const float* b, int64_t n);
float dot(const float* a, const c10::BFloat16* b, int64_t n);

// The sum of p[0..n), read the way the matrix-vector product reads its rows: split over the
// intra-op threads, each reading its share as 8 interleaved streams (AVX-512 or AVX2; plain
// loops elsewhere). A streaming read to compare decode steps with (`litestage bench`'s floor).
double read_sum(const float* p, int64_t n);

// y = W x (+ bias): weight (rows, cols) contiguous row-major, f32 or bf16; bias (rows) of the
// same dtype, or undefined; x has cols floats, y rows floats (not aliasing x). With batch > 1, x
// is (batch, cols) and y (batch, rows), row-major: each weight row is read from memory once for
// all of them, so a batch of decode rows costs about one row's memory traffic. With bf16 weights
// x is rounded to bf16 first, as LibTorch's (and Hugging Face's) bf16 layers take their input;
// each product of two bf16 values is exact in f32 and the sums are f32, as in oneDNN's bf16 GEMMs.
void matvec(const at::Tensor& weight, const at::Tensor& bias, const float* x, float* y, int64_t batch = 1);

// The most rows linear_matvec takes: a batch of short forwards (model/decode_kernel.hpp) or of
// decode steps, so that a token's logits are the same sums whichever of them computed it.
constexpr int64_t kMatvecRows = 64;

// Whether x W^T is 1 to kMatvecRows rows on the CPU without autograd, x and W both f32 or both
// bf16, W contiguous: then linear_matvec streams the weights once, where LibTorch's products with a
// single row do not reach memory bandwidth (bf16: LibTorch's mv decoded the TinyLlama-1.1B shape at
// 526 ms/token and torch::linear at 290 on one AVX512-BF16 core; bandwidth allows about 90), and
// each row's result is the same whether it comes alone or with others.
bool matvec_applies(const at::Tensor& x, const at::Tensor& weight);
// x (..., in) with 1 to kMatvecRows rows, weight (out, in), bias (out) or undefined: x W^T + b as
// (..., out), in x's dtype (a bf16 result is rounded once, from the f32 sums, as oneDNN's bf16
// products do).
at::Tensor linear_matvec(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias);

}  // namespace litestage
