#include <catch2/catch.hpp>

#include <ATen/Parallel.h>

#include "litestage/model/kv_cache.hpp"
#include "litestage/model/prefill_kernel.hpp"
#include "litestage/model/short_forward.hpp"
#include "model_fixtures.hpp"

using namespace litestage;
using namespace litestage::test;

namespace {

torch::Tensor ids(std::vector<int64_t> v) { return torch::tensor(v).view({1, static_cast<int64_t>(v.size())}); }

}  // namespace

TEST_CASE("a truncated KV cache forwards as one that never held the dropped tokens", "[model][cache][truncate]") {
  c10::InferenceMode im;
  auto model = random_model(tiny_llama_config());
  // Layer 1's attention skipped throughout: its cache is never written, and truncation keeps it so.
  const auto plan = SkipPlan::parse("a1", model->num_layers());
  for (bool kernels : {true, false}) {
    INFO("kernels " << kernels);
    ForwardOptions fo;
    fo.skip = &plan;
    fo.kernels = kernels;
    KVCache rolled(model->config(), 1, 16, torch::kFloat, torch::kCPU), fresh(model->config(), 1, 16, torch::kFloat,
                                                                           torch::kCPU);
    fo.cache = &rolled;
    (void)model->forward(ids({5, 9, 2, 7, 11}), fo);
    (void)model->forward(ids({40, 41, 42}), fo);  // drafted, then rejected
    REQUIRE(rolled.length() == 8);
    rolled.truncate(5);
    CHECK(rolled.length() == 5);
    CHECK(rolled.layer_length(0) == 5);
    CHECK(rolled.layer_length(1) == 0);
    CHECK(rolled.layer_length(2) == 5);
    CHECK(rolled.valid().narrow(1, 5, 3).any().item<bool>() == false);
    const auto after = model->forward(ids({13, 14}), fo);

    fo.cache = &fresh;
    (void)model->forward(ids({5, 9, 2, 7, 11}), fo);
    const auto expected = model->forward(ids({13, 14}), fo);
    CHECK(torch::equal(after, expected));
    for (int l : {0, 2}) {
      CHECK(torch::equal(rolled.keys(l).narrow(2, 0, 7), fresh.keys(l).narrow(2, 0, 7)));
      CHECK(torch::equal(rolled.values(l).narrow(2, 0, 7), fresh.values(l).narrow(2, 0, 7)));
    }
    CHECK_THROWS(rolled.truncate(8));  // past what it holds
    CHECK_THROWS(rolled.truncate(-1));
  }
}

TEST_CASE("short forward timing: K rows against one step, checked arguments", "[model][truncate]") {
  auto model = random_model(tiny_llama_config());
  const SkipPlan none(model->num_layers());
  const auto t = time_short_forward(model, none, {3, 4, 5, 6}, 4, 0, 2, true);
  CHECK(t.rows == 4);
  CHECK(t.forward_seconds > 0);
  CHECK(t.step_seconds > 0);
  CHECK_THROWS(time_short_forward(model, none, {3, 4}, 0, 0, 1, true));
  CHECK_THROWS(time_short_forward(model, none, {}, 2, 0, 1, true));
}

namespace {

// Prefills the same two-sequence prompt, then feeds `next` (2 rows x k tokens) either as k
// one-token steps or as one forward over the k tokens; returns every new token's logits, (2, k,
// vocab), and leaves the cache behind in `cache`.
torch::Tensor new_token_logits(CausalLM& m, const SkipPlan& plan, const torch::Tensor& next, bool one_forward,
                               KVCache& cache) {
  c10::InferenceMode im;
  ForwardOptions fo;
  fo.skip = &plan;
  fo.cache = &cache;
  (void)m->forward(torch::tensor(std::vector<int64_t>{1, 5, 17, 42, 9, 33, 8, 2, 7, 4}).view({2, 5}), fo);
  if (one_forward) return m->forward(next, fo);
  std::vector<torch::Tensor> steps;
  for (int64_t j = 0; j < next.size(1); ++j) steps.push_back(m->forward(next.narrow(1, j, 1), fo));
  return torch::cat(steps, 1);
}

}  // namespace

TEST_CASE("a forward over k new tokens gives bitwise the logits and cache of k decode steps: f32 (either kernel) "
          "and bf16",
          "[model][kernel][short]") {
  const int saved_threads = at::get_num_threads();
  for (auto cfg : {tiny_llama_config(), tiny_qwen2_config(), wide_qwen2_config()}) {
    auto m32 = random_model(cfg, 11);
    for (auto [bf16, kernel] : {std::pair{false, ShortForwardKernel::Decode}, {false, ShortForwardKernel::Prefill},
                                {true, ShortForwardKernel::Auto}}) {
      ShortForwardKernelScope forced(kernel);
      auto m = bf16 ? bf16_copy(m32) : m32;
      const auto dtype = m->runtime().dtype;
      const int L = m->num_layers();
      for (const std::string spec : {"none", "a1,f0"}) {
        const SkipPlan plan = SkipPlan::parse(spec, L);
        for (int64_t k : {2, 5, 16}) {
          for (int threads : {1, 2}) {
            at::set_num_threads(threads);
            INFO(cfg.model_type << (bf16 ? " bf16" : " f32") << ", " << name_of(kernel) << ", skip " << spec << ", k "
                                << k << ", " << threads
                                << " threads");
            auto next = (torch::arange(2 * k, torch::kLong) * 7 + 3).remainder(cfg.vocab_size).view({2, k});
            KVCache stepped(cfg, 2, 32, dtype, torch::kCPU), forwarded(cfg, 2, 32, dtype, torch::kCPU);
            const auto steps = new_token_logits(m, plan, next, false, stepped);
            const auto once = new_token_logits(m, plan, next, true, forwarded);
            CHECK(torch::equal(once, steps));
            for (int l = 0; l < L; ++l) {
              CHECK(forwarded.layer_length(l) == stepped.layer_length(l));
              CHECK(torch::equal(forwarded.keys(l), stepped.keys(l)));
              CHECK(torch::equal(forwarded.values(l), stepped.values(l)));
            }
          }
        }
      }
    }
  }
  at::set_num_threads(saved_threads);
}

TEST_CASE("a forward over k new tokens agrees with LibTorch's ops (the kernels off)", "[model][kernel][short]") {
  c10::InferenceMode im;
  auto m = random_model(tiny_qwen2_config(), 12);
  const SkipPlan plan = SkipPlan::parse("f1", m->num_layers());
  auto next = torch::tensor(std::vector<int64_t>{3, 10, 17, 24, 31, 38, 45, 52}).view({2, 4});
  auto logits = [&](bool kernels) {
    KVCache cache(m->config(), 2, 32, torch::kFloat, torch::kCPU);
    ForwardOptions fo;
    fo.skip = &plan;
    fo.cache = &cache;
    fo.kernels = kernels;
    (void)m->forward(torch::tensor(std::vector<int64_t>{1, 5, 17, 42, 9, 33, 8, 2, 7, 4}).view({2, 5}), fo);
    return m->forward(next, fo);
  };
  const auto fast = logits(true), slow = logits(false);
  CHECK(max_rel_error(fast, slow) < 1e-5);
  CHECK(torch::equal(fast.argmax(-1), slow.argmax(-1)));
}

TEST_CASE("small f32 layers: a prompt split by rows over the threads gives bitwise the logits and cache of one-token "
          "steps",
          "[model][kernel][short]") {
  c10::InferenceMode im;
  const int saved_threads = at::get_num_threads();
  at::set_num_threads(2);
  auto cfg = tiny_qwen2_config();
  cfg.max_position_embeddings = 128;
  auto m = random_model(cfg, 13);
  REQUIRE(prefill_keeps_panels(*m->model->blocks[0]));
  const SkipPlan plan = SkipPlan::parse("f0", m->num_layers());
  const int64_t T = 60;  // two row chunks of the prefill kernel
  auto prompt = (torch::arange(T, torch::kLong) * 5 + 1).remainder(cfg.vocab_size).view({1, T});
  KVCache whole(cfg, 1, T, torch::kFloat, torch::kCPU), stepped(cfg, 1, T, torch::kFloat, torch::kCPU);
  ForwardOptions fo;
  fo.skip = &plan;
  fo.cache = &whole;
  const auto once = m->forward(prompt, fo);
  fo.cache = &stepped;
  std::vector<torch::Tensor> steps;
  for (int64_t t = 0; t < T; ++t) steps.push_back(m->forward(prompt.narrow(1, t, 1), fo));
  CHECK(torch::equal(once, torch::cat(steps, 1)));
  for (int l = 0; l < m->num_layers(); ++l) {
    CHECK(torch::equal(whole.keys(l), stepped.keys(l)));
    CHECK(torch::equal(whole.values(l), stepped.values(l)));
  }
  at::set_num_threads(saved_threads);
}
