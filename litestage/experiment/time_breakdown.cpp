#include "litestage/experiment/time_breakdown.hpp"

#include <algorithm>

#include "litestage/util/progress.hpp"
#include "litestage/util/timer.hpp"

namespace litestage {

TimeBreakdown time_breakdown(Session& session, const std::vector<Example>& examples, int warmup) {
  TimeBreakdown b;
  MultiStagePipeline pipeline(session.generator(), session.pipeline_config());
  for (size_t i = 0; i < std::min(examples.size(), static_cast<size_t>(std::max(0, warmup))); ++i)
    pipeline.run(examples[i]);
  Progress bar("time breakdown", examples.size(), stderr);
  PhaseClock::Installed installed(b.clock);
  Timer timer;
  for (const auto& e : examples) {
    pipeline.run(e);
    bar.update(++b.questions);
  }
  b.seconds = timer.seconds();
  bar.finish();
  return b;
}

std::string time_breakdown_markdown(const TimeBreakdown& b) {
  char head[160];
  std::snprintf(head, sizeof head, "%zu questions, %.3f s per question\n\n", b.questions,
                b.questions ? b.seconds / static_cast<double>(b.questions) : 0.0);
  return head + phase_table_markdown(b.clock, stage_names());
}

nlohmann::json time_breakdown_json(const TimeBreakdown& b) {
  nlohmann::json stages = nlohmann::json::object();
  const auto names = stage_names();
  for (size_t s = 0; s < names.size(); ++s) {
    const PhaseTotals& t = b.clock.totals()[s];
    nlohmann::json phases = nlohmann::json::object();
    for (size_t p = 0; p < kNumPhases; ++p) phases[phase_name(static_cast<Phase>(p))] = t.seconds[p];
    phases["bookkeeping"] = t.bookkeeping();
    stages[names[s]] = {{"wall_seconds", t.wall}, {"calls", t.calls}, {"tokens", t.tokens}, {"phase_seconds", phases}};
  }
  return {{"questions", b.questions}, {"seconds", b.seconds}, {"stages", stages}};
}

}  // namespace litestage
