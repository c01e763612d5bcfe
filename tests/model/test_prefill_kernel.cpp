#include <catch2/catch.hpp>

#include <ATen/Parallel.h>

#include "litestage/model/kv_cache.hpp"
#include "litestage/model/prefill_kernel.hpp"
#include "litestage/model/skip_plan.hpp"
#include "model_fixtures.hpp"

using namespace litestage;
using namespace litestage::test;

namespace {

// Two prompt chunks of `first` and `second` tokens per row (the second attends to the first through
// the cache), then 2 decode steps, all with the kernels on or off (`kernels` covers the decode
// kernel too, so the ops path is LibTorch's throughout). Returns every position's logits,
// (batch, first + second + 2, vocab).
torch::Tensor chunked_logits(CausalLM& m, const SkipPlan& plan, bool kernels, int64_t batch, int64_t first = 5,
                             int64_t second = 3) {
  torch::InferenceMode im;
  KVCache cache(m->config(), batch, first + second + 2, m->runtime().dtype, torch::kCPU);
  ForwardOptions o;
  o.skip = &plan;
  o.cache = &cache;
  o.kernels = kernels;
  const int64_t vocab = m->config().vocab_size;
  auto ids = [&](int64_t n, int64_t salt) {
    return (torch::arange(batch * n, torch::kLong).view({batch, n}) * 7 + salt) % vocab;
  };
  std::vector<torch::Tensor> out{m->forward(ids(first, 1), o), m->forward(ids(second, 4), o)};
  for (int64_t s = 0; s < 2; ++s) out.push_back(m->forward(ids(1, 9 + s), o));
  return torch::cat(out, 1);
}

}  // namespace

TEST_CASE("prefill kernel equals LibTorch's ops: GQA, MQA with q/k/v bias, batch 1 and 2, chunks, skip plans, "
          "1 and 2 threads",
          "[model][kernel]") {
  const int saved_threads = at::get_num_threads();
  for (auto cfg : {tiny_llama_config(), tiny_qwen2_config(), wide_qwen2_config()}) {
    auto m = random_model(cfg, 11);
    REQUIRE(prefill_kernel_applies(*m->model->blocks[0]));
    const int L = m->num_layers();
    for (const std::string spec : {"none", "a0", "f1", "a1,f0"})
      for (int64_t batch : {1, 2})
        for (int threads : {1, 2}) {
          at::set_num_threads(threads);
          INFO(cfg.model_type << " skip " << spec << ", batch " << batch << ", " << threads << " threads");
          const SkipPlan plan = SkipPlan::parse(spec, L);
          auto slow = chunked_logits(m, plan, false, batch);
          auto fast = chunked_logits(m, plan, true, batch);
          REQUIRE(fast.sizes() == slow.sizes());
          CHECK(max_rel_error(fast, slow) < 1e-5);
          CHECK(torch::equal(fast.argmax(-1), slow.argmax(-1)));
        }
  }
  at::set_num_threads(saved_threads);
}

TEST_CASE("prefill kernel: split by rows or by weight panels over 1 and 2 threads, chunks long enough to split",
          "[model][kernel]") {
  const int saved_threads = at::get_num_threads();
  for (auto cfg : {tiny_llama_config(), wide_qwen2_config()}) {
    auto m = random_model(cfg, 5);
    const SkipPlan none, skips = SkipPlan::parse("a1,f0", m->num_layers());
    for (PrefillSplit split : {PrefillSplit::Rows, PrefillSplit::Panels})
      for (const SkipPlan* plan : {&none, &skips})
        for (int64_t batch : {1, 2})
          for (int threads : {1, 2}) {
            at::set_num_threads(threads);
            set_prefill_split(split);
            INFO(cfg.model_type << (split == PrefillSplit::Rows ? " rows" : " panels") << ", batch " << batch << ", "
                                << threads << " threads");
            // 21 and 13 rows per sequence: row ranges that cross a sequence's end when batch is 2
            auto fast = chunked_logits(m, *plan, true, batch, 21, 13);
            set_prefill_split(PrefillSplit::Auto);
            auto slow = chunked_logits(m, *plan, false, batch, 21, 13);
            CHECK(max_rel_error(fast, slow) < 1e-5);
            CHECK(torch::equal(fast.argmax(-1), slow.argmax(-1)));
          }
  }
  at::set_num_threads(saved_threads);
}

TEST_CASE("prefill kernel: weights updated in place between prompts are the ones multiplied", "[model][kernel]") {
  auto m = random_model(tiny_llama_config(), 8);
  const SkipPlan none;
  set_prefill_split(PrefillSplit::Rows);  // the split that keeps packed panels
  auto before = chunked_logits(m, none, true, 2, 21, 13);
  {
    torch::NoGradGuard ng;
    for (auto& p : m->named_parameters())
      if (p.key().find("proj") != std::string::npos) p.value().mul_(0.75);  // every projection, q/k/v and gate/up included
  }
  auto after = chunked_logits(m, none, true, 2, 21, 13);
  set_prefill_split(PrefillSplit::Auto);
  auto want = chunked_logits(m, none, false, 2, 21, 13);
  CHECK(max_rel_error(after, want) < 1e-5);
  CHECK(max_rel_error(before, want) > 1e-3);  // the update changed the logits
}

TEST_CASE("prefill kernel: f32 weights only; bf16 prompts take LibTorch's ops unchanged", "[model][kernel][dtype]") {
  auto cfg = tiny_qwen2_config();
  auto m = random_model(cfg, 3);
  CHECK(prefill_kernel_applies(*m->model->blocks[0]));
  auto half = bf16_copy(m);
  CHECK_FALSE(prefill_kernel_applies(*half->model->blocks[0]));
  const SkipPlan none;
  // Prefill through the ops either way; the decode steps differ (the decode kernel), so compare the
  // 8 prompt positions only.
  auto on = chunked_logits(half, none, true, 2).narrow(1, 0, 8);
  auto off = chunked_logits(half, none, false, 2).narrow(1, 0, 8);
  CHECK(torch::equal(on, off));
}

TEST_CASE("prefill kernel: row chunks are whole tiles of at least 24 rows, and balance the threads' rows",
          "[model][kernel]") {
  // The rows the busiest thread gets when chunks go to the threads in turn.
  auto busiest = [](int64_t rows, int64_t threads, int64_t grain) {
    std::vector<int64_t> load(threads, 0);
    for (int64_t r0 = 0, c = 0; r0 < rows; r0 += grain, ++c) load[c % threads] += std::min(grain, rows - r0);
    return *std::max_element(load.begin(), load.end());
  };
  CHECK(prefill_row_grain(128, 2) == 66);  // 66 and 62 rows, where 24-row chunks gave 72 and 56
  CHECK(prefill_row_grain(300, 2) == 30);  // 150 each
  CHECK(prefill_row_grain(96, 2) == 24);   // already even: the most chunks kept
  CHECK(prefill_row_grain(128, 1) == 24);
  for (int threads : {1, 2, 3, 4})
    for (int64_t rows = 48; rows <= 700; ++rows) {
      INFO(rows << " rows, " << threads << " threads");
      const int64_t grain = prefill_row_grain(rows, threads);
      CHECK(grain % kGemmTileRows == 0);
      CHECK(grain >= 24);
      CHECK(busiest(rows, threads, grain) <= busiest(rows, threads, 24));
      // no worse than one chunk of whole tiles per thread
      const int64_t even = (rows + threads - 1) / threads;
      CHECK(busiest(rows, threads, grain) <= std::max<int64_t>(24, even + kGemmTileRows - 1));
    }
}
