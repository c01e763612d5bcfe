#include "litestage/search/policies.hpp"

#include <algorithm>
#include <random>

#include "litestage/data/shuffle.hpp"
#include "litestage/util/error.hpp"

namespace litestage {

SkipPlan prefix_plan(const std::vector<SubLayer>& ranking, int k, int num_layers) {
  return SkipPlan::from_ranking(ranking, static_cast<size_t>(std::min<int>(k, static_cast<int>(ranking.size()))),
                                num_layers);
}

std::vector<SubLayer> adaskip_ranking(const ImportanceResult& imp) {
  std::vector<std::pair<double, SubLayer>> items;
  for (int l = 0; l < imp.layers; ++l) {
    items.push_back({imp.pooled_attn.at(l), {l, SubLayerKind::Attention}});
    items.push_back({imp.pooled_ffn.at(l), {l, SubLayerKind::FFN}});
  }
  std::stable_sort(items.begin(), items.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<SubLayer> out;
  for (const auto& it : items) out.push_back(it.second);
  return out;
}

SkipPlan adaskip_plan(const std::vector<SubLayer>& ranking, double ratio, const ModelConfig& config) {
  SkipPlan plan(static_cast<int>(config.num_hidden_layers));
  for (const auto& s : ranking) {
    if (plan.removed_weight_fraction(config) >= ratio - 1e-12) break;
    plan.set(s);
  }
  return plan;
}

SkipPlan shortgpt_plan(const std::vector<int>& block_ranking, int n, int num_layers) {
  SkipPlan plan(num_layers);
  for (int i = 0; i < n && i < static_cast<int>(block_ranking.size()); ++i) {
    plan.set({block_ranking[i], SubLayerKind::Attention});
    plan.set({block_ranking[i], SubLayerKind::FFN});
  }
  return plan;
}

StagePlans random_plans(const PerStage<int>& counts, int num_layers, uint64_t seed) {
  auto plans = StagePlans::filled(SkipPlan(num_layers));
  std::vector<SubLayer> all;
  for (int l = 0; l < num_layers; ++l) {
    all.push_back({l, SubLayerKind::Attention});
    all.push_back({l, SubLayerKind::FFN});
  }
  for (StageKind s : kStages) {
    auto perm = seeded_permutation(all.size(), seed + static_cast<uint64_t>(s));
    for (int i = 0; i < counts[s] && i < static_cast<int>(perm.size()); ++i) plans[s].set(all[perm[i]]);
  }
  return plans;
}

}  // namespace litestage
