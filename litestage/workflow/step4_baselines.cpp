#include "litestage/workflow/steps.hpp"

#include <algorithm>
#include <functional>

#include "litestage/dist/dist.hpp"
#include "litestage/search/policies.hpp"

namespace litestage {
namespace fs = std::filesystem;

// Step 4: the baselines under the same target. uniform and adaskip are compared at every
// epsilon; shortgpt and random at the main one.
void search_baselines(WorkflowRun& run) {
  const auto& spec = run.spec;
  const int L = run.L;
  auto shared = [&](Method method, const std::function<SkipPlan(int)>& make, int max_k,
                    const std::vector<double>& eps_list) {
    auto s = run.settings;
    s.max_k = max_k;
    for (double eps : eps_list) {
      s.epsilon = eps;
      banner(method_name(method) + " search, epsilon " + eps_label(eps) + " points");
      auto r = shared_knob_search(method, *run.journal, *run.evaluator, make, L, s);
      run.report.searches.push_back(r);
      run.out.write(run.out.sweep(method_stem(method, eps)), nlohmann::json(r).dump(2) + "\n");
      run.candidates.push_back({method, eps, r.plans, {}});
    }
  };
  const auto ranking = run.report.importance.ranking();
  const auto& config = run.session.model()->config();
  if (run.wants(Method::Uniform))
    shared(Method::Uniform, [&](int k) { return prefix_plan(ranking, k, L); }, run.settings.max_k, run.epsilons);
  if (run.wants(Method::AdaSkip)) {
    auto ada = adaskip_ranking(run.report.importance);
    // Ratios in steps of one sub-layer's average share, up to the share of K sub-layers.
    double per = SkipPlan::parse("b0-" + std::to_string(L - 1), L).removed_weight_fraction(config) / (2.0 * L);
    shared(Method::AdaSkip, [&, ada, per](int k) { return adaskip_plan(ada, per * k, config); }, run.settings.max_k,
           run.epsilons);
  }
  if (run.wants(Method::ShortGPT)) {
    auto blocks = run.report.importance.block_ranking();
    shared(Method::ShortGPT, [&, blocks](int n) { return shortgpt_plan(blocks, n, L); }, std::max(1, run.settings.max_k / 2),
           {spec.search.epsilon});
  }
  // random skips as many sub-layers per stage as LiteStage chose, drawn at random: a control, not
  // held to the accuracy target (labelled so in the table).
  if (run.wants(Method::Random))
    run.candidates.push_back(
        {Method::Random, spec.search.epsilon, random_plans(run.main_search().k, L, spec.seed + 17), {}, true});
}

}  // namespace litestage
