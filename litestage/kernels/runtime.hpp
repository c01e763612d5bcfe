#pragma once
// Where and in what precision a model runs: device and dtype parsing, CPU thread count, and
// device synchronisation for honest timing.

#include <functional>
#include <optional>
#include <string>

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include "litestage/kernels/sync.hpp"
#include "litestage/util/cpu_info.hpp"

namespace litestage {

struct Runtime {
  c10::Device device = c10::Device(c10::kCPU);
  c10::ScalarType dtype = c10::kFloat;
  std::string dtype_reason = "requested";  // why this dtype: "requested" or how `auto` chose it
};

// What a run asks of the runtime before it is resolved (make_runtime, set_threads): the defaults
// that experiment YAML, training YAML and the commands' --device/--dtype/--threads share.
struct RuntimeRequest {
  std::string device = "cpu";  // "cpu", "cuda", "cuda:N"
  std::string dtype = "auto";  // see choose_dtype
  int threads = 0;             // intra-op CPU threads; 0 = one per core
};

struct DtypeChoice {
  c10::ScalarType dtype;
  std::string reason;
};

// "cpu", "cuda", "cuda:1". Refuses cuda when torch::cuda::is_available() is false.
c10::Device parse_device(const std::string& name);
// A dtype's name: "f32"/"float32"/"fp32"/"float", "bf16"/"bfloat16", "f16"/"float16"/"fp16"/"half"
// (any case); nullopt for anything else ("auto" included).
std::optional<c10::ScalarType> dtype_from_name(const std::string& name);
// "f32"/"float32", "bf16"/"bfloat16", "f16"/"float16", or "auto" (see auto_dtype).
DtypeChoice choose_dtype(const std::string& name, const c10::Device& device);
c10::ScalarType parse_dtype(const std::string& name, const c10::Device& device);
// Matrix-product throughput (GFLOP/s) in a dtype on the CPU; the default measures it once per
// dtype (the best of 5 1024^3 products: 0.1-0.3 s) and remembers it.
using GemmProbe = std::function<double(c10::ScalarType)>;
double measured_cpu_gemm(c10::ScalarType dtype);
// What `auto` picks on device for a host with cpu's features: bf16 on CUDA and with AMX; f32
// without native bf16; with AVX512-BF16 alone, bf16 where the probe measures its products at
// least kAutoBf16Gain times f32's (CPUs differ: 3.7x on one, 0.7x on another).
constexpr double kAutoBf16Gain = 1.5;
DtypeChoice auto_dtype(const c10::Device& device, const CpuInfo& cpu, const GemmProbe& probe = measured_cpu_gemm);
std::string dtype_name(c10::ScalarType dtype);
// Whether this LibTorch build can run a matmul in dtype on the device (probed once, cached).
bool dtype_supported(c10::ScalarType dtype, const c10::Device& device);  // "f32" / "bf16" / "f16"
Runtime make_runtime(const std::string& device, const std::string& dtype);

// One line on what runs the model: "cpu, f32 (requested), 2 threads; BLAS: OpenBLAS 0.3.21
// (SkylakeX kernels); CPU: avx2 avx512 avx512_bf16". Cheap: nothing is measured.
std::string runtime_description(const Runtime& runtime);

// Intra-op threads for CPU kernels; 0 means one per core. LibTorch here defaults to one.
void set_threads(int threads);
int num_cores();

}  // namespace litestage
