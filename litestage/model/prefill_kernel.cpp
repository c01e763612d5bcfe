#include "litestage/model/prefill_kernel.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <thread>
#include <vector>

#include <ATen/Parallel.h>

#include "litestage/kernels/gemm.hpp"
#include "litestage/model/kernel_rows.hpp"
#include "litestage/model/kv_cache.hpp"
#include "litestage/model/layers.hpp"
#include "litestage/kernels/parallel.hpp"
#include "litestage/model/skip_plan.hpp"
#include "litestage/kernels/vector_math.hpp"

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

// How a prompt's work splits over the threads. A small layer (weights of 8 MB or less, as in the
// demo model) keeps its weights packed (PackedPanels), and a prompt of at least two chunks of rows
// splits by rows: one chunk per thread goes through every layer without waiting for the others,
// except that before its attention it waits for the earlier rows' keys and values of that layer
// (prefill_row_bounds sizes the chunks so that the threads' work is even, the later rows' longer
// attention included). On a small model, moving activations between cores and waiting at each
// product's end cost more than the products. Otherwise (a large layer, or a short prompt) each
// product splits its weight panels over the threads (kernels/gemm), the attention its heads, and the
// row work runs on the calling thread.
constexpr int64_t kRowGrain = 4 * kGemmTileRows;  // rows per chunk at least

struct Split {
  bool rows;  // by rows, else by weight panels
  bool keep;  // the products use the layer's kept panels
};

std::atomic<PrefillSplit>& split_setting() {
  static std::atomic<PrefillSplit> split{PrefillSplit::Auto};
  return split;
}

// The multiply-adds of a token row through the layer's four products.
int64_t product_work(const DecoderLayerImpl& layer) {
  const auto& a = *layer.self_attn;
  const auto& m = *layer.mlp;
  return a.qkv_weight().tensor().numel() + a.o_proj->weight.numel() + m.gate_up_weight().tensor().numel() +
         m.down_proj->weight.numel();
}

// `work`: product_work of the run's layers.
Split split_for(int64_t work, int64_t rows) {
  const PrefillSplit forced = split_setting().load();
  if (forced != PrefillSplit::Auto) return {forced == PrefillSplit::Rows, forced == PrefillSplit::Rows};
  const bool small = panels_worth_keeping(work);
  return {small && rows >= 2 * kRowGrain, small};
}

PackedPanels* kept(PackedPanels& panels, const Split& split) { return split.keep ? &panels : nullptr; }

// Rows [r0, r1) (token rows of the batch): norm, q/k/v, RoPE; their scaled queries to q (H, n, D)
// for n = r1 - r0, head by head; the keys and values to their cache slots.
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
    const int64_t bt = r / s.T, pos = s.start + r % s.T;
    float* row = qkv + (r - r0) * s.width();
    kernel::rope(row, s.H + s.KV, s.D, cos + pos * s.D, sin + pos * s.D);  // query heads, then key heads
    for (int64_t h = 0; h < s.H; ++h) {
      float* dst = q + (h * n + r - r0) * s.D;
      for (int64_t i = 0; i < s.D; ++i) dst[i] = row[h * s.D + i] * scale;
    }
    for (int64_t g = 0; g < s.KV; ++g) {
      const int64_t slot = ((bt * s.KV + g) * s.cap + pos) * s.D;
      std::copy_n(row + (s.H + g) * s.D, s.D, keys + slot);
      std::copy_n(row + (s.H + s.KV + g) * s.D, s.D, values + slot);
    }
  }
}

// Rows [r0, r1) attend, head by head and sequence by sequence: scores = q k^T over the slots each
// query sees (a causal band), a softmax per query row, then probs v straight into the head's
// columns of att (n, H*D). q holds the rows' queries (H, n, D); keys and values are the layer's
// cache, (B, KV, cap, D). The heads go to the threads in turn outside a parallel region, where
// they hold kParallelAttention multiply-adds or more (a decode step's seldom do: a parallel region
// would cost more).
constexpr int64_t kParallelAttention = int64_t{1} << 17;

void attend_rows(const Shape& s, int64_t r0, int64_t r1, const float* q, const float* keys, const float* values,
                 float* att) {
  const int64_t n = r1 - r0, b0 = r0 / s.T, sequences = (r1 - 1) / s.T - b0 + 1;
  const int64_t work = n * s.H * (s.start + s.T) * s.D * 2;
  parallel_chunks(sequences * s.H, work < kParallelAttention ? sequences * s.H : 1, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t b = b0 + p / s.H, h = p % s.H;
      const int64_t lo = std::max(r0, b * s.T), m = std::min(r1, (b + 1) * s.T) - lo;
      const int64_t band = s.start + lo - b * s.T, S = band + m;  // row i sees slots 0..band + i
      const int64_t cache_rows = (b * s.KV + h / s.G) * s.cap * s.D;
      float* scores = space(scratch().scores, m * S);  // this thread's
      gemm_nt(q + (h * n + lo - r0) * s.D, m, s.D, keys + cache_rows, S, nullptr, scores, band);
      for (int64_t i = 0; i < m; ++i) softmax_prefix(scores + i * S, band + i + 1, S);
      gemm_nn(scores, m, S, values + cache_rows, s.D, att + (lo - r0) * s.H * s.D + h * s.D, s.H * s.D, band);
    }
  });
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

// What every layer of a prompt's run shares.
struct Stack {
  std::vector<DecoderLayer>& layers;
  float* x;  // the residual stream, (B*T, hidden)
  Shape s;
  int64_t row_work;  // product_work of the layers
  Split split;
  KVCache& cache;
  const RotaryEmbedding& rope;
  const SkipPlan& plan;
};

// Rows [r0, r1) through layer l: norm, q/k/v and RoPE, then `keys_written()` (the rows' keys and
// values are in the cache; it returns once every earlier row's are), attention, o_proj added into
// the residual stream; then the FFN. A skipped sub-layer drops its part.
template <class Sync>
void layer_rows(const Stack& st, int l, int64_t r0, int64_t r1, const Sync& keys_written) {
  DecoderLayerImpl& layer = *st.layers[l];
  const Shape& s = st.s;
  if (!st.plan.skip_attention(l)) {
    auto& attn = *layer.self_attn;
    Scratch& b = scratch();
    float* q = space(b.q, (r1 - r0) * s.H * s.D);
    float* att = space(b.att, (r1 - r0) * s.H * s.D);
    float* keys = st.cache.keys(l).data_ptr<float>();
    float* values = st.cache.values(l).data_ptr<float>();
    qkv_rows(attn, st.x, r0, r1, s, st.split, st.rope, *layer.input_layernorm, q, keys, values);
    keys_written();
    attend_rows(s, r0, r1, q, keys, values, att);
    gemm(att, r1 - r0, attn.o_proj->weight, attn.o_proj->bias, st.x + r0 * s.hidden, GemmStore::Add,
         kept(attn.o_panels(), st.split));
  }
  if (!st.plan.skip_ffn(l)) ffn_rows(*layer.mlp, st.x, r0, r1, s, st.split, *layer.post_attention_layernorm);
}

// A chunk's progress: the layers whose keys and values it has written. Its own cache line.
struct alignas(64) Progress {
  std::atomic<int> layers{0};
};

// Spins until `p` has reached `layers` (yielding the core after a while: the writer may be waiting
// for it), or throws once another chunk has failed.
void wait_for(const Progress& p, int layers, const std::atomic<bool>& failed) {
  for (int spins = 0; p.layers.load(std::memory_order_acquire) < layers; ++spins) {
    TORCH_CHECK(!failed.load(std::memory_order_relaxed), "prefill: another row chunk failed");
    if (spins >= 2048) std::this_thread::yield();
  }
}

// Layers [first, last), by rows: chunk c on a thread of its own (or several chunks, layer by layer,
// where fewer threads come), waiting before each attention for chunks 0..c-1 to have written that
// layer's keys and values. Deadlock-free: a chunk waits only for earlier chunks at the same or an
// earlier layer, which never wait for it. Against the passes with a barrier at each end it
// replaced, the demo model's prompts ran 1.02-1.10x as fast (5 rounds of A B B A, 2 threads);
// two chunks per thread, taken in turn by whichever thread is free, were slower in 4 of 5 such
// rounds (0.93-1.03x).
void run_by_rows(const Stack& st, int first, int last) {
  const Shape& s = st.s;
  const auto bounds = prefill_row_bounds(s.rows(), s.T, s.start, st.row_work, 2 * s.H * s.D, at::get_num_threads());
  const int64_t chunks = static_cast<int64_t>(bounds.size()) - 1;
  std::vector<Progress> progress(chunks);
  std::atomic<bool> failed{false};
  at::parallel_for(0, chunks, 1, [&](int64_t c0, int64_t c1) {
    try {
      for (int l = first; l < last; ++l)
        for (int64_t c = c0; c < c1; ++c)
          layer_rows(st, l, bounds[c], bounds[c + 1], [&] {
            progress[c].layers.store(l - first + 1, std::memory_order_release);
            for (int64_t e = 0; e < c; ++e) wait_for(progress[e], l - first + 1, failed);
          });
    } catch (...) {
      failed = true;
      throw;
    }
  });
}

}  // namespace

void set_prefill_split(PrefillSplit split) { split_setting() = split; }

std::vector<int64_t> prefill_row_bounds(int64_t rows, int64_t T, int64_t start, int64_t row_work, int64_t key_work,
                                        int64_t most) {
  TORCH_CHECK(rows > 0 && T > 0 && rows % T == 0 && start >= 0 && row_work >= 0 && key_work >= 0,
              "prefill_row_bounds: bad prompt shape or work (rows ", rows, ", T ", T, ")");
  const int64_t chunks = std::clamp<int64_t>(rows / kRowGrain, 1, std::max<int64_t>(most, 1));
  const int64_t tiles = (rows + kGemmTileRows - 1) / kGemmTileRows;
  std::vector<double> work(tiles + 1, 0.0);  // work[i]: of rows [0, i tiles)
  for (int64_t r = 0; r < rows; ++r)
    work[r / kGemmTileRows + 1] += static_cast<double>(row_work + key_work * (start + r % T + 1));
  for (int64_t i = 1; i <= tiles; ++i) work[i] += work[i - 1];
  std::vector<int64_t> bounds{0};
  for (int64_t k = 1, i = 0; k < chunks; ++k) {
    const double target = work[tiles] * static_cast<double>(k) / static_cast<double>(chunks);
    const int64_t last = tiles - (chunks - k);  // a tile at least for each chunk after this one
    i = std::min(i + 1, last);
    while (i < last && std::abs(work[i + 1] - target) < std::abs(work[i] - target)) ++i;
    bounds.push_back(i * kGemmTileRows);
  }
  bounds.push_back(rows);
  return bounds;
}

bool prefill_kernel_applies(const DecoderLayerImpl& layer) { return kernel::layer_suits(layer, {torch::kFloat}); }

bool prefill_keeps_panels(const DecoderLayerImpl& layer) { return panels_worth_keeping(product_work(layer)); }

void prefill_layers(std::vector<DecoderLayer>& layers, int first, int last, torch::Tensor& h, int64_t start,
                    KVCache& cache, const RotaryEmbedding& rope_table, const SkipPlan& plan) {
  TORCH_CHECK(0 <= first && first < last && last <= static_cast<int>(layers.size()),
              "prefill_layers: bad layer range [", first, ", ", last, ") of ", layers.size());
  TORCH_CHECK(h.dim() == 3 && h.is_contiguous() && h.scalar_type() == torch::kFloat,
              "prefill_layers: h must be (batch, T, hidden) contiguous f32");
  TORCH_CHECK(rope_table.cos().scalar_type() == torch::kFloat, "prefill_layers: the rope tables must be f32");
  for (int l = first; l < last; ++l) {
    TORCH_CHECK(cache.keys(l).scalar_type() == torch::kFloat, "prefill_layers: the KV cache must be f32");
    if (!plan.skip_attention(l)) cache.expect_at(l, start);
  }
  const Shape s = shape_of(*layers[first], h, start, cache, rope_table);
  const int64_t work = product_work(*layers[first]);
  const Stack st{layers, h.data_ptr<float>(), s, work, split_for(work, s.rows()), cache, rope_table, plan};
  if (st.split.rows) {
    run_by_rows(st, first, last);
  } else {
    for (int l = first; l < last; ++l) layer_rows(st, l, 0, s.rows(), [] {});
  }
  for (int l = first; l < last; ++l)
    if (!plan.skip_attention(l)) cache.mark_layer_written(l, start + s.T);
}

}  // namespace litestage
