#include "litestage/model/decode_kernel.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "litestage/model/kernel_rows.hpp"
#include "litestage/model/kv_cache.hpp"
#include "litestage/model/skip_plan.hpp"
#include "litestage/model/layers.hpp"
#include "litestage/model/matvec.hpp"
#include "litestage/model/parallel.hpp"
#include "litestage/model/vector_math.hpp"

namespace litestage {

namespace {

using c10::BFloat16;
using kernel::rms_norm;
using kernel::rope;

// The kernel's weights, rope tables and KV cache hold T (float or BFloat16); activations and
// sums are f32, and a bf16 value is rounded once, where it is stored into the cache.
template <typename T>
T* data(const torch::Tensor& t) {
  return t.data_ptr<T>();
}

// Reused between steps: no allocation per token once the sizes are seen.
struct Scratch {
  std::vector<float> norm, qkv, att, out, scores, gate_up, act;
};
Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

// One head's attention output o = softmax(q K^T * scale) V over slots 0..S of its KV group;
// `scores` holds S floats.
template <typename T>
void attend(const float* q, const T* keys, const T* values, int64_t S, int64_t D, float scale, float* scores,
            float* o) {
  for (int64_t t = 0; t < S; ++t) scores[t] = dot(q, keys + t * D, D) * scale;
  softmax_prefix(scores, S, S);
  std::fill_n(o, D, 0.0f);
  for (int64_t t = 0; t < S; ++t) {
    const float p = scores[t];
    const T* v = values + t * D;
    for (int64_t i = 0; i < D; ++i) o[i] += p * static_cast<float>(v[i]);
  }
}

// Below this many multiply-adds (q K^T and p V over every head of the batch), attention runs on
// the calling thread; above it, the heads are shared out over the intra-op threads
// (model/parallel.hpp). A TinyLlama-1.1B layer at 144 slots holds about 590k.
constexpr int64_t kParallelAttention = int64_t{1} << 17;

// Every head of the B rows: qkv (B, (H + 2 KV) D) after RoPE, the step's keys and values already
// in the cache; out (B, H D).
template <typename T>
void attend_heads(const float* qkv, const T* keys, const T* values, int64_t B, int64_t H, int64_t KV, int64_t D,
                  int64_t cap, int64_t S, float* out) {
  const int64_t G = H / KV, width = (H + 2 * KV) * D;
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(D)));
  auto heads = [&](int64_t begin, int64_t end) {
    std::vector<float>& scores = scratch().scores;  // this thread's
    scores.resize(S);
    for (int64_t bh = begin; bh < end; ++bh) {
      const int64_t b = bh / H, h = bh % H, g = h / G;
      const int64_t group = (b * KV + g) * cap * D;
      attend(qkv + b * width + h * D, keys + group, values + group, S, D, scale, scores.data(), out + bh * D);
    }
  };
  if (B * H * S * D * 2 < kParallelAttention) return heads(0, B * H);
  parallel_chunks(B * H, chunk_grain(B * H, S * D * 2, kParallelAttention / 4), heads);
}

// Attention for the B rows of x (B, hidden), each one new token at `pos`: the projections run
// once for the whole batch (each weight read once), RoPE and cache writes per row, then every
// head of every row (attend_heads).
template <typename T>
void attention_step(AttentionImpl& attn, int layer, float* x, int64_t B, int64_t pos, KVCache& cache,
                    const RotaryEmbedding& rope_table, const RMSNormImpl& norm) {
  Scratch& s = scratch();
  const int64_t hidden = attn.o_proj->weight.size(0), D = rope_table.cos().size(1);
  const int64_t H = attn.q_proj->weight.size(0) / D, KV = attn.k_proj->weight.size(0) / D;
  const int64_t cap = cache.capacity(), S = pos + 1, width = (H + 2 * KV) * D;
  s.norm.resize(B * hidden), s.qkv.resize(B * width), s.att.resize(B * H * D), s.out.resize(B * hidden);
  for (int64_t b = 0; b < B; ++b) rms_norm<T>(x + b * hidden, norm, hidden, s.norm.data() + b * hidden);
  matvec(attn.qkv_weight().tensor(), attn.qkv_bias().tensor(), s.norm.data(), s.qkv.data(), B);
  const T* cos = data<T>(rope_table.cos()) + pos * D;
  const T* sin = data<T>(rope_table.sin()) + pos * D;
  T* keys = data<T>(cache.keys(layer));
  T* values = data<T>(cache.values(layer));
  for (int64_t b = 0; b < B; ++b) {
    T* kc = keys + b * KV * cap * D;
    T* vc = values + b * KV * cap * D;
    float *qs = s.qkv.data() + b * width, *ks = qs + H * D, *vs = ks + KV * D;
    rope(qs, H, D, cos, sin);
    rope(ks, KV, D, cos, sin);
    for (int64_t g = 0; g < KV; ++g) {
      std::copy_n(ks + g * D, D, kc + (g * cap + pos) * D);  // rounds to T
      std::copy_n(vs + g * D, D, vc + (g * cap + pos) * D);
    }
  }
  attend_heads<T>(s.qkv.data(), keys, values, B, H, KV, D, cap, S, s.att.data());
  matvec(attn.o_proj->weight, attn.o_proj->bias, s.att.data(), s.out.data(), B);
  for (int64_t i = 0; i < B * hidden; ++i) x[i] += s.out[i];
}

// The SwiGLU feed-forward for the B rows of x (B, hidden), its products batched as above.
template <typename T>
void ffn_step(MLPImpl& mlp, float* x, int64_t B, const RMSNormImpl& norm) {
  Scratch& s = scratch();
  const int64_t hidden = mlp.down_proj->weight.size(0), inner = mlp.gate_proj->weight.size(0);
  s.norm.resize(B * hidden), s.gate_up.resize(B * 2 * inner), s.act.resize(B * inner), s.out.resize(B * hidden);
  for (int64_t b = 0; b < B; ++b) rms_norm<T>(x + b * hidden, norm, hidden, s.norm.data() + b * hidden);
  matvec(mlp.gate_up_weight().tensor(), {}, s.norm.data(), s.gate_up.data(), B);
  for (int64_t b = 0; b < B; ++b) {
    const float *gate = s.gate_up.data() + b * 2 * inner, *up = gate + inner;
    float* act = s.act.data() + b * inner;
    for (int64_t i = 0; i < inner; ++i) act[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
  }
  matvec(mlp.down_proj->weight, {}, s.act.data(), s.out.data(), B);
  for (int64_t i = 0; i < B * hidden; ++i) x[i] += s.out[i];
}

// rows: (B, 1, hidden) f32, updated in place.
template <typename T>
void layer_step(DecoderLayerImpl& layer, int layer_index, float* rows, int64_t B, int64_t position,
                KVCache& cache, const RotaryEmbedding& rope_table, const SkipPlan& plan) {
  if (!plan.skip_attention(layer_index)) {
    cache.expect_at(layer_index, position);
    attention_step<T>(*layer.self_attn, layer_index, rows, B, position, cache, rope_table, *layer.input_layernorm);
    cache.mark_layer_written(layer_index, position + 1);
  }
  if (!plan.skip_ffn(layer_index)) ffn_step<T>(*layer.mlp, rows, B, *layer.post_attention_layernorm);
}

}  // namespace

bool decode_kernel_applies(const DecoderLayerImpl& layer) {
  return kernel::layer_suits(layer, {torch::kFloat, torch::kBFloat16});
}

void decode_layer_step(DecoderLayerImpl& layer, int layer_index, torch::Tensor& h, int64_t position,
                       KVCache& cache, const RotaryEmbedding& rope_table, const SkipPlan& plan) {
  const auto dtype = layer.self_attn->qkv_weight().tensor().scalar_type();
  TORCH_CHECK(h.dim() == 3 && h.size(1) == 1 && h.is_contiguous() && h.scalar_type() == dtype,
              "decode_layer_step: h must be (batch, 1, hidden) contiguous, in the weights' dtype");
  TORCH_CHECK(cache.keys(layer_index).scalar_type() == dtype && rope_table.cos().scalar_type() == dtype,
              "decode_layer_step: the KV cache and rope tables must hold the weights' dtype");
  const int64_t B = h.size(0);
  if (dtype == torch::kFloat)
    return layer_step<float>(layer, layer_index, h.data_ptr<float>(), B, position, cache, rope_table, plan);
  // bf16: the residual stream is rounded at the layer's end, as LibTorch's bf16 ops leave it.
  auto rows = h.to(torch::kFloat);
  layer_step<BFloat16>(layer, layer_index, rows.data_ptr<float>(), B, position, cache, rope_table, plan);
  h.copy_(rows);
}

}  // namespace litestage
