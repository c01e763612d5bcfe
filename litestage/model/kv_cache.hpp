#pragma once
// Preallocated key/value cache. Slot t of every layer holds the token at sequence index t, so
// one forward appends to all active layers at the same slots; there is no per-token
// concatenation. A layer whose attention is skipped neither reads nor writes its slots, which
// is tracked per layer so a plan that changes mid-sequence is caught, not silently wrong.

#include <cstdint>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

namespace litestage {

struct ModelConfig;

class KVCache {
 public:
  KVCache(const ModelConfig& config, int64_t batch, int64_t capacity, c10::ScalarType dtype, c10::Device device);

  int64_t batch() const { return batch_; }
  int64_t capacity() const { return capacity_; }
  int64_t length() const { return length_; }            // slots filled so far (all rows)
  int64_t layer_length(int layer) const { return layer_len_[layer]; }
  bool has_padding() const { return has_padding_; }

  // (batch, kv_heads, capacity, head_dim) per layer.
  at::Tensor& keys(int layer) { return k_[layer]; }
  at::Tensor& values(int layer) { return v_[layer]; }
  // (batch, capacity) bool: slot holds a real (non-padding) token.
  const at::Tensor& valid() const { return valid_; }

  // Forward-pass bookkeeping (called by CausalLM::forward).
  void begin_step(int64_t num_tokens, const at::Tensor& token_mask);
  void end_step(int64_t num_tokens) { length_ += num_tokens; }

  // Throws unless `layer` holds exactly the tokens before `start` (a plan that skipped this
  // layer's attention earlier in the sequence cannot start using it now).
  void expect_at(int layer, int64_t start) const;
  // Writes the new tokens' keys and values, (batch, kv_heads, T, head_dim) each, into slots
  // start..start+T of `layer` and returns the keys and values visible to them: slots 0..start+T,
  // (batch, kv_heads, start+T, head_dim) views of the cache.
  std::pair<at::Tensor, at::Tensor> append(int layer, int64_t start, const at::Tensor& k, const at::Tensor& v);
  // For writers that fill the slots themselves (the decode kernel): slots 0..new_length are written.
  void mark_layer_written(int layer, int64_t new_length) { layer_len_[layer] = new_length; }

  // Forget all tokens (buffers are kept for reuse).
  void reset();
  // Forget the tokens from position `length` on (a rolled-back speculative step, a benchmark that
  // repeats a forward on the same context): every layer then holds at most `length` tokens, and the
  // next forward writes from there. 0 <= length <= length().
  void truncate(int64_t length);

  // Makes the first `length` slots of row `row` of `prefix` (unpadded) the content of every row: a
  // prompt prefix computed once and shared by several sequences. The layers that skipped their
  // attention in `prefix` stay unwritten here too.
  void load_prefix(const KVCache& prefix, int64_t length, int64_t row = 0);

 private:
  int64_t batch_, capacity_;
  int64_t length_ = 0;
  bool has_padding_ = false;
  std::vector<at::Tensor> k_, v_;
  std::vector<int64_t> layer_len_;
  at::Tensor valid_;
};

}  // namespace litestage
