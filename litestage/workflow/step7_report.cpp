#include "litestage/workflow/steps.hpp"

#include <iostream>

#include "litestage/dist/dist.hpp"
#include "litestage/kernels/blas.hpp"
#include "litestage/util/provenance.hpp"
#include "litestage/util/stats.hpp"

namespace litestage {
namespace fs = std::filesystem;

namespace {

std::string table_caption(const WorkflowRun& run, const Dataset& test) {
  const auto& spec = run.spec;
  return spec.name + ": " + spec.dataset + "/" + test.info.split + ", " + std::to_string(test.examples.size()) +
         " questions, " + dtype_name(run.session.runtime().dtype) + " on " + run.session.runtime().device.str() + ", " +
         std::to_string(at::get_num_threads()) + " threads; search on " + std::to_string(run.search_data.examples.size()) +
         " questions of " + spec.dataset + "/" + spec.search.split + ", importance on " +
         std::to_string(run.report.importance.examples) + " other questions of " + spec.dataset + "/" +
         spec.importance.split + " (choices by " + to_string(spec.search.latency) + "), epsilon in accuracy points; latency: median (min–max) of " + std::to_string(spec.timing.repeats) +
         " passes interleaved over the methods after a warm-up, "
         "speedup with a 95% bootstrap interval over questions; cost speedup: the full model's FLOPs "
         "per question over the method's (deterministic); too long: questions with a stage past the "
         "context (answered wrong)";
}

}  // namespace

// Step 7: the tables, the trade-off plot and results.json.
void write_report(WorkflowRun& run) {
  const Dataset& test = run.test;
  const auto caption = table_caption(run, test);
  const auto& rows = run.report.rows;
  const auto stem = run.out.table_stem();
  if (dist::is_root()) write_tables(rows, stem.parent_path().string(), stem.filename().string(), caption);
  for (auto ext : {".md", ".csv", ".tex"}) run.report.files.push_back(stem.string() + ext);
  if (run.options.plots && dist::is_root()) run.add_files(plot_tradeoff(rows, run.out.plots().string()));
  nlohmann::json summary = nlohmann::json::array();
  for (const auto& r : rows)
    summary.push_back({{"method", method_name(r.method)}, {"label", r.label}, {"epsilon", r.epsilon}, {"summary", r.summary},
                       {"accuracy_wilson95", {r.accuracy_ci().low, r.accuracy_ci().high}},
                       {"timing", r.timing}, {"speedup", r.speedup()},
                       {"speedup_bootstrap95", {r.speedup_ci.low, r.speedup_ci.high}},
                       {"predicted_speedup", r.predicted_speedup()}, {"predicted_seconds", r.predicted_seconds},
                       {"cost_speedup", r.cost_speedup()}, {"delta_points", r.delta_points()},
                       {"held_to_target", !r.unconstrained}, {"skip", r.skip}, {"early_exit", r.early_exit}});
  run.out.write(run.out.results(),
                     nlohmann::json{{"experiment", run.spec.name}, {"split", test.info}, {"rows", summary},
                                    {"search_stage_cache", {{"entries", run.search_cache->size()}}},
                                    {"latency_model", run.latency},
                                    {"runtime", runtime_description(run.session.runtime())},
                                    {"ranks", dist::world_size()},
                                    {"seconds", run.clock.seconds()},
                                    {"provenance", provenance_json()}}.dump(2) + "\n");
  if (run.options.print_table) std::cout << "\n" << table_markdown(rows, caption) << "\n";
}

}  // namespace litestage
