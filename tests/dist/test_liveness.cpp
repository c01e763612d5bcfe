// The watchdog's judgement (litestage/dist/liveness.hpp) on a made-up clock, and the same rules
// in real processes: this test binary started as the ranks of a world (the hidden case "dist rank
// program"), one of whose main threads stops while its process stays alive.

#include <catch2/catch.hpp>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "litestage/dist/dist.hpp"
#include "litestage/dist/liveness.hpp"
#include "process.hpp"
#include "support.hpp"

using namespace litestage;
namespace fs = std::filesystem;
using dist::Collective;
using dist::Liveness;
using dist::RankState;

namespace {

using Clock = Liveness::Clock;
const Clock::time_point t0{};

Clock::time_point when(double seconds) {
  return t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

RankState state(int64_t beat, int64_t progress, Collective waiting = Collective::None, int64_t collectives = 0) {
  RankState s;
  s.beat = beat;
  s.progress = progress;
  s.waiting = waiting;
  s.collectives = collectives;
  return s;
}

// Every rank beats each second; rank r's progress and collective at second t come from `of`.
// The first verdict rank 0 reaches, and the second it came at (-1: none up to `seconds`).
template <typename Of>
std::pair<int, std::string> first_verdict(int world, double stall, int seconds, Of of) {
  Liveness liveness(world, /*beat timeout*/ 60, stall, t0);
  for (int t = 0; t <= seconds; ++t) {
    for (int r = 0; r < world; ++r) liveness.observe(r, of(r, t), when(t));
    if (auto v = liveness.verdict(0, when(t))) return {t, *v};
  }
  return {-1, ""};
}

}  // namespace

TEST_CASE("a rank that others wait for and that makes no progress is named after the stall timeout",
          "[dist][liveness]") {
  // Ranks 0 and 1 wait in their 4th collective from second 0; rank 2 runs, its progress stuck at 7.
  const auto [second, text] = first_verdict(3, 10, 100, [](int r, int t) {
    return r < 2 ? state(t, 8, Collective::AllGather, 4) : state(t, 7);
  });
  CHECK(second == 11);  // unmoved since second 0: 10 s is not yet more than 10 s, 11 s is
  CHECK_THAT(text, Catch::StartsWith("rank 2 has made no progress for 10 s while other ranks wait for it") &&
                       Catch::Contains("LITESTAGE_DIST_STALL_TIMEOUT"));
}

TEST_CASE("waiting is never a fault while the rank waited for makes progress, however long", "[dist][liveness]") {
  // Rank 0 waits from second 0; rank 1 moves every 9 s (a long step, within the 10 s timeout) up
  // to second 90, then stops: it is named 11 s after its last move.
  const auto [second, text] = first_verdict(2, 10, 200, [](int r, int t) {
    return r == 0 ? state(t, 3, Collective::Broadcast, 2) : state(t, std::min(t, 90) / 9);
  });
  CHECK(second == 101);
  CHECK_THAT(text, Catch::StartsWith("rank 1 has made no progress"));
}

TEST_CASE("ranks that all run are not judged on progress: nobody waits for them", "[dist][liveness]") {
  // Loading a model, say: no progress marks for a long while, and no rank in a collective.
  const auto [second, text] = first_verdict(2, 10, 100, [](int, int t) { return state(t, 0); });
  CHECK(second == -1);
  CHECK(text.empty());
}

TEST_CASE("every rank waiting and none moving ends the run with the collectives each waits in",
          "[dist][liveness]") {
  // Rank 0 entered its 5th collective, a barrier, at second 3; rank 1 a broadcast, also its 5th,
  // at second 4 (its progress moved then): the run ends when 10 s have passed since second 4.
  const auto [second, text] = first_verdict(2, 10, 100, [](int r, int t) {
    if (r == 0) return t < 3 ? state(t, 20) : state(t, 21, Collective::Barrier, 5);
    return t < 4 ? state(t, 30) : state(t, 31, Collective::Broadcast, 5);
  });
  CHECK(second == 15);
  CHECK_THAT(text, Catch::StartsWith("every rank has waited in a collective for 10 s and none completed") &&
                       Catch::Contains("rank 0 in barrier no. 5, rank 1 in broadcast no. 5"));
}

TEST_CASE("a rank whose beat stops is named after the beat timeout and no rank judges its own beat",
          "[dist][liveness]") {
  Liveness liveness(2, 60, 1800, t0);
  for (int t = 0; t <= 200; ++t) {
    liveness.observe(0, state(std::min(t, 5), 0), when(t));  // rank 0's own beat: never judged by rank 0
    liveness.observe(1, state(std::min(t, 30), 0), when(t));  // rank 1 froze at second 30
    const auto v = liveness.verdict(0, when(t));
    INFO("second " << t);
    CHECK(v.has_value() == (t > 90));
    if (v) CHECK_THAT(*v, Catch::StartsWith("rank 1 stopped responding for 60 s (LITESTAGE_DIST_TIMEOUT"));
  }
  // A rank that never published is silent from the start.
  Liveness silent(2, 60, 1800, t0);
  silent.observe(1, std::nullopt, when(61));
  CHECK(silent.verdict(0, when(61)).has_value());
  CHECK_FALSE(silent.verdict(0, when(59)).has_value());
}

TEST_CASE("a rank's state travels through the store as text and garbage is refused", "[dist][liveness]") {
  const RankState s = state(12, 345, Collective::Barrier, 6);
  CHECK(dist::encode(s) == "12 345 6 3");
  const auto back = dist::decode("12 345 6 3");
  REQUIRE(back.has_value());
  CHECK(back->beat == 12);
  CHECK(back->progress == 345);
  CHECK(back->collectives == 6);
  CHECK(back->waiting == Collective::Barrier);
  CHECK_FALSE(dist::decode("12 345 6 4").has_value());
  CHECK_FALSE(dist::decode("12 345").has_value());
  CHECK_FALSE(dist::decode("").has_value());
}

// ---- real processes ----

// One rank of a world started by the cases below (hidden: it runs only when named). LITESTAGE_TEST_
// SCENARIO picks what its main thread does; it ends as litestage does: 0, or 1 after an error,
// or 3 when the watchdog ends it.
TEST_CASE("dist rank program", "[.]") {
  const char* scenario = std::getenv("LITESTAGE_TEST_SCENARIO");
  REQUIRE(scenario != nullptr);
  const std::string what = scenario;
  try {
    dist::init(dist::launch_from_env());
    const int rank = dist::rank();
    if (what == "stall") {
      // Rounds of 2 items per rank; rank 2's third item (item 8, in the second round) never ends.
      dist::map_gathered(24, [rank](size_t i) {
        while (rank == 2 && i == 8) std::this_thread::sleep_for(std::chrono::seconds(1));
        return std::to_string(i);
      }, 2);
    } else if (what == "slow") {
      // Rank 1's share takes 20 x 0.25 s, longer than the stall timeout; rank 0 waits all along.
      dist::map_gathered(40, [rank](size_t i) {
        if (rank == 1) std::this_thread::sleep_for(std::chrono::milliseconds(250));
        return std::to_string(i);
      });
    } else if (what == "mismatch") {
      // A bug the rules must catch: the ranks call different collectives.
      if (rank == 0) dist::barrier();
      else dist::all_gather("x");
    }
    dist::finalize();
  } catch (const std::exception& e) {
    std::fprintf(dist::error_stream(), "rank program: error: %s\n", e.what());
    std::fflush(nullptr);
    dist::abort(e.what());
    std::_Exit(1);
  }
  std::fprintf(dist::error_stream(), "rank program: finished\n");
  std::fflush(nullptr);
  std::_Exit(0);
}

namespace {

struct Ranks {
  std::vector<int> rcs;  // -1: still running after the deadline (then killed)
  std::vector<std::string> logs;
};

// Starts this binary as `world` ranks of the rank program, with `scenario` and a stall timeout of
// `stall` seconds (the beat timeout stays 60 s, so no frozen-process rule can end these runs
// first), and waits up to `deadline` seconds for each.
Ranks start_ranks(const std::string& scenario, int world, double stall, double deadline) {
  const auto dir = test::temp_dir("dist-liveness-" + scenario);
  const int port = test::free_port();
  std::vector<pid_t> pids;
  for (int r = 0; r < world; ++r)
    pids.push_back(test::spawn("/proc/self/exe", {"dist rank program"},
                               {"RANK=" + std::to_string(r), "LOCAL_RANK=" + std::to_string(r),
                                "WORLD_SIZE=" + std::to_string(world), "MASTER_ADDR=127.0.0.1",
                                "MASTER_PORT=" + std::to_string(port), "LITESTAGE_DIST_TIMEOUT=60",
                                "LITESTAGE_DIST_STALL_TIMEOUT=" + std::to_string(stall),
                                "LITESTAGE_TEST_SCENARIO=" + scenario},
                               dir / ("rank" + std::to_string(r) + ".log")));
  Ranks out;
  for (int r = 0; r < world; ++r) {
    const auto rc = test::wait_for(pids[r], deadline);
    if (!rc) {
      ::kill(pids[r], SIGKILL);
      test::wait_for(pids[r], 10);
    }
    out.rcs.push_back(rc.value_or(-1));
    out.logs.push_back(test::slurp(dir / ("rank" + std::to_string(r) + ".log")));
  }
  return out;
}

}  // namespace

TEST_CASE("a rank whose main thread stops while its process lives ends every rank with its name",
          "[dist][liveness]") {
  // Without the stall rule rank 2 would beat for ever and the others wait in their all-gather for
  // Gloo's 7 days; the deadline is generous, for a loaded machine, and far from either.
  const auto r = start_ranks("stall", 3, 3, 180);
  for (int rank = 0; rank < 3; ++rank) {
    INFO("rank " << rank << ":\n" << r.logs[rank]);
    CHECK(r.rcs[rank] == 3);
    if (rank < 2) CHECK_THAT(r.logs[rank], Catch::Contains("rank 2 has made no progress for 3 s while other ranks wait"));
  }
}

TEST_CASE("a rank that waits longer than the stall timeout for a peer that makes progress is not ended",
          "[dist][liveness]") {
  const auto r = start_ranks("slow", 2, 3, 180);
  for (int rank = 0; rank < 2; ++rank) {
    INFO("rank " << rank << ":\n" << r.logs[rank]);
    CHECK(r.rcs[rank] == 0);
    CHECK_THAT(r.logs[rank], Catch::Contains("rank program: finished"));
  }
}

TEST_CASE("ranks that call different collectives end with what each waits in", "[dist][liveness]") {
  // Gloo matches rank 0's barrier and rank 1's all-gather with neither an error nor an end.
  const auto r = start_ranks("mismatch", 2, 3, 180);
  for (int rank = 0; rank < 2; ++rank) {
    INFO("rank " << rank << ":\n" << r.logs[rank]);
    CHECK(r.rcs[rank] == 3);
    CHECK_THAT(r.logs[rank], Catch::Contains("every rank has waited in a collective for 3 s and none completed") &&
                                 Catch::Contains("rank 0 in barrier no. 1, rank 1 in all-gather no. 1"));
  }
}
