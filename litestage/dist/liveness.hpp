#pragma once
// The watchdog's judgement, apart from any store or thread so it can be tested with a made-up
// clock. Each rank publishes a RankState every second; every rank judges every rank's, and the
// run ends when
// - a rank's beat (its watchdog thread's count) stops for the beat timeout: the process is
//   killed, frozen, or its machine is gone;
// - a rank runs (is in no collective) while another waits for it, and its main thread's progress
//   count has not moved for the stall timeout: the main thread is deadlocked, looping, or one step
//   took longer than the timeout;
// - every rank waits in a collective and no rank's progress has moved for the stall timeout: the
//   ranks called different collectives, or the network stopped carrying them.
// A rank waiting while another makes progress is never at fault, however long it waits: a
// collective's wait is bounded by the others' progress, not by a clock of its own.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace litestage::dist {

enum class Collective { None, AllGather, Broadcast, Barrier };
const char* collective_name(Collective c);

struct RankState {
  int64_t beat = 0;         // the watchdog thread's count
  int64_t progress = 0;     // the main thread's: items and stages begun, collectives entered and left
  int64_t collectives = 0;  // collectives entered so far
  Collective waiting = Collective::None;  // the collective the main thread waits in
};
std::string encode(const RankState& s);
std::optional<RankState> decode(const std::string& text);  // nullopt: not a RankState

class Liveness {
 public:
  using Clock = std::chrono::steady_clock;
  Liveness(int world_size, double beat_timeout_seconds, double stall_timeout_seconds, Clock::time_point start);
  // Rank `rank`'s state as read at `now` (nullopt: it has published none yet).
  void observe(int rank, const std::optional<RankState>& state, Clock::time_point now);
  // Why the run must end, as `self` sees it at `now`; nullopt while every rank is well.
  std::optional<std::string> verdict(int self, Clock::time_point now) const;

 private:
  struct Seen {
    std::optional<RankState> state;
    Clock::time_point beat_moved, progress_moved;
  };
  bool waits(int rank) const;
  std::string stuck_collectives() const;

  double beat_timeout_, stall_timeout_;  // seconds
  std::vector<Seen> seen_;
};

}  // namespace litestage::dist
