#include <catch2/catch.hpp>

#include <ATen/Parallel.h>

#include "litestage/model/decode_kernel.hpp"
#include "litestage/model/kv_cache.hpp"
#include "litestage/model/skip_plan.hpp"
#include "model_fixtures.hpp"

using namespace litestage;
using namespace litestage::test;

namespace {

// Prefill a batch of two unpadded rows (4 tokens each, or `prompt_len` made-up ones), then decode
// `steps` fixed tokens (so models of different dtypes see the same inputs) with the kernel on or
// off; returns every decode step's logits, stacked (steps, batch, vocab).
torch::Tensor decode_logits(CausalLM& m, const SkipPlan& plan, bool fast, int steps, int64_t prompt_len = 4) {
  torch::InferenceMode im;
  const int64_t vocab = m->config().vocab_size;
  KVCache cache(m->config(), 2, std::max<int64_t>(32, prompt_len + steps + 1), m->runtime().dtype, torch::kCPU);
  ForwardOptions o;
  o.skip = &plan;
  o.cache = &cache;
  o.kernels = fast;
  std::vector<int64_t> ids{1, 5, 17, 42, 9, 33, 8, 2};
  if (prompt_len != 4) {
    ids.resize(2 * prompt_len);
    for (int64_t i = 0; i < 2 * prompt_len; ++i) ids[i] = (1 + 7 * i) % vocab;
  }
  auto prompt = torch::tensor(ids).view({2, prompt_len});
  m->forward(prompt, o);
  std::vector<torch::Tensor> out;
  for (int64_t s = 0; s < steps; ++s) {
    auto next = torch::tensor(std::vector<int64_t>{(3 + 5 * s) % vocab, (11 + 7 * s) % vocab}).view({2, 1});
    out.push_back(m->forward(next, o).squeeze(1));
  }
  return torch::stack(out);
}

}  // namespace

TEST_CASE("decode steps (decode kernel, or the prefill kernel's panels) equal LibTorch's ops: GQA, MQA with q/k/v "
          "bias, batch 2, skip plans, 1 and 2 threads",
          "[model][kernel]") {
  const int saved_threads = at::get_num_threads();
  for (auto cfg : {tiny_llama_config(), tiny_qwen2_config(), wide_qwen2_config()}) {
    auto m = random_model(cfg, 5);
    const int L = m->num_layers();
    for (const std::string spec : {"none", "a0", "f1", "a1,f0"}) {
      const SkipPlan plan = SkipPlan::parse(spec, L);
      for (auto [threads, kernel] : {std::pair{1, ShortForwardKernel::Decode}, {2, ShortForwardKernel::Decode},
                                     {1, ShortForwardKernel::Prefill}, {2, ShortForwardKernel::Prefill}}) {
        at::set_num_threads(threads);
        ShortForwardKernelScope forced(kernel);
        INFO(cfg.model_type << " skip " << spec << ", " << threads << " threads, " << name_of(kernel));
        auto slow = decode_logits(m, plan, false, 6);
        auto fast = decode_logits(m, plan, true, 6);
        CHECK(max_rel_error(fast, slow) < 1e-5);
        CHECK(torch::equal(fast.argmax(-1), slow.argmax(-1)));
      }
    }
  }
  at::set_num_threads(saved_threads);
}

TEST_CASE("decode kernel: attention over a long sequence, its heads shared out over 2 threads, equals LibTorch's ops",
          "[model][kernel]") {
  // 2 rows x 8 heads x ~100 slots x 64 dims: past the size at which attend_heads splits.
  auto cfg = wide_qwen2_config();
  cfg.max_position_embeddings = 128;
  auto m = random_model(cfg, 9);
  const int saved_threads = at::get_num_threads();
  for (auto [threads, kernel] : {std::pair{1, ShortForwardKernel::Decode}, {2, ShortForwardKernel::Decode},
                                 {2, ShortForwardKernel::Prefill}}) {
    at::set_num_threads(threads);
    ShortForwardKernelScope forced(kernel);
    INFO(threads << " threads, " << name_of(kernel));
    const SkipPlan none;
    auto slow = decode_logits(m, none, false, 4, 100);
    auto fast = decode_logits(m, none, true, 4, 100);
    CHECK(max_rel_error(fast, slow) < 1e-5);
    CHECK(torch::equal(fast.argmax(-1), slow.argmax(-1)));
  }
  at::set_num_threads(saved_threads);
}

TEST_CASE("decode kernel in bf16: as close to f32 as LibTorch's bf16 ops, and close to them", "[model][kernel][dtype]") {
  const int saved_threads = at::get_num_threads();
  for (auto cfg : {tiny_llama_config(), tiny_qwen2_config(), wide_qwen2_config()}) {
    auto m32 = random_model(cfg, 5);
    auto m16 = bf16_copy(m32);
    REQUIRE(decode_kernel_applies(*m16->model->blocks[0]));
    for (const std::string spec : {"none", "a1,f0"}) {
      const SkipPlan plan = SkipPlan::parse(spec, m32->num_layers());
      for (int threads : {1, 2}) {
        at::set_num_threads(threads);
        INFO(cfg.model_type << " skip " << spec << ", " << threads << " threads");
        auto f32 = decode_logits(m32, plan, true, 6);
        auto ops16 = decode_logits(m16, plan, false, 6), kernel16 = decode_logits(m16, plan, true, 6);
        const double kernel_err = max_rel_error(kernel16, f32), ops_err = max_rel_error(ops16, f32);
        INFO("bf16 vs f32: kernel " << kernel_err << ", LibTorch ops " << ops_err);
        CHECK(kernel_err < 0.05);
        CHECK(kernel_err <= 1.25 * ops_err);
        CHECK(max_rel_error(kernel16, ops16) < 0.05);
      }
    }
  }
  at::set_num_threads(saved_threads);
}

TEST_CASE("decode kernel: applies to all-f32 or all-bf16 CPU weights only, and catches a plan changed mid-sequence",
          "[model][kernel]") {
  auto cfg = tiny_llama_config();
  auto m = random_model(cfg, 7);
  CHECK(decode_kernel_applies(*m->model->blocks[0]));
  auto half = bf16_copy(m);
  CHECK(decode_kernel_applies(*half->model->blocks[0]));
  auto mixed = random_model(cfg, 7);
  {
    torch::NoGradGuard ng;  // one bf16 weight among f32 ones: the kernel declines
    auto& w = mixed->model->blocks[1]->mlp->down_proj->weight;
    w.set_data(w.to(torch::kBFloat16));
  }
  CHECK(decode_kernel_applies(*mixed->model->blocks[0]));
  CHECK_FALSE(decode_kernel_applies(*mixed->model->blocks[1]));

  torch::InferenceMode im;
  ShortForwardKernelScope forced(ShortForwardKernel::Decode);
  KVCache cache(cfg, 1, 16, torch::kFloat, torch::kCPU);
  const SkipPlan skip_a0 = SkipPlan::parse("a0", m->num_layers()), none;
  ForwardOptions o;
  o.cache = &cache;
  o.skip = &skip_a0;
  m->forward(torch::tensor(std::vector<int64_t>{1, 5, 17}).view({1, 3}), o);
  o.skip = &none;  // layer 0 now attends, but its cache never saw the prompt
  CHECK_THROWS_WITH(m->forward(torch::tensor(std::vector<int64_t>{4}).view({1, 1}), o),
                    Catch::Contains("a skip plan must stay the same for the whole sequence"));
}
