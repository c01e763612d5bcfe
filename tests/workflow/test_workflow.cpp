#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "litestage/util/strings.hpp"
#include "litestage/workflow/workflow.hpp"
#include "row_checks.hpp"
#include "support.hpp"

using namespace litestage;
namespace fs = std::filesystem;

namespace {

// Each question's stage outputs, token counts and exit reasons in a traces file, in order.
std::vector<std::string> stage_outcomes(const fs::path& traces) {
  std::vector<std::string> out;
  std::istringstream lines(read_file(traces.string()));
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    const auto j = nlohmann::json::parse(line);
    std::string s = j.at("id").get<std::string>();
    for (const auto& st : j.at("stages"))
      s += " | " + st.at("output").get<std::string>() + " #" + std::to_string(st.at("tokens").get<int>()) + " " +
           st.at("exit_reason").get<std::string>();
    out.push_back(s);
  }
  return out;
}

// Every JSONL file under `dir` (search journal, stage caches, traces), relative path -> contents.
std::map<std::string, std::string> jsonl_files(const fs::path& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ".jsonl")
      files[fs::relative(e.path(), dir).string()] = read_file(e.path().string());
  return files;
}

}  // namespace

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
  CHECK(report.rows.front().method == Method::Full);
  test::check_rows_against_full(report.rows);
  for (auto f : {"importance.json", "ranking.txt", "search_journal.jsonl", "budget_profile.yaml", "table.md",
                 "table.csv", "table.tex", "results.json", "plots/tradeoff.dat", "plots/importance.dat",
                 "sweeps/litestage_eps2.json"})
    CHECK(fs::exists(out / f));
  auto profile = load_profile(out / "budget_profile.yaml");
  CHECK(profile.model.layers == 5);
  CHECK(profile.ranking == report.importance.ranking());
  // The speculative methods give exactly the outputs of the methods they speed up.
  const auto full_outcomes = stage_outcomes(out / "methods" / "full.traces.jsonl");
  REQUIRE(full_outcomes.size() == 2);
  CHECK(stage_outcomes(out / "methods" / "lossless.traces.jsonl") == full_outcomes);
  CHECK(stage_outcomes(out / "methods" / "litestage_spec_eps2.traces.jsonl") ==
        stage_outcomes(out / "methods" / "litestage_eps2.traces.jsonl"));
  for (const auto& row : report.rows) {
    INFO(row.label);
    CHECK((row.speculative != "off") == (row.method == Method::Lossless || row.method == Method::LiteStageSpec));
    if (row.method == Method::Lossless) CHECK(row.summary.accuracy == report.rows.front().summary.accuracy);
  }
  // The caches were used: a second run evaluates nothing new (no search journal entry, stage
  // generation or trace added: every JSONL file stays as it was) and reports the same table.
  const auto before = jsonl_files(out);
  REQUIRE(before.count("search_journal.jsonl") == 1);
  REQUIRE(before.count("methods/full.traces.jsonl") == 1);
  Session again(spec);
  auto second = run_workflow(again, opt);
  const auto after = jsonl_files(out);
  CHECK(after.size() == before.size());
  for (const auto& [file, text] : before) {
    INFO(file);
    REQUIRE(after.count(file) == 1);
    CHECK(std::count(after.at(file).begin(), after.at(file).end(), '\n') == std::count(text.begin(), text.end(), '\n'));
    CHECK((after.at(file) == text));
  }
  REQUIRE(second.rows.size() == report.rows.size());
  for (size_t i = 0; i < second.rows.size(); ++i)
    CHECK(second.rows[i].summary.accuracy == report.rows[i].summary.accuracy);
  CHECK(read_file((out / "table.csv").string()).find("litestage") != std::string::npos);
}
