#include <catch2/catch.hpp>

#include "../model/model_fixtures.hpp"
#include "litestage/search/policies.hpp"
#include "litestage/search/profile.hpp"
#include "litestage/util/error.hpp"
#include "litestage/util/strings.hpp"
#include "support.hpp"

using namespace litestage;
using namespace litestage::test;

namespace {

// Hand-set importance for a 3-layer model: the accumulated ranking is f2 a1 a2 f1 a0 f0, the
// token-weighted (AdaSkip-style) one a0 first, blocks by influence 2, 1, 0.
ImportanceResult hand_importance() {
  ImportanceResult r;
  r.layers = 3;
  r.attn = {0.10, 0.80, 0.70};
  r.ffn = {0.05, 0.60, 0.90};
  r.block = {0.2, 0.5, 0.9};
  r.pooled_attn = {0.99, 0.30, 0.20};
  r.pooled_ffn = {0.10, 0.40, 0.50};
  return r;
}

std::vector<std::string> names(const std::vector<SubLayer>& v) {
  std::vector<std::string> out;
  for (const auto& s : v) out.push_back(to_string(s));
  return out;
}

}  // namespace

TEST_CASE("each baseline policy produces its documented skip sets", "[search][policies]") {
  auto imp = hand_importance();
  auto cfg = tiny_llama_config();
  CHECK(names(imp.ranking()) == std::vector<std::string>{"f2", "a1", "a2", "f1", "a0", "f0"});
  // litestage / uniform: prefixes of the accumulated ranking.
  CHECK(prefix_plan(imp.ranking(), 0, 3).to_string() == "none");
  CHECK(prefix_plan(imp.ranking(), 3, 3).to_string() == "a1-2,f2");
  CHECK(prefix_plan(imp.ranking(), 99, 3).num_skipped() == 6);
  // adaskip: token-weighted ranking, greedy until the byte ratio is reached.
  auto ada = adaskip_ranking(imp);
  CHECK(names(ada) == std::vector<std::string>{"a0", "f2", "f1", "a1", "a2", "f0"});
  CHECK(adaskip_plan(ada, 0.0, cfg).to_string() == "none");
  double one_attn = SkipPlan::parse("a0", 3).removed_weight_fraction(cfg);
  CHECK(adaskip_plan(ada, one_attn, cfg).to_string() == "a0");
  CHECK(adaskip_plan(ada, one_attn + 1e-6, cfg).to_string() == "a0,f2");
  // shortgpt: least influential whole blocks (highest block cos) first.
  CHECK(imp.block_ranking() == std::vector<int>{2, 1, 0});
  CHECK(shortgpt_plan(imp.block_ranking(), 2, 3).to_string() == "a1-2,f1-2");
  // random: the requested counts per stage, reproducible, different stages differ.
  auto r1 = random_plans({1, 3, 2}, 3, 7), r2 = random_plans({1, 3, 2}, 3, 7);
  CHECK(r1[StageKind::Recall].num_skipped() == 1);
  CHECK(r1[StageKind::Analyze].num_skipped() == 3);
  CHECK(r1[StageKind::Summarize].num_skipped() == 2);
  CHECK(r1 == r2);
  CHECK(random_plans({3, 3, 3}, 3, 8)[StageKind::Analyze] != random_plans({3, 3, 3}, 3, 9)[StageKind::Analyze]);
  // The names the YAML and the tables use, and each method once.
  CHECK(method_name(Method::LiteStageNoEE) == "litestage_no_ee");
  CHECK(method_name(Method::LiteStageSpec) == "litestage_spec");
  CHECK(all_methods().size() == 10);
  CHECK(enum_from_name(method_names(), "shortgpt", "methods") == Method::ShortGPT);
  CHECK_THROWS_WITH(enum_from_name(method_names(), "magic", "methods"), Catch::Contains("unknown 'magic'"));
}

TEST_CASE("budget profile write -> read -> apply round trip, a different model is refused", "[search][profile]") {
  auto dir = test::temp_dir("profile");
  auto cfg = tiny_llama_config();
  auto model = random_model(cfg, 31);
  save_causal_lm(model, dir / "model");
  auto id = identify_model(dir / "model");
  CHECK(id.layers == 3);
  CHECK(id.weights_hash.size() == 16);

  BudgetProfile p;
  p.model = id;
  p.tokenizer = "tok";
  p.search_split.dataset = "obqa";
  p.search_split.split = "calibration";
  p.search_split.size = 32;
  p.search_split.seed = 42;
  p.ranking = hand_importance().ranking();
  for (auto kind : kStages) {
    StageBudget b;
    b.k = static_cast<int>(kind) + 1;
    b.skip = prefix_plan(p.ranking, b.k, 3);
    b.early_exit.enabled = kind == StageKind::Analyze;
    b.early_exit.threshold = 0.42;
    p.stages[kind] = b;
  }
  p.epsilon = 2;
  p.full_accuracy = 0.9;
  p.target_accuracy = 0.88;
  p.accuracy = 0.885;
  p.full_latency = 2.0;
  p.latency = 1.25;
  p.settings["pooling"] = "mean";
  save_profile(p, dir / "profile.yaml");
  auto q = load_profile(dir / "profile.yaml");
  CHECK(q.model == p.model);
  CHECK(q.ranking == p.ranking);
  for (auto kind : kStages) {
    CHECK(q.stages[kind].skip == p.stages[kind].skip);
    CHECK(q.stages[kind].k == p.stages[kind].k);
    CHECK(q.stages[kind].early_exit.enabled == p.stages[kind].early_exit.enabled);
    CHECK(q.stages[kind].early_exit.threshold == Approx(0.42));
  }
  CHECK(q.speedup() == Approx(1.6));
  CHECK(q.search_split.size == 32u);
  CHECK(q.settings.at("pooling") == "mean");
  CHECK(profile_text(q).find("1.60x speedup") != std::string::npos);

  CHECK_NOTHROW(check_profile_model(q, id, false));
  auto other = random_model(cfg, 32);
  save_causal_lm(other, dir / "other");
  auto other_id = identify_model(dir / "other");
  CHECK_THROWS_WITH(check_profile_model(q, other_id, false), Catch::Contains("made for another model"));
  CHECK_NOTHROW(check_profile_model(q, other_id, true));
  auto deeper = other_id;
  deeper.layers = 5;
  CHECK_THROWS_WITH(check_profile_model(q, deeper, true), Catch::Contains("3-layer model"));

  // A hand-edited profile with an inconsistent stage is rejected with its key path.
  auto text = read_file((dir / "profile.yaml").string());
  auto pos = text.find("skip_ffn");
  REQUIRE(pos != std::string::npos);
  // Replace the key's value, whether written inline or as a block sequence on the lines below.
  size_t end = text.find('\n', pos) + 1;
  while (text.compare(end, 8, "      - ") == 0) end = text.find('\n', end) + 1;
  write_file_atomic((dir / "bad.yaml").string(), text.substr(0, pos) + "skip_ffn: [7]\n" + text.substr(end));
  CHECK_THROWS_WITH(load_profile(dir / "bad.yaml"), Catch::Contains("out of range"));
}
