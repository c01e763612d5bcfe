#include "litestage/util/phase_clock.hpp"

#include <algorithm>

#include "litestage/util/format.hpp"

namespace litestage {

namespace {
thread_local PhaseClock* installed = nullptr;

}  // namespace

const char* phase_name(Phase phase) {
  static const char* const names[kNumPhases] = {"prompt building", "tokenization", "cache setup / prefix restore",
                                                "prefill forward", "decode forwards", "logits -> token",
                                                "detokenization", "EOS / stop strings", "early-exit window",
                                                "answer parsing", "draft lookup", "self-draft forwards",
                                                "verify forwards", "cache rollback"};
  return names[static_cast<size_t>(phase)];
}

double PhaseTotals::bookkeeping() const {
  double phases = 0;
  for (double s : seconds) phases += s;
  return std::max(0.0, wall - phases);
}

PhaseClock::Installed::Installed(PhaseClock& clock) : previous_(installed) { installed = &clock; }
PhaseClock::Installed::~Installed() { installed = previous_; }
PhaseClock* PhaseClock::current() { return installed; }

void PhaseClock::add_calls(int64_t calls, int64_t tokens) {
  auto& t = totals_.at(bucket_);
  t.calls += calls;
  t.tokens += tokens;
}

std::string phase_table_markdown(const PhaseClock& clock, const std::vector<std::string>& names) {
  std::string out = "| stage | phase | share of stage | ms per call | µs per token |\n|---|---|---:|---:|---:|\n";
  const auto& totals = clock.totals();
  for (size_t b = 0; b < totals.size(); ++b) {
    const PhaseTotals& t = totals[b];
    if (t.calls == 0 && t.wall == 0) continue;
    const std::string name = b < names.size() ? names[b] : std::to_string(b);
    auto row = [&](const std::string& phase, double seconds) {
      out += "| " + name + " | " + phase + " | " + format("%.1f %%", t.wall > 0 ? 100.0 * seconds / t.wall : 0.0) +
             " | " + format("%.3f", t.calls ? 1e3 * seconds / static_cast<double>(t.calls) : 0.0) + " | " +
             (t.tokens ? format("%.1f", 1e6 * seconds / static_cast<double>(t.tokens)) : std::string("–")) + " |\n";
    };
    for (size_t p = 0; p < kNumPhases; ++p)
      if (t.seconds[p] > 0) row(phase_name(static_cast<Phase>(p)), t.seconds[p]);
    row("bookkeeping (the rest)", t.bookkeeping());
    row("**total** (" + std::to_string(t.calls) + " calls, " + std::to_string(t.tokens) + " tokens)", t.wall);
  }
  return out;
}

}  // namespace litestage
