#include "litestage/model/decode_kernel.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <vector>

#include "litestage/model/kernel_rows.hpp"
#include "litestage/model/kv_cache.hpp"
#include "litestage/model/skip_plan.hpp"
#include "litestage/model/layers.hpp"
#include "litestage/kernels/matvec.hpp"
#include "litestage/kernels/parallel.hpp"
#include "litestage/kernels/vector_math.hpp"

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

// Below this many multiply-adds (q K^T and p V over every head of the batch), attention runs on
// the calling thread; above it, the heads are shared out over the intra-op threads
// (kernels/parallel.hpp). A TinyLlama-1.1B layer at 144 slots holds about 590k.
constexpr int64_t kParallelAttention = int64_t{1} << 17;

// Where the new rows sit: B sequences of `steps` new tokens each, row b * steps + j at position
// start + j (its cache slot). A decode step is steps = 1; a short forward (a speculative verify,
// an option's tail) several.
struct Rows {
  int64_t B, steps, start;
  int64_t count() const { return B * steps; }
  int64_t sequence(int64_t r) const { return r / steps; }
  int64_t position(int64_t r) const { return start + r % steps; }
};

// Every head of every row: qkv (rows, (H + 2 KV) D) after RoPE, the rows' keys and values already
// in the cache; out (rows, H D). A row attends to the slots up to its own position, so each row's
// result is exactly that of a one-token step at its position.
template <typename T>
void attend_heads(const float* qkv, const T* keys, const T* values, const Rows& rows, int64_t H, int64_t KV,
                  int64_t D, int64_t cap, float* out) {
  const int64_t G = H / KV, width = (H + 2 * KV) * D, N = rows.count(), most = rows.start + rows.steps;
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(D)));
  auto heads = [&](int64_t begin, int64_t end) {
    std::vector<float>& scores = scratch().scores;  // this thread's
    scores.resize(most);
    for (int64_t rh = begin; rh < end; ++rh) {
      const int64_t r = rh / H, h = rh % H, g = h / G;
      const int64_t group = (rows.sequence(r) * KV + g) * cap * D;
      attend_query(qkv + r * width + h * D, keys + group, values + group, rows.position(r) + 1, D, scale,
                   scores.data(), out + rh * D);
    }
  };
  if (N * H * most * D * 2 < kParallelAttention) return heads(0, N * H);
  parallel_chunks(N * H, chunk_grain(N * H, most * D * 2, kParallelAttention / 4), heads);
}

// Attention for the rows of x (rows.count(), hidden): the projections run once for all of them
// (each weight read once), RoPE and cache writes per row, then every head of every row.
template <typename T>
void attention_step(AttentionImpl& attn, int layer, float* x, const Rows& rows, KVCache& cache,
                    const RotaryEmbedding& rope_table, const RMSNormImpl& norm) {
  Scratch& s = scratch();
  const int64_t hidden = attn.o_proj->weight.size(0), D = rope_table.cos().size(1), N = rows.count();
  const int64_t H = attn.q_proj->weight.size(0) / D, KV = attn.k_proj->weight.size(0) / D;
  const int64_t cap = cache.capacity(), width = (H + 2 * KV) * D;
  s.norm.resize(N * hidden), s.qkv.resize(N * width), s.att.resize(N * H * D), s.out.resize(N * hidden);
  for (int64_t r = 0; r < N; ++r) rms_norm<T>(x + r * hidden, norm, hidden, s.norm.data() + r * hidden);
  matvec(attn.qkv_weight().tensor(), attn.qkv_bias().tensor(), s.norm.data(), s.qkv.data(), N);
  T* keys = data<T>(cache.keys(layer));
  T* values = data<T>(cache.values(layer));
  for (int64_t r = 0; r < N; ++r) {
    const int64_t pos = rows.position(r);
    T* kc = keys + rows.sequence(r) * KV * cap * D;
    T* vc = values + rows.sequence(r) * KV * cap * D;
    float *qs = s.qkv.data() + r * width, *ks = qs + H * D, *vs = ks + KV * D;
    const T* cos = data<T>(rope_table.cos()) + pos * D;
    const T* sin = data<T>(rope_table.sin()) + pos * D;
    rope(qs, H, D, cos, sin);
    rope(ks, KV, D, cos, sin);
    for (int64_t g = 0; g < KV; ++g) {
      std::copy_n(ks + g * D, D, kc + (g * cap + pos) * D);  // rounds to T
      std::copy_n(vs + g * D, D, vc + (g * cap + pos) * D);
    }
  }
  attend_heads<T>(s.qkv.data(), keys, values, rows, H, KV, D, cap, s.att.data());
  matvec(attn.o_proj->weight, attn.o_proj->bias, s.att.data(), s.out.data(), N);
  for (int64_t i = 0; i < N * hidden; ++i) x[i] += s.out[i];
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
    const float* gate = s.gate_up.data() + b * 2 * inner;
    silu_mul(gate, gate + inner, s.act.data() + b * inner, inner);
  }
  matvec(mlp.down_proj->weight, {}, s.act.data(), s.out.data(), B);
  for (int64_t i = 0; i < B * hidden; ++i) x[i] += s.out[i];
}

// x: (rows.count(), hidden) f32, updated in place.
template <typename T>
void layer_step(DecoderLayerImpl& layer, int layer_index, float* x, const Rows& rows, KVCache& cache,
                const RotaryEmbedding& rope_table, const SkipPlan& plan) {
  if (!plan.skip_attention(layer_index)) {
    cache.expect_at(layer_index, rows.start);
    attention_step<T>(*layer.self_attn, layer_index, x, rows, cache, rope_table, *layer.input_layernorm);
    cache.mark_layer_written(layer_index, rows.start + rows.steps);
  }
  if (!plan.skip_ffn(layer_index)) ffn_step<T>(*layer.mlp, x, rows.count(), *layer.post_attention_layernorm);
}

}  // namespace

namespace {
std::atomic<ShortForwardKernel>& short_kernel_setting() {
  static std::atomic<ShortForwardKernel> kernel{ShortForwardKernel::Auto};
  return kernel;
}
}  // namespace

void set_short_forward_kernel(ShortForwardKernel kernel) { short_kernel_setting() = kernel; }
ShortForwardKernel short_forward_kernel() { return short_kernel_setting().load(); }

bool decode_kernel_applies(const DecoderLayerImpl& layer) {
  return kernel::layer_suits(layer, {torch::kFloat, torch::kBFloat16});
}

void decode_layer_step(DecoderLayerImpl& layer, int layer_index, torch::Tensor& h, int64_t position,
                       KVCache& cache, const RotaryEmbedding& rope_table, const SkipPlan& plan) {
  const auto dtype = layer.self_attn->qkv_weight().tensor().scalar_type();
  TORCH_CHECK(h.dim() == 3 && h.size(1) >= 1 && h.size(1) <= kShortForwardRows && h.is_contiguous() &&
                  h.scalar_type() == dtype,
              "decode_layer_step: h must be (batch, 1 to ", kShortForwardRows,
              " new tokens, hidden) contiguous, in the weights' dtype");
  TORCH_CHECK(cache.keys(layer_index).scalar_type() == dtype && rope_table.cos().scalar_type() == dtype,
              "decode_layer_step: the KV cache and rope tables must hold the weights' dtype");
  const Rows rows{h.size(0), h.size(1), position};
  if (dtype == torch::kFloat)
    return layer_step<float>(layer, layer_index, h.data_ptr<float>(), rows, cache, rope_table, plan);
  // bf16: the residual stream is rounded at the layer's end, as LibTorch's bf16 ops leave it.
  auto x = h.to(torch::kFloat);
  layer_step<BFloat16>(layer, layer_index, x.data_ptr<float>(), rows, cache, rope_table, plan);
  h.copy_(x);
}

}  // namespace litestage
