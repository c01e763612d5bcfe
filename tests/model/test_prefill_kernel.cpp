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
torch::Tensor chunked_logits(CausalLM& m, const SkipPlan& plan, bool kernels, int64_t batch, int64_t first = 21,
                             int64_t second = 18) {
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

TEST_CASE("prefill kernel: split by rows or by weight panels over 1 to 3 threads, prompts of one and several chunks",
          "[model][kernel]") {
  const int saved_threads = at::get_num_threads();
  for (auto cfg : {tiny_llama_config(), wide_qwen2_config()}) {
    cfg.max_position_embeddings = 128;
    auto m = random_model(cfg, 5);
    const SkipPlan none, skips = SkipPlan::parse("a1,f0", m->num_layers());
    for (PrefillSplit split : {PrefillSplit::Rows, PrefillSplit::Panels})
      for (const SkipPlan* plan : {&none, &skips})
        for (int64_t batch : {1, 2})
          for (int threads : {1, 2, 3}) {
            at::set_num_threads(threads);
            INFO(cfg.model_type << (split == PrefillSplit::Rows ? " rows" : " panels") << ", batch " << batch << ", "
                                << threads << " threads");
            // 21 and 17 rows per sequence (one chunk), and 61 and 53 (chunks that wait for the keys of
            // earlier ones, and cross a sequence's end when batch is 2)
            for (auto [first, second] : {std::pair<int64_t, int64_t>{21, 17}, {61, 53}}) {
              set_prefill_split(split);
              auto fast = chunked_logits(m, *plan, true, batch, first, second);
              set_prefill_split(PrefillSplit::Auto);
              auto slow = chunked_logits(m, *plan, false, batch, first, second);
              CHECK(max_rel_error(fast, slow) < 1e-5);
              CHECK(torch::equal(fast.argmax(-1), slow.argmax(-1)));
            }
          }
  }
  at::set_num_threads(saved_threads);
}

TEST_CASE("prefill kernel: weights updated in place between prompts are the ones multiplied", "[model][kernel]") {
  auto m = random_model(tiny_llama_config(), 8);
  const SkipPlan none;
  set_prefill_split(PrefillSplit::Rows);  // the split that keeps packed panels
  auto before = chunked_logits(m, none, true, 2, 21, 17);
  {
    torch::NoGradGuard ng;
    for (auto& p : m->named_parameters())
      if (p.key().find("proj") != std::string::npos) p.value().mul_(0.75);  // every projection, q/k/v and gate/up included
  }
  auto after = chunked_logits(m, none, true, 2, 21, 17);
  set_prefill_split(PrefillSplit::Auto);
  auto want = chunked_logits(m, none, false, 2, 21, 17);
  CHECK(max_rel_error(after, want) < 1e-5);
  CHECK(max_rel_error(before, want) > 1e-3);  // the update changed the logits
}

TEST_CASE("prefill kernel: f32 weights only, bf16 prompts take LibTorch's ops unchanged", "[model][kernel][dtype]") {
  auto cfg = tiny_qwen2_config();
  auto m = random_model(cfg, 3);
  CHECK(prefill_kernel_applies(*m->model->blocks[0]));
  auto half = bf16_copy(m);
  CHECK_FALSE(prefill_kernel_applies(*half->model->blocks[0]));
  const SkipPlan none;
  // Prefill through the ops either way; the decode steps differ (the decode kernel), so compare the
  // 39 prompt positions only (more than a short forward, which takes the decode kernel).
  auto on = chunked_logits(half, none, true, 2).narrow(1, 0, 39);
  auto off = chunked_logits(half, none, false, 2).narrow(1, 0, 39);
  CHECK(torch::equal(on, off));
}

TEST_CASE("prefill kernel: row chunks are whole tiles, no more than asked, and even in work", "[model][kernel]") {
  const int64_t demo_row = 196608, demo_key = 256;  // the demo model's products and attention per slot
  // The later rows of a 128-token prompt attend to more slots, so the first chunk takes more rows.
  CHECK(prefill_row_bounds(128, 128, 0, demo_row, demo_key, 2) == std::vector<int64_t>{0, 66, 128});
  CHECK(prefill_row_bounds(96, 96, 0, 1000, 0, 2) == std::vector<int64_t>{0, 48, 96});  // work by rows alone
  CHECK(prefill_row_bounds(128, 128, 0, demo_row, demo_key, 1) == std::vector<int64_t>{0, 128});
  CHECK(prefill_row_bounds(47, 47, 0, 1000, 0, 4) == std::vector<int64_t>{0, 47});   // too short to split
  CHECK(prefill_row_bounds(72, 36, 0, 1000, 0, 8) == std::vector<int64_t>{0, 24, 48, 72});  // 24 rows a chunk
  // The work of rows [a, b) of sequences of T tokens after `start` cached ones.
  auto work = [](int64_t a, int64_t b, int64_t T, int64_t start, int64_t row, int64_t key) {
    double w = 0;
    for (int64_t r = a; r < b; ++r) w += static_cast<double>(row + key * (start + r % T + 1));
    return w;
  };
  for (int64_t most : {1, 2, 3, 4, 7})
    for (int64_t T : {24, 50, 128, 301})
      for (int64_t batch : {1, 2, 3})
        for (int64_t start : {0, 40})
          for (int64_t key : {0, 16, 4096}) {
            const int64_t rows = batch * T, row = 2000;
            INFO(rows << " rows of " << T << ", start " << start << ", key work " << key << ", at most " << most);
            const auto bounds = prefill_row_bounds(rows, T, start, row, key, most);
            const int64_t chunks = static_cast<int64_t>(bounds.size()) - 1;
            CHECK(chunks == std::clamp<int64_t>(rows / 24, 1, most));
            CHECK(bounds.front() == 0);
            CHECK(bounds.back() == rows);
            double biggest_tile = 0;
            for (int64_t r = 0; r < rows; r += kGemmTileRows)
              biggest_tile = std::max(biggest_tile, work(r, std::min(rows, r + kGemmTileRows), T, start, row, key));
            const double share = work(0, rows, T, start, row, key) / static_cast<double>(chunks);
            for (int64_t c = 0; c < chunks; ++c) {
              CHECK(bounds[c] < bounds[c + 1]);
              if (c > 0) CHECK(bounds[c] % kGemmTileRows == 0);
              // each bound within half a tile's work of its share, so each chunk within one tile's
              CHECK(std::abs(work(bounds[c], bounds[c + 1], T, start, row, key) - share) <= biggest_tile + 1e-6);
            }
          }
  CHECK_THROWS_WITH(prefill_row_bounds(0, 1, 0, 1, 1, 2), Catch::Contains("bad prompt shape"));
  CHECK_THROWS_WITH(prefill_row_bounds(10, 3, 0, 1, 1, 2), Catch::Contains("bad prompt shape"));
}
