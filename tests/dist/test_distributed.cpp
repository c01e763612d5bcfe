// Multi-process runs on c10d (Gloo over a loopback TCPStore): the built `litestage` started as 2
// ranks gives the results of one process, a killed rank ends the other within the timeout, and a
// run cut short resumes with another world size.

#include <catch2/catch.hpp>

#include <signal.h>

#include <chrono>
#include <functional>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "litestage/dist/dist.hpp"
#include "litestage/search/profile.hpp"
#include "litestage/util/strings.hpp"
#include "demo_experiment.hpp"
#include "process.hpp"
#include "support.hpp"

using namespace litestage;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using test::free_port;
using test::slurp;
using test::wait_for;

namespace {

pid_t spawn(const std::vector<std::string>& args, const std::vector<std::string>& env, const fs::path& log) {
  return test::spawn(LITESTAGE_CLI, args, env, log);
}

int finish(pid_t pid, const fs::path& log) {
  auto rc = wait_for(pid, 600);
  if (!rc) ::kill(pid, SIGKILL);
  INFO(slurp(log));
  REQUIRE(rc.has_value());
  return *rc;
}

std::vector<std::string> rank_env(int rank, int world, int port, double timeout = 30) {
  return {"RANK=" + std::to_string(rank), "LOCAL_RANK=" + std::to_string(rank), "WORLD_SIZE=" + std::to_string(world),
          "MASTER_ADDR=127.0.0.1", "MASTER_PORT=" + std::to_string(port),
          "LITESTAGE_DIST_TIMEOUT=" + std::to_string(timeout)};
}

fs::path experiment(const fs::path& dir, int limit) { return test::demo_experiment(dir, "dist", limit); }

// The environment of rank r of a world: torchrun's variables by default.
using RankEnv = std::function<std::vector<std::string>(int rank)>;

// Runs `command` on the experiment as `world` ranks into `out` (rank r logs to out.rank<r>.log);
// every rank's exit status.
std::vector<int> launch(const std::string& command, const fs::path& exp, const fs::path& out, int world,
                        std::vector<std::string> extra = {}, RankEnv env = nullptr) {
  std::vector<std::string> args = {command, exp.string(), "--set", "output_dir=" + out.string()};
  args.insert(args.end(), extra.begin(), extra.end());
  if (!env) {
    const int port = free_port();
    env = [world, port](int r) { return world > 1 ? rank_env(r, world, port) : std::vector<std::string>{}; };
  }
  auto log = [&](int r) { return fs::path(out.string() + ".rank" + std::to_string(r) + ".log"); };
  std::vector<pid_t> pids;
  for (int r = 0; r < world; ++r) pids.push_back(spawn(args, env(r), log(r)));
  std::vector<int> rcs;
  for (int r = 0; r < world; ++r) rcs.push_back(finish(pids[r], log(r)));
  return rcs;
}

}  // namespace

TEST_CASE("a process without a launcher is rank 0 of 1 and runs every item", "[dist]") {
  CHECK(dist::world_size() == 1);
  CHECK(dist::is_root());
  CHECK_FALSE(dist::active());
  CHECK(dist::shard(5) == std::vector<size_t>{0, 1, 2, 3, 4});
  std::vector<std::pair<size_t, size_t>> rounds;
  const auto out = dist::map_gathered(
      5, [](size_t i) { return std::to_string(i * i); }, 2,
      [&](size_t begin, size_t end, const std::vector<std::string>&) { rounds.emplace_back(begin, end); });
  CHECK(out == std::vector<std::string>{"0", "1", "4", "9", "16"});
  CHECK(rounds == std::vector<std::pair<size_t, size_t>>{{0, 2}, {2, 4}, {4, 5}});
  CHECK(dist::all_gather("x") == std::vector<std::string>{"x"});
  CHECK(dist::from_root([] { return std::string("root"); }) == "root");
}

TEST_CASE("the launcher's environment is read like torchrun's, and bad values are refused", "[dist]") {
  ::setenv("WORLD_SIZE", "4", 1);
  ::setenv("RANK", "2", 1);
  ::setenv("LOCAL_RANK", "0", 1);
  ::setenv("MASTER_PORT", "29999", 1);
  auto info = dist::launch_from_env();
  CHECK(info.launched);
  CHECK(info.world_size == 4);
  CHECK(info.rank == 2);
  CHECK(info.master_port == 29999);
  ::setenv("RANK", "4", 1);
  CHECK_THROWS_WITH(dist::launch_from_env(), Catch::Contains("RANK='4'"));
  ::setenv("RANK", "1", 1);
  ::setenv("MASTER_PORT", "http", 1);
  CHECK_THROWS_WITH(dist::launch_from_env(), Catch::Contains("MASTER_PORT='http'"));
  for (const char* v : {"WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_PORT"}) ::unsetenv(v);
  CHECK_FALSE(dist::launch_from_env().launched);
}

TEST_CASE("two ranks evaluate and search like one process", "[dist][demo][deepbind]") {
  const auto dir = test::temp_dir("dist-same");
  const auto exp = experiment(dir, 16);
  REQUIRE(launch("eval", exp, dir / "eval1", 1) == std::vector<int>{0});
  REQUIRE(launch("eval", exp, dir / "eval2", 2) == std::vector<int>{0, 0});
  // Answers, stage outputs and token counts per question: byte for byte.
  CHECK(slurp(dir / "eval1" / "predictions.jsonl") == slurp(dir / "eval2" / "predictions.jsonl"));
  const auto s1 = nlohmann::json::parse(slurp(dir / "eval1" / "summary.json"));
  const auto s2 = nlohmann::json::parse(slurp(dir / "eval2" / "summary.json"));
  CHECK(s1.at("accuracy") == s2.at("accuracy"));
  CHECK(s1.at("mean_cost") == s2.at("mean_cost"));
  CHECK(s2.at("ranks") == 2);
  CHECK_FALSE(fs::exists(dir / "eval2" / "traces.rank1.jsonl"));

  REQUIRE(launch("search", exp, dir / "search1", 1) == std::vector<int>{0});
  REQUIRE(launch("search", exp, dir / "search2", 2) == std::vector<int>{0, 0});
  // Importance is folded per question in question order: the same numbers, bit for bit.
  CHECK(slurp(dir / "search1" / "importance.json") == slurp(dir / "search2" / "importance.json"));
  const auto j1 = test::journal_points(dir / "search1"), j2 = test::journal_points(dir / "search2");
  CHECK(j1.size() >= 4);
  CHECK(j1 == j2);
  const auto p1 = load_profile(dir / "search1" / "budget_profile.yaml");
  const auto p2 = load_profile(dir / "search2" / "budget_profile.yaml");
  CHECK(p1.accuracy == p2.accuracy);
  CHECK(p1.stages == p2.stages);
  // Each rank kept its own stage cache; rank 0 alone wrote the rest.
  CHECK(fs::exists(dir / "search2" / "cache" / "search_stages.rank1.jsonl"));

  // Rerun on one process: the two ranks' journal answers every configuration (none is evaluated
  // again) and the same plans come out.
  const auto before = slurp(dir / "search2" / "search_journal.jsonl");
  REQUIRE(launch("search", exp, dir / "search2", 1) == std::vector<int>{0});
  CHECK(slurp(dir / "search2" / "search_journal.jsonl") == before);
  CHECK_THAT(slurp(dir.string() + "/search2.rank0.log"), Catch::Contains("importance: reusing"));
  const auto p3 = load_profile(dir / "search2" / "budget_profile.yaml");
  CHECK(p1.stages == p3.stages);
}

namespace {

// How much later than its timeout a rank may notice a failure: generous, for a loaded machine,
// yet far from the days a run that misses the failure would wait.
constexpr double kSlack = 60;

struct Interrupted {
  std::optional<int> rc;  // the surviving rank's exit status
  double seconds = 0;     // from the signal to its exit
  std::string log;
};

// Starts 2 ranks of `litestage eval` into `out`, waits for their first round of results, sends
// `signal` to rank `victim`, and times how long the other rank takes to end.
Interrupted interrupt(const fs::path& exp, const fs::path& out, int signal, int victim, double timeout) {
  const int port = free_port();
  const std::vector<std::string> args = {"eval", exp.string(), "--set", "output_dir=" + out.string()};
  const pid_t pids[2] = {spawn(args, rank_env(0, 2, port, timeout), out.string() + ".rank0.log"),
                         spawn(args, rank_env(1, 2, port, timeout), out.string() + ".rank1.log")};
  const auto traces = out / "traces.jsonl";
  const auto start = Clock::now();
  auto started = [&] { return fs::exists(traces) && fs::file_size(traces) > 0; };
  while (!started() && !test::has_exited(pids[0]) && !test::has_exited(pids[1]) && Clock::now() - start < std::chrono::seconds(300))
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  INFO("rank 0: " << slurp(out.string() + ".rank0.log") << "\nrank 1: " << slurp(out.string() + ".rank1.log"));
  REQUIRE(started());  // a rank that ended before any result fails here, with both logs
  REQUIRE(::kill(pids[victim], signal) == 0);
  const auto sent = Clock::now();
  Interrupted r;
  const pid_t survivor = pids[1 - victim];
  r.rc = wait_for(survivor, timeout + 2 * kSlack);
  r.seconds = std::chrono::duration<double>(Clock::now() - sent).count();
  if (!r.rc) ::kill(survivor, SIGKILL);
  ::kill(pids[victim], SIGKILL);
  wait_for(pids[victim], 10);
  r.log = slurp(out.string() + ".rank" + std::to_string(1 - victim) + ".log");
  return r;
}

}  // namespace

TEST_CASE("a rank that dies or hangs ends the other within the timeout, and the run resumes on one process",
          "[dist][demo][deepbind]") {
  const auto dir = test::temp_dir("dist-kill");
  const auto exp = experiment(dir, 48);
  const double timeout = 4;
  SECTION("killed rank 1: rank 0 sees the closed connection") {
    const auto r = interrupt(exp, dir / "eval", SIGKILL, 1, timeout);
    INFO(r.log);
    REQUIRE(r.rc.has_value());
    CHECK(*r.rc != 0);
    CHECK(r.seconds < timeout + kSlack);
    CHECK_THAT(r.log, Catch::Contains("rank 1 stopped responding") || Catch::Contains("with the other ranks failed"));

    // One process picks up the traces the two left, and ends where an uninterrupted run ends.
    const auto out = dir / "eval";
    const auto kept = slurp(out / "traces.jsonl");
    REQUIRE(launch("eval", exp, out, 1, {"--resume"}) == std::vector<int>{0});
    CHECK_THAT(slurp(out.string() + ".rank0.log"), Catch::Contains("resumed 16 of 48"));
    REQUIRE(launch("eval", exp, dir / "whole", 1) == std::vector<int>{0});
    CHECK(slurp(out / "predictions.jsonl") == slurp(dir / "whole" / "predictions.jsonl"));
    CHECK(slurp(out / "traces.jsonl").rfind(kept, 0) == 0);  // the finished traces were kept, not redone
  }
  SECTION("killed rank 0 (the store's host): rank 1 ends") {
    const auto r = interrupt(exp, dir / "eval0", SIGKILL, 0, timeout);
    INFO(r.log);
    REQUIRE(r.rc.has_value());
    CHECK(*r.rc != 0);
    CHECK(r.seconds < timeout + kSlack);
  }
  SECTION("frozen rank 1 (SIGSTOP: its sockets stay open): rank 0's watchdog ends the run") {
    const auto r = interrupt(exp, dir / "evalstop", SIGSTOP, 1, timeout);
    INFO(r.log);
    REQUIRE(r.rc.has_value());
    CHECK(*r.rc == 3);
    CHECK(r.seconds < timeout + kSlack);
    CHECK_THAT(r.log, Catch::Contains("rank 1 stopped responding for 4"));
  }
}

TEST_CASE("a rank whose master is unreachable fails with the address within the timeout", "[dist]") {
  const auto dir = test::temp_dir("dist-nomaster");
  const auto exp = experiment(dir, 4);
  const auto start = Clock::now();
  const pid_t pid = spawn({"eval", exp.string(), "--set", "output_dir=" + (dir / "out").string()},
                          rank_env(1, 2, free_port(), 3), dir / "rank1.log");
  const auto rc = wait_for(pid, 3 + 2 * kSlack);
  if (!rc) ::kill(pid, SIGKILL);
  const double took = std::chrono::duration<double>(Clock::now() - start).count();
  INFO(slurp(dir / "rank1.log"));
  REQUIRE(rc.has_value());
  CHECK(*rc != 0);
  CHECK(took < 3 + kSlack);
  CHECK_THAT(slurp(dir / "rank1.log"), Catch::Contains("could not join the group") && Catch::Contains("127.0.0.1"));
}

TEST_CASE("SLURM's variables and a FileStore rendezvous work as well", "[dist][demo][deepbind]") {
  const auto dir = test::temp_dir("dist-slurm");
  const auto exp = experiment(dir, 4);
  REQUIRE(launch("eval", exp, dir / "one", 1) == std::vector<int>{0});
  const auto store = dir / "store";
  auto slurm = [&](int r) {
    return std::vector<std::string>{"SLURM_NTASKS=2", "SLURM_PROCID=" + std::to_string(r),
                                    "SLURM_LOCALID=" + std::to_string(r), "MASTER_ADDR=127.0.0.1",
                                    "LITESTAGE_STORE_FILE=" + store.string()};
  };
  CHECK(launch("eval", exp, dir / "two", 2, {}, slurm) == std::vector<int>{0, 0});
  CHECK(slurp(dir / "two" / "predictions.jsonl") == slurp(dir / "one" / "predictions.jsonl"));
  CHECK(nlohmann::json::parse(slurp(dir / "two" / "summary.json")).at("ranks") == 2);
  CHECK_FALSE(fs::exists(store));  // the last rank to leave removes the store file
}

TEST_CASE("commands that run as one process refuse a larger world", "[dist]") {
  const auto dir = test::temp_dir("dist-refuse");
  const pid_t pid = spawn({"tokenize", "--help"}, rank_env(0, 2, free_port(), 3), dir / "log");
  const auto rc = wait_for(pid, 2 * kSlack);
  INFO(slurp(dir / "log"));
  REQUIRE(rc.has_value());
  CHECK(*rc != 0);
  CHECK_THAT(slurp(dir / "log"), Catch::Contains("runs as one process"));
}
