#include "litestage/model/prefill_kernel.hpp"

#include <algorithm>

#include <ATen/Parallel.h>
#include <cmath>
#include <limits>
#include <vector>

#include "litestage/model/gemm.hpp"
#include "litestage/model/kernel_rows.hpp"
#include "litestage/model/kv_cache.hpp"
#include "litestage/model/layers.hpp"
#include "litestage/model/skip_plan.hpp"
#include "litestage/model/vector_math.hpp"

namespace litestage {

namespace {

// Buffers reused from one prompt to the next (no allocation, no first-touch page faults once the
// sizes are seen), wrapped as tensors for the out= forms of LibTorch's products.
struct Scratch {
  std::vector<float> norm, qkv, q, scores, out, att, gate_up, act, delta;
};
Scratch& scratch() {
  thread_local Scratch s;
  return s;
}
torch::Tensor wrap(std::vector<float>& buffer, at::IntArrayRef sizes) {
  int64_t n = 1;
  for (int64_t d : sizes) n *= d;
  if (static_cast<int64_t>(buffer.size()) < n) buffer.resize(n);
  return torch::from_blob(buffer.data(), sizes, torch::kFloat);
}

// The N rows of x (N, n) normalised into `out`.
torch::Tensor norm_rows(const float* x, int64_t N, int64_t n, const RMSNormImpl& norm, std::vector<float>& out) {
  auto t = wrap(out, {N, n});
  float* o = t.data_ptr<float>();
  for (int64_t r = 0; r < N; ++r) kernel::rms_norm<float>(x + r * n, norm, n, o + r * n);
  return t;
}

// out = x W^T (+ b), x (N, in) contiguous: one product over all threads (model/gemm).
torch::Tensor project_rows(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b,
                           std::vector<float>& out) {
  auto y = wrap(out, {x.size(0), w.size(0)});
  gemm(x.data_ptr<float>(), x.size(0), w, b, y.data_ptr<float>());
  return y;
}

// x += delta, element by element (delta contiguous, as many elements as x holds).
void add_into(float* x, const torch::Tensor& delta) {
  const float* d = delta.data_ptr<float>();
  for (int64_t i = 0, n = delta.numel(); i < n; ++i) x[i] += d[i];
}

struct Shape {
  int64_t B, T, start, hidden, D, H, KV, G, cap;
  int64_t width() const { return (H + 2 * KV) * D; }
};

// RoPE on the queries and keys in qkv (B*T, width); the scaled queries go to q (B*KV, G*T, D),
// a KV group's heads stacked along the rows as LibTorch's path stacks them; the keys and values
// to their cache slots.
void place_rows(const Shape& s, float* qkv, const RotaryEmbedding& rope_table, float scale, float* q, float* keys,
                float* values) {
  const float* cos = rope_table.cos().data_ptr<float>();
  const float* sin = rope_table.sin().data_ptr<float>();
  for (int64_t b = 0; b < s.B; ++b)
    for (int64_t t = 0; t < s.T; ++t) {
      const int64_t pos = s.start + t;
      float* row = qkv + (b * s.T + t) * s.width();
      kernel::rope(row, s.H + s.KV, s.D, cos + pos * s.D, sin + pos * s.D);  // query heads, then key heads
      for (int64_t h = 0; h < s.H; ++h) {
        float* dst = q + (((b * s.KV + h / s.G) * s.G + h % s.G) * s.T + t) * s.D;
        for (int64_t i = 0; i < s.D; ++i) dst[i] = row[h * s.D + i] * scale;
      }
      for (int64_t g = 0; g < s.KV; ++g) {
        const int64_t slot = ((b * s.KV + g) * s.cap + pos) * s.D;
        std::copy_n(row + (s.H + g) * s.D, s.D, keys + slot);
        std::copy_n(row + (s.H + s.KV + g) * s.D, s.D, values + slot);
      }
    }
}

// One KV group's attention (group r of B*KV): scores = q k^T over the visible slots, a causal
// softmax per query row, out = probs v. q and out are (G*T, D) for the group, keys and values
// (S, D) from its cache rows, scores a (G*T, S) scratch.
void attend_group(const Shape& s, const float* q, const float* keys, const float* values, float* scores,
                  float* out) {
  const int64_t S = s.start + s.T, rows = s.G * s.T;
  gemm_nt(q, rows, s.D, keys, S, nullptr, scores);
  for (int64_t row = 0; row < rows; ++row)
    softmax_prefix(scores + row * S, s.start + row % s.T + 1, S);
  gemm_nn(scores, rows, S, values, s.D, out);
}

// out (B*KV, G*T, D) back to token rows (B*T, H*D).
torch::Tensor token_rows(const Shape& s, const float* out, std::vector<float>& buffer) {
  auto att = wrap(buffer, {s.B * s.T, s.H * s.D});
  float* a = att.data_ptr<float>();
  for (int64_t b = 0; b < s.B; ++b)
    for (int64_t h = 0; h < s.H; ++h)
      for (int64_t t = 0; t < s.T; ++t)
        std::copy_n(out + (((b * s.KV + h / s.G) * s.G + h % s.G) * s.T + t) * s.D, s.D,
                    a + (b * s.T + t) * s.H * s.D + h * s.D);
  return att;
}

void attention_block(AttentionImpl& attn, int layer, float* x, const Shape& s, KVCache& cache,
                     const RotaryEmbedding& rope_table, const RMSNormImpl& norm) {
  Scratch& b = scratch();
  auto qkv = project_rows(norm_rows(x, s.B * s.T, s.hidden, norm, b.norm), attn.qkv_weight().tensor(),
                  attn.qkv_bias().tensor(), b.qkv);
  auto q = wrap(b.q, {s.B * s.KV, s.G * s.T, s.D});
  auto& keys = cache.keys(layer);
  auto& values = cache.values(layer);
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(s.D)));
  place_rows(s, qkv.data_ptr<float>(), rope_table, scale, q.data_ptr<float>(), keys.data_ptr<float>(),
             values.data_ptr<float>());
  const int64_t S = s.start + s.T, groups = s.B * s.KV, rows = s.G * s.T;
  auto scores = wrap(b.scores, {groups, rows, S});
  auto out = wrap(b.out, {groups, rows, s.D});
  const float *qs = q.data_ptr<float>(), *ks = keys.data_ptr<float>(), *vs = values.data_ptr<float>();
  float *sc = scores.data_ptr<float>(), *os = out.data_ptr<float>();
  at::parallel_for(0, groups, 1, [&](int64_t g0, int64_t g1) {
    for (int64_t r = g0; r < g1; ++r)
      attend_group(s, qs + r * rows * s.D, ks + r * s.cap * s.D, vs + r * s.cap * s.D, sc + r * rows * S,
                   os + r * rows * s.D);
  });
  auto att = token_rows(s, out.data_ptr<float>(), b.att);
  add_into(x, project_rows(att, attn.o_proj->weight, attn.o_proj->bias, b.delta));
}

void ffn_block(MLPImpl& mlp, float* x, const Shape& s, const RMSNormImpl& norm) {
  Scratch& b = scratch();
  const int64_t N = s.B * s.T, inner = mlp.gate_proj->weight.size(0);
  auto gate_up = project_rows(norm_rows(x, N, s.hidden, norm, b.norm), mlp.gate_up_weight().tensor(), {}, b.gate_up);
  auto act = wrap(b.act, {N, inner});
  const float* g = gate_up.data_ptr<float>();
  float* a = act.data_ptr<float>();
  for (int64_t r = 0; r < N; ++r) silu_mul(g + r * 2 * inner, g + r * 2 * inner + inner, a + r * inner, inner);
  add_into(x, project_rows(act, mlp.down_proj->weight, {}, b.delta));
}

}  // namespace

bool prefill_kernel_applies(const DecoderLayerImpl& layer) { return kernel::layer_suits(layer, {torch::kFloat}); }

void prefill_layer_step(DecoderLayerImpl& layer, int layer_index, torch::Tensor& h, int64_t start, KVCache& cache,
                        const RotaryEmbedding& rope_table, const SkipPlan& plan) {
  TORCH_CHECK(h.dim() == 3 && h.is_contiguous() && h.scalar_type() == torch::kFloat,
              "prefill_layer_step: h must be (batch, T, hidden) contiguous f32");
  TORCH_CHECK(cache.keys(layer_index).scalar_type() == torch::kFloat && rope_table.cos().scalar_type() == torch::kFloat,
              "prefill_layer_step: the KV cache and rope tables must be f32");
  auto& attn = *layer.self_attn;
  Shape s;
  s.B = h.size(0), s.T = h.size(1), s.start = start, s.hidden = h.size(2), s.D = rope_table.cos().size(1);
  s.H = attn.q_proj->weight.size(0) / s.D, s.KV = attn.k_proj->weight.size(0) / s.D, s.G = s.H / s.KV;
  s.cap = cache.capacity();
  float* x = h.data_ptr<float>();
  if (!plan.skip_attention(layer_index)) {
    cache.expect_at(layer_index, start);
    attention_block(attn, layer_index, x, s, cache, rope_table, *layer.input_layernorm);
    cache.mark_layer_written(layer_index, start + s.T);
  }
  if (!plan.skip_ffn(layer_index)) ffn_block(*layer.mlp, x, s, *layer.post_attention_layernorm);
}

}  // namespace litestage
