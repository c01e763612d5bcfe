// The experiment keys are declared once (spec.cpp); docs/experiments.md's key tables must say the
// same: every key, its type and its default.

#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "litestage/experiment/spec.hpp"
#include "litestage/util/strings.hpp"
#include "option_docs.hpp"

using namespace litestage;


TEST_CASE("docs/experiments.md's key tables match the declared experiment keys", "[experiment][options]") {
  test::check_option_docs(option_infos(experiment_options()), std::string(LITESTAGE_SOURCE_DIR) + "/docs/experiments.md", 10);
}

TEST_CASE("every experiment key has help, and the effective YAML reads back to itself", "[experiment][options]") {
  for (const auto& info : option_infos(experiment_options())) {
    INFO(info.key);
    CHECK(!info.help.empty());
    CHECK(info.help.find('\n') == std::string::npos);
    CHECK((!info.default_text.empty() || info.required));
  }
  YAML::Node tree = YAML::Load(
      "model: m\nstages: {analyze: {skip: a1, early_exit: {threshold: 0.3}}}\nearly_exit: {enabled: true}\n"
      "search: {latency: cost, max_k: 4}\nimportance: {pooling: last}\nepsilons: [1.5]\n");
  auto spec = parse_experiment(tree, "exp.yaml");
  CHECK(spec.search.latency == LatencyMode::Cost);
  CHECK(spec.importance.pooling == TokenPooling::Last);
  REQUIRE(spec.stages[StageKind::Analyze].early_exit);
  CHECK(spec.stages[StageKind::Analyze].early_exit->enabled);  // inherited from the top level
  CHECK(spec.stages[StageKind::Analyze].early_exit->threshold == 0.3);
  CHECK(!spec.stages[StageKind::Recall].early_exit);
  CHECK(spec.name == "exp");
  CHECK(spec.output_dir == "runs/exp");
  const auto text = experiment_yaml(spec);
  CHECK(experiment_yaml(parse_experiment(YAML::Load(text), "exp.yaml")) == text);
  CHECK_THAT(text, Catch::Contains("latency: cost") && Catch::Contains("pooling: last"));
}

TEST_CASE("speculative decoding settings: checked by key, allowed with a batched Analyze",
          "[experiment][options][speculative]") {
  auto parse = [](const std::string& text) { return parse_experiment(YAML::Load("model: m\n" + text), "exp.yaml"); };
  // Sampling speculates too (speculative sampling keeps the distribution).
  CHECK(parse("generation: {temperature: 0.7, speculative: {drafter: lookup}}\n").speculative.on());
  // The self drafter needs its skips; a bad one is named.
  CHECK_THROWS_WITH(parse("generation: {speculative: {drafter: auto}}\n"),
                    Catch::Contains("exp.yaml: generation.speculative") && Catch::Contains("needs draft_skip"));
  const auto self = parse("generation: {speculative: {drafter: self, draft_skip: b2-3, threshold: 0.7}}\n");
  CHECK(self.speculative.draft_skip == "b2-3");
  CHECK(self.speculative.threshold == 0.7);
  CHECK(self.speculative.describe() == "self, gamma 8, draft skip b2-3, threshold 0.7");
  // With batch_analyze the Analyze options decode together, without speculation; the rest speculates.
  const auto batched = parse("generation: {batch_analyze: true, speculative: {drafter: lookup}}\nmethods: [full, lossless]\n");
  CHECK(batched.batch_analyze);
  CHECK(batched.speculative.on());
  CHECK(std::count(batched.methods.begin(), batched.methods.end(), Method::Lossless) == 1);
  CHECK(parse("generation: {speculative: {drafter: lookup, gamma: 4, adaptive: false}}\n").speculative.gamma == 4);
}
