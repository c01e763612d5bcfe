#include <catch2/catch.hpp>

#include <fstream>

#include "litestage/experiment/evaluate.hpp"
#include "litestage/util/error.hpp"
#include "litestage/util/strings.hpp"
#include "support.hpp"

using namespace litestage;
namespace fs = std::filesystem;

namespace {

std::string write_experiment(const fs::path& dir, const std::string& body) {
  auto path = dir / "exp.yaml";
  write_file_atomic(path.string(), body);
  return path.string();
}

std::string stories_experiment(const fs::path& dir, const fs::path& model, const fs::path& data) {
  return write_experiment(dir, "name: stories\nmodel: " + model.string() +
                                   "\nruntime: {threads: 1}\n"
                                   "data: {dataset: obqa, root: " + data.string() + ", split: test, limit: 5}\n"
                                   "generation: {max_new_tokens: 12}\n"
                                   "stages:\n  analyze: {max_new_tokens: 8}\n"
                                   "output_dir: " + (dir / "out").string() + "\n");
}

}  // namespace

TEST_CASE("YAML errors: unknown key, wrong type, missing model dir", "[experiment][yaml]") {
  auto dir = test::temp_dir("exp-yaml");
  fs::create_directories(dir / "model");
  auto m = (dir / "model").string();
  CHECK_THROWS_WITH(load_experiment(write_experiment(dir, "model: " + m + "\nstages:\n  recall:\n    early_exitt: {}\n")),
                    Catch::Contains("stages.recall.early_exitt: unknown key"));
  CHECK_THROWS_WITH(
      load_experiment(write_experiment(dir, "model: " + m + "\nstages:\n  recall:\n    early_exit: {window: four}\n")),
      Catch::Contains("stages.recall.early_exit.window: expected an integer, got 'four'"));
  CHECK_THROWS_WITH(load_experiment(write_experiment(dir, "model: " + (dir / "nope").string() + "\n")),
                    Catch::Contains("model: model directory '" + (dir / "nope").string() + "' does not exist"));
  CHECK_THROWS_WITH(load_experiment(write_experiment(dir, "data: {dataset: obqa}\n")),
                    Catch::Contains("model: required key is missing"));
  CHECK_THROWS_WITH(load_experiment(write_experiment(dir, "model: " + m + "\ndata: {limit: 0}\n")),
                    Catch::Contains("data.limit: must be >= 1"));
  CHECK_THROWS_WITH(load_experiment(write_experiment(dir, "model: " + m + "\nprompt: {format: fancy}\n")),
                    Catch::Contains("prompt.format: 'fancy' is not one of: tinythinker, chat"));
  // --set overrides are checked like file keys, and their errors name the override, not the file.
  CHECK_THROWS_WITH(load_experiment(write_experiment(dir, "model: " + m + "\n"), {"generation.max_new_tokens=many"}),
                    "--set generation.max_new_tokens=many: expected an integer, got 'many'");
  auto spec = load_experiment(write_experiment(dir, "model: " + m + "\n"), {"data.limit=7", "seed=3"});
  CHECK(spec.load.limit == 7u);
  CHECK(spec.seed == 3u);
  CHECK(spec.output_dir == "runs/exp");
}

TEST_CASE("eval over 5 OBQA questions with stories260K: complete traces, summary, identical resume",
          "[experiment][shared][deepbind]") {
  REQUIRE_SHARED(model, "models/stories260K");
  REQUIRE_SHARED(data, "data/obqa");
  auto dir = test::temp_dir("exp-eval");
  auto exp = stories_experiment(dir, model, data.parent_path());

  Session session(load_experiment(exp));
  auto full = run_eval(session, false);
  REQUIRE(full.complete);
  REQUIRE(full.traces.size() == 5);
  for (const auto& t : full.traces) {
    // Recall, one Analyze per option (OBQA: 4), Summarize.
    REQUIRE(t.stages.size() == 6);
    CHECK(t.stages[0].stage == StageKind::Recall);
    CHECK(t.stages[0].prompt.size() > 10);
    CHECK(ends_with(t.stages[0].prompt, "\nRecall:"));
    CHECK(t.stages[1].prompt.find("\nAnalyze: For option A,") != std::string::npos);
    CHECK(ends_with(t.stages.back().prompt, "\nSummarize:"));
    for (const auto& st : t.stages) {
      CHECK(st.tokens > 0);
      CHECK(st.prefill_seconds > 0);
      CHECK(st.tokens <= (st.stage == StageKind::Analyze ? 8 : 12));
    }
  }
  CHECK(full.summary.examples == 5);
  CHECK(full.summary.stages[StageKind::Recall].share + full.summary.stages[StageKind::Analyze].share + full.summary.stages[StageKind::Summarize].share == Approx(1.0));
  auto out = dir / "out";
  for (auto f : {"config.yaml", "split.json", "traces.jsonl", "predictions.jsonl", "summary.json", "summary.md"})
    CHECK(fs::exists(out / f));
  CHECK(read_file((out / "summary.md").string()).find("| analyze |") != std::string::npos);
  std::string reference = read_file((out / "predictions.jsonl").string());

  // Without --resume an existing output directory is refused.
  CHECK_THROWS_WITH(run_eval(session, false), Catch::Contains("already holds results"));

  // Interrupted after 2 examples, with a torn line at the end of the trace file, then resumed.
  fs::remove_all(out);
  auto partial = run_eval(session, false, 2);
  CHECK_FALSE(partial.complete);
  CHECK(read_traces((out / "traces.jsonl").string()).size() == 2);
  {
    std::ofstream torn(out / "traces.jsonl", std::ios::app);
    torn << "{\"id\": \"half a li";
  }
  auto resumed = run_eval(session, true);
  CHECK(resumed.complete);
  CHECK(resumed.resumed == 2);
  CHECK(read_file((out / "predictions.jsonl").string()) == reference);
  CHECK(read_traces((out / "traces.jsonl").string()).size() == 5);
}
