#include "litestage/workflow/steps.hpp"

#include "litestage/dist/dist.hpp"
#include "litestage/experiment/report.hpp"
#include "litestage/util/strings.hpp"

namespace litestage {
namespace fs = std::filesystem;

namespace {

// The profile's settings record: how the search was run.
std::map<std::string, std::string> profile_settings(const WorkflowRun& run) {
  std::vector<std::string> order, thresholds;
  for (auto s : run.main_search().order) order.emplace_back(to_string(s));
  for (double v : run.spec.early_exit_sweep.thresholds) thresholds.push_back(eps_label(v));
  return {{"max_k", std::to_string(run.settings.max_k)},
          {"step", std::to_string(run.settings.step)},
          {"search_order", join(order, ",")},
          {"importance_examples", std::to_string(run.report.importance.examples)},
          {"search_examples", std::to_string(run.search_data.examples.size())},
          {"early_exit_thresholds_swept", join(thresholds, ",")},
          {"latency", to_string(run.settings.latency)},
          {"latency_model", nlohmann::json(run.latency).dump()},  // format, coefficients, source
          {"latency_model_hash", run.latency.hash()}};
}

}  // namespace

// Step 5: the budget profile, LiteStage at the main epsilon with its early exit. Its accuracy
// comes from the stage cache; its latencies from the full model and it timed together.
void write_profile(WorkflowRun& run) {
  const auto& spec = run.spec;
  const auto& main_search = run.main_search();
  auto& p = run.report.profile;
  p.method = Method::LiteStage;
  p.created = utc_timestamp();
  p.model = run.session.identity();
  p.tokenizer = spec.tokenizer.empty() ? spec.model : spec.tokenizer;
  p.search_split = run.search_data.info;
  p.pooling = spec.importance.pooling;
  p.accumulate = spec.importance.accumulate;
  p.ranking = run.report.importance.ranking();
  for (auto kind : kStages) {
    StageBudget& b = p.stages[kind];
    b.k = main_search.k[kind];
    b.skip = main_search.plans[kind];
    b.early_exit = run.litestage_ee;
  }
  p.epsilon = spec.search.epsilon;
  p.full_accuracy = main_search.full.accuracy;
  p.target_accuracy = main_search.target;
  const PipelineConfig chosen = final_config(run.base, main_search.plans, run.litestage_ee);
  PipelineEvaluator final_eval(run.session.generator(), chosen, run.search_data.examples, run.search_cache.get(), "profile");
  const auto measured = final_eval.evaluate(main_search.plans);
  const auto timed = time_interleaved_progress(run.session.generator(), {run.base, chosen}, run.search_data.examples,
                                               timing_settings(spec), "profile");
  p.accuracy = measured.accuracy;
  p.latency = timed[1].median();
  p.full_latency = timed[0].median();
  p.settings = profile_settings(run);
  if (dist::is_root()) save_profile(p, run.out.profile());
  run.report.files.push_back(run.out.profile().string());
  if (run.options.plots && dist::is_root()) run.add_files(plot_importance(run.report.importance, run.out.plots().string()));
}

}  // namespace litestage
