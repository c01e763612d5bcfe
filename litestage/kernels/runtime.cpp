#include "litestage/kernels/runtime.hpp"

#include <dlfcn.h>

#include <cmath>
#include <cstdlib>
#include <map>
#include <mutex>
#include <thread>

#include <torch/cuda.h>
#include <torch/types.h>
#include <ATen/Parallel.h>

#include "litestage/kernels/blas.hpp"
#include "litestage/util/cpu_info.hpp"
#include "litestage/util/error.hpp"
#include "litestage/util/strings.hpp"

namespace litestage {

c10::Device parse_device(const std::string& name) {
  std::string n = to_lower(trim(name));
  if (n == "cpu") return c10::Device(c10::kCPU);
  if (starts_with(n, "cuda")) {
    if (!torch::cuda::is_available())
      throw_error("device '", name, "' requested but CUDA is not available (this LibTorch build or machine has no GPU)");
    try {
      return c10::Device(n);
    } catch (const std::exception&) {
      throw_error("device '", name, "': expected cuda or cuda:N");
    }
  }
  throw_error("unknown device '", name, "' (expected cpu, cuda or cuda:N)");
}

bool dtype_supported(c10::ScalarType dtype, const c10::Device& device) {
  static std::mutex mu;
  static std::map<std::pair<int, std::string>, bool> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto key = std::make_pair(static_cast<int>(dtype), device.str());
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  bool ok = true;
  try {
    auto a = torch::ones({2, 2}, torch::TensorOptions().dtype(dtype).device(device));
    (void)torch::matmul(a, a).sum().item<float>();
  } catch (const std::exception&) {
    ok = false;
  }
  cache[key] = ok;
  return ok;
}

DtypeChoice choose_dtype(const std::string& name, const c10::Device& device) {
  const std::string n = to_lower(trim(name));
  DtypeChoice c{c10::kFloat, "requested"};
  if (n == "auto" || n.empty()) {
    c = auto_dtype(device, host_cpu_info());
  } else if (const auto dtype = dtype_from_name(n)) {
    c.dtype = *dtype;
  } else {
    throw_error("unknown dtype '", name, "' (expected f32, bf16, f16 or auto)");
  }
  if (!dtype_supported(c.dtype, device))
    throw_error("dtype ", dtype_name(c.dtype), " is not supported on ", device.str(),
                " by this LibTorch build (its matmul kernels lack it); use f32 or bf16");
  return c;
}

double measured_cpu_gemm(c10::ScalarType dtype) {
  static std::mutex mutex;
  static std::map<c10::ScalarType, double> measured;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = measured.find(dtype);
  if (it == measured.end()) it = measured.emplace(dtype, peak_gemm_gflops(dtype, c10::Device(c10::kCPU), 1024, 5)).first;
  return it->second;
}

DtypeChoice auto_dtype(const c10::Device& device, const CpuInfo& cpu, const GemmProbe& probe) {
  if (device.is_cuda()) return {c10::kBFloat16, "auto: bf16 on CUDA"};
  const bool bf16_runs = dtype_supported(c10::kBFloat16, device);
  // AMX tiles make bf16 products several times faster than f32 (590 GFLOP/s on 2 cores measured).
  if (cpu.amx_bf16 && bf16_runs) return {c10::kBFloat16, "auto: the CPU multiplies bf16 with AMX"};
  if (!cpu.avx512_bf16 || !bf16_runs) return {c10::kFloat, "auto: f32, the CPU has no native bf16"};
  // AVX512-BF16 alone: an AMD EPYC measured 670 GFLOP/s bf16 against 180 f32 (2 threads), an
  // Intel Xeon 71-77 against 105-110 (one thread). Measure rather than guess.
  const double f32 = probe(c10::kFloat), bf16 = probe(c10::kBFloat16);
  const bool faster = bf16 >= kAutoBf16Gain * f32;
  return {faster ? c10::kBFloat16 : c10::kFloat,
          std::string("auto: ") + (faster ? "bf16" : "f32") +
              ", the CPU has AVX512-BF16 without AMX and multiplied bf16 at " + std::to_string(std::lround(bf16)) +
              " GFLOP/s, f32 at " + std::to_string(std::lround(f32))};
}

std::optional<c10::ScalarType> dtype_from_name(const std::string& name) {
  const std::string n = to_lower(trim(name));
  if (n == "f32" || n == "float32" || n == "fp32" || n == "float") return c10::kFloat;
  if (n == "bf16" || n == "bfloat16") return c10::kBFloat16;
  if (n == "f16" || n == "float16" || n == "fp16" || n == "half") return c10::kHalf;
  return std::nullopt;
}

c10::ScalarType parse_dtype(const std::string& name, const c10::Device& device) {
  return choose_dtype(name, device).dtype;
}

std::string dtype_name(c10::ScalarType dtype) {
  switch (dtype) {
    case c10::kFloat: return "f32";
    case c10::kBFloat16: return "bf16";
    case c10::kHalf: return "f16";
    default: return c10::toString(dtype);
  }
}

Runtime make_runtime(const std::string& device, const std::string& dtype) {
  Runtime r;
  r.device = parse_device(device);
  const DtypeChoice choice = choose_dtype(dtype, r.device);
  r.dtype = choice.dtype;
  r.dtype_reason = choice.reason;
  return r;
}

int num_cores() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

void set_threads(int threads) {
  if (threads < 0) throw_error("--threads must be >= 0, got ", threads);
  at::set_num_threads(threads == 0 ? num_cores() : threads);
  // Debian's LibTorch calls the system BLAS; with OpenBLAS (pthreads build) its own worker threads
  // spin beside LibTorch's OpenMP pool and the two halve each other's speed on a small machine
  // (measured 2x slower training, 30% slower prefill on 2 cores). LibTorch parallelises around
  // BLAS calls itself, so OpenBLAS runs single-threaded unless OPENBLAS_NUM_THREADS says otherwise.
  // MKL builds (official LibTorch) have no such symbol and are left alone.
  if (std::getenv("OPENBLAS_NUM_THREADS") == nullptr) {
    using SetThreads = void (*)(int);
    if (auto fn = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) fn(1);
  }
}

std::string runtime_description(const Runtime& rt) {
  std::string out = rt.device.str() + ", " + dtype_name(rt.dtype) + " (" + rt.dtype_reason + ")";
  if (rt.device.is_cuda()) return out;
  const CpuInfo& cpu = host_cpu_info();
  return out + ", " + std::to_string(at::get_num_threads()) + " threads; BLAS: " + blas_description(loaded_blas()) +
         "; CPU: " + (cpu.known ? cpu.feature_list() : "unknown");
}

}  // namespace litestage
