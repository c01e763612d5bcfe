// Each workflow step on its own: its inputs set by hand where they can be (or by the steps before
// it where they come from the model), its own outputs checked. stories260K on two OBQA questions.

#include <catch2/catch.hpp>

#include <memory>

#include "litestage/search/profile.hpp"
#include "litestage/util/jsonl.hpp"
#include "litestage/util/strings.hpp"
#include "litestage/workflow/steps.hpp"
#include "row_checks.hpp"
#include "support.hpp"

using namespace litestage;
namespace fs = std::filesystem;

namespace {

// A prepared run (step 1 done) on stories260K; `extra` is appended to the experiment (YAML lines).
struct TinyRun {
  std::unique_ptr<Session> session;
  WorkflowOptions options;
  WorkflowReport report;
  std::unique_ptr<WorkflowRun> run;
  fs::path out;

  TinyRun(const fs::path& model, const fs::path& data, const std::string& name, const std::string& extra = "",
          const std::string& sweep = "{thresholds: [0.5, 0.9]}") {
    const auto dir = test::temp_dir(name);
    out = dir / "out";
    write_file_atomic((dir / "e.yaml").string(),
                      "model: " + model.string() + "\nruntime: {threads: 1}\ndata: {dataset: obqa, root: " +
                          data.parent_path().string() + ", limit: 2, calibration_size: 5}\n"
                          "generation: {max_new_tokens: 6}\nimportance: {examples: 2}\n"
                          "search: {max_k: 2, latency: cost}\ntiming: {repeats: 1, warmup: 0}\n"
                          "early_exit_sweep: " + sweep + "\noutput_dir: " + out.string() + "\n" + extra);
    session = std::make_unique<Session>(load_experiment((dir / "e.yaml").string()));
    options.plots = false;
    options.print_table = false;
    run = std::make_unique<WorkflowRun>(*session, options, report);
    prepare(*run);
  }
  // A search result at the main epsilon with these plans (as step 2 would leave it).
  void set_main_search(const StagePlans& plans, double target) {
    SearchResult r;
    r.method = Method::LiteStage;
    r.target = target;
    r.plans = plans;
    for (StageKind kind : kStages) r.k[kind] = static_cast<int>(plans[kind].num_skipped());
    run->litestage_by_eps[run->spec.search.epsilon] = r;
  }
};

StagePlans plans_of(const std::string& spec, int L) {
  const auto plan = SkipPlan::parse(spec, L);
  return {plan, plan, plan};
}

}  // namespace

TEST_CASE("step 1 claims the output directory and keeps the search split apart from importance",
          "[workflow][steps][shared][deepbind]") {
  REQUIRE_SHARED(model, "models/stories260K");
  REQUIRE_SHARED(data, "data/obqa");
  TinyRun t(model, data, "step1", "epsilons: [5, 2]\n");
  auto& run = *t.run;
  for (auto f : {"config.yaml", "fingerprint.json", "importance.json", "ranking.txt"}) CHECK(fs::exists(t.out / f));
  CHECK(run.search_data.examples.size() == 3);  // 5 calibration questions, the first 2 for importance
  CHECK(run.epsilons == std::vector<double>{2, 5});  // the main one first, once
  CHECK(run.report.importance.ranking().size() == 10);
  CHECK(run.settings.max_k == 2);
  REQUIRE(run.candidates.size() == 2);
  CHECK(run.candidates[0].method == Method::Full);
  CHECK_FALSE(run.candidates[0].speculative);
  CHECK(run.candidates[1].method == Method::Lossless);  // the full model's plans, speculating
  CHECK(run.candidates[1].speculative);
  CHECK(run.candidates[1].plans == run.candidates[0].plans);
  CHECK(candidate_config(run, run.candidates[1]).speculative.drafter == DrafterKind::Lookup);
  CHECK_FALSE(candidate_config(run, run.candidates[0]).speculative.on());
  CHECK(run.evaluator);
  CHECK(read_json_file((t.out / "fingerprint.json").string()).at("search").at("max_k") == 2);
}

TEST_CASE("step 1 refuses an output directory of another configuration and leaves its files as they were",
          "[workflow][steps][shared][deepbind]") {
  REQUIRE_SHARED(model, "models/stories260K");
  REQUIRE_SHARED(data, "data/obqa");
  TinyRun t(model, data, "step1-refuse");
  const fs::path yaml = t.out.parent_path() / "e.yaml";
  const std::string config = read_file((t.out / "config.yaml").string());
  std::string other = read_file(yaml.string());
  const auto at = other.find("max_k: 2");
  REQUIRE(at != std::string::npos);
  other.replace(at, 8, "max_k: 1");
  write_file_atomic(yaml.string(), other);
  Session session(load_experiment(yaml.string()));
  WorkflowReport report;
  WorkflowRun run(session, t.options, report);
  CHECK_THROWS_WITH(prepare(run), Catch::Contains("search.max_k") && Catch::Contains("different configuration"));
  CHECK(read_file((t.out / "config.yaml").string()) == config);
  CHECK(read_json_file((t.out / "fingerprint.json").string()).at("search").at("max_k") == 2);
}

TEST_CASE("step 2 searches every epsilon within K", "[workflow][steps][shared][deepbind]") {
  REQUIRE_SHARED(model, "models/stories260K");
  REQUIRE_SHARED(data, "data/obqa");
  TinyRun t(model, data, "step2", "epsilons: [50]\n");
  search_litestage(*t.run);
  REQUIRE(t.run->litestage_by_eps.size() == 2);
  for (const auto& [eps, r] : t.run->litestage_by_eps) {
    for (StageKind kind : kStages) CHECK(r.k[kind] <= 2);
    CHECK(fs::exists(t.out / "sweeps" / ("litestage_eps" + eps_label(eps) + ".json")));
  }
  CHECK(t.report.searches.size() == 2);
}

TEST_CASE("step 3 keeps early exit off when no threshold meets the target, and records the sweep",
          "[workflow][steps][shared][deepbind]") {
  REQUIRE_SHARED(model, "models/stories260K");
  REQUIRE_SHARED(data, "data/obqa");
  TinyRun t(model, data, "step3");
  t.set_main_search(full_plans(t.run->L), 2.0);  // an accuracy no setting can reach
  sweep_thresholds(*t.run);
  CHECK(!t.run->litestage_ee.enabled);
  const auto sweep = read_json_file((t.out / "sweeps" / "early_exit_litestage_eps2.json").string());
  CHECK(sweep.at("rows").size() == 3);  // off, 0.5, 0.9
  CHECK(sweep.at("chosen") == "off");
  std::vector<std::string> methods;
  for (const auto& c : t.run->candidates) methods.push_back(method_name(c.method));
  CHECK(methods == std::vector<std::string>{"full", "lossless", "litestage", "litestage_no_ee", "litestage_spec",
                                            "early_exit_only"});
  // litestage_spec: LiteStage's plans and early exit, speculating.
  CHECK(t.run->candidates[4].speculative);
  CHECK(t.run->candidates[4].plans == t.run->candidates[2].plans);
  CHECK(early_exit_text(t.run->candidates[4].early_exit) == early_exit_text(t.run->candidates[2].early_exit));
  // A target every setting meets: the cheapest threshold wins (costs decide under latency: cost).
  // Threshold 0 is never reached (no mean probability is at or below 0): it costs what "off" costs.
  // Threshold 1.01 is always reached, so every stage ends once its window of 2 is full, before the
  // budget of 6 tokens: the cheapest, and the one chosen.
  TinyRun u(model, data, "step3b", "", "{thresholds: [0, 1.01], window: 2, metric: probability}");
  u.set_main_search(full_plans(u.run->L), 0.0);
  sweep_thresholds(*u.run);
  const auto swept = read_json_file((u.out / "sweeps" / "early_exit_litestage_eps2.json").string());
  const auto& rows = swept.at("rows");
  REQUIRE(rows.size() == 3);
  for (const auto& row : rows) CHECK(row.at("meets_target") == true);
  CHECK(rows[0].at("early_exit") == "off");
  CHECK(rows[1].at("early_exit") == "threshold 0 (probability, n=2)");
  CHECK(rows[2].at("early_exit") == "threshold 1.01 (probability, n=2)");
  const double off_flops = rows[0].at("point").at("flops"), never_flops = rows[1].at("point").at("flops");
  const double always_flops = rows[2].at("point").at("flops");
  CHECK(never_flops == Approx(off_flops));
  CHECK(always_flops < off_flops);
  CHECK(swept.at("chosen") == "threshold 1.01 (probability, n=2)");
  CHECK(u.run->litestage_ee.enabled);
  CHECK(u.run->litestage_ee.threshold == 1.01);
  CHECK(u.run->litestage_ee.window == 2);
}

TEST_CASE("step 3 chooses the speculative methods' drafter on the search split by the predicted latency",
          "[workflow][steps][shared][deepbind]") {
  REQUIRE_SHARED(model, "models/stories260K");
  REQUIRE_SHARED(data, "data/obqa");
  TinyRun t(model, data, "step3s");
  t.set_main_search(full_plans(t.run->L), 0.0);
  choose_speculation(*t.run);
  const auto sweep = read_json_file((t.out / "sweeps" / "speculation.json").string());
  const auto& rows = sweep.at("rows");
  REQUIRE(rows.size() == 3);
  CHECK(rows[0].at("speculative") == "lookup, gamma 8, ngram 3, adaptive");
  // The auto drafter over the first quarter and half of the ranking's 2 x 5 sub-layers: 2 and 5.
  const auto ranking = t.report.importance.ranking();
  REQUIRE(ranking.size() == 10);
  size_t row = 1;
  for (size_t skipped : {2, 5}) {
    const std::string text = rows[row++].at("speculative");
    INFO(text);
    REQUIRE(starts_with(text, "auto, gamma 8, ngram 3, adaptive, draft skip "));
    const auto at = text.find("draft skip ") + 11;
    const auto plan = SkipPlan::parse(text.substr(at, text.find(", threshold") - at), t.run->L);
    CHECK(plan.num_skipped() == skipped);
    for (size_t i = 0; i < skipped; ++i) CHECK(plan.skips(ranking[i]));
  }
  // Greedy outputs do not depend on the drafter: every row has the full model's accuracy.
  for (const auto& r : rows) CHECK(r.at("point").at("accuracy") == rows[0].at("point").at("accuracy"));
  // latency: cost: the lowest predicted latency wins, and the run's candidates take it.
  size_t best = 0;
  for (size_t i = 1; i < rows.size(); ++i)
    if (rows[i].at("point").at("predicted_seconds").get<double>() < rows[best].at("point").at("predicted_seconds").get<double>()) best = i;
  CHECK(sweep.at("chosen") == rows[best].at("speculative"));
  CHECK(t.run->speculation.describe() == rows[best].at("speculative").get<std::string>());

  // Without the speculative methods there is nothing to choose.
  TinyRun without(model, data, "step3s-without", "methods: [full, litestage]\n");
  without.set_main_search(full_plans(without.run->L), 0.0);
  choose_speculation(*without.run);
  CHECK_FALSE(fs::exists(without.out / "sweeps" / "speculation.json"));
}

TEST_CASE("step 4 adds the baselines the experiment asks for", "[workflow][steps][shared][deepbind]") {
  REQUIRE_SHARED(model, "models/stories260K");
  REQUIRE_SHARED(data, "data/obqa");
  TinyRun t(model, data, "step4", "methods: [full, uniform, random]\n");
  t.set_main_search(plans_of("a1,f3", t.run->L), 0.0);
  search_baselines(*t.run);
  REQUIRE(t.run->candidates.size() == 3);
  CHECK(t.run->candidates[1].method == Method::Uniform);
  const auto& random = t.run->candidates[2];
  CHECK(random.method == Method::Random);
  CHECK(random.unconstrained);
  for (StageKind kind : kStages) CHECK(random.plans[kind].num_skipped() == 2);  // as many as LiteStage chose
  CHECK(fs::exists(t.out / "sweeps" / "uniform_eps2.json"));
}

TEST_CASE("step 5 writes the budget profile of the main search with its early exit", "[workflow][steps][shared][deepbind]") {
  REQUIRE_SHARED(model, "models/stories260K");
  REQUIRE_SHARED(data, "data/obqa");
  TinyRun t(model, data, "step5");
  const auto plans = plans_of("a0,f4", t.run->L);
  t.set_main_search(plans, 0.0);
  t.run->litestage_ee.enabled = true;
  t.run->litestage_ee.threshold = 0.9;
  write_profile(*t.run);
  const auto p = load_profile(t.out / "budget_profile.yaml");
  for (StageKind kind : kStages) {
    CHECK(p.stages[kind].skip.to_string() == plans[kind].to_string());
    CHECK(p.stages[kind].early_exit == t.run->litestage_ee);
  }
  CHECK(p.ranking == t.report.importance.ranking());
  CHECK(p.target_accuracy == 0.0);
  CHECK(p.latency > 0);
  CHECK(p.full_latency > 0);
  // The profile's accuracy is the plans' with their early exit on the search split: here the same
  // questions run afresh, without the stage cache, and their correct answers counted.
  MultiStagePipeline fresh(t.run->session.generator(), final_config(t.run->base, plans, t.run->litestage_ee));
  const auto& questions = t.run->search_data.examples;
  REQUIRE(!questions.empty());
  int correct = 0;
  for (const auto& q : questions) correct += fresh.run(q).correct ? 1 : 0;
  CHECK(p.accuracy == Approx(static_cast<double>(correct) / static_cast<double>(questions.size())));
}

TEST_CASE("steps 6 and 7 evaluate the candidates on the split and report them", "[workflow][steps][shared][deepbind]") {
  REQUIRE_SHARED(model, "models/stories260K");
  REQUIRE_SHARED(data, "data/obqa");
  TinyRun t(model, data, "step6");
  const auto plans = plans_of("b0", t.run->L);
  t.run->candidates.push_back({Method::Uniform, 2, plans, {}});
  evaluate_candidates(*t.run);
  REQUIRE(t.report.rows.size() == 3);  // full and lossless (step 1), uniform
  CHECK(t.report.rows[0].method == Method::Full);
  CHECK(t.report.rows[1].method == Method::Lossless);
  CHECK(t.report.rows[1].skip == t.report.rows[0].skip);
  CHECK(t.report.rows[1].speculative != "off");
  // Timed as a configuration of its own, not as the full model's plans again.
  CHECK(t.report.rows[1].timing.passes != t.report.rows[0].timing.passes);
  CHECK(t.report.rows[2].skip.find(plans[StageKind::Recall].to_string()) != std::string::npos);
  for (const auto& row : t.report.rows) {
    CHECK(row.summary.examples == 2);
    CHECK(row.summary.mean_seconds > 0);
  }
  test::check_rows_against_full(t.report.rows);
  CHECK(fs::exists(t.out / "methods" / "full.traces.jsonl"));
  write_report(*t.run);
  for (auto f : {"table.md", "table.csv", "table.tex", "results.json"}) CHECK(fs::exists(t.out / f));
  const auto results = read_json_file((t.out / "results.json").string());
  CHECK(results.at("rows").size() == 3);
  CHECK(read_file((t.out / "table.md").string()).find("uniform") != std::string::npos);
}
