#include "litestage/model/decode_kernel.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include <ATen/Parallel.h>

#include "litestage/model/kv_cache.hpp"
#include "litestage/model/skip_plan.hpp"
#include "litestage/model/layers.hpp"
#include "litestage/model/matvec.hpp"

namespace litestage {

namespace {

// out = weight * (x / rms(x)), as RMSNormImpl computes it in f32.
void rms_norm(const float* x, const RMSNormImpl& norm, int64_t n, float* out) {
  const float* w = norm.weight.data_ptr<float>();
  float ss = 0.0f;
  for (int64_t i = 0; i < n; ++i) ss += x[i] * x[i];
  const float inv = 1.0f / std::sqrt(ss / static_cast<float>(n) + static_cast<float>(norm.eps));
  for (int64_t i = 0; i < n; ++i) out[i] = w[i] * (x[i] * inv);
}

// rotate_half RoPE on `heads` vectors of head_dim D at one position's cos/sin rows.
void rope(float* x, int64_t heads, int64_t D, const float* cos, const float* sin) {
  const int64_t half = D / 2;
  for (int64_t h = 0; h < heads; ++h) {
    float* v = x + h * D;
    for (int64_t i = 0; i < half; ++i) {
      const float a = v[i], b = v[i + half];
      v[i] = a * cos[i] - b * sin[i];
      v[i + half] = b * cos[i + half] + a * sin[i + half];
    }
  }
}

// Reused between steps: no allocation per token once the sizes are seen.
struct Scratch {
  std::vector<float> norm, qkv, att, out, scores, gate_up;
};
Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

void attention_step(AttentionImpl& attn, int layer, float* x, int64_t row, int64_t pos, KVCache& cache,
                    const RotaryEmbedding& rope_table, const RMSNormImpl& norm) {
  Scratch& s = scratch();
  const int64_t hidden = attn.o_proj->weight.size(0), D = rope_table.cos().size(1);
  const int64_t H = attn.q_proj->weight.size(0) / D, KV = attn.k_proj->weight.size(0) / D, G = H / KV;
  const int64_t cap = cache.capacity(), S = pos + 1;
  s.norm.resize(hidden), s.qkv.resize((H + 2 * KV) * D), s.att.resize(H * D), s.out.resize(hidden);
  s.scores.resize(S);
  rms_norm(x, norm, hidden, s.norm.data());
  float* kc = cache.keys(layer).data_ptr<float>() + row * KV * cap * D;
  float* vc = cache.values(layer).data_ptr<float>() + row * KV * cap * D;
  matvec(attn.qkv_weight().tensor(), attn.qkv_bias().tensor(), s.norm.data(), s.qkv.data());
  float *qs = s.qkv.data(), *ks = qs + H * D, *vs = ks + KV * D;
  const float* cos = rope_table.cos().data_ptr<float>() + pos * D;
  const float* sin = rope_table.sin().data_ptr<float>() + pos * D;
  rope(qs, H, D, cos, sin);
  rope(ks, KV, D, cos, sin);
  for (int64_t g = 0; g < KV; ++g) {
    std::copy_n(ks + g * D, D, kc + (g * cap + pos) * D);
    std::copy_n(vs + g * D, D, vc + (g * cap + pos) * D);
  }
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(D)));
  for (int64_t h = 0; h < H; ++h) {
    const int64_t g = h / G;
    const float* q = qs + h * D;
    float top = std::numeric_limits<float>::lowest();
    for (int64_t t = 0; t < S; ++t) top = std::max(top, s.scores[t] = dot(q, kc + (g * cap + t) * D, D) * scale);
    float total = 0.0f;
    for (int64_t t = 0; t < S; ++t) total += (s.scores[t] = std::exp(s.scores[t] - top));
    float* o = s.att.data() + h * D;
    std::fill_n(o, D, 0.0f);
    for (int64_t t = 0; t < S; ++t) {
      const float p = s.scores[t] / total;
      const float* v = vc + (g * cap + t) * D;
      for (int64_t i = 0; i < D; ++i) o[i] += p * v[i];
    }
  }
  matvec(attn.o_proj->weight, attn.o_proj->bias, s.att.data(), s.out.data());
  for (int64_t i = 0; i < hidden; ++i) x[i] += s.out[i];
}

void ffn_step(MLPImpl& mlp, float* x, const RMSNormImpl& norm) {
  Scratch& s = scratch();
  const int64_t hidden = mlp.down_proj->weight.size(0), inner = mlp.gate_proj->weight.size(0);
  s.norm.resize(hidden), s.gate_up.resize(2 * inner), s.out.resize(hidden);
  rms_norm(x, norm, hidden, s.norm.data());
  matvec(mlp.gate_up_weight().tensor(), {}, s.norm.data(), s.gate_up.data());
  float *gate = s.gate_up.data(), *up = gate + inner;
  for (int64_t i = 0; i < inner; ++i) gate[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
  matvec(mlp.down_proj->weight, {}, gate, s.out.data());
  for (int64_t i = 0; i < hidden; ++i) x[i] += s.out[i];
}

bool suits(const torch::Tensor& t) {
  return !t.defined() || (t.scalar_type() == torch::kFloat && t.is_contiguous() && t.device().is_cpu());
}

}  // namespace

bool decode_kernel_applies(const DecoderLayerImpl& layer) {
  const auto& a = *layer.self_attn;
  const auto& m = *layer.mlp;
  // The kernel multiplies q/k/v and gate/up as their fused tensors (model/fused_rows.hpp).
  if (!a.fused() || !m.fused()) return false;
  for (const at::Tensor* t : {&a.qkv_weight().tensor(), &a.qkv_bias().tensor(), &m.gate_up_weight().tensor(),
                              &a.o_proj->weight, &a.o_proj->bias, &m.down_proj->weight})
    if (!suits(*t)) return false;  // an undefined bias suits
  return suits(layer.input_layernorm->weight) && suits(layer.post_attention_layernorm->weight);
}

void decode_layer_step(DecoderLayerImpl& layer, int layer_index, torch::Tensor& h, int64_t position,
                       KVCache& cache, const RotaryEmbedding& rope_table, const SkipPlan& plan) {
  const bool skip_attention = plan.skip_attention(layer_index), skip_ffn = plan.skip_ffn(layer_index);
  TORCH_CHECK(h.dim() == 3 && h.size(1) == 1 && h.is_contiguous() && h.scalar_type() == torch::kFloat,
              "decode_layer_step: h must be (batch, 1, hidden) contiguous f32");
  const int64_t B = h.size(0), hidden = h.size(2);
  float* rows = h.data_ptr<float>();
  if (!skip_attention) {
    cache.expect_at(layer_index, position);
    for (int64_t b = 0; b < B; ++b)
      attention_step(*layer.self_attn, layer_index, rows + b * hidden, b, position, cache, rope_table,
                     *layer.input_layernorm);
    cache.mark_layer_written(layer_index, position + 1);
  }
  if (!skip_ffn)
    for (int64_t b = 0; b < B; ++b) ffn_step(*layer.mlp, rows + b * hidden, *layer.post_attention_layernorm);
}

}  // namespace litestage
