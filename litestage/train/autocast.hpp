#pragma once
// Mixed precision for training: a scope in which CUDA or CPU ops on the autocast list (matmuls,
// linear) run in bfloat16 while the parameters (the master weights), the loss and the optimiser stay
// float32. It mirrors Python's `torch.autocast("cuda" | "cpu", dtype=torch.bfloat16)`: entering bumps the
// nesting level, leaving the outermost scope drops the cache of bf16 weight copies (they are
// stale after the optimiser step).

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

namespace litestage {

class AutocastScope {
 public:
  // `enabled` false (or a device other than CUDA and CPU) makes the scope a no-op.
  AutocastScope(bool enabled, const c10::Device& device, c10::ScalarType dtype = c10::kBFloat16);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool active_ = false;
  bool cuda_ = false;
  bool previous_enabled_ = false;
  c10::ScalarType previous_dtype_ = c10::kBFloat16;
};

}  // namespace litestage
