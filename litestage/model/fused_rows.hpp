#pragma once
// Projections that read the same input, stored as row blocks of one tensor: q/k/v and gate/up then
// multiply as one product (one GEMM or matrix-vector pass, one dispatch) instead of three or two.
// Each block stays a separate parameter under its Hugging Face name, a view into the shared
// storage, so checkpoints, init, optimisers and state dicts see the usual tensors. Whatever
// re-points a block (Tensor::set_data) cuts it off; intact() then says no, and callers multiply
// the blocks one by one — slower, never wrong.

#include <cstdint>
#include <initializer_list>
#include <vector>

#include <torch/types.h>

namespace litestage {

class FusedRows {
 public:
  FusedRows() = default;
  // One tensor of sum(rows) x trailing..., uninitialised; block(i) views rows [offset_i, +rows_i).
  FusedRows(std::vector<int64_t> rows, std::vector<int64_t> trailing, const torch::TensorOptions& opts);
  // A new leaf (detached) sharing block i's storage: register it as the parameter.
  torch::Tensor block(std::size_t i) const;
  // Whether every given tensor (the registered blocks, in order) is still its block's view.
  bool intact(std::initializer_list<const torch::Tensor*> blocks) const;
  // The whole (sum(rows), trailing...) tensor, undefined for a default-constructed FusedRows;
  // meaningful while intact().
  const torch::Tensor& tensor() const { return fused_; }
  bool defined() const { return fused_.defined(); }

 private:
  torch::Tensor fused_;
  std::vector<int64_t> offsets_, rows_;
};

}  // namespace litestage
