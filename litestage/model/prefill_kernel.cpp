#include "litestage/model/prefill_kernel.hpp"

#include <algorithm>

#include <ATen/Parallel.h>
#include <cmath>
#include <vector>

#include "litestage/model/gemm.hpp"
#include "litestage/model/kernel_rows.hpp"
#include "litestage/model/kv_cache.hpp"
#include "litestage/model/layers.hpp"
#include "litestage/model/skip_plan.hpp"
#include "litestage/model/vector_math.hpp"

namespace litestage {

namespace {

// Buffers reused from one prompt to the next: no allocation, and no first-touch page faults once
// the sizes are seen.
struct Scratch {
  std::vector<float> norm, qkv, q, scores, out, att, gate_up, act, delta;
};
Scratch& scratch() {
  thread_local Scratch s;
  return s;
}
// The buffer grown to at least n floats.
float* space(std::vector<float>& buffer, int64_t n) {
  if (static_cast<int64_t>(buffer.size()) < n) buffer.resize(n);
  return buffer.data();
}

// The N rows of x (N, n) normalised into `out`.
const float* norm_rows(const float* x, int64_t N, int64_t n, const RMSNormImpl& norm, std::vector<float>& out) {
  float* o = space(out, N * n);
  for (int64_t r = 0; r < N; ++r) kernel::rms_norm<float>(x + r * n, norm, n, o + r * n);
  return o;
}

// out = x W^T (+ b) for the N rows of x: one product over all threads (model/gemm).
float* project_rows(const float* x, int64_t N, const torch::Tensor& w, const torch::Tensor& b,
                    std::vector<float>& out) {
  float* y = space(out, N * w.size(0));
  gemm(x, N, w, b, y);
  return y;
}

// x += delta, n elements.
void add_into(float* x, const float* delta, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] += delta[i];
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
const float* token_rows(const Shape& s, const float* out, std::vector<float>& buffer) {
  float* a = space(buffer, s.B * s.T * s.H * s.D);
  for (int64_t b = 0; b < s.B; ++b)
    for (int64_t h = 0; h < s.H; ++h)
      for (int64_t t = 0; t < s.T; ++t)
        std::copy_n(out + (((b * s.KV + h / s.G) * s.G + h % s.G) * s.T + t) * s.D, s.D,
                    a + (b * s.T + t) * s.H * s.D + h * s.D);
  return a;
}

void attention_block(AttentionImpl& attn, int layer, float* x, const Shape& s, KVCache& cache,
                     const RotaryEmbedding& rope_table, const RMSNormImpl& norm) {
  Scratch& b = scratch();
  const int64_t N = s.B * s.T, S = s.start + s.T, groups = s.B * s.KV, rows = s.G * s.T;
  float* qkv = project_rows(norm_rows(x, N, s.hidden, norm, b.norm), N, attn.qkv_weight().tensor(),
                            attn.qkv_bias().tensor(), b.qkv);
  float* q = space(b.q, groups * rows * s.D);
  float* keys = cache.keys(layer).data_ptr<float>();
  float* values = cache.values(layer).data_ptr<float>();
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(s.D)));
  place_rows(s, qkv, rope_table, scale, q, keys, values);
  float* scores = space(b.scores, groups * rows * S);
  float* out = space(b.out, groups * rows * s.D);
  at::parallel_for(0, groups, 1, [&](int64_t g0, int64_t g1) {
    for (int64_t r = g0; r < g1; ++r)
      attend_group(s, q + r * rows * s.D, keys + r * s.cap * s.D, values + r * s.cap * s.D, scores + r * rows * S,
                   out + r * rows * s.D);
  });
  const float* att = token_rows(s, out, b.att);
  add_into(x, project_rows(att, N, attn.o_proj->weight, attn.o_proj->bias, b.delta), N * s.hidden);
}

void ffn_block(MLPImpl& mlp, float* x, const Shape& s, const RMSNormImpl& norm) {
  Scratch& b = scratch();
  const int64_t N = s.B * s.T, inner = mlp.gate_proj->weight.size(0);
  const float* g = project_rows(norm_rows(x, N, s.hidden, norm, b.norm), N, mlp.gate_up_weight().tensor(), {}, b.gate_up);
  float* a = space(b.act, N * inner);
  for (int64_t r = 0; r < N; ++r) silu_mul(g + r * 2 * inner, g + r * 2 * inner + inner, a + r * inner, inner);
  add_into(x, project_rows(a, N, mlp.down_proj->weight, {}, b.delta), N * s.hidden);
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
