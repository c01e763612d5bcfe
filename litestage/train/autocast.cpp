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
bool cuda_autocast_enabled() {
#if LITESTAGE_AUTOCAST_PER_DEVICE
  return at::autocast::is_autocast_enabled(at::kCUDA);
#else
  return at::autocast::is_enabled();
#endif
}
void set_cuda_autocast(bool enabled, c10::ScalarType dtype) {
#if LITESTAGE_AUTOCAST_PER_DEVICE
  at::autocast::set_autocast_enabled(at::kCUDA, enabled);
  at::autocast::set_autocast_dtype(at::kCUDA, dtype);
#else
  at::autocast::set_enabled(enabled);
  at::autocast::set_autocast_gpu_dtype(dtype);
#endif
}
c10::ScalarType cuda_autocast_dtype() {
#if LITESTAGE_AUTOCAST_PER_DEVICE
  return at::autocast::get_autocast_dtype(at::kCUDA);
#else
  return at::autocast::get_autocast_gpu_dtype();
#endif
}
}  // namespace

AutocastScope::AutocastScope(bool enabled, const c10::Device& device, c10::ScalarType dtype) {
  if (!enabled || !device.is_cuda()) return;
  active_ = true;
  previous_enabled_ = cuda_autocast_enabled();
  previous_dtype_ = cuda_autocast_dtype();
  set_cuda_autocast(true, dtype);
  at::autocast::increment_nesting();
}

AutocastScope::~AutocastScope() {
  if (!active_) return;
  // Casts of the weights are cached for the scope's life; once the outermost scope ends they are
  // dropped, as the optimiser is about to change the weights.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  set_cuda_autocast(previous_enabled_, previous_dtype_);
}

}  // namespace litestage
