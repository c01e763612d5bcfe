#include "litestage/model/matvec.hpp"

#include <algorithm>

#include <ATen/Parallel.h>
#include <torch/types.h>

namespace litestage {

// Sixteen independent partial sums: the compiler vectorises the loop without reassociating, and
// the clones give AVX-512 and AVX2+FMA code on CPUs that have them (chosen once, at load time).
__attribute__((target_clones("arch=skylake-avx512", "arch=haswell", "default")))
float dot(const float* a, const float* b, int64_t n) {
  float acc[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int j = 0; j < 16; ++j) acc[j] += a[i + j] * b[i + j];
  float sum = 0.0f;
  for (int j = 0; j < 16; ++j) sum += acc[j];
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

// y = W x (+ bias), W (rows, cols) row-major. Small products run as loops (no dispatch); large
// ones go to BLAS's matrix-vector kernel, which streams several rows at once and stays at the
// memory-bandwidth floor (TinyLlama-1.1B shape, one thread: 452 ms/token through BLAS, 655 through
// the loop, floor 412). Rows are split over the intra-op threads once the product pays for it.
void matvec(const at::Tensor& weight, const at::Tensor& bias, const float* x, float* y) {
  const int64_t rows = weight.size(0), cols = weight.size(1);
  const float* w = weight.data_ptr<float>();
  const float* b = bias.defined() ? bias.data_ptr<float>() : nullptr;
  constexpr int64_t kBlasWork = int64_t{1} << 18, kParallelWork = int64_t{1} << 17;  // multiply-adds
  const bool blas = rows * cols >= kBlasWork;
  const auto xv = blas ? torch::from_blob(const_cast<float*>(x), {cols}, torch::kFloat) : torch::Tensor();
  const auto yv = blas ? torch::from_blob(y, {rows}, torch::kFloat) : torch::Tensor();
  auto run = [&](int64_t begin, int64_t end) {
    if (blas) {
      auto out = yv.narrow(0, begin, end - begin);
      at::mv_out(out, weight.narrow(0, begin, end - begin), xv);
      if (b) for (int64_t r = begin; r < end; ++r) y[r] += b[r];
      return;
    }
    for (int64_t r = begin; r < end; ++r) y[r] = dot(w + r * cols, x, cols) + (b ? b[r] : 0.0f);
  };
  if (rows * cols < kParallelWork || at::get_num_threads() == 1) return run(0, rows);
  at::parallel_for(0, rows, std::max<int64_t>(1, (kParallelWork / 4) / cols), run);
}

bool matvec_applies(const at::Tensor& x, const at::Tensor& weight) {
  return x.numel() == x.size(-1) && x.device().is_cpu() && x.scalar_type() == at::kFloat &&
         weight.scalar_type() == at::kFloat && weight.is_contiguous() && !at::GradMode::is_enabled();
}

at::Tensor linear_matvec(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  auto sizes = x.sizes().vec();
  sizes.back() = weight.size(0);
  const auto xv = x.contiguous();
  auto y = at::empty({weight.size(0)}, x.options());
  matvec(weight, bias, xv.data_ptr<float>(), y.data_ptr<float>());
  return y.view(sizes);
}

}  // namespace litestage
