// kill -9 safety: `litestage eval`, `search`, `run` and `train` killed with SIGKILL at several
// points (right after results appear, in the middle of a journal or checkpoint write, at random
// moments), then run again until they finish, end with the results of an uninterrupted run and
// leave no half-written file behind.

#include <catch2/catch.hpp>

#include <signal.h>

#include <chrono>
#include <functional>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "litestage/data/stage_records.hpp"
#include "litestage/prompt/prompts.hpp"
#include "litestage/search/profile.hpp"
#include "litestage/util/strings.hpp"
#include "demo_experiment.hpp"
#include "process.hpp"
#include "support.hpp"
#include "toy_example.hpp"

using namespace litestage;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using test::slurp;

namespace {

using Trigger = std::function<bool()>;

// Starts `litestage args...`, and SIGKILLs it as soon as `when()` holds (polled every
// millisecond). Returns false when the command finished first (then its status must be 0).
bool kill_when(const std::vector<std::string>& args, const Trigger& when, const fs::path& log) {
  const pid_t pid = test::spawn(LITESTAGE_CLI, args, {}, log);
  const auto deadline = Clock::now() + std::chrono::minutes(10);
  while (Clock::now() < deadline) {
    if (auto rc = test::wait_for(pid, 0)) {
      INFO(slurp(log));
      REQUIRE(*rc == 0);
      return false;
    }
    if (when()) {
      ::kill(pid, SIGKILL);
      const auto rc = test::wait_for(pid, 30);
      REQUIRE(rc.has_value());
      return *rc != 0;  // a command that exited just before the signal counts as finished
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ::kill(pid, SIGKILL);
  FAIL("the command neither finished nor reached its kill point in 10 minutes");
  return false;
}

void run_to_end(const std::vector<std::string>& args, const fs::path& log) {
  const pid_t pid = test::spawn(LITESTAGE_CLI, args, {}, log);
  const auto rc = test::wait_for(pid, 900);
  INFO(slurp(log));
  REQUIRE(rc == std::optional<int>(0));
}

size_t lines(const fs::path& file) {
  const auto text = slurp(file);
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

// Fires once `file` has at least n complete lines.
Trigger at_lines(fs::path file, size_t n) {
  return [file, n] { return fs::exists(file) && lines(file) >= n; };
}

// Fires at the first change of `file`'s size after it has reached `from` bytes: most often in the
// middle of, or just after, a write.
Trigger on_write(fs::path file, uintmax_t from = 1) {
  auto seen = std::make_shared<std::optional<uintmax_t>>();
  return [file, from, seen] {
    std::error_code ec;
    const auto size = fs::file_size(file, ec);
    if (ec || size < from) return false;
    if (!*seen) *seen = size;
    return size != **seen;
  };
}

Trigger after(double seconds) {
  auto start = std::make_shared<std::optional<Clock::time_point>>();
  return [seconds, start] {
    if (!*start) *start = Clock::now();
    return Clock::now() - **start > std::chrono::duration<double>(seconds);
  };
}

// A file that is being written, or a checkpoint directory that was never swapped in.
void check_nothing_half_written(const fs::path& dir) {
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    const auto name = e.path().filename().string();
    INFO(e.path().string());
    CHECK(name.find(".tmp") == std::string::npos);
    CHECK(name.find(".partial") == std::string::npos);
    CHECK(name.find(".old") == std::string::npos);
  }
}

// Every line of a JSONL file parses, and no two lines have the same `key`.
void check_jsonl(const fs::path& file, const std::string& key) {
  std::istringstream in(slurp(file));
  std::set<std::string> seen;
  for (std::string line; std::getline(in, line);) {
    INFO(file.string() << ": " << line);
    const auto j = nlohmann::json::parse(line);
    CHECK(seen.insert(j.at(key).dump()).second);
  }
}

fs::path experiment(const fs::path& dir, int limit) {
  return test::demo_experiment(dir, "kill", limit, "methods: [full, litestage, uniform]\n");
}

std::vector<std::string> command(const std::string& name, const fs::path& exp, const fs::path& out,
                                 std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {name, exp.string(), "--set", "output_dir=" + out.string()};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

}  // namespace

TEST_CASE("kill -9: eval killed while writing traces resumes to the uninterrupted predictions", "[kill][demo][deepbind]") {
  const auto dir = test::temp_dir("kill-eval");
  const auto exp = experiment(dir, 12);
  run_to_end(command("eval", exp, dir / "whole"), dir / "whole.log");
  const auto out = dir / "out";
  const auto traces = out / "traces.jsonl";
  int killed = 0;
  killed += kill_when(command("eval", exp, out), at_lines(traces, 2), dir / "1.log");
  killed += kill_when(command("eval", exp, out, {"--resume"}), on_write(traces, fs::file_size(traces) + 1), dir / "2.log");
  killed += kill_when(command("eval", exp, out, {"--resume"}), after(1.5), dir / "3.log");
  killed += kill_when(command("eval", exp, out, {"--resume"}), [&] { return fs::exists(out / "predictions.jsonl"); },
                      dir / "4.log");
  run_to_end(command("eval", exp, out, {"--resume"}), dir / "5.log");
  CHECK(killed >= 2);
  CHECK(slurp(out / "predictions.jsonl") == slurp(dir / "whole" / "predictions.jsonl"));
  CHECK(lines(traces) == 12);
  check_jsonl(traces, "id");
  check_nothing_half_written(out);
}

TEST_CASE("kill -9: search and run killed at journal, cache and table writes end with the same choices",
          "[kill][demo][deepbind]") {
  const auto dir = test::temp_dir("kill-run");
  const auto exp = experiment(dir, 6);
  run_to_end(command("run", exp, dir / "whole"), dir / "whole.log");
  const auto out = dir / "out";
  int killed = 0;
  killed += kill_when(command("search", exp, out), [&] { return fs::exists(out / "importance.json"); }, dir / "1.log");
  killed += kill_when(command("search", exp, out), at_lines(out / "search_journal.jsonl", 2), dir / "2.log");
  killed += kill_when(command("search", exp, out), on_write(out / "search_journal.jsonl"), dir / "3.log");
  killed += kill_when(command("search", exp, out), on_write(out / "cache" / "search_stages.jsonl"), dir / "4.log");
  killed += kill_when(command("run", exp, out), at_lines(out / "methods" / "full.traces.jsonl", 3), dir / "5.log");
  killed += kill_when(command("run", exp, out), after(2.5), dir / "6.log");
  run_to_end(command("run", exp, out), dir / "7.log");
  CHECK(killed >= 4);
  CHECK(slurp(out / "importance.json") == slurp(dir / "whole" / "importance.json"));
  CHECK(test::journal_points(out) == test::journal_points(dir / "whole"));
  check_jsonl(out / "search_journal.jsonl", "plans");
  const auto a = load_profile(out / "budget_profile.yaml"), b = load_profile(dir / "whole" / "budget_profile.yaml");
  CHECK(a.stages == b.stages);
  const auto ra = nlohmann::json::parse(slurp(out / "results.json")).at("rows");
  const auto rb = nlohmann::json::parse(slurp(dir / "whole" / "results.json")).at("rows");
  REQUIRE(ra.size() == rb.size());
  for (size_t i = 0; i < ra.size(); ++i) {
    INFO(rb[i].at("label"));
    CHECK(ra[i].at("summary").at("accuracy") == rb[i].at("summary").at("accuracy"));
    CHECK(ra[i].at("cost_speedup") == rb[i].at("cost_speedup"));
    CHECK(ra[i].at("skip") == rb[i].at("skip"));
  }
  for (const auto& f : fs::directory_iterator(out / "methods")) {
    INFO(f.path().string());
    CHECK(slurp(f.path()) != "");
    check_jsonl(f.path(), "id");
  }
  check_nothing_half_written(out);
}

TEST_CASE("kill -9: train killed during checkpoint writes resumes to the uninterrupted weights", "[kill][shared][deepbind]") {
  REQUIRE_SHARED(model_dir, "models/stories260K");
  const auto dir = test::temp_dir("kill-train");
  std::vector<StageRecord> records;
  for (int i = 0; i < 8; ++i)
    for (auto rec : test::toy_story_records()) records.push_back(rec);
  write_stage_records((dir / "train.jsonl").string(), records);
  auto config = [&](const fs::path& out) {
    const auto file = out.string() + ".yaml";
    write_file_atomic(file, "output_dir: " + out.string() + "\nseed: 3\nmodel: {path: " + model_dir.string() +
                                "}\nruntime: {precision: f32, threads: 1}\ndata: {train: " +
                                (dir / "train.jsonl").string() + ", validation: " + (dir / "train.jsonl").string() +
                                "}\noptimizer: {lr: 1.0e-3, warmup_steps: 2}\n"
                                "training: {batch_size: 4, max_steps: 120, log_every: 1, eval_every: 10, "
                                "save_every: 1}\n");
    return file;
  };
  run_to_end({"train", config(dir / "whole")}, dir / "whole.log");
  const auto out = dir / "out";
  const auto cfg = config(out);
  const auto state = out / "last" / "trainer_state.json";
  int killed = 0;
  const auto log = out / "train_log.jsonl";
  auto partial = [&](const char* name) {
    return [&, name] { return lines(log) > 3 && fs::exists(out / (std::string(name) + ".partial")); };
  };
  killed += kill_when({"train", cfg}, partial("last"), dir / "1.log");
  killed += kill_when({"train", cfg, "--resume"}, [&] { return fs::exists(out / "last.old"); }, dir / "2.log");
  killed += kill_when({"train", cfg, "--resume"}, on_write(log, fs::file_size(log) + 1), dir / "3.log");
  killed += kill_when({"train", cfg, "--resume"}, partial("best"), dir / "4.log");
  killed += kill_when({"train", cfg, "--resume"}, after(1.0), dir / "5.log");
  run_to_end({"train", cfg, "--resume"}, dir / "6.log");
  CHECK(killed >= 3);
  for (const char* ckpt : {"last", "best"}) {
    INFO(ckpt);
    CHECK(slurp(out / ckpt / "model.safetensors") == slurp(dir / "whole" / ckpt / "model.safetensors"));
  }
  CHECK(nlohmann::json::parse(slurp(state)).at("step") == 120);
  // The log reads as one run (with its resume events): each step's loss once, as uninterrupted.
  auto losses = [](const fs::path& log) {
    std::map<int64_t, nlohmann::json> by_step;
    std::istringstream in(slurp(log));
    for (std::string line; std::getline(in, line);) {
      const auto j = nlohmann::json::parse(line);
      if (j.value("event", "") != "train") continue;
      CHECK(by_step.emplace(j.at("step").get<int64_t>(), j.at("loss")).second);
    }
    return by_step;
  };
  CHECK(losses(out / "train_log.jsonl") == losses(dir / "whole" / "train_log.jsonl"));
  check_nothing_half_written(out);
}
