#pragma once
// The building blocks of a Llama/Qwen2 decoder with Hugging Face semantics. Each module registers
// its parameters under the Hugging Face names, so CausalLM's state-dict keys equal checkpoint keys
// ("model.layers.3.self_attn.q_proj.weight") and loading is one loop.

#include <cstdint>

#include <torch/nn/module.h>
#include <torch/types.h>

#include "litestage/model/config.hpp"
#include "litestage/model/fused_rows.hpp"
#include "litestage/kernels/gemm.hpp"
#include "litestage/model/observer.hpp"

namespace litestage {

class KVCache;
class SkipPlan;

// y = x W^T (+ b); one f32 CPU row without autograd goes through kernels/matvec (streams W once).
torch::Tensor project(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias);

// y = x W^T (+ b). Parameters are allocated uninitialised: a checkpoint or init_weights fills them.
class LinearImpl : public torch::nn::Module {
 public:
  LinearImpl(int64_t in, int64_t out, bool bias, const torch::TensorOptions& opts);
  // Registers the given tensors (e.g. blocks of a FusedRows); bias may be undefined.
  LinearImpl(torch::Tensor weight, torch::Tensor bias);
  torch::Tensor forward(const torch::Tensor& x) const;
  torch::Tensor weight;  // (out, in)
  torch::Tensor bias;    // (out) or undefined
};
TORCH_MODULE(Linear);

// Token embedding table; lookup is a row gather.
class EmbeddingImpl : public torch::nn::Module {
 public:
  EmbeddingImpl(int64_t vocab, int64_t dim, const torch::TensorOptions& opts);
  torch::Tensor forward(const torch::Tensor& ids) const;
  torch::Tensor weight;  // (vocab, dim)
};
TORCH_MODULE(Embedding);

// Root-mean-square norm, computed in float32 as Hugging Face does, then cast back.
class RMSNormImpl : public torch::nn::Module {
 public:
  RMSNormImpl(int64_t dim, double eps, const torch::TensorOptions& opts);
  torch::Tensor forward(const torch::Tensor& x) const;
  torch::Tensor weight;  // (dim)
  double eps;
};
TORCH_MODULE(RMSNorm);

// cos/sin tables for rotate_half RoPE, with linear and llama3 frequency scaling. Not a module:
// the tables are derived from the config, never loaded.
class RotaryEmbedding {
 public:
  RotaryEmbedding(const ModelConfig& config, const torch::TensorOptions& opts);
  // (batch, heads, seq, head_dim) rotated at the given positions. Either `start` (a contiguous
  // run start..start+seq shared by all rows) or `positions` (batch, seq) int64.
  torch::Tensor apply(const torch::Tensor& x, int64_t start, const torch::Tensor& positions) const;
  // Inverse frequencies (head_dim / 2) after scaling, float32.
  static torch::Tensor inverse_frequencies(const ModelConfig& config);
  int64_t max_positions() const { return cos_.size(0); }
  const torch::Tensor& cos() const { return cos_; }  // (max_positions, head_dim)
  const torch::Tensor& sin() const { return sin_; }

 private:
  torch::Tensor cos_, sin_;  // (max_positions, head_dim) in the model dtype
};

// What a decoder layer needs from the caller for one forward.
struct LayerContext {
  int64_t start = 0;             // sequence index of the first new token (= cache slot)
  torch::Tensor positions;       // (batch, seq) int64, or undefined for start..start+seq
  torch::Tensor attn_mask;       // additive (batch, 1, 1, seq, keys) float32, or undefined = causal only
  KVCache* cache = nullptr;
  const RotaryEmbedding* rope = nullptr;
};

class AttentionImpl : public torch::nn::Module {
 public:
  AttentionImpl(const ModelConfig& config, const torch::TensorOptions& opts);
  // x: (batch, seq, hidden) normalised input; returns (batch, seq, hidden).
  torch::Tensor forward(const torch::Tensor& x, int layer, const LayerContext& ctx);
  Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};
  // q/k/v's weights (and biases) as rows of one tensor; fused() while the three still view it.
  const FusedRows& qkv_weight() const { return qkv_weight_; }
  const FusedRows& qkv_bias() const { return qkv_bias_; }  // undefined without q/k/v biases
  bool fused() const;
  // q/k/v's and o_proj's weights packed for kernels/gemm, kept between prompts (model/prefill_kernel).
  PackedPanels& qkv_panels() const { return qkv_panels_; }
  PackedPanels& o_panels() const { return o_panels_; }

 private:
  FusedRows qkv_weight_, qkv_bias_;
  mutable PackedPanels qkv_panels_, o_panels_;
  int64_t heads_, kv_heads_, head_dim_;
  double scale_;
};
TORCH_MODULE(Attention);

// SwiGLU: down(silu(gate(x)) * up(x)).
class MLPImpl : public torch::nn::Module {
 public:
  MLPImpl(const ModelConfig& config, const torch::TensorOptions& opts);
  torch::Tensor forward(const torch::Tensor& x) const;
  Linear gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};
  // gate/up's weights as rows of one tensor; fused() while both still view it.
  const FusedRows& gate_up_weight() const { return gate_up_; }
  bool fused() const;
  // gate/up's (for SwiGLU) and down's weights packed for kernels/gemm, kept between prompts.
  PackedPanels& gate_up_panels() const { return gate_up_panels_; }
  PackedPanels& down_panels() const { return down_panels_; }

 private:
  FusedRows gate_up_;
  mutable PackedPanels gate_up_panels_, down_panels_;
};
TORCH_MODULE(MLP);

// Pre-norm block: h + Attn(norm(h)), then h + FFN(norm(h)). A sub-layer the plan skips is the
// identity on the residual stream: its norm and projections do not run, and a skipped attention
// does not touch its KV cache.
class DecoderLayerImpl : public torch::nn::Module {
 public:
  DecoderLayerImpl(const ModelConfig& config, int index, const torch::TensorOptions& opts);
  torch::Tensor forward(torch::Tensor h, const LayerContext& ctx, const SkipPlan& plan,
                        const SubLayerObserver* observer);
  Attention self_attn{nullptr};
  MLP mlp{nullptr};
  RMSNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};

 private:
  int index_;
};
TORCH_MODULE(DecoderLayer);

}  // namespace litestage
