#pragma once
// Where a stage call's time goes (`litestage eval --time-breakdown`): the experiment's pipeline
// run over its split with a PhaseClock installed (util/phase_clock.hpp), one bucket per stage.
// No stage cache and no traces: every stage really runs, and nothing in output_dir changes.

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "litestage/experiment/session.hpp"
#include "litestage/util/phase_clock.hpp"

namespace litestage {

struct TimeBreakdown {
  PhaseClock clock{kNumStages};
  size_t questions = 0;
  double seconds = 0;  // wall time of the timed questions
};

// Runs `warmup` untimed questions first (the first of `examples`, run again in the timed pass).
TimeBreakdown time_breakdown(Session& session, const std::vector<Example>& examples, int warmup);

// The per-stage phase table (Markdown), and the same figures as JSON.
std::string time_breakdown_markdown(const TimeBreakdown& b);
nlohmann::json time_breakdown_json(const TimeBreakdown& b);

}  // namespace litestage
