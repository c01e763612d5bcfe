#include "litestage/workflow/steps.hpp"

#include "litestage/dist/dist.hpp"
#include "litestage/experiment/report.hpp"

namespace litestage {
namespace fs = std::filesystem;

// Step 2: LiteStage's stage-wise search at every epsilon.
void search_litestage(WorkflowRun& run) {
  const auto ranking = run.report.importance.ranking();
  auto build = [&](StageKind, int k) { return prefix_plan(ranking, k, run.L); };
  auto settings = run.settings;
  for (double eps : run.epsilons) {
    settings.epsilon = eps;
    banner("LiteStage stage-wise search, epsilon " + eps_label(eps) + " points, K = " + std::to_string(settings.max_k) +
           ", on " + run.spec.dataset + "/" + run.search_data.info.split + " (" +
           std::to_string(run.search_data.examples.size()) + " examples)");
    auto r = stage_wise_search(*run.journal, *run.evaluator, build, run.L, settings);
    run.litestage_by_eps[eps] = r;
    run.report.searches.push_back(r);
    run.out.write(run.out.sweep(method_stem(Method::LiteStage, eps)), nlohmann::json(r).dump(2) + "\n");
    if (run.options.plots && dist::is_root())
      run.add_files(plot_sweep(r, run.out.plots().string(), "sweep_" + method_stem(Method::LiteStage, eps)));
  }
}

}  // namespace litestage
