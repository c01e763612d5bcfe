#pragma once
// CausalLM: a Llama or Qwen2 decoder-only language model (LlamaForCausalLM / Qwen2ForCausalLM
// semantics) whose sub-layers can be skipped per forward by a SkipPlan.
//
// Module tree (= Hugging Face state-dict keys):
//   model.embed_tokens.weight                    (vocab, hidden)
//   model.layers.N.self_attn.{q,k,v,o}_proj.*    q: (heads*head_dim, hidden), k/v: (kv_heads*head_dim, hidden)
//   model.layers.N.mlp.{gate,up,down}_proj.weight
//   model.layers.N.{input,post_attention}_layernorm.weight
//   model.norm.weight
//   lm_head.weight                               (vocab, hidden); absent when tied to embed_tokens

#include <filesystem>
#include <memory>

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/types.h>

#include "litestage/model/config.hpp"
#include "litestage/model/layers.hpp"
#include "litestage/model/observer.hpp"
#include "litestage/kernels/runtime.hpp"
#include "litestage/model/skip_plan.hpp"

namespace litestage {

class KVCache;

struct ForwardOptions {
  const SkipPlan* skip = nullptr;            // nullptr: run every sub-layer
  const SubLayerObserver* observer = nullptr;
  KVCache* cache = nullptr;                  // nullptr: attend within input_ids only
  // (batch, seq) 1 = real token, 0 = padding. Undefined: all real. Padded rows' positions come
  // from the mask (cumulative count of real tokens), as Hugging Face computes position_ids.
  torch::Tensor token_mask;
  // (batch, seq) int64 RoPE positions; overrides the default (sequence index, or mask-derived).
  torch::Tensor positions;
  bool last_logits_only = false;             // (batch, 1, vocab) instead of (batch, seq, vocab)
  // Steps of unpadded CPU sequences with a cache, without an observer or gradients, run through
  // plain-loop kernels: one token per row through model/decode_kernel (f32, bf16), several
  // through model/prefill_kernel (f32). false forces LibTorch's ops (the reference).
  bool kernels = true;
};

class LlamaModelImpl : public torch::nn::Module {
 public:
  LlamaModelImpl(const ModelConfig& config, const torch::TensorOptions& opts);
  torch::nn::ModuleList layers{nullptr};
  std::vector<DecoderLayer> blocks;  // the same modules as `layers`, typed, for the hot loop
  Embedding embed_tokens{nullptr};
  RMSNorm norm{nullptr};
};
TORCH_MODULE(LlamaModel);

class CausalLMImpl : public torch::nn::Module {
 public:
  // Parameters are allocated (uninitialised) in the runtime's dtype and device.
  CausalLMImpl(const ModelConfig& config, const Runtime& runtime = {});

  // input_ids: (batch, seq) int64 -> logits (batch, seq or 1, vocab) in float32.
  torch::Tensor forward(const torch::Tensor& input_ids, const ForwardOptions& options = {});
  // The final-norm hidden states (batch, seq, hidden) in the model dtype.
  torch::Tensor hidden_states(const torch::Tensor& input_ids, const ForwardOptions& options = {});
  torch::Tensor logits_from_hidden(const torch::Tensor& hidden) const;
  // Whether every forward with a cache computes each row of a batch as it would alone, bitwise: the
  // rows of unpadded sequences take the prefill kernel's kept panels in every layer and the output
  // projection's (a small f32 model on the CPU), whose sums do not depend on the other rows. Then
  // options decoded together give exactly their one-by-one outputs.
  bool rows_independent() const;

  const ModelConfig& config() const { return config_; }
  const Runtime& runtime() const { return runtime_; }
  int num_layers() const { return static_cast<int>(config_.num_hidden_layers); }
  // The output projection (vocab, hidden): lm_head.weight, or embed_tokens.weight when tied.
  const torch::Tensor& output_weight() const { return tied_ ? model->embed_tokens->weight : lm_head->weight; }

  // Hugging Face-style random init: normal(0, initializer_range) for projections and
  // embeddings, ones for norms. Seeded, so two models built with one seed are identical.
  void init_weights(uint64_t seed);

  LlamaModel model{nullptr};
  Linear lm_head{nullptr};

 private:
  ModelConfig config_;
  Runtime runtime_;
  bool tied_;
  RotaryEmbedding rope_;
  mutable PackedPanels output_panels_;  // the output projection's, where they are kept
  // Whether f32 rows' logits go through output_panels_ (a small f32 CPU output projection).
  bool output_keeps_panels() const;
};
TORCH_MODULE(CausalLM);

// Loads config.json and the safetensors weights of a Hugging Face checkpoint directory.
CausalLM load_causal_lm(const std::filesystem::path& dir, const Runtime& runtime = {});

// Depth growth: a model with `layers` decoder layers (>= the source's) whose first layers,
// embeddings, final norm and lm_head are copies of `source`'s, and whose added layers are
// randomly initialised (seed) with o_proj and down_proj (and o_proj's bias) zero, so each added
// layer starts as the identity and the grown model computes exactly what `source` computes.
// Training then starts from circuits the small model already has.
// With output_scale > 0 the added layers' o_proj and down_proj keep their random init multiplied
// by output_scale instead: every added layer then starts near, not at, the identity and trains
// from the first step (an identity start can stay near the identity for a whole training run).
CausalLM grow_layers(CausalLM& source, int64_t layers, uint64_t seed, double output_scale = 0.0);

// Writes a Hugging Face checkpoint directory: config.json + model.safetensors (tied lm_head
// omitted, as save_pretrained does).
void save_causal_lm(CausalLM& model, const std::filesystem::path& dir);

}  // namespace litestage
