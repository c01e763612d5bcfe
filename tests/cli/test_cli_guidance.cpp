#include <catch2/catch.hpp>

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>
#include <torch/cuda.h>
#include <torch/version.h>

#include "cli_run.hpp"
#include "demo_experiment.hpp"
#include "litestage/util/strings.hpp"
#include "process.hpp"
#include "support.hpp"

// A command line that refuses a mistaken setting with one line naming the key or flag and the fix
// (exit 1), and guides: --version, env, "did you mean", shorthands, usage lines, interrupted and
// resumed runs. All on the embedded demo experiment with small limits.

using namespace litestage;
using test::Result;
using test::run;
using test::slurp;
namespace fs = std::filesystem;

namespace {

const fs::path kRoot = LITESTAGE_SOURCE_DIR;
const std::string kDemo = (kRoot / "experiments" / "demo.yaml").string();
const std::string kModel = (kRoot / "data" / "demo-model").string();
const std::string kSettings = (kRoot / "data" / "synthetic" / "settings.json").string();

// `litestage COMMAND demo.yaml` with the repository's paths made absolute (the tests run in the
// build directory), two questions, one thread, output under `out`, then `extra`.
std::vector<std::string> demo(const std::string& command, const fs::path& out, std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {command,  kDemo, "--set", "model=" + kModel, "--set", "data.root=" + kSettings,
                                   "--set", "data.limit=2", "--set", "runtime.threads=1", "--set",
                                   "output_dir=" + out.string()};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

// The one error line: exit 1, the message on stderr, nothing left of a backtrace.
void check_refused(const Result& r, const std::string& message) {
  SHOW(r);
  CHECK(r.rc == 1);
  CHECK_THAT(r.err, Catch::Contains(message));
  CHECK_THAT(r.err, !Catch::Contains("filesystem error") && !Catch::Contains("(top level)"));
}

size_t lines_in(const fs::path& file) {
  const std::string text = slurp(file);
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

bool no_temporary_files(const fs::path& dir) {
  if (!fs::exists(dir)) return true;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (ends_with(e.path().string(), ".tmp")) return false;
  return true;
}

}  // namespace

TEST_CASE("experiment settings out of range are refused by key, blaming --set", "[cli][errors][guidance]") {
  const auto dir = test::temp_dir("cli-settings");
  const auto out = dir / "run";
  // Each ran before: a missing synthetic root on the default settings (100 % accuracy), an offset
  // past the end as "0/0", epsilon -906 as a target of -906 %.
  check_refused(run(demo("eval", out, {"--set", "data.root=/no/such/settings.json"})),
                "litestage eval: error: --set data.root=/no/such/settings.json: '/no/such/settings.json' does not "
                "exist (leave data.root out for the default");
  for (const char* limit : {"0", "-1", "-20"})
    check_refused(run(demo("eval", out, {"--set", std::string("data.limit=") + limit})),
                  "error: --set data.limit=" + std::string(limit) + ": must be >= 1\n");
  for (const char* eps : {"-906", "150"})
    check_refused(run(demo("search", out, {"--set", std::string("search.epsilon=") + eps})),
                  "error: --set search.epsilon=" + std::string(eps) + ": must be in [0, 100]\n");
  check_refused(run(demo("eval", out, {"--set", "output_dir="})),
                "error: --set output_dir=: no value (to keep the default, leave the key out)");
  // A misspelt key is the override's, not the file's.
  check_refused(run(demo("eval", out, {"--set", "data.limitt=5"})),
                "error: --set data.limitt=5: unknown key (expected one of: dataset, root, split, offset, limit");
  // The file's own mistakes still name the file.
  std::ofstream(dir / "bad.yaml") << "model: " << kModel << "\ndata: {limitt: 5}\n";
  check_refused(run({"eval", (dir / "bad.yaml").string()}), (dir / "bad.yaml").string() + ": data.limitt: unknown key");
  CHECK_FALSE(fs::exists(out));
}

TEST_CASE("an offset past the end of the split is refused with the split's size", "[cli][errors][guidance]") {
  const auto out = test::temp_dir("cli-offset") / "run";
  check_refused(run(demo("eval", out, {"--set", "data.offset=300"})),
                "error: data.offset 300 is past the end of the synthetic test split (300 examples): use an offset "
                "below 300");
  CHECK_FALSE(fs::exists(out));  // refused before anything is written
}

TEST_CASE("paths that cannot serve are refused by flag or key", "[cli][errors][guidance]") {
  const auto dir = test::temp_dir("cli-paths");
  const auto file = dir / "a-file";
  std::ofstream(file) << "x";
  const std::string f = file.string();
  check_refused(run(demo("eval", dir / "x", {"--set", "output_dir=" + f})),
                "error: --set output_dir=" + f + ": '" + f + "' is a file, not a directory");
  check_refused(run(demo("eval", dir / "x", {"--set", "output_dir=" + f + "/sub"})),
                "error: --set output_dir=" + f + "/sub: '" + f + "/sub' cannot be created: '" + f + "' is a file");
  check_refused(run(demo("eval", dir / "x", {"--set", "model=" + f})),
                "error: --set model=" + f + ": model directory '" + f + "' is a file, not a directory");
  check_refused(run(demo("eval", dir / "x", {"--set", "budget_profile=" + dir.string()})),
                "error: --set budget_profile=" + dir.string() + ": budget profile '" + dir.string() +
                    "' is a directory, not a file");
  check_refused(run({"generate", "--model", f, "--prompt", "x"}), "error: --model '" + f + "' is a file, not a directory");
  check_refused(run({"profile", "show", dir.string()}),
                "error: profile file '" + dir.string() + "' is a directory, not a file");
  // logits --out DIR: before, a raw rename error, and DIR.tmp left behind.
  const auto target = dir / "logits-dir";
  fs::create_directories(target);
  check_refused(run({"logits", "--model", kModel, "--ids", "1 2", "--out", target.string(), "--threads=1"}),
                "error: --out '" + target.string() + "' is a directory; name a file in it");
  CHECK(no_temporary_files(dir));
}

TEST_CASE("runtime.device cuda without CUDA names the fix", "[cli][errors][guidance]") {
  if (torch::cuda::is_available()) return;  // the setting is valid here
  const auto out = test::temp_dir("cli-cuda") / "run";
  check_refused(run(demo("eval", out, {"--set", "runtime.device=cuda"})),
                "error: --set runtime.device=cuda: 'cuda' but CUDA is not available (this LibTorch build or machine "
                "has no GPU); run on the CPU with --set runtime.device=cpu");
}

TEST_CASE("eval refuses another command's output_dir and names the settings a resume changes",
          "[cli][errors][guidance][resume]") {
  const auto dir = test::temp_dir("cli-eval-dir");
  // A search's directory: before, eval overwrote its config.yaml.
  const auto searched = dir / "searched";
  fs::create_directories(searched);
  std::ofstream(searched / "fingerprint.json") << "{}\n";
  std::ofstream(searched / "config.yaml") << "the search's\n";
  check_refused(run(demo("eval", searched)),
                "error: output_dir '" + searched.string() + "' holds another command's run ('run', fingerprint.json): "
                "choose another, e.g. --set output_dir=" + (searched / "eval").string());
  CHECK(slurp(searched / "config.yaml") == "the search's\n");

  const auto out = dir / "eval";
  auto first = run(demo("eval", out, {"--set", "generation.max_new_tokens=8"}));
  SHOW(first);
  REQUIRE(first.rc == 0);
  check_refused(run(demo("eval", out, {"--set", "generation.max_new_tokens=6", "--resume"})),
                "error: output_dir '" + out.string() + "' holds results of a different configuration: "
                "generation.max_new_tokens (8 there, 6 now), stages.analyze.max_new_tokens (8 there, 6 now), "
                "stages.recall.max_new_tokens (8 there, 6 now), stages.summarize.max_new_tokens (8 there, 6 now); "
                "rerun with the same settings, or choose another output_dir");
}

TEST_CASE("importance and tradeoff claim their output_dir as eval does", "[cli][errors][guidance]") {
  const auto dir = test::temp_dir("cli-claims");
  // A workflow's directory: importance would leave an importance.json that its resume reuses.
  std::ofstream(dir / "fingerprint.json") << "{}\n";
  for (const char* command : {"importance", "tradeoff"}) {
    INFO(command);
    check_refused(run(demo(command, dir)), "error: output_dir '" + dir.string() +
                                               "' holds another command's run ('run', fingerprint.json): choose "
                                               "another, e.g. --set output_dir=" + (dir / command).string());
  }
  CHECK_FALSE(fs::exists(dir / "importance.json"));
  CHECK_FALSE(fs::exists(dir / "tradeoff.json"));
}

TEST_CASE("litestage --version and env describe the build and the runtime", "[cli][guidance]") {
  auto v = run({"--version"});
  SHOW(v);
  CHECK(v.rc == 0);
  CHECK_THAT(v.out, Catch::StartsWith("litestage 0.1.0\ncommit: "));
  CHECK_THAT(v.out, Catch::Contains(std::string("\nLibTorch: ") + TORCH_VERSION + "\nbuild: "));
  CHECK_THAT(v.out, !Catch::Contains("commit: \n"));
  auto e = run({"env", "--threads", "1", "--dtype", "f32"});
  SHOW(e);
  CHECK(e.rc == 0);
  CHECK_THAT(e.out, Catch::Contains("\nruntime: cpu, f32 (requested), 1 threads; BLAS: "));
  CHECK_THAT(e.out, Catch::Contains("\nmemory pages: transparent huge pages '"));
  CHECK_THAT(e.out, Catch::Contains("\nmemory reuse: "));
}

TEST_CASE("a mistyped command gets the nearest one", "[cli][guidance]") {
  for (const auto& [typed, meant] : std::vector<std::pair<std::string, std::string>>{
           {"evla", "eval"}, {"serach", "search"}, {"bnech", "bench"}, {"profiel", "profile"}}) {
    auto r = run({typed});
    SHOW(r);
    CHECK(r.rc == 2);
    CHECK_THAT(r.err, Catch::StartsWith("litestage: unknown command '" + typed + "'; did you mean '" + meant + "'?\n"));
  }
  auto far = run({"frobnicate"});
  CHECK(far.rc == 2);
  CHECK_THAT(far.err, Catch::StartsWith("litestage: unknown command 'frobnicate'\n"));
}

TEST_CASE("usage lines show positional arguments as positionals", "[cli][guidance]") {
  auto eval = run({"eval", "--help"});
  SHOW(eval);
  CHECK(eval.rc == 0);
  CHECK_THAT(eval.out, Catch::StartsWith("usage: litestage eval EXPERIMENT.yaml [--set key=value ...]"));
  CHECK_THAT(eval.out, !Catch::Contains("--experiment"));
  auto profile = run({"profile", "--help"});
  CHECK_THAT(profile.out, Catch::StartsWith("usage: litestage profile show FILE"));
  CHECK_THAT(profile.out, !Catch::Contains("--action") && !Catch::Contains("--file"));
  auto missing = run({"eval"});
  CHECK(missing.rc == 2);
  CHECK_THAT(missing.err, Catch::StartsWith("litestage eval: missing argument: experiment"));
}

TEST_CASE("the --threads and --limit shorthands stand for runtime.threads and data.limit", "[cli][guidance]") {
  const auto out = test::temp_dir("cli-shorthand") / "run";
  auto r = run({"eval", kDemo, "--set", "model=" + kModel, "--set", "data.root=" + kSettings, "--set",
                "generation.max_new_tokens=4", "--set", "output_dir=" + out.string(), "--limit", "3", "--threads", "1"});
  SHOW(r);
  REQUIRE(r.rc == 0);
  const std::string config = slurp(out / "config.yaml");
  CHECK_THAT(config, Catch::Contains("  limit: 3\n"));
  CHECK_THAT(config, Catch::Contains("  threads: 1\n"));
  CHECK(lines_in(out / "traces.jsonl") == 3);
  check_refused(run(demo("eval", out, {"--limit", "0"})), "error: --set data.limit=0: must be >= 1");
}

TEST_CASE("an interrupted eval says what it saved, --resume finishes and records provenance",
          "[cli][guidance][resume]") {
  const auto dir = test::temp_dir("cli-sigint");
  const auto out = dir / "run";
  const auto log = dir / "log";
  const pid_t pid = test::spawn(LITESTAGE_CLI, demo("eval", out, {"--set", "data.limit=30"}), {}, log);
  // Ctrl-C once the first question is saved.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
  while (lines_in(out / "traces.jsonl") < 1 && std::chrono::steady_clock::now() < deadline && !test::has_exited(pid))
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ::kill(pid, SIGINT);
  const auto rc = test::wait_for(pid, 120);
  REQUIRE(rc.has_value());
  const std::string text = slurp(log);
  INFO(text);
  REQUIRE(*rc == 130);
  const size_t saved = lines_in(out / "traces.jsonl");
  CHECK(saved >= 1);
  CHECK(saved < 30);
  CHECK_THAT(text, Catch::Contains("litestage eval: interrupted: " + std::to_string(saved) +
                                   " of 30 saved; rerun with --resume\n"));
  CHECK(no_temporary_files(out));

  auto again = run(demo("eval", out, {"--set", "data.limit=30", "--resume"}));
  SHOW(again);
  REQUIRE(again.rc == 0);
  CHECK_THAT(again.out, Catch::StartsWith("resumed: " + std::to_string(saved) + " of 30 examples"));
  const auto summary = nlohmann::json::parse(slurp(out / "summary.json"));
  const auto& p = summary.at("provenance");
  CHECK(p.at("version") == "0.1.0");
  CHECK(p.at("commit").get<std::string>() != "");
  CHECK(p.at("date").get<std::string>().size() == 20);  // 2026-01-31T12:00:00Z
  CHECK_THAT(p.at("command").get<std::string>(), Catch::StartsWith("litestage eval ") && Catch::Contains(" --resume"));
}

TEST_CASE("bench --json writes its figures", "[cli][guidance][bench]") {
  const auto dir = test::temp_dir("cli-bench-json");
  nlohmann::json cfg = {{"model_type", "llama"},   {"vocab_size", 97},       {"hidden_size", 32},
                        {"intermediate_size", 48}, {"num_hidden_layers", 4}, {"num_attention_heads", 4},
                        {"num_key_value_heads", 2}, {"max_position_embeddings", 64}};
  std::ofstream(dir / "config.json") << cfg.dump();
  auto r = run({"bench", "--config", (dir / "config.json").string(), "--prompt-len", "8", "--gen-len", "2",
                "--repeats", "1", "--threads=1", "--json", (dir / "bench.json").string()});
  SHOW(r);
  REQUIRE(r.rc == 0);
  const auto j = nlohmann::json::parse(slurp(dir / "bench.json"));
  CHECK(j.at("layers") == 4);
  CHECK(j.at("prompt_len") == 8);
  REQUIRE(j.at("rows").size() == 3);
  CHECK(j["rows"][1].at("skip_fraction") == 0.25);
  CHECK(j["rows"][1].at("sublayers_skipped") == 2);
  CHECK(j["rows"][0].at("speedup") == 1.0);
  CHECK(j.at("provenance").at("command").get<std::string>().rfind("litestage bench ", 0) == 0);
  check_refused(run({"bench", "--config", (dir / "config.json").string(), "--json", dir.string()}),
                "error: --json '" + dir.string() + "' is a directory; name a file in it");
}

TEST_CASE("a second search in the same output_dir says it resumes", "[cli][guidance][resume]") {
  const auto dir = test::temp_dir("cli-search-resume");
  const auto exp = test::demo_experiment(dir, "resume", 2, "output_dir: " + (dir / "out").string() + "\n");
  auto first = run({"search", exp.string(), "--set", "generation.max_new_tokens=8"});
  SHOW(first);
  REQUIRE(first.rc == 0);
  CHECK_THAT(first.err, !Catch::Contains("resuming"));
  auto second = run({"search", exp.string(), "--set", "generation.max_new_tokens=8"});
  SHOW(second);
  REQUIRE(second.rc == 0);
  CHECK_THAT(second.err, Catch::Contains("search: resuming the earlier run in '" + (dir / "out").string() + "'"));
}
