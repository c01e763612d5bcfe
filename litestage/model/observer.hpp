#pragma once
// Per-sub-layer observer: called with the residual stream before and after each sub-layer that
// runs (skipped sub-layers are not reported). The importance estimation uses it; so can
// debugging. An unset observer costs one branch per sub-layer.

#include <functional>

#include <ATen/core/Tensor.h>

#include "litestage/model/skip_plan.hpp"

namespace litestage {

struct SubLayerEvent {
  int layer;
  SubLayerKind kind;
  const at::Tensor& input;   // (batch, seq, hidden): residual stream entering the sub-layer
  const at::Tensor& output;  // (batch, seq, hidden): input + sub-layer(norm(input))
  bool prefill;              // true for a multi-token forward (prompt), false for decode steps
};

using SubLayerObserver = std::function<void(const SubLayerEvent&)>;

}  // namespace litestage
