#include "litestage/model/kv_cache.hpp"

#include <algorithm>

#include <torch/types.h>

#include "litestage/model/config.hpp"
#include "litestage/util/error.hpp"

namespace litestage {

KVCache::KVCache(const ModelConfig& config, int64_t batch, int64_t capacity, c10::ScalarType dtype,
                 c10::Device device)
    : batch_(batch), capacity_(capacity), layer_len_(config.num_hidden_layers, 0) {
  LITESTAGE_CHECK(batch > 0 && capacity > 0, "KV cache needs batch > 0 and capacity > 0");
  auto opts = torch::TensorOptions().dtype(dtype).device(device);
  for (int64_t l = 0; l < config.num_hidden_layers; ++l) {
    k_.push_back(torch::zeros({batch, config.num_key_value_heads, capacity, config.head_dim}, opts));
    v_.push_back(torch::zeros({batch, config.num_key_value_heads, capacity, config.head_dim}, opts));
  }
  valid_ = torch::zeros({batch, capacity}, torch::TensorOptions().dtype(torch::kBool).device(device));
}

void KVCache::begin_step(int64_t num_tokens, const at::Tensor& token_mask) {
  if (length_ + num_tokens > capacity_)
    throw_error("KV cache full: ", length_, " + ", num_tokens, " tokens exceed its capacity of ", capacity_);
  auto slots = valid_.narrow(1, length_, num_tokens);
  if (token_mask.defined()) {
    slots.copy_(token_mask.to(torch::kBool));
    has_padding_ = true;
  } else {
    slots.fill_(true);
  }
}

void KVCache::expect_at(int layer, int64_t start) const {
  if (layer_len_[layer] != start)
    throw_error("layer ", layer, " KV cache holds ", layer_len_[layer], " tokens but the sequence is at ", start,
                ": a skip plan must stay the same for the whole sequence");
}

std::pair<at::Tensor, at::Tensor> KVCache::append(int layer, int64_t start, const at::Tensor& k, const at::Tensor& v) {
  expect_at(layer, start);
  const int64_t T = k.size(2), S = start + T;
  k_[layer].narrow(2, start, T).copy_(k);
  v_[layer].narrow(2, start, T).copy_(v);
  layer_len_[layer] = S;
  return {k_[layer].narrow(2, 0, S), v_[layer].narrow(2, 0, S)};
}

void KVCache::reset() {
  length_ = 0;
  has_padding_ = false;
  std::fill(layer_len_.begin(), layer_len_.end(), 0);
  valid_.fill_(false);
}

void KVCache::truncate(int64_t length) {
  LITESTAGE_CHECK(length >= 0 && length <= length_, "KV cache truncate to ", length, " of ", length_, " tokens");
  if (length == length_) return;
  valid_.narrow(1, length, length_ - length).fill_(false);
  for (auto& n : layer_len_) n = std::min(n, length);
  length_ = length;
}

void KVCache::load_prefix(const KVCache& prefix, int64_t length, int64_t row) {
  LITESTAGE_CHECK(!prefix.has_padding_, "a shared KV prefix must be an unpadded sequence");
  LITESTAGE_CHECK(row >= 0 && row < prefix.batch_, "row ", row, " of a cache of ", prefix.batch_, " rows");
  LITESTAGE_CHECK(length >= 0 && length <= prefix.length_, "shared prefix of ", length, " tokens, but ",
                  prefix.length_, " are cached");
  LITESTAGE_CHECK(length <= capacity_, "shared prefix of ", length, " tokens exceeds the cache capacity ", capacity_);
  LITESTAGE_CHECK(k_.size() == prefix.k_.size(), "shared prefix from a model with another layer count");
  reset();
  for (size_t l = 0; l < k_.size(); ++l) {
    layer_len_[l] = std::min(prefix.layer_len_[l], length);
    if (layer_len_[l] == 0) continue;
    k_[l].narrow(2, 0, layer_len_[l]).copy_(prefix.k_[l].narrow(0, row, 1).narrow(2, 0, layer_len_[l]));
    v_[l].narrow(2, 0, layer_len_[l]).copy_(prefix.v_[l].narrow(0, row, 1).narrow(2, 0, layer_len_[l]));
  }
  valid_.narrow(1, 0, length).fill_(true);
  length_ = length;
}

}  // namespace litestage
