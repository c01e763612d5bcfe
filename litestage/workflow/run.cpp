#include "litestage/workflow/steps.hpp"

#include <cstdio>

#include "litestage/util/strings.hpp"

namespace litestage {
namespace fs = std::filesystem;

WorkflowReport run_workflow(Session& session, const WorkflowOptions& options) {
  WorkflowReport report;
  WorkflowRun run(session, options, report);
  prepare(run);
  search_litestage(run);
  sweep_thresholds(run);
  choose_speculation(run);
  search_baselines(run);
  write_profile(run);
  if (!options.evaluate_test) return report;
  evaluate_candidates(run);
  write_report(run);
  std::fprintf(stderr, "workflow finished in %s; results in %s/\n", format_duration(run.clock.seconds()).c_str(),
               run.out.root().string().c_str());
  return report;
}

}  // namespace litestage
