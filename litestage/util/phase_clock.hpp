#pragma once
// Where a call's time goes, when someone asks (`litestage eval --time-breakdown`): code marks its
// phases with PhaseScope, and a PhaseClock installed on the thread adds up each phase's seconds in
// the current bucket (the reasoning layer uses one bucket per stage). With no clock installed a
// scope costs one branch, so the marks stay in the hot paths for good.
//
// Phases do not nest: each mark covers work no other mark covers, and what a bucket's wall time
// holds beyond its phases is reported as bookkeeping.

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace litestage {

enum class Phase {
  Prompt,      // building the stage prompt (and the chat rendering)
  Tokenize,    // encoding the prompt
  CacheSetup,  // KV cache allocation or reset, a shared prefix's cache restored or prefilled
  Prefill,     // the prompt's forward
  Decode,      // one-token forwards
  Pick,        // logits -> token: argmax or sampling, confidence
  Detokenize,  // incremental decoding of the picked token
  StopRules,   // EOS and stop strings
  EarlyExit,   // the confidence window
  Parse,       // answer parsing
  Lookup,      // speculative decoding: finding a draft (n-gram lookup, adaptive length)
  Draft,       // speculative decoding: the self drafter's one-token forwards
  Verify,      // speculative decoding: verify forwards over a token and its draft
  Rollback,    // speculative decoding: the cache cut back to the accepted tokens
};
inline constexpr size_t kNumPhases = 14;
const char* phase_name(Phase phase);

struct PhaseTotals {
  std::array<double, kNumPhases> seconds{};  // per phase
  double wall = 0;                           // the bucket's wall time, phases included
  int64_t calls = 0;
  int64_t tokens = 0;
  double bookkeeping() const;  // wall less every phase (never negative)
};

class PhaseClock {
 public:
  explicit PhaseClock(size_t buckets) : totals_(buckets) {}
  // Installs this clock on the calling thread until the returned guard is destroyed.
  class Installed {
   public:
    explicit Installed(PhaseClock& clock);
    ~Installed();
    Installed(const Installed&) = delete;
    Installed& operator=(const Installed&) = delete;

   private:
    PhaseClock* previous_;
  };
  static PhaseClock* current();

  void set_bucket(size_t bucket) { bucket_ = bucket; }
  void add(Phase phase, double seconds) { totals_.at(bucket_).seconds[static_cast<size_t>(phase)] += seconds; }
  void add_wall(double seconds) { totals_.at(bucket_).wall += seconds; }
  void add_calls(int64_t calls, int64_t tokens);  // generate calls of the current bucket
  const std::vector<PhaseTotals>& totals() const { return totals_; }

 private:
  std::vector<PhaseTotals> totals_;
  size_t bucket_ = 0;
};

// Adds the scope's duration to `phase` of the thread's clock, if one is installed.
class PhaseScope {
 public:
  explicit PhaseScope(Phase phase) : clock_(PhaseClock::current()), phase_(phase) {
    if (clock_) start_ = std::chrono::steady_clock::now();
  }
  ~PhaseScope() {
    if (clock_) clock_->add(phase_, std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
  }
  PhaseScope(const PhaseScope&) = delete;
  PhaseScope& operator=(const PhaseScope&) = delete;

 private:
  PhaseClock* clock_;
  Phase phase_;
  std::chrono::steady_clock::time_point start_;
};

// One Markdown table: a row per bucket (named by `names`) and phase, with the phase's share of the
// bucket's wall time, its milliseconds per call and its microseconds per generated token.
std::string phase_table_markdown(const PhaseClock& clock, const std::vector<std::string>& names);

}  // namespace litestage
