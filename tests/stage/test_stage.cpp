#include <catch2/catch.hpp>

#include <map>
#include <string>

#include "litestage/stage/stage.hpp"
#include "litestage/util/error.hpp"

using namespace litestage;

TEST_CASE("the stage list runs Recall, Analyze, Summarize and names parse back", "[stage]") {
  REQUIRE(kStages.size() == kNumStages);
  CHECK(kStages[0] == StageKind::Recall);
  CHECK(kStages[1] == StageKind::Analyze);
  CHECK(kStages[2] == StageKind::Summarize);
  for (StageKind k : kStages) CHECK(parse_stage_kind(to_string(k)) == k);
  CHECK(to_string(StageKind::Analyze) == "analyze");
  CHECK_THROWS_WITH(parse_stage_kind("Recall"), Catch::Contains("expected recall, analyze or summarize"));
  CHECK_THROWS_AS(parse_stage_kind(""), Error);
}

TEST_CASE("PerStage holds one value per stage, indexed by the stage, iterated in running order", "[stage]") {
  PerStage<int> k(1, 2, 3);
  CHECK(k[StageKind::Recall] == 1);
  CHECK(k[StageKind::Analyze] == 2);
  CHECK(k[StageKind::Summarize] == 3);
  k[StageKind::Analyze] = 7;
  std::string order;
  for (int v : k) order += std::to_string(v);
  CHECK(order == "173");
  CHECK(k == PerStage<int>(1, 7, 3));
  CHECK(k != PerStage<int>());
  const PerStage<std::string> empty;
  for (const auto& s : empty) CHECK(s.empty());  // value-initialised
  CHECK(PerStage<double>()[StageKind::Summarize] == 0.0);
}

TEST_CASE("stage_object, stage_values and join_stages round-trip by stage name", "[stage]") {
  const PerStage<int> k(4, 0, 2);
  auto obj = stage_object<std::map<std::string, int>>(k, [](int v) { return v * 10; });
  CHECK(obj == std::map<std::string, int>{{"recall", 40}, {"analyze", 0}, {"summarize", 20}});
  // std::map::at throws on a missing stage, as nlohmann::json::at does.
  auto back = stage_values<int>(obj, [](int v) { return v / 10; });
  CHECK(back == k);
  obj.erase("analyze");
  CHECK_THROWS(stage_values<int>(obj, [](int v) { return v; }));
  CHECK(join_stages(k, [](int v) { return std::to_string(v); }) == "4 | 0 | 2");
  CHECK(join_stages(k, [](int v) { return std::to_string(v); }, ",") == "4,0,2");
}
