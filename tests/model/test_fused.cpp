#include <catch2/catch.hpp>

#include "litestage/model/decode_kernel.hpp"
#include "litestage/model/kv_cache.hpp"
#include "model_fixtures.hpp"
#include "support.hpp"

// Fused q/k/v and gate/up projections (model/fused_rows.hpp): the Hugging Face-named parameters
// are views into one tensor per layer, the forward multiplies the fused tensor when autograd is
// off, and anything that breaks the views falls back to the separate products.

using namespace litestage;
using namespace litestage::test;

namespace {

bool all_fused(CausalLM& m) {
  for (auto& layer : m->model->blocks)
    if (!layer->self_attn->fused() || !layer->mlp->fused()) return false;
  return true;
}

// Prefill of 5 tokens, then 3 cached one-token steps; logits stacked (8, vocab). With autograd on
// every product runs per projection (the parameters require grad); off, the fused tensors serve.
torch::Tensor run(CausalLM& m, bool autograd) {
  torch::AutoGradMode mode(autograd);
  KVCache cache(m->config(), 1, 16, torch::kFloat, torch::kCPU);
  ForwardOptions o;
  o.cache = &cache;
  std::vector<torch::Tensor> out{m->forward(torch::tensor(std::vector<int64_t>{1, 5, 17, 42, 8}).view({1, 5}), o)[0]};
  for (int64_t id : {3, 29, 11}) out.push_back(m->forward(torch::tensor(std::vector<int64_t>{id}).view({1, 1}), o)[0]);
  return torch::cat(out).detach();
}

}  // namespace

TEST_CASE("fused projections: HF names kept, views intact after init and after a checkpoint round trip",
          "[model][fused]") {
  for (auto cfg : {tiny_llama_config(), tiny_qwen2_config()}) {
    auto m = random_model(cfg, 3);
    INFO(cfg.model_type);
    CHECK(all_fused(m));
    const auto params = m->named_parameters();
    for (const char* name : {"model.layers.1.self_attn.q_proj.weight", "model.layers.1.self_attn.k_proj.weight",
                             "model.layers.1.self_attn.v_proj.weight", "model.layers.1.mlp.gate_proj.weight",
                             "model.layers.1.mlp.up_proj.weight"})
      CHECK(params.find(name) != nullptr);
    CHECK((params.find("model.layers.0.self_attn.q_proj.bias") != nullptr) == cfg.qkv_bias);

    auto dir = temp_dir(std::string("fused-") + cfg.model_type);
    save_causal_lm(m, dir);
    auto loaded = load_causal_lm(dir);
    CHECK(all_fused(loaded));
    CHECK(torch::equal(run(loaded, false), run(m, false)));
  }
}

TEST_CASE("fused projections: the fused and the separate products give the same logits", "[model][fused]") {
  for (auto cfg : {tiny_llama_config(), tiny_qwen2_config()}) {
    auto m = random_model(cfg, 4);
    INFO(cfg.model_type);
    CHECK(max_rel_error(run(m, false), run(m, true)) < 1e-5);
  }
}

TEST_CASE("fused projections: in-place updates reach the fused tensor, and set_data falls back to separate products",
          "[model][fused]") {
  auto m = random_model(tiny_qwen2_config(), 5);
  {
    torch::NoGradGuard ng;  // what an optimiser step does
    m->model->blocks[0]->self_attn->k_proj->weight.mul_(0.5);
    m->model->blocks[1]->self_attn->v_proj->bias.add_(0.25);
    m->model->blocks[1]->mlp->up_proj->weight.mul_(-1.0);
  }
  REQUIRE(all_fused(m));
  CHECK(max_rel_error(run(m, false), run(m, true)) < 1e-5);

  const auto before = run(m, false);
  auto& q = m->model->blocks[1]->self_attn->q_proj->weight;
  q.set_data(q.detach().clone());  // a copy, no longer a view of the fused tensor
  auto& gate = m->model->blocks[0]->mlp->gate_proj->weight;
  gate.set_data(gate.detach().clone());
  CHECK_FALSE(m->model->blocks[1]->self_attn->fused());
  CHECK_FALSE(m->model->blocks[0]->mlp->fused());
  CHECK(m->model->blocks[0]->self_attn->fused());
  CHECK_FALSE(decode_kernel_applies(*m->model->blocks[1]));
  CHECK(max_rel_error(run(m, false), before) < 1e-5);
  {
    torch::NoGradGuard ng;
    q.zero_();  // reaches the forward through the separate product
  }
  CHECK(max_rel_error(run(m, false), before) > 1e-3);
}
