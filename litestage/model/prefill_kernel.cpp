#include "litestage/model/prefill_kernel.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <vector>

#include <ATen/Parallel.h>

#include "litestage/model/gemm.hpp"
#include "litestage/model/kernel_rows.hpp"
#include "litestage/model/kv_cache.hpp"
#include "litestage/model/layers.hpp"
#include "litestage/model/parallel.hpp"
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
  int64_t rows() const { return B * T; }
};

// How a layer's work splits over the threads. A small layer (weights of 8 MB or less, as in the
// demo model) keeps its weights packed (PackedPanels), and a prompt of at least two chunks of rows
// splits by rows: chunks taken by the threads in turn go from norm through every product of a
// pass without waiting for other rows, and the norms and RoPE run in parallel. On a small model,
// moving activations between cores and waiting at each product's end cost more than the products.
// Otherwise (a large layer, or a short prompt) each product splits its weight panels over the
// threads (model/gemm) and the row work runs on the calling thread.
constexpr int64_t kSmallLayerBytes = int64_t{8} << 20;
constexpr int64_t kRowGrain = 4 * kGemmTileRows;  // rows per chunk at least

struct Split {
  bool rows;  // by rows, else by weight panels
  bool keep;  // the products use the layer's kept panels
};

std::atomic<PrefillSplit>& split_setting() {
  static std::atomic<PrefillSplit> split{PrefillSplit::Auto};
  return split;
}

Split split_for(const DecoderLayerImpl& layer, int64_t rows) {
  const PrefillSplit forced = split_setting().load();
  if (forced != PrefillSplit::Auto) return {forced == PrefillSplit::Rows, forced == PrefillSplit::Rows};
  const auto& a = *layer.self_attn;
  const auto& m = *layer.mlp;
  const int64_t elements = a.qkv_weight().tensor().numel() + a.o_proj->weight.numel() +
                           m.gate_up_weight().tensor().numel() + m.down_proj->weight.numel();
  const bool small = elements * static_cast<int64_t>(sizeof(float)) <= kSmallLayerBytes;
  return {small && rows >= 2 * kRowGrain, small};
}

// The rows the busiest of `threads` threads gets when chunks of `grain` rows go to them in turn.
int64_t busiest_rows(int64_t rows, int64_t threads, int64_t grain) {
  const int64_t chunks = (rows + grain - 1) / grain;
  int64_t busiest = 0;
  for (int64_t t = 0; t < std::min(threads, chunks); ++t) {
    int64_t load = 0;
    for (int64_t c = t; c < chunks; c += threads) load += std::min(grain, rows - c * grain);
    busiest = std::max(busiest, load);
  }
  return busiest;
}

// fn(r0, r1) over the prompt's rows: in chunks the threads take in turn (model/parallel.hpp), or
// all on this thread.
template <class Fn>
void over_rows(int64_t rows, const Split& split, const Fn& fn) {
  if (split.rows) return parallel_chunks(rows, prefill_row_grain(rows, at::get_num_threads()), fn);
  fn(0, rows);
}

PackedPanels* kept(PackedPanels& panels, const Split& split) { return split.keep ? &panels : nullptr; }

// Rows [r0, r1) (token rows of the batch): norm, q/k/v, RoPE; the scaled queries to q
// (B*KV, G*T, D), a KV group's heads stacked as LibTorch's path stacks them; the keys and values
// to their cache slots.
void qkv_rows(AttentionImpl& attn, const float* x, int64_t r0, int64_t r1, const Shape& s, const Split& split,
              const RotaryEmbedding& rope_table, const RMSNormImpl& norm, float* q, float* keys, float* values) {
  Scratch& b = scratch();
  const int64_t n = r1 - r0;
  float* qkv = space(b.qkv, n * s.width());
  gemm(norm_rows(x + r0 * s.hidden, n, s.hidden, norm, b.norm), n, attn.qkv_weight().tensor(),
       attn.qkv_bias().tensor(), qkv, GemmStore::Set, kept(attn.qkv_panels(), split));
  const float* cos = rope_table.cos().data_ptr<float>();
  const float* sin = rope_table.sin().data_ptr<float>();
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(s.D)));
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t bt = r / s.T, t = r % s.T, pos = s.start + t;
    float* row = qkv + (r - r0) * s.width();
    kernel::rope(row, s.H + s.KV, s.D, cos + pos * s.D, sin + pos * s.D);  // query heads, then key heads
    for (int64_t h = 0; h < s.H; ++h) {
      float* dst = q + (((bt * s.KV + h / s.G) * s.G + h % s.G) * s.T + t) * s.D;
      for (int64_t i = 0; i < s.D; ++i) dst[i] = row[h * s.D + i] * scale;
    }
    for (int64_t g = 0; g < s.KV; ++g) {
      const int64_t slot = ((bt * s.KV + g) * s.cap + pos) * s.D;
      std::copy_n(row + (s.H + g) * s.D, s.D, keys + slot);
      std::copy_n(row + (s.H + s.KV + g) * s.D, s.D, values + slot);
    }
  }
}

// KV group r of B*KV, head by head: scores = q k^T over the slots each query sees (a causal band
// from `start`), a softmax per query row, then probs v straight into the head's columns of the
// token rows att (B*T, H*D). q is the group's (G*T, D) queries, keys and values its (cap, D) cache
// rows.
void attend_group(const Shape& s, int64_t r, const float* q, const float* keys, const float* values, float* att) {
  const int64_t S = s.start + s.T, bt = r / s.KV, g = r % s.KV;
  float* scores = space(scratch().scores, s.T * S);  // this thread's
  for (int64_t i = 0; i < s.G; ++i) {
    gemm_nt(q + i * s.T * s.D, s.T, s.D, keys, S, nullptr, scores, s.start);
    for (int64_t t = 0; t < s.T; ++t) softmax_prefix(scores + t * S, s.start + t + 1, S);
    gemm_nn(scores, s.T, S, values, s.D, att + bt * s.T * s.H * s.D + (g * s.G + i) * s.D, s.H * s.D, s.start);
  }
}

// Rows [r0, r1): x += ffn(norm(x)), the SwiGLU applied as gate/up's tiles are stored.
void ffn_rows(MLPImpl& mlp, float* x, int64_t r0, int64_t r1, const Shape& s, const Split& split,
              const RMSNormImpl& norm) {
  Scratch& b = scratch();
  const int64_t n = r1 - r0;
  float* act = space(b.act, n * mlp.gate_proj->weight.size(0));
  gemm(norm_rows(x + r0 * s.hidden, n, s.hidden, norm, b.norm), n, mlp.gate_up_weight().tensor(), {}, act,
       GemmStore::SwiGLU, kept(mlp.gate_up_panels(), split));
  gemm(act, n, mlp.down_proj->weight, {}, x + r0 * s.hidden, GemmStore::Add, kept(mlp.down_panels(), split));
}

Shape shape_of(const DecoderLayerImpl& layer, const torch::Tensor& h, int64_t start, const KVCache& cache,
               const RotaryEmbedding& rope_table) {
  const auto& attn = *layer.self_attn;
  Shape s;
  s.B = h.size(0), s.T = h.size(1), s.start = start, s.hidden = h.size(2), s.D = rope_table.cos().size(1);
  s.H = attn.q_proj->weight.size(0) / s.D, s.KV = attn.k_proj->weight.size(0) / s.D, s.G = s.H / s.KV;
  s.cap = cache.capacity();
  return s;
}

}  // namespace

void set_prefill_split(PrefillSplit split) { split_setting() = split; }

// A short last chunk idles the other threads at a pass's end: 128 rows in chunks of 24 leave one of
// 2 threads 72 rows and the other 56, in chunks of 66 they get 66 and 62 (the demo model's prompts
// ran 8 % faster, 6 alternating runs); 300 rows go in chunks of 30 (150 each) rather than 24 (156).
int64_t prefill_row_grain(int64_t rows, int threads) {
  const int64_t t = std::max(threads, 1);
  const int64_t even = (rows + t - 1) / t;  // rows per thread, rounded up to whole tiles below
  const int64_t last = std::max(kRowGrain, (even + kGemmTileRows - 1) / kGemmTileRows * kGemmTileRows);
  int64_t best = kRowGrain, best_load = busiest_rows(rows, t, kRowGrain);
  for (int64_t grain = kRowGrain + kGemmTileRows; grain <= last; grain += kGemmTileRows)
    if (const int64_t load = busiest_rows(rows, t, grain); load < best_load) best = grain, best_load = load;
  return best;
}

bool prefill_kernel_applies(const DecoderLayerImpl& layer) { return kernel::layer_suits(layer, {torch::kFloat}); }

// Three passes at most: rows through q/k/v; KV groups through attention; rows through o_proj and
// the FFN. Each ends where the next needs other rows' results.
void prefill_layer_step(DecoderLayerImpl& layer, int layer_index, torch::Tensor& h, int64_t start, KVCache& cache,
                        const RotaryEmbedding& rope_table, const SkipPlan& plan) {
  TORCH_CHECK(h.dim() == 3 && h.is_contiguous() && h.scalar_type() == torch::kFloat,
              "prefill_layer_step: h must be (batch, T, hidden) contiguous f32");
  TORCH_CHECK(cache.keys(layer_index).scalar_type() == torch::kFloat && rope_table.cos().scalar_type() == torch::kFloat,
              "prefill_layer_step: the KV cache and rope tables must be f32");
  auto& attn = *layer.self_attn;
  const Shape s = shape_of(layer, h, start, cache, rope_table);
  const Split split = split_for(layer, s.rows());
  const bool attention = !plan.skip_attention(layer_index);
  const bool ffn = !plan.skip_ffn(layer_index);
  float* x = h.data_ptr<float>();
  Scratch& b = scratch();
  float* att = attention ? space(b.att, s.rows() * s.H * s.D) : nullptr;
  if (attention) {
    cache.expect_at(layer_index, start);
    float* q = space(b.q, s.rows() * s.H * s.D);
    float* keys = cache.keys(layer_index).data_ptr<float>();
    float* values = cache.values(layer_index).data_ptr<float>();
    over_rows(s.rows(), split, [&](int64_t r0, int64_t r1) {
      qkv_rows(attn, x, r0, r1, s, split, rope_table, *layer.input_layernorm, q, keys, values);
    });
    parallel_chunks(s.B * s.KV, 1, [&](int64_t g0, int64_t g1) {  // KV groups taken in turn
      for (int64_t r = g0; r < g1; ++r)
        attend_group(s, r, q + r * s.G * s.T * s.D, keys + r * s.cap * s.D, values + r * s.cap * s.D, att);
    });
    cache.mark_layer_written(layer_index, start + s.T);
  }
  if (attention || ffn)
    over_rows(s.rows(), split, [&](int64_t r0, int64_t r1) {
      if (attention)
        gemm(att + r0 * s.H * s.D, r1 - r0, attn.o_proj->weight, attn.o_proj->bias, x + r0 * s.hidden, GemmStore::Add,
             kept(attn.o_panels(), split));
      if (ffn) ffn_rows(*layer.mlp, x, r0, r1, s, split, *layer.post_attention_layernorm);
    });
}

}  // namespace litestage
