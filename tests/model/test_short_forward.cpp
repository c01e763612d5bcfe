#include <catch2/catch.hpp>

#include "litestage/model/kv_cache.hpp"
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
