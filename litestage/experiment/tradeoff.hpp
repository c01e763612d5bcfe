#pragma once
// The accuracy/skip trade-off of a model: skip the k most redundant sub-layers (the importance
// ranking) in every stage, for k = 0, step, 2 step, ... up to all 2L, and answer the experiment's
// split each time. It shows whether a model has a real trade-off (accuracy falls gradually with k)
// or a degenerate one (flat: near-identity layers; a cliff at k = 1).

#include <string>
#include <vector>

#include "litestage/experiment/session.hpp"
#include "litestage/search/importance.hpp"

namespace litestage {

struct TradeoffRow {
  int k = 0;
  std::string skipped;  // the plan, text form ("a3,f5-7")
  int examples = 0, correct = 0, unparsed = 0;
  double accuracy = 0, wilson_low = 0, wilson_high = 1;
  double mean_seconds = 0;  // per question, one timed pass (indicative only)
};

struct TradeoffResult {
  ImportanceResult importance;
  std::vector<TradeoffRow> rows;
  std::string markdown() const;  // the importance profile and the table
};

// Importance as run_importance (reused from output_dir when it matches), then the sweep on the
// experiment's own split with the full pipeline plus the skip plan, no early exit. Writes
// <output_dir>/tradeoff.json and tradeoff.md.
TradeoffResult run_tradeoff(Session& session, int step = 1, int max_k = -1);

}  // namespace litestage
