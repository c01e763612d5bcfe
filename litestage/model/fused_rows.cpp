#include "litestage/model/fused_rows.hpp"

#include "litestage/kernels/weight_memory.hpp"
#include "litestage/util/error.hpp"

namespace litestage {

FusedRows::FusedRows(std::vector<int64_t> rows, std::vector<int64_t> trailing, const torch::TensorOptions& opts)
    : rows_(std::move(rows)) {
  int64_t total = 0;
  for (int64_t r : rows_) offsets_.push_back(total), total += r;
  trailing.insert(trailing.begin(), total);
  fused_ = empty_weight(trailing, opts);
}

torch::Tensor FusedRows::block(std::size_t i) const {
  LITESTAGE_CHECK(i < rows_.size(), "FusedRows: no block ", i, " of ", rows_.size());
  return fused_.narrow(0, offsets_[i], rows_[i]).detach();
}

bool FusedRows::intact(std::initializer_list<const torch::Tensor*> blocks) const {
  if (!fused_.defined() || blocks.size() != rows_.size()) return false;
  const auto* base = static_cast<const char*>(fused_.data_ptr());
  const int64_t row_bytes = fused_.stride(0) * static_cast<int64_t>(fused_.element_size());
  std::size_t i = 0;
  for (const torch::Tensor* t : blocks) {
    if (!t->defined() || t->scalar_type() != fused_.scalar_type() || t->device() != fused_.device() ||
        t->dim() != fused_.dim() || t->size(0) != rows_[i] || t->sizes().slice(1) != fused_.sizes().slice(1) ||
        !t->is_contiguous() ||
        t->data_ptr() != base + offsets_[i] * row_bytes)
      return false;
    ++i;
  }
  return true;
}

}  // namespace litestage
