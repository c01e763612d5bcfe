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
  if (!run.wants(Method::Lossless) && !run.wants(Method::LiteStageSpec)) return;
  const auto settings = speculation_settings(run);
  if (settings.size() == 1) return;
  banner("speculative decoding: the drafter, on " + run.spec.dataset + "/" + run.search_data.info.split);
  const StagePlans full = full_plans(run.L);
  std::vector<PipelineConfig> configs;
  std::vector<std::string> labels;  // lookup first: ties go to it
  std::string key = "drafters:";
  for (const auto& s : settings) {
    configs.push_back(speculative_config(final_config(run.base, full, {}), s));
    labels.push_back(s.describe());
    key += " [" + labels.back() + "]";
  }
  const SettingSweep sweep = sweep_setting(run.session, configs, labels, "drafter", full,
                                           run.main_search().target, run.search_data.examples, *run.search_cache,
                                           *run.journal, run.settings.latency, key);
  run.speculation = settings[sweep.chosen];
  run.out.write(run.out.sweep("speculation"),
                nlohmann::json{{"latency", to_string(run.settings.latency)}, {"rows", sweep.table("speculative", labels)},
                                    {"chosen", labels[sweep.chosen]}}.dump(2) + "\n");
  std::fprintf(stderr, "drafter: %s\n", run.speculation.describe().c_str());
}

}  // namespace litestage
