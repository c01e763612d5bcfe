#include "litestage/train/autocast.hpp"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

// LibTorch 2.4 replaced the CUDA-only calls (is_enabled, set_enabled, get/set_autocast_gpu_dtype)
// with per-device-type ones and deprecated the old names; 1.13 has only the old ones.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define LITESTAGE_AUTOCAST_PER_DEVICE 1
#else
#define LITESTAGE_AUTOCAST_PER_DEVICE 0
#endif

namespace litestage {

namespace {
// Per device type: CUDA, or CPU (bf16 through oneDNN where the CPU multiplies bf16 natively).
bool autocast_enabled(bool cuda) {
#if LITESTAGE_AUTOCAST_PER_DEVICE
  return at::autocast::is_autocast_enabled(cuda ? at::kCUDA : at::kCPU);
#else
  return cuda ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
#endif
}
void set_autocast(bool cuda, bool enabled, c10::ScalarType dtype) {
#if LITESTAGE_AUTOCAST_PER_DEVICE
  at::autocast::set_autocast_enabled(cuda ? at::kCUDA : at::kCPU, enabled);
  at::autocast::set_autocast_dtype(cuda ? at::kCUDA : at::kCPU, dtype);
#else
  if (cuda) {
    at::autocast::set_enabled(enabled);
    at::autocast::set_autocast_gpu_dtype(dtype);
  } else {
    at::autocast::set_cpu_enabled(enabled);
    at::autocast::set_autocast_cpu_dtype(dtype);
  }
#endif
}
c10::ScalarType autocast_dtype(bool cuda) {
#if LITESTAGE_AUTOCAST_PER_DEVICE
  return at::autocast::get_autocast_dtype(cuda ? at::kCUDA : at::kCPU);
#else
  return cuda ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
#endif
}
}  // namespace

AutocastScope::AutocastScope(bool enabled, const c10::Device& device, c10::ScalarType dtype) {
  if (!enabled || !(device.is_cuda() || device.is_cpu())) return;
  active_ = true;
  cuda_ = device.is_cuda();
  previous_enabled_ = autocast_enabled(cuda_);
  previous_dtype_ = autocast_dtype(cuda_);
  set_autocast(cuda_, true, dtype);
  at::autocast::increment_nesting();
}

AutocastScope::~AutocastScope() {
  if (!active_) return;
  // Casts of the weights are cached for the scope's life; once the outermost scope ends they are
  // dropped, as the optimiser is about to change the weights.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  set_autocast(cuda_, previous_enabled_, previous_dtype_);
}

}  // namespace litestage
