#include "litestage/kernels/blas.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <array>
#include <vector>

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include "litestage/kernels/gemm.hpp"
#include "litestage/kernels/sync.hpp"
#include "litestage/util/stats.hpp"
#include "litestage/util/strings.hpp"
#include "litestage/util/timer.hpp"

namespace litestage {

namespace {

template <typename Fn>
Fn lookup(const char* symbol) {
  return reinterpret_cast<Fn>(dlsym(RTLD_DEFAULT, symbol));
}

// OpenBLAS kernel sets at least as fast as `target` on a CPU that supports `target`.
bool at_least(const std::string& core, const std::string& target) {
  static const std::array<const char*, 4> avx512 = {"skylakex", "cooperlake", "sapphirerapids", "zen4"};
  static const std::array<const char*, 5> avx2 = {"haswell", "zen", "skylakex", "cooperlake", "sapphirerapids"};
  const std::string c = to_lower(core);
  auto in = [&c](const auto& set) { return std::find(set.begin(), set.end(), c) != set.end(); };
  return target == "SkylakeX" ? in(avx512) : in(avx2);
}

}  // namespace

BlasInfo loaded_blas() {
  BlasInfo info;
  using Name = char* (*)();
  auto corename = lookup<Name>("openblas_get_corename");
  if (!corename) return info;
  info.openblas = true;
  info.core = trim(corename());
  if (auto config = lookup<Name>("openblas_get_config")) info.config = trim(config());
  return info;
}

std::string better_openblas_core(const CpuInfo& cpu, const std::string& core) {
  std::string target;
  if (cpu.avx512) target = "SkylakeX";
  else if (cpu.avx2 && cpu.fma) target = "Haswell";
  if (target.empty() || at_least(core, target)) return "";
  return target;
}

std::string blas_description(const BlasInfo& blas) {
  if (!blas.openblas) return "not OpenBLAS (MKL or the build's own)";
  // openblas_get_config() starts "OpenBLAS 0.3.21 DYNAMIC_ARCH ...": keep the name and version.
  const std::vector<std::string> words = split(blas.config, ' ');
  std::string version = words.size() >= 2 ? words[0] + " " + words[1] : "OpenBLAS";
  return version + " (" + blas.core + " kernels)";
}

std::string blas_kernel_warning(const BlasInfo& blas, const CpuInfo& cpu) {
  if (!blas.openblas) return "";
  const std::string better = better_openblas_core(cpu, blas.core);
  if (better.empty()) return "";
  return "OpenBLAS runs its generic " + blas.core + " kernels on a CPU with " + cpu.feature_list() +
         ": f32 matrix products run several times slower than they can. Set OPENBLAS_CORETYPE=" + better +
         " before starting the process (litestage does so itself unless OPENBLAS_CORETYPE is set).";
}

namespace {

// Seconds of each of `repeats` n x n x n products after `warmup` untimed ones (caches, JIT kernels).
std::vector<double> gemm_seconds(c10::ScalarType dtype, const c10::Device& device, int n, int warmup, int repeats) {
  c10::InferenceMode guard;
  auto opts = torch::TensorOptions().dtype(dtype).device(device);
  auto a = torch::randn({n, n}, opts), b = torch::randn({n, n}, opts);
  std::vector<double> seconds;
  for (int i = 0; i < warmup + repeats; ++i) {
    synchronize(device);
    Timer t;
    auto c = torch::matmul(a, b);
    synchronize(device);
    if (i >= warmup) seconds.push_back(t.seconds());
  }
  return seconds;
}

}  // namespace

double measure_gemm_gflops(c10::ScalarType dtype, const c10::Device& device, int n, int repeats) {
  return 2.0 * n * n * n / median(gemm_seconds(dtype, device, n, 1, repeats)) / 1e9;
}

double measure_kernel_gemm_gflops(int n, int repeats) {
  c10::InferenceMode guard;
  auto x = torch::randn({n, n}), w = torch::randn({n, n});
  std::vector<float> y(static_cast<size_t>(n) * n);
  std::vector<double> seconds;
  for (int i = 0; i <= repeats; ++i) {  // the first warms caches
    Timer t;
    gemm(x.data_ptr<float>(), n, w, {}, y.data());
    if (i > 0) seconds.push_back(t.seconds());
  }
  return 2.0 * n * n * n / median(seconds) / 1e9;
}

double peak_gemm_gflops(c10::ScalarType dtype, const c10::Device& device, int n, int tries) {
  const auto s = gemm_seconds(dtype, device, n, 2, tries);
  return 2.0 * n * n * n / *std::min_element(s.begin(), s.end()) / 1e9;
}

}  // namespace litestage
