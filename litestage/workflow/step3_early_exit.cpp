#include "litestage/workflow/steps.hpp"

#include <cstdio>

#include "litestage/dist/dist.hpp"

namespace litestage {
namespace fs = std::filesystem;

namespace {

// The early-exit threshold sweep on fixed plans: accuracy (and cost) of each threshold from the
// stage cache, then, with measured latency, every threshold and the plans without early exit timed
// together; the setting is chosen by the search's rule (choose_row). Writes `file`.
EarlyExitConfig sweep_early_exit(Session& session, const PipelineConfig& base, const StagePlans& plans, double target,
                                 const std::vector<Example>& examples, StageCache& cache, SearchJournal& journal,
                                 LatencyMode mode, const fs::path& file) {
  const auto& spec = session.spec();
  std::vector<EarlyExitConfig> settings = {EarlyExitConfig{}};  // [0]: early exit off
  for (double t : spec.early_exit_sweep.thresholds) {
    EarlyExitConfig ee;
    ee.enabled = true;
    ee.window = spec.early_exit_sweep.window;
    ee.threshold = t;
    ee.metric = spec.early_exit_sweep.metric;
    settings.push_back(ee);
  }
  std::vector<PipelineConfig> configs;
  std::vector<std::string> labels;  // off first, then the thresholds: ties go to off, then the lower ones
  std::string key = "early exit on " + SearchJournal::key(plans) + ":";
  for (const auto& ee : settings) {
    configs.push_back(final_config(base, plans, ee));
    labels.push_back(early_exit_text(ee));
    key += " " + labels.back();
  }
  // Off when no threshold meets the target.
  const SettingSweep sweep = sweep_setting(session, configs, labels, "early-exit", plans, target, examples, cache,
                                           journal, mode, key);
  const size_t best = sweep.chosen;
  dist::write_output(file.string(), nlohmann::json{{"target_accuracy", target}, {"latency", to_string(mode)},
                                                  {"rows", sweep.table("early_exit", labels)},
                                                  {"chosen", labels[best]}}.dump(2) + "\n");
  std::fprintf(stderr, "early exit: %s\n", early_exit_text(settings[best]).c_str());
  return settings[best];
}

}  // namespace

// Step 3: the early-exit threshold for LiteStage's plans (and the full model's, for
// early_exit_only): the fastest setting that still meets the search's target, on the same data.
void sweep_thresholds(WorkflowRun& run) {
  const auto& spec = run.spec;
  auto sweep = [&](const StagePlans& plans, double target, const std::string& what) {
    return sweep_early_exit(run.session, run.base, plans, target, run.search_data.examples, *run.search_cache,
                            *run.journal, run.settings.latency, run.out.sweep("early_exit_" + what));
  };
  for (double eps : run.epsilons) {
    const auto& r = run.litestage_by_eps.at(eps);
    if (run.wants(Method::LiteStage)) {
      banner("early-exit threshold sweep on LiteStage's plans, epsilon " + eps_label(eps));
      auto ee = sweep(r.plans, r.target, method_stem(Method::LiteStage, eps));
      if (eps == spec.search.epsilon) run.litestage_ee = ee;
      run.candidates.push_back({Method::LiteStage, eps, r.plans, ee});
    }
    if (run.wants(Method::LiteStageNoEE) && (eps == spec.search.epsilon || !run.wants(Method::LiteStage)))
      run.candidates.push_back({Method::LiteStageNoEE, eps, r.plans, {}});
    if (run.wants(Method::LiteStageSpec) && eps == spec.search.epsilon) {
      if (!run.wants(Method::LiteStage)) run.litestage_ee = sweep(r.plans, r.target, method_stem(Method::LiteStage, eps));
      run.candidates.push_back({Method::LiteStageSpec, eps, r.plans, run.litestage_ee, false, true});
    }
  }
  if (run.wants(Method::EarlyExitOnly)) {
    banner("early-exit threshold sweep on the full model");
    auto ee = sweep(full_plans(run.L), run.main_search().target, method_stem(Method::Full, -1));
    run.candidates.push_back({Method::EarlyExitOnly, spec.search.epsilon, full_plans(run.L), ee});
  }
}

}  // namespace litestage
