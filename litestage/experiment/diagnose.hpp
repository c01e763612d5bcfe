#pragma once
// Diagnosing a fine-tuned model stage by stage: is it "not fitted" (wrong on its own training
// records) or "does not transfer" (right on training records, wrong on held-out ones)?
//
// Teacher-forced exact match: each stage record's prompt holds the gold earlier stages; the model
// continues it greedily with the pipeline's settings for that stage, and the normalised output is
// compared with the normalised target. Together with the full three-stage accuracy on the same
// kind of questions (run_pipeline()), it says which stage fails and whether it fails on training data.

#include <array>
#include <string>
#include <vector>

#include "litestage/data/stage_records.hpp"
#include "litestage/reasoning/pipeline.hpp"

namespace litestage {

struct StageMatch {
  int records = 0;
  int exact = 0;
  // The first few mismatches: (prompt's last line, expected, got).
  struct Miss {
    std::string prompt_tail, expected, got;
  };
  std::vector<Miss> misses;
  double rate() const { return records ? static_cast<double>(exact) / records : 0.0; }
};

// Indexed by StageKind (Recall, Analyze, Summarize).
using StageMatches = PerStage<StageMatch>;

// Runs up to `per_stage` records of each stage kind (evenly spread over the file's records of that
// kind, so a limit still samples the whole set), keeping at most `keep_misses` mismatches per stage.
StageMatches teacher_forced_exact_match(MultiStagePipeline& pipeline, const std::vector<StageRecord>& records,
                                        size_t per_stage, size_t keep_misses = 3);

}  // namespace litestage
