#include <catch2/catch.hpp>

#include "litestage/util/strings.hpp"
#include "litestage/workflow/workflow.hpp"
#include "support.hpp"

using namespace litestage;
namespace fs = std::filesystem;

TEST_CASE("run workflow on stories260K writes importance, sweeps, profile, table and plots",
          "[experiment][workflow][shared][deepbind]") {
  REQUIRE_SHARED(model, "models/stories260K");
  REQUIRE_SHARED(data, "data/obqa");
  auto dir = test::temp_dir("exp-workflow");
  auto out = dir / "out";
  write_file_atomic((dir / "e.yaml").string(),
                    "model: " + model.string() + "\nruntime: {threads: 1}\ndata: {dataset: obqa, root: " +
                        data.parent_path().string() + ", limit: 2, calibration_size: 3}\n"
                        "generation: {max_new_tokens: 6}\nimportance: {examples: 2}\nsearch: {max_k: 2}\n"
                        "early_exit_sweep: {thresholds: [0.5]}\noutput_dir: " + out.string() + "\n");
  auto spec = load_experiment((dir / "e.yaml").string());
  Session session(spec);
  WorkflowOptions opt;
  opt.print_table = false;
  auto report = run_workflow(session, opt);
  CHECK(report.importance.examples == 2);
  CHECK(report.importance.ranking().size() == 10);
  // One row per method (one epsilon).
  CHECK(report.rows.size() == spec.methods.size());
  CHECK(report.rows.front().method == "full");
  CHECK(report.rows.front().speedup() == Approx(1.0));
  for (auto f : {"importance.json", "ranking.txt", "search_journal.jsonl", "budget_profile.yaml", "table.md",
                 "table.csv", "table.tex", "results.json", "plots/tradeoff.dat", "plots/importance.dat",
                 "sweeps/litestage_eps2.json"})
    CHECK(fs::exists(out / f));
  auto profile = load_profile(out / "budget_profile.yaml");
  CHECK(profile.model.layers == 5);
  CHECK(profile.ranking == report.importance.ranking());
  // The search cache was used: a second run evaluates nothing new and reports the same table.
  Session again(spec);
  auto second = run_workflow(again, opt);
  REQUIRE(second.rows.size() == report.rows.size());
  for (size_t i = 0; i < second.rows.size(); ++i)
    CHECK(second.rows[i].summary.accuracy == report.rows[i].summary.accuracy);
  CHECK(read_file((out / "table.csv").string()).find("litestage") != std::string::npos);
}
