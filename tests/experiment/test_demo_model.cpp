#include <catch2/catch.hpp>

#include <filesystem>

#include "litestage/experiment/evaluate.hpp"
#include "litestage/util/strings.hpp"
#include "support.hpp"

using namespace litestage;
namespace fs = std::filesystem;

// The embedded demo model is committed with the project (data/demo-model/), so this test needs
// nothing from ../shared: the synthetic questions are regenerated from data/synthetic/settings.json.
TEST_CASE("the embedded demo model loads and answers held-out synthetic questions in three stages",
          "[experiment][demo][deepbind]") {
  fs::path root = LITESTAGE_SOURCE_DIR;
  auto model = root / "data" / "demo-model";
  REQUIRE(fs::exists(model / "model.safetensors"));
  CHECK(fs::file_size(model / "model.safetensors") <= 16u * 1024 * 1024);  // the budget for a committed model
  auto dir = test::temp_dir("demo-model");
  write_file_atomic((dir / "demo.yaml").string(),
                    "model: " + model.string() + "\nruntime: {threads: 1, dtype: f32}\n"
                    "data: {dataset: synthetic, root: " + (root / "data" / "synthetic" / "settings.json").string() +
                    ", split: test, limit: 50}\ngeneration: {max_new_tokens: 48}\noutput_dir: " +
                    (dir / "out").string() + "\n");
  Session session(load_experiment((dir / "demo.yaml").string()));
  CHECK(session.num_layers() >= 8);
  auto result = run_eval(session, false);
  REQUIRE(result.traces.size() == 50);
  // The committed checkpoint answers 45 of these 50 in f32 (90 %; 95.0 % of all 300 test
  // questions, chance 31 %). f32 is named so that `auto` does not pick bf16 on AMX CPUs.
  INFO("demo model accuracy on 50 test questions: " << result.summary.accuracy);
  CHECK(result.summary.accuracy >= 0.85);
  CHECK(result.summary.unparsed == 0);
  // Every question went through all three stages.
  for (const auto& t : result.traces) {
    CHECK(t.stages.front().stage == StageKind::Recall);
    CHECK(t.stages.back().stage == StageKind::Summarize);
  }
}
