#include "litestage/workflow/steps.hpp"

#include <cstdio>

#include "litestage/dist/dist.hpp"

namespace litestage {

namespace {

// The drafter settings to choose from: generation.speculative where the experiment turns it on;
// else the lookup drafter, and the auto drafter whose drafts also skip the first quarter or half
// of the importance ranking's sub-layers.
std::vector<SpeculativeConfig> speculation_settings(const WorkflowRun& run) {
  if (run.spec.speculative.on()) return {run.spec.speculative};
  SpeculativeConfig lookup;
  lookup.drafter = DrafterKind::Lookup;
  std::vector<SpeculativeConfig> out{lookup};
  const auto ranking = run.report.importance.ranking();
  for (size_t part : {4, 2}) {
    const size_t k = ranking.size() / part;
    if (k == 0) continue;
    SpeculativeConfig self = lookup;
    self.drafter = DrafterKind::Auto;
    self.draft_skip = prefix_plan(ranking, static_cast<int>(k), run.L).to_string();
    out.push_back(self);
  }
  return out;
}

}  // namespace

// Step 3, last: the drafter settings of the lossless and litestage_spec methods, on the search
// split with the full model verifying, by the search's rule (choose_row). Greedy outputs do not
// depend on them, so every setting has the full model's accuracy; the choice is about time (the
// measured passes, journaled, or the predicted latency of the cost). Writes sweeps/speculation.json.
void choose_speculation(WorkflowRun& run) {
  run.speculation = speculation_for(run.spec);
  if (!run.wants("lossless") && !run.wants("litestage_spec")) return;
  const auto settings = speculation_settings(run);
  if (settings.size() == 1) return;
  banner("speculative decoding: the drafter, on " + run.spec.dataset + "/" + run.search_data.info.split);
  const StagePlans full = full_plans(run.L);
  std::vector<SweepRow> rows(settings.size());
  std::vector<PipelineConfig> configs;
  std::vector<EvalPoint*> points;
  for (size_t i = 0; i < settings.size(); ++i) {
    configs.push_back(final_config(run.base, full, {}));
    configs.back().speculative = settings[i];
    PipelineEvaluator eval(run.session.generator(), configs.back(), run.search_data.examples, run.search_cache.get(),
                           "drafter " + settings[i].describe());
    rows[i].stage = "all";
    rows[i].k = static_cast<int>(i);  // ties go to the lower index: lookup first
    rows[i].point = eval.evaluate(full);
    rows[i].meets_target = rows[i].point.accuracy >= run.main_search().target - 1e-9;
    points.push_back(&rows[i].point);
  }
  if (run.settings.latency == LatencyMode::Measured) {
    std::string key = "drafters:";
    for (const auto& s : settings) key += " [" + s.describe() + "]";
    set_timing(run.journal->timing(key, [&] {
      return time_interleaved_progress(run.session.generator(), configs, run.search_data.examples,
                                       timing_settings(run.spec), "drafter sweep");
    }), points);
  }
  const size_t best = choose_row(rows, run.settings.latency).value_or(0);
  run.speculation = settings[best];
  nlohmann::json table = nlohmann::json::array();
  for (size_t i = 0; i < rows.size(); ++i)
    table.push_back({{"speculative", settings[i].describe()}, {"point", rows[i].point}, {"meets_target", rows[i].meets_target}});
  dist::write_output((run.out / "sweeps" / "speculation.json").string(),
                     nlohmann::json{{"latency", to_string(run.settings.latency)}, {"rows", table},
                                    {"chosen", run.speculation.describe()}}.dump(2) + "\n");
  std::fprintf(stderr, "drafter: %s\n", run.speculation.describe().c_str());
}

}  // namespace litestage
