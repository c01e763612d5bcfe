#include "litestage/dist/liveness.hpp"

#include <algorithm>
#include <sstream>

namespace litestage::dist {
namespace {

double seconds_between(Liveness::Clock::time_point from, Liveness::Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

}  // namespace

const char* collective_name(Collective c) {
  switch (c) {
    case Collective::None: return "none";
    case Collective::AllGather: return "all-gather";
    case Collective::Broadcast: return "broadcast";
    case Collective::Barrier: return "barrier";
  }
  return "?";
}

std::string encode(const RankState& s) {
  std::ostringstream out;
  out << s.beat << ' ' << s.progress << ' ' << s.collectives << ' ' << static_cast<int>(s.waiting);
  return out.str();
}

std::optional<RankState> decode(const std::string& text) {
  std::istringstream in(text);
  RankState s;
  int waiting = -1;
  if (!(in >> s.beat >> s.progress >> s.collectives >> waiting) || waiting < 0 ||
      waiting > static_cast<int>(Collective::Barrier))
    return std::nullopt;
  s.waiting = static_cast<Collective>(waiting);
  return s;
}

Liveness::Liveness(int world_size, double beat_timeout_seconds, double stall_timeout_seconds, Clock::time_point start)
    : beat_timeout_(beat_timeout_seconds),
      stall_timeout_(stall_timeout_seconds),
      seen_(static_cast<size_t>(world_size), Seen{std::nullopt, start, start}) {}

void Liveness::observe(int rank, const std::optional<RankState>& state, Clock::time_point now) {
  Seen& s = seen_.at(static_cast<size_t>(rank));
  if (!state) return;
  if (!s.state || state->beat != s.state->beat) s.beat_moved = now;
  if (!s.state || state->progress != s.state->progress) s.progress_moved = now;
  s.state = state;
}

bool Liveness::waits(int rank) const {
  const auto& s = seen_[static_cast<size_t>(rank)].state;
  return s && s->waiting != Collective::None;
}

// "rank 0 in all-gather no. 5, rank 1 in broadcast no. 5", the first 8 ranks.
std::string Liveness::stuck_collectives() const {
  std::ostringstream out;
  for (size_t p = 0; p < seen_.size() && p < 8; ++p) {
    const auto& s = *seen_[p].state;
    out << (p ? ", " : "") << "rank " << p << " in " << collective_name(s.waiting) << " no. " << s.collectives;
  }
  if (seen_.size() > 8) out << ", ...";
  return out.str();
}

std::optional<std::string> Liveness::verdict(int self, Clock::time_point now) const {
  const int world = static_cast<int>(seen_.size());
  bool someone_waits = false, all_wait = true;
  Clock::time_point last_progress = seen_[0].progress_moved;
  for (int p = 0; p < world; ++p) {
    someone_waits = someone_waits || waits(p);
    all_wait = all_wait && waits(p);
    last_progress = std::max(last_progress, seen_[static_cast<size_t>(p)].progress_moved);
  }
  std::ostringstream text;
  for (int p = 0; p < world; ++p) {
    const Seen& s = seen_[static_cast<size_t>(p)];
    if (p != self && seconds_between(s.beat_moved, now) > beat_timeout_) {
      text << "rank " << p << " stopped responding for " << beat_timeout_
           << " s (LITESTAGE_DIST_TIMEOUT; killed, frozen, or its machine is gone); ending the run";
      return text.str();
    }
    if (!waits(p) && someone_waits && seconds_between(s.progress_moved, now) > stall_timeout_) {
      text << "rank " << p << " has made no progress for " << stall_timeout_
           << " s while other ranks wait for it (LITESTAGE_DIST_STALL_TIMEOUT: it began no question, stage or "
              "exchange; its main thread is deadlocked or looping, or one step takes longer); ending the run";
      return text.str();
    }
  }
  if (all_wait && seconds_between(last_progress, now) > stall_timeout_) {
    text << "every rank has waited in a collective for " << stall_timeout_
         << " s and none completed (LITESTAGE_DIST_STALL_TIMEOUT): " << stuck_collectives()
         << " (ranks that called different collectives, or a network that stopped carrying them); ending the run";
    return text.str();
  }
  return std::nullopt;
}

}  // namespace litestage::dist
