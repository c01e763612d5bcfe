#include "litestage/model/matvec.hpp"

#include <algorithm>

#include <ATen/Parallel.h>
#include <torch/types.h>

namespace litestage {

namespace {

// Sixteen independent partial sums: the compiler vectorises the loop without reassociating.
// Inlined into each clone below, so it is compiled for that clone's instruction set.
inline __attribute__((always_inline)) float dot_body(const float* a, const float* b, int64_t n) {
  float acc[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int j = 0; j < 16; ++j) acc[j] += a[i + j] * b[i + j];
  float sum = 0.0f;
  for (int j = 0; j < 16; ++j) sum += acc[j];
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

}  // namespace

// Rows [begin, end) of y = W x (+ b), in the clone for this CPU (one dispatch per range, not per row).
__attribute__((target_clones("arch=skylake-avx512", "arch=haswell", "default")))
void dot_rows(const float* w, int64_t cols, const float* x, const float* b, float* y, int64_t begin, int64_t end) {
  for (int64_t r = begin; r < end; ++r) y[r] = dot_body(w + r * cols, x, cols) + (b ? b[r] : 0.0f);
}

// The clones give AVX-512 and AVX2+FMA code on CPUs that have them (chosen once, at load time).
__attribute__((target_clones("arch=skylake-avx512", "arch=haswell", "default")))
float dot(const float* a, const float* b, int64_t n) {
  return dot_body(a, b, n);
}

// y = W x (+ bias), W (rows, cols) row-major. Run by one thread, large products go to BLAS's
// matrix-vector kernel and small ones run as loops (no dispatch). Split over the intra-op threads,
// every product runs as loops: OpenBLAS (single-threaded under set_threads) serialises concurrent
// calls. Measured on a 2-core AMD EPYC, TinyLlama-1.1B-shaped projections: one thread, BLAS 28
// GB/s, loops 24; two threads, BLAS on each half 27 GB/s, loops 35-47 (read bandwidth 50-60).
// at::parallel_for is a header template: without -fopenmp it runs on the calling thread only
// (litestage_model is compiled with OpenMP; see litestage/CMakeLists.txt).
void matvec(const at::Tensor& weight, const at::Tensor& bias, const float* x, float* y) {
  const int64_t rows = weight.size(0), cols = weight.size(1);
  const float* w = weight.data_ptr<float>();
  const float* b = bias.defined() ? bias.data_ptr<float>() : nullptr;
  constexpr int64_t kBlasWork = int64_t{1} << 18, kParallelWork = int64_t{1} << 17;  // multiply-adds
  auto loop = [&](int64_t begin, int64_t end) { dot_rows(w, cols, x, b, y, begin, end); };
  if (rows * cols >= kParallelWork && at::get_num_threads() > 1)
    return at::parallel_for(0, rows, std::max<int64_t>(1, (kParallelWork / 4) / cols), loop);
  if (rows * cols < kBlasWork) return loop(0, rows);
  auto out = torch::from_blob(y, {rows}, torch::kFloat);
  at::mv_out(out, weight, torch::from_blob(const_cast<float*>(x), {cols}, torch::kFloat));
  if (b) for (int64_t r = 0; r < rows; ++r) y[r] += b[r];
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
