#include "litestage/experiment/diagnose.hpp"

#include "litestage/stage/stage.hpp"
#include "litestage/prompt/prompts.hpp"

namespace litestage {

namespace {

// Records [i * n / take] of those of one kind: evenly spread, deterministic.
std::vector<const StageRecord*> spread(const std::vector<StageRecord>& records, StageKind kind, size_t take) {
  std::vector<const StageRecord*> of_kind;
  for (const StageRecord& r : records)
    if (r.kind == kind) of_kind.push_back(&r);
  const size_t n = of_kind.size();
  if (take == 0 || take >= n) return of_kind;
  std::vector<const StageRecord*> out;
  for (size_t i = 0; i < take; ++i) out.push_back(of_kind[i * n / take]);
  return out;
}

std::string last_line(const std::string& prompt) {
  const size_t nl = prompt.rfind('\n');
  return nl == std::string::npos ? prompt : prompt.substr(nl + 1);
}

}  // namespace

StageMatches teacher_forced_exact_match(MultiStagePipeline& pipeline, const std::vector<StageRecord>& records,
                                        size_t per_stage, size_t keep_misses) {
  StageMatches out;
  for (StageKind kind : kStages) {
    StageMatch& m = out[kind];
    for (const StageRecord* r : spread(records, kind, per_stage)) {
      const std::string got = normalize_stage_output(pipeline.run_stage(kind, r->input).output);
      const std::string expected = normalize_stage_output(r->target);
      ++m.records;
      if (got == expected) {
        ++m.exact;
      } else if (m.misses.size() < keep_misses) {
        m.misses.push_back({last_line(r->input), expected, got});
      }
    }
  }
  return out;
}

}  // namespace litestage
