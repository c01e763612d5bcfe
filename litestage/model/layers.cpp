#include "litestage/model/layers.hpp"

#include <cmath>
#include <tuple>
#include <vector>

#include "litestage/model/kv_cache.hpp"
#include "litestage/kernels/matvec.hpp"
#include "litestage/model/skip_plan.hpp"
#include "litestage/kernels/weight_memory.hpp"
#include "litestage/util/error.hpp"

namespace litestage {

LinearImpl::LinearImpl(int64_t in, int64_t out, bool with_bias, const torch::TensorOptions& opts) {
  weight = register_parameter("weight", empty_weight({out, in}, opts));
  if (with_bias) bias = register_parameter("bias", torch::empty({out}, opts));
}

LinearImpl::LinearImpl(torch::Tensor w, torch::Tensor b) {
  weight = register_parameter("weight", std::move(w));
  if (b.defined()) bias = register_parameter("bias", std::move(b));
}

torch::Tensor project(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias) {
  if (matvec_applies(x, weight)) return linear_matvec(x, weight, bias);  // one f32 token (kernels/matvec.hpp)
  return bias.defined() ? torch::linear(x, weight, bias) : torch::linear(x, weight);
}

torch::Tensor LinearImpl::forward(const torch::Tensor& x) const { return project(x, weight, bias); }

EmbeddingImpl::EmbeddingImpl(int64_t vocab, int64_t dim, const torch::TensorOptions& opts) {
  weight = register_parameter("weight", empty_weight({vocab, dim}, opts));
}

torch::Tensor EmbeddingImpl::forward(const torch::Tensor& ids) const {
  TORCH_CHECK(ids.numel() == 0 || (ids.min().item<int64_t>() >= 0 && ids.max().item<int64_t>() < weight.size(0)),
              "token id out of range for a vocabulary of ", weight.size(0));
  return torch::embedding(weight, ids);
}

RMSNormImpl::RMSNormImpl(int64_t dim, double eps_, const torch::TensorOptions& opts) : eps(eps_) {
  weight = register_parameter("weight", torch::ones({dim}, opts));
}

torch::Tensor RMSNormImpl::forward(const torch::Tensor& x) const {
  auto xf = x.to(torch::kFloat);
  auto variance = xf.pow(2).mean(-1, /*keepdim=*/true);
  xf = xf * torch::rsqrt(variance + eps);
  return weight * xf.to(x.scalar_type());
}

torch::Tensor RotaryEmbedding::inverse_frequencies(const ModelConfig& c) {
  const int64_t dim = c.head_dim;
  // 1 / theta^(2i/dim), built in float32 from an int64 arange as transformers does.
  auto inv = 1.0 / torch::pow(c.rope.theta, torch::arange(0, dim, 2, torch::kLong).to(torch::kFloat) / dim);
  const auto& r = c.rope;
  if (r.scaling == RopeScaling::Linear) {
    inv = inv / r.factor;
  } else if (r.scaling == RopeScaling::Llama3) {
    double old_len = static_cast<double>(r.original_max_position_embeddings);
    double low_wavelen = old_len / r.low_freq_factor;
    double high_wavelen = old_len / r.high_freq_factor;
    auto wavelen = 2 * M_PI / inv;
    // Long wavelengths (low frequencies) are divided by factor, short ones kept, the band in
    // between interpolated smoothly.
    auto scaled = torch::where(wavelen > low_wavelen, inv / r.factor, inv);
    auto smooth = (old_len / wavelen - r.low_freq_factor) / (r.high_freq_factor - r.low_freq_factor);
    auto smoothed = (1 - smooth) * scaled / r.factor + smooth * scaled;
    auto medium = (wavelen >= high_wavelen) & (wavelen <= low_wavelen);
    inv = torch::where(medium, smoothed, scaled);
  }
  return inv;
}

RotaryEmbedding::RotaryEmbedding(const ModelConfig& config, const torch::TensorOptions& opts) {
  auto inv = inverse_frequencies(config);                                       // (dim/2)
  auto t = torch::arange(config.max_position_embeddings, torch::kLong).to(torch::kFloat);  // (P)
  auto freqs = torch::outer(t, inv);                                            // (P, dim/2)
  auto emb = torch::cat({freqs, freqs}, -1);                                    // (P, dim)
  cos_ = emb.cos().to(opts.dtype().toScalarType()).to(opts.device());
  sin_ = emb.sin().to(opts.dtype().toScalarType()).to(opts.device());
}

torch::Tensor RotaryEmbedding::apply(const torch::Tensor& x, int64_t start, const torch::Tensor& positions) const {
  // x: (B, H, T, D)
  const int64_t T = x.size(2), D = x.size(3);
  torch::Tensor cos, sin;
  if (positions.defined()) {
    TORCH_CHECK(positions.dim() == 2 && positions.size(1) == T, "positions must be (batch, seq)");
    auto flat = positions.reshape({-1});
    TORCH_CHECK(flat.numel() == 0 || flat.max().item<int64_t>() < max_positions(),
                "position beyond max_position_embeddings (", max_positions(), ")");
    cos = cos_.index_select(0, flat).view({positions.size(0), 1, T, D});
    sin = sin_.index_select(0, flat).view({positions.size(0), 1, T, D});
  } else {
    if (start + T > max_positions())
      throw_error("sequence position ", start + T - 1, " exceeds max_position_embeddings (", max_positions(), ")");
    cos = cos_.narrow(0, start, T);  // (T, D) broadcasts over (B, H)
    sin = sin_.narrow(0, start, T);
  }
  auto half = D / 2;
  auto rotated = torch::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);  // rotate_half
  return x * cos + rotated * sin;
}

AttentionImpl::AttentionImpl(const ModelConfig& c, const torch::TensorOptions& opts)
    : heads_(c.num_attention_heads),
      kv_heads_(c.num_key_value_heads),
      head_dim_(c.head_dim),
      scale_(1.0 / std::sqrt(static_cast<double>(c.head_dim))) {
  const std::vector<int64_t> rows{heads_ * head_dim_, kv_heads_ * head_dim_, kv_heads_ * head_dim_};
  qkv_weight_ = FusedRows(rows, {c.hidden_size}, opts);
  if (c.qkv_bias) qkv_bias_ = FusedRows(rows, {}, opts);
  auto bias = [&](std::size_t i) { return c.qkv_bias ? qkv_bias_.block(i) : torch::Tensor(); };
  q_proj = register_module("q_proj", Linear(qkv_weight_.block(0), bias(0)));
  k_proj = register_module("k_proj", Linear(qkv_weight_.block(1), bias(1)));
  v_proj = register_module("v_proj", Linear(qkv_weight_.block(2), bias(2)));
  o_proj = register_module("o_proj", Linear(heads_ * head_dim_, c.hidden_size, c.o_bias, opts));
}

bool AttentionImpl::fused() const {
  return qkv_weight_.intact({&q_proj->weight, &k_proj->weight, &v_proj->weight}) &&
         (!qkv_bias_.defined() || qkv_bias_.intact({&q_proj->bias, &k_proj->bias, &v_proj->bias}));
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& x, int layer, const LayerContext& ctx) {
  const int64_t B = x.size(0), T = x.size(1), G = heads_ / kv_heads_;
  torch::Tensor q, k, v;
  if (!torch::GradMode::is_enabled() && fused()) {  // one product; autograd needs the separate leaves
    const int64_t nq = heads_ * head_dim_, nkv = kv_heads_ * head_dim_;
    auto qkv = project(x, qkv_weight_.tensor(), qkv_bias_.tensor());
    q = qkv.narrow(-1, 0, nq), k = qkv.narrow(-1, nq, nkv), v = qkv.narrow(-1, nq + nkv, nkv);
  } else {
    q = q_proj->forward(x), k = k_proj->forward(x), v = v_proj->forward(x);
  }
  q = q.view({B, T, heads_, head_dim_}).transpose(1, 2);      // (B, H, T, D)
  k = k.view({B, T, kv_heads_, head_dim_}).transpose(1, 2);   // (B, KV, T, D)
  v = v.view({B, T, kv_heads_, head_dim_}).transpose(1, 2);   // (B, KV, T, D)
  q = ctx.rope->apply(q, ctx.start, ctx.positions);
  k = ctx.rope->apply(k, ctx.start, ctx.positions);

  if (ctx.cache) std::tie(k, v) = ctx.cache->append(layer, ctx.start, k, v);  // (B, KV, S, D): all visible keys
  const int64_t S = k.size(2);

  // Grouped-query attention without repeating K/V: query heads of one KV group are stacked
  // along the row axis, (B, KV, G*T, D) x (B, KV, D, S).
  auto qg = q.reshape({B, kv_heads_, G * T, head_dim_});
  auto scores = torch::matmul(qg, k.transpose(-1, -2)) * scale_;                     // (B, KV, G*T, S)
  if (ctx.attn_mask.defined()) {
    scores = (scores.view({B, kv_heads_, G, T, S}).to(torch::kFloat) + ctx.attn_mask).view({B, kv_heads_, G * T, S});
  } else {
    scores = scores.to(torch::kFloat);
  }
  auto probs = torch::softmax(scores, -1).to(x.scalar_type());
  auto out = torch::matmul(probs, v);                                               // (B, KV, G*T, D)
  out = out.view({B, heads_, T, head_dim_}).transpose(1, 2).reshape({B, T, heads_ * head_dim_});
  return o_proj->forward(out);
}

MLPImpl::MLPImpl(const ModelConfig& c, const torch::TensorOptions& opts) {
  gate_up_ = FusedRows({c.intermediate_size, c.intermediate_size}, {c.hidden_size}, opts);
  gate_proj = register_module("gate_proj", Linear(gate_up_.block(0), torch::Tensor()));
  up_proj = register_module("up_proj", Linear(gate_up_.block(1), torch::Tensor()));
  down_proj = register_module("down_proj", Linear(c.intermediate_size, c.hidden_size, false, opts));
}

bool MLPImpl::fused() const { return gate_up_.intact({&gate_proj->weight, &up_proj->weight}); }

torch::Tensor MLPImpl::forward(const torch::Tensor& x) const {
  if (!torch::GradMode::is_enabled() && fused()) {
    const int64_t inner = gate_proj->weight.size(0);
    auto gate_up = project(x, gate_up_.tensor(), torch::Tensor());
    return down_proj->forward(torch::silu(gate_up.narrow(-1, 0, inner)) * gate_up.narrow(-1, inner, inner));
  }
  return down_proj->forward(torch::silu(gate_proj->forward(x)) * up_proj->forward(x));
}

DecoderLayerImpl::DecoderLayerImpl(const ModelConfig& c, int index, const torch::TensorOptions& opts) : index_(index) {
  self_attn = register_module("self_attn", Attention(c, opts));
  mlp = register_module("mlp", MLP(c, opts));
  input_layernorm = register_module("input_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps, opts));
  post_attention_layernorm =
      register_module("post_attention_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps, opts));
}

torch::Tensor DecoderLayerImpl::forward(torch::Tensor h, const LayerContext& ctx, const SkipPlan& plan,
                                        const SubLayerObserver* observer) {
  const bool prefill = h.size(1) > 1;
  if (!plan.skip_attention(index_)) {
    auto out = h + self_attn->forward(input_layernorm->forward(h), index_, ctx);
    if (observer) (*observer)(SubLayerEvent{index_, SubLayerKind::Attention, h, out, prefill});
    h = std::move(out);
  }
  if (!plan.skip_ffn(index_)) {
    auto out = h + mlp->forward(post_attention_layernorm->forward(h));
    if (observer) (*observer)(SubLayerEvent{index_, SubLayerKind::FFN, h, out, prefill});
    h = std::move(out);
  }
  return h;
}

}  // namespace litestage
