#include <catch2/catch.hpp>

#include "../generate/fake_tokenizer.hpp"
#include "../model/model_fixtures.hpp"
#include "../toy_example.hpp"
#include "litestage/search/importance.hpp"

using namespace litestage;
using namespace litestage::test;

TEST_CASE("a sub-layer whose output is zero has cos = 1 and ranks first", "[search][importance]") {
  // 3 layers; room for the one-token-per-character prompts
  auto model = random_model(tiny_llama_config(256), 21);
  {
    torch::NoGradGuard ng;
    // Layer 1's attention writes nothing to the residual stream; layer 2's FFN neither.
    model->model->blocks[1]->self_attn->o_proj->weight.zero_();
    model->model->blocks[2]->mlp->down_proj->weight.zero_();
  }
  auto tok = std::make_shared<CharTokenizer>(97, 96);
  Generator gen(model, tok);
  PipelineConfig pc;
  for (auto k : kStages) pc.stages[k].max_new_tokens = 3;
  const Example ex = toy_example();
  auto imp = estimate_importance(gen, pc, {ex, ex}, ImportanceSettings{}, false);
  REQUIRE(imp.layers == 3);
  CHECK(imp.measured_stages().size() == 3);
  for (StageKind kind : imp.measured_stages()) {
    const auto& st = imp.stages[kind];
    CHECK(st.attn[1] == Approx(1.0).epsilon(1e-6));
    CHECK(st.ffn[2] == Approx(1.0).epsilon(1e-6));
    CHECK(st.attn[0] < 0.999);
  }
  CHECK(imp.stages[StageKind::Analyze].calls == 4);  // 2 examples x 2 options
  // Summed over three stages: 3.0 for the two dead sub-layers, which lead the ranking.
  CHECK(imp.attn[1] == Approx(3.0).epsilon(1e-6));
  auto ranking = imp.ranking();
  REQUIRE(ranking.size() == 6);
  std::vector<std::string> top = {to_string(ranking[0]), to_string(ranking[1])};
  std::sort(top.begin(), top.end());
  CHECK(top == std::vector<std::string>{"a1", "f2"});
  CHECK(imp.pooled_attn[1] == Approx(1.0).epsilon(1e-6));
}

TEST_CASE("accumulation across stages: sum or mean of per-stage averages, pooling mean or last",
          "[search][importance]") {
  auto t = [](std::vector<float> in, std::vector<float> out, int64_t tokens) {
    return std::make_pair(torch::tensor(in).view({1, tokens, -1}), torch::tensor(out).view({1, tokens, -1}));
  };
  for (auto acc : {StageAccumulation::Sum, StageAccumulation::Mean}) {
    ImportanceSettings s;
    s.accumulate = acc;
    ImportanceAccumulator a(1, s);
    // Recall: two calls, attention cos 1 and 0 -> stage mean 0.5. Summarize: one call, cos 1.
    auto [i1, o1] = t({1, 0, 1, 0}, {2, 0, 3, 0}, 2);   // both tokens parallel: cos 1
    auto [i2, o2] = t({1, 0, 1, 0}, {0, 1, 0, 1}, 2);   // orthogonal: cos 0
    a.set_stage(StageKind::Recall);
    a.observe({0, SubLayerKind::Attention, i1, o1, true});
    a.set_stage(StageKind::Recall);
    a.observe({0, SubLayerKind::Attention, i2, o2, true});
    a.observe({0, SubLayerKind::Attention, i2, o2, false});  // decode steps are ignored
    a.set_stage(StageKind::Summarize);
    a.observe({0, SubLayerKind::Attention, i1, o1, true});
    auto r = a.finish(1);
    CHECK(r.stages[StageKind::Recall].attn[0] == Approx(0.5));
    CHECK(r.stages[StageKind::Summarize].attn[0] == Approx(1.0));
    CHECK(r.attn[0] == Approx(acc == StageAccumulation::Sum ? 1.5 : 0.75));
    CHECK(r.pooled_attn[0] == Approx(2.0 / 3.0));  // token-weighted over 6 prefill tokens
  }
  // Last-token pooling reads only the final position.
  ImportanceSettings last;
  last.pooling = TokenPooling::Last;
  ImportanceAccumulator a(1, last);
  a.set_stage(StageKind::Recall);
  auto [in, out] = t({1, 0, 1, 0}, {0, 1, 5, 0}, 2);  // token 0: cos 0, token 1: cos 1
  a.observe({0, SubLayerKind::FFN, in, out, true});
  CHECK(a.finish(1).stages[StageKind::Recall].ffn[0] == Approx(1.0));
}
