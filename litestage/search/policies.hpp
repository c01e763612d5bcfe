#pragma once
// Skip policies: how each method turns importance measurements and a knob into per-stage skip
// plans (docs/methods.md describes each, with its defaults).
//
//   full             no skipping
//   litestage        stage-wise: stage s skips the first k_s sub-layers of the accumulated ranking
//   litestage_no_ee  LiteStage's plans without generation early exit
//   uniform          stage-agnostic: the same k in every stage, same ranking (the key ablation)
//   adaskip          AdaSkip-style: sub-layers ranked by token-weighted similarity over all prefill
//                    tokens (no stage awareness), skipped greedily until a global acceleration
//                    ratio (share of per-token weight bytes) is reached; same plan in every stage
//   shortgpt         whole blocks removed, least Block Influence (1 - cos(block in, out)) first
//   random           seeded random sub-layers, as many per stage as LiteStage skips
//   early_exit_only  full model with the chosen early-exit threshold
//   lossless         full model with speculative decoding: its outputs, verified faster
//   litestage_spec   LiteStage (main epsilon, its early exit) with speculative decoding: its outputs

#include <string>
#include <vector>

#include "litestage/model/config.hpp"
#include "litestage/search/budget_search.hpp"
#include "litestage/search/importance.hpp"
#include "litestage/search/method.hpp"

namespace litestage {

// LiteStage / uniform: the first k of the accumulated ranking.
SkipPlan prefix_plan(const std::vector<SubLayer>& ranking, int k, int num_layers);

// AdaSkip-style ranking: highest token-weighted similarity first.
std::vector<SubLayer> adaskip_ranking(const ImportanceResult& importance);
// Skips sub-layers of the ranking in order until removed_weight_fraction >= ratio.
SkipPlan adaskip_plan(const std::vector<SubLayer>& ranking, double ratio, const ModelConfig& config);

// ShortGPT: the n least influential blocks (attention and FFN).
SkipPlan shortgpt_plan(const std::vector<int>& block_ranking, int n, int num_layers);

// Random: per stage, counts[s] distinct sub-layers drawn with a portable seeded RNG.
StagePlans random_plans(const PerStage<int>& counts, int num_layers, uint64_t seed);

}  // namespace litestage
