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
  std::vector<float> norm, qkv, q, scores, att, act;
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

struct Shape {
  int64_t B, T, start, hidden, D, H, KV, G, cap;
  int64_t width() const { return (H + 2 * KV) * D; }
};

// KV group r of B*KV: RoPE on its query heads and key head in qkv (B*T, width); the scaled queries
// to q (G*T, D), head after head, and the keys and values to their cache slots.
void place_group(const Shape& s, int64_t r, float* qkv, const RotaryEmbedding& rope_table, float scale, float* q,
                 float* keys, float* values) {
  const float* cos = rope_table.cos().data_ptr<float>();
  const float* sin = rope_table.sin().data_ptr<float>();
  const int64_t b = r / s.KV, g = r % s.KV;
  for (int64_t t = 0; t < s.T; ++t) {
    const int64_t pos = s.start + t;
    float* row = qkv + (b * s.T + t) * s.width();
    kernel::rope(row + g * s.G * s.D, s.G, s.D, cos + pos * s.D, sin + pos * s.D);
    kernel::rope(row + (s.H + g) * s.D, 1, s.D, cos + pos * s.D, sin + pos * s.D);
    for (int64_t i = 0; i < s.G; ++i) {
      const float* src = row + (g * s.G + i) * s.D;
      float* dst = q + (i * s.T + t) * s.D;
      for (int64_t d = 0; d < s.D; ++d) dst[d] = src[d] * scale;
    }
    const int64_t slot = (r * s.cap + pos) * s.D;
    std::copy_n(row + (s.H + g) * s.D, s.D, keys + slot);
    std::copy_n(row + (s.H + s.KV + g) * s.D, s.D, values + slot);
  }
}

// KV group r's heads, one at a time: scores = q k^T over the slots each query sees (a causal band
// from `start`), a softmax per query row, then probs v straight into the head's columns of the
// token rows att (B*T, H*D). keys and values are the group's (cap, D) cache rows.
void attend_group(const Shape& s, int64_t r, const float* q, const float* keys, const float* values, float* att) {
  const int64_t S = s.start + s.T, b = r / s.KV, g = r % s.KV;
  float* scores = space(scratch().scores, s.T * S);  // this thread's
  for (int64_t i = 0; i < s.G; ++i) {
    gemm_nt(q + i * s.T * s.D, s.T, s.D, keys, S, nullptr, scores, s.start);
    for (int64_t t = 0; t < s.T; ++t) softmax_prefix(scores + t * S, s.start + t + 1, S);
    gemm_nn(scores, s.T, S, values, s.D, att + b * s.T * s.H * s.D + (g * s.G + i) * s.D, s.H * s.D, s.start);
  }
}

void attention_block(AttentionImpl& attn, int layer, float* x, const Shape& s, KVCache& cache,
                     const RotaryEmbedding& rope_table, const RMSNormImpl& norm) {
  Scratch& b = scratch();
  const int64_t N = s.B * s.T, groups = s.B * s.KV, rows = s.G * s.T;
  float* qkv = space(b.qkv, N * s.width());
  gemm(norm_rows(x, N, s.hidden, norm, b.norm), N, attn.qkv_weight().tensor(), attn.qkv_bias().tensor(), qkv);
  float* q = space(b.q, groups * rows * s.D);
  float* att = space(b.att, N * s.H * s.D);
  float* keys = cache.keys(layer).data_ptr<float>();
  float* values = cache.values(layer).data_ptr<float>();
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(s.D)));
  at::parallel_for(0, groups, 1, [&](int64_t g0, int64_t g1) {
    for (int64_t r = g0; r < g1; ++r) {
      place_group(s, r, qkv, rope_table, scale, q + r * rows * s.D, keys, values);
      attend_group(s, r, q + r * rows * s.D, keys + r * s.cap * s.D, values + r * s.cap * s.D, att);
    }
  });
  gemm(att, N, attn.o_proj->weight, attn.o_proj->bias, x, GemmStore::Add);
}

void ffn_block(MLPImpl& mlp, float* x, const Shape& s, const RMSNormImpl& norm) {
  Scratch& b = scratch();
  const int64_t N = s.B * s.T;
  float* act = space(b.act, N * mlp.gate_proj->weight.size(0));
  gemm(norm_rows(x, N, s.hidden, norm, b.norm), N, mlp.gate_up_weight().tensor(), {}, act, GemmStore::SwiGLU);
  gemm(act, N, mlp.down_proj->weight, {}, x, GemmStore::Add);
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
