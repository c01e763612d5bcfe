// Results that must not silently mean something else: a search split apart from the importance
// examples, traces keyed by the configuration that made them, one latency estimator per row, and
// reuse decided by content. All on the embedded demo model (no ../shared needed).

#include <catch2/catch.hpp>

#include <fstream>
#include <set>
#include <sstream>

#include "demo_experiment.hpp"
#include "litestage/experiment/run_importance.hpp"
#include "litestage/io/digest.hpp"
#include "litestage/util/jsonl.hpp"
#include "litestage/util/strings.hpp"
#include "litestage/workflow/steps.hpp"
#include "process.hpp"
#include "support.hpp"

using namespace litestage;
namespace fs = std::filesystem;

namespace {

WorkflowOptions quiet() {
  WorkflowOptions o;
  o.plots = false;
  o.print_table = false;
  return o;
}

// The demo experiment in a fresh directory, its output in dir/out; each of `lines` replaces the
// experiment's line of the same top-level key, or is added.
fs::path demo(const std::string& name, int limit, const std::vector<std::string>& lines = {}) {
  const auto dir = test::temp_dir(name);
  const auto file = test::demo_experiment(dir, name, limit, "output_dir: " + (dir / "out").string() + "\n");
  std::string text = read_file(file.string());
  for (const auto& line : lines) {
    const std::string key = line.substr(0, line.find(':') + 1);
    const size_t at = text.find("\n" + key);
    if (at == std::string::npos) {
      text += line + "\n";
      continue;
    }
    text.replace(at + 1, text.find('\n', at + 1) - at - 1, line);
  }
  write_file_atomic(file.string(), text);
  return file;
}

std::vector<nlohmann::json> jsonl(const fs::path& file) {
  std::vector<nlohmann::json> out;
  std::istringstream in(test::slurp(file));
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  return out;
}

// "recall a1 | analyze none | summarize f0-1" -> {"recall": "a1", ...}
std::map<std::string, std::string> plans_of_row(const std::string& text) {
  std::map<std::string, std::string> plans;
  for (const auto& part : split(text, '|')) {
    const auto t = trim(part);
    const auto space = t.find(' ');
    plans[t.substr(0, space)] = t.substr(space + 1);
  }
  return plans;
}

// Every trace of every row in results.json was made under that row's skip plans and early exit;
// returns how many stage traces were checked.
size_t check_traces_match_rows(const fs::path& out) {
  const auto results = read_json_file((out / "results.json").string());
  size_t checked = 0;
  for (const auto& row : results.at("rows")) {
    const std::string method = row.at("method");
    const double eps = row.at("epsilon");
    const std::string file = method + (eps >= 0 ? "_eps" + eps_label(eps) : "") + ".traces.jsonl";
    const auto plans = plans_of_row(row.at("skip"));
    const auto traces = jsonl(out / "methods" / file);
    CHECK(traces.size() == results.at("split").at("size").get<size_t>());
    for (const auto& t : traces)
      for (const auto& st : t.at("stages")) {
        INFO(file << " " << t.at("id") << " " << st.at("stage"));
        CHECK(st.at("skip") == plans.at(st.at("stage")));
        CHECK(st.at("early_exit") == row.at("early_exit"));
        ++checked;
      }
  }
  return checked;
}

}  // namespace

TEST_CASE("the search split holds no importance example, and search.limit counts after they are removed",
          "[workflow][trust][split]") {
  // 20 calibration questions, the first 6 for importance: a search limit of 5 takes 5 of the other 14.
  Session session(load_experiment(demo("split-limit", 2, {"search: {split: calibration, limit: 5, latency: cost, max_k: 2}"}).string()));
  WorkflowReport report;
  const auto options = quiet();
  WorkflowRun run(session, options, report);
  prepare(run);
  const auto importance = session.dataset("calibration", 6);
  std::set<std::string> used;
  for (const auto& e : importance.examples) used.insert(e.id);
  REQUIRE(used.size() == 6);
  REQUIRE(run.search_data.examples.size() == 5);
  for (const auto& e : run.search_data.examples) CHECK(used.count(e.id) == 0);
  // The split's record says so: 5 questions, and the fingerprint of exactly those.
  CHECK(run.search_data.info.size == 5);
  CHECK(run.search_data.info.ids_fingerprint == ids_fingerprint(run.search_data.examples));
  CHECK_THAT(run.search_data.info.rule, Catch::Contains("less the 6 importance examples"));
}

TEST_CASE("a search split of another name still loses the importance examples it holds", "[workflow][trust][split]") {
  // Importance on the calibration split (20 questions drawn from valid), the search on valid: the
  // 6 importance questions are part of valid and must not be searched on.
  Session session(load_experiment(demo("split-valid", 2, {"search: {split: valid, latency: cost, max_k: 2}"}).string()));
  WorkflowReport report;
  const auto options = quiet();
  WorkflowRun run(session, options, report);
  prepare(run);
  const auto valid = session.dataset("valid");
  const auto importance = session.dataset("calibration", 6);
  std::set<std::string> used;
  for (const auto& e : importance.examples) used.insert(e.id);
  CHECK(run.search_data.examples.size() == valid.examples.size() - 6);
  for (const auto& e : run.search_data.examples) CHECK(used.count(e.id) == 0);
}

TEST_CASE("a search split with nothing but importance examples is refused, naming the keys",
          "[workflow][trust][split]") {
  const auto file = demo("split-empty", 2);
  std::string text = read_file(file.string());
  text.replace(text.find("calibration_size: 20"), 20, "calibration_size: 6");
  write_file_atomic(file.string(), text);
  Session session(load_experiment(file.string()));
  WorkflowReport report;
  const auto options = quiet();
  WorkflowRun run(session, options, report);
  CHECK_THROWS_WITH(prepare(run), Catch::Contains("all of them are importance examples") &&
                                      Catch::Contains("data.calibration_size") && Catch::Contains("search.split"));
}

TEST_CASE("a rerun that chooses other plans leaves no trace of the old plans in any row", "[workflow][trust][traces]") {
  const auto file = demo("rerun-plans", 3, {"methods: [full, litestage, uniform]"});
  const fs::path out = file.parent_path() / "out";
  {
    Session session(load_experiment(file.string()));
    run_workflow(session, quiet());
  }
  // The first run skipped something somewhere, or the test would prove nothing.
  const auto first = read_json_file((out / "results.json").string());
  bool skipped = false;
  for (const auto& row : first.at("rows"))
    for (const auto& [stage, plan] : plans_of_row(row.at("skip"))) skipped = skipped || plan != "none";
  REQUIRE(skipped);
  CHECK(check_traces_match_rows(out) > 0);

  // Make every skipping configuration measured so far miss the target: the rerun in the same
  // directory (same fingerprint, journal reused) must choose other plans.
  std::string journal;
  for (auto entry : jsonl(out / "search_journal.jsonl")) {
    if (entry.at("plans") != "none | none | none") entry["point"]["accuracy"] = 0.0;
    journal += entry.dump() + "\n";
  }
  write_file_atomic((out / "search_journal.jsonl").string(), journal);
  {
    Session session(load_experiment(file.string()));
    run_workflow(session, quiet());
  }
  const auto second = read_json_file((out / "results.json").string());
  REQUIRE(second.at("rows").size() == first.at("rows").size());
  size_t changed = 0;
  for (size_t i = 0; i < second.at("rows").size(); ++i) changed += second["rows"][i]["skip"] != first["rows"][i]["skip"];
  REQUIRE(changed > 0);
  CHECK(check_traces_match_rows(out) > 0);
}

TEST_CASE("a row's speedup is its full latency over its latency, and its stages add up to its latency",
          "[workflow][trust][timing]") {
  const auto file = demo("estimator", 3, {"methods: [full, litestage]", "timing: {repeats: 4, warmup: 0}"});
  const fs::path out = file.parent_path() / "out";
  Session session(load_experiment(file.string()));
  const auto report = run_workflow(session, quiet());
  const double full = report.rows.front().summary.mean_seconds;
  for (const auto& r : report.rows) {
    const Summary& s = r.summary;
    REQUIRE(s.mean_seconds > 0);
    CHECK(r.speedup() == Approx(full / s.mean_seconds).epsilon(1e-12));
    double stages = 0, shares = 0;
    for (StageKind k : kStages) {
      stages += s.stages[k].mean_seconds;
      shares += s.stages[k].share;
    }
    CHECK(stages == Approx(s.mean_seconds).epsilon(1e-9));
    CHECK(shares == Approx(1.0).epsilon(1e-9));
    // The per-question times behind the interval average to the row's latency.
    double sum = 0;
    for (double q : r.timing.per_question) sum += q;
    CHECK(sum / static_cast<double>(r.timing.per_question.size()) == Approx(s.mean_seconds).epsilon(1e-9));
  }
  // Sweeps under search.latency: cost are not timed together: a point's latency is a real
  // measurement (a pass that generated every stage) or null, never the 0 of stage-cache hits.
  size_t points = 0, untimed = 0;
  auto real_or_null = [&](const nlohmann::json& v) {
    untimed += v.is_null();
    return v.is_null() || v.get<double>() > 0;
  };
  for (const auto& entry : fs::directory_iterator(out / "sweeps")) {
    const auto sweep = read_json_file(entry.path().string());
    for (const auto& row : sweep.value("sweep", sweep.value("rows", nlohmann::json::array()))) {
      const auto& p = row.at("point");
      CHECK(real_or_null(p.at("latency")));
      for (const auto& [stage, v] : p.at("stage_latency").items()) CHECK(real_or_null(v));
      ++points;
    }
  }
  CHECK(points > 0);
  CHECK(untimed > 0);  // the cached points exist, and say so
}

TEST_CASE("importance.json is reused only for the same content: a checkpoint changed at the same path is measured again",
          "[workflow][trust][fingerprint]") {
  const auto dir = test::temp_dir("importance-content");
  const fs::path model = dir / "model";
  fs::copy(fs::path(LITESTAGE_SOURCE_DIR) / "data" / "demo-model", model, fs::copy_options::recursive);
  const auto file = test::demo_experiment(dir, "imp", 2, "output_dir: " + (dir / "out").string() + "\n");
  std::string text = read_file(file.string());
  // The copy at a path of its own (the embedded demo model stays untouched).
  const std::string original_model = (fs::path(LITESTAGE_SOURCE_DIR) / "data" / "demo-model").string();
  text.replace(text.find(original_model), original_model.size(), model.string());
  write_file_atomic(file.string(), text);
  const fs::path imp = dir / "out" / "importance.json";
  {
    Session session(load_experiment(file.string()));
    run_importance(session);
  }
  const auto first = read_json_file(imp.string());
  REQUIRE(first.contains("fingerprint"));
  CHECK(first.at("fingerprint").at("model").at("weights_hash").get<std::string>().size() == 16);
  // The data files by content: the synthetic generator settings the questions came from.
  const std::string settings = (fs::path(LITESTAGE_SOURCE_DIR) / "data" / "synthetic" / "settings.json").string();
  CHECK(first.at("fingerprint").at("data").at("files").at(settings) == io::file_digest(settings));
  // Same content: reused (the file is left as it was).
  {
    Session session(load_experiment(file.string()));
    run_importance(session);
  }
  CHECK(read_json_file(imp.string()) == first);
  // The last byte of the weights changed, at the same path: measured again, with the new hash.
  const fs::path weights = model / "model.safetensors";
  {
    std::fstream f(weights, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(-1, std::ios::end);
    char c = 0;
    f.get(c);
    f.seekp(-1, std::ios::end);
    f.put(static_cast<char>(c ^ 0x01));
  }
  {
    Session session(load_experiment(file.string()));
    run_importance(session);
  }
  const auto second = read_json_file(imp.string());
  CHECK(second.at("fingerprint").at("model").at("weights_hash") != first.at("fingerprint").at("model").at("weights_hash"));
  CHECK(second.at("fingerprint").at("tokenizer") == first.at("fingerprint").at("tokenizer"));
}
