#pragma once
// The LiteStage workflow over one experiment (`litestage run`, `reproduce`, `search`,
// `importance`): full-model evaluation and sub-layer importance on the calibration data, the
// stage-wise budget search, the early-exit threshold choice, the baselines searched under the
// same accuracy target, evaluation of every method on the test split, and the tables, plots and
// budget profile. Everything it measures is journaled under output_dir, so an interrupted run
// picks up where it stopped. The steps, in the order they run, are steps.hpp and step<N>_*.cpp.

#include <optional>
#include <string>
#include <vector>

#include "litestage/experiment/report.hpp"
#include "litestage/experiment/run_importance.hpp"
#include "litestage/experiment/session.hpp"
#include "litestage/search/budget_search.hpp"
#include "litestage/search/importance.hpp"
#include "litestage/search/profile.hpp"

namespace litestage {

struct WorkflowOptions {
  bool evaluate_test = true;   // evaluate every method on the test split and write the tables
  bool plots = true;
  bool print_table = true;
};

struct WorkflowReport {
  ImportanceResult importance;
  std::vector<SearchResult> searches;   // every search run (method x epsilon)
  BudgetProfile profile;                // LiteStage at search.epsilon, with early exit
  std::vector<MethodRow> rows;          // test-split comparison
  std::vector<std::string> files;       // written outputs
};

// Every setting that changes a result of `litestage run`, with the model's and the data's hashes
// (`search_data`: the search split as the run uses it).
nlohmann::json run_fingerprint(Session& session, const Dataset& search_data);
// Records the fingerprint in <out>/fingerprint.json, or throws naming the keys (two levels deep,
// e.g. "search.max_k") that differ from the one already there: results are never mixed.
void claim_output_dir(const std::string& out, const nlohmann::json& fingerprint);

WorkflowReport run_workflow(Session& session, const WorkflowOptions& options);

}  // namespace litestage
