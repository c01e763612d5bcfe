#include <catch2/catch.hpp>

#include <functional>

#include "litestage/search/budget_search.hpp"
#include "litestage/util/error.hpp"
#include "support.hpp"

using namespace litestage;

namespace {

// Accuracy and latency tables fed in: the configuration is read back from the plans' sizes.
struct TableEvaluator : PlanEvaluator {
  std::function<EvalPoint(std::array<int, 3>)> table;
  int calls = 0;
  int fail_after = -1;
  EvalPoint evaluate(const StagePlans& plans) override {
    if (fail_after >= 0 && calls >= fail_after) throw Error("simulated crash");
    ++calls;
    return table({static_cast<int>(plans[StageKind::Recall].num_skipped()), static_cast<int>(plans[StageKind::Analyze].num_skipped()),
                  static_cast<int>(plans[StageKind::Summarize].num_skipped())});
  }
};

std::vector<SubLayer> ranking(int layers) {
  std::vector<SubLayer> r;
  for (int l = 0; l < layers; ++l) {
    r.push_back({l, SubLayerKind::FFN});
    r.push_back({l, SubLayerKind::Attention});
  }
  return r;
}

// Stage latencies 1 (recall), 3 (analyze), 2 (summarize) s at k = 0; each skipped sub-layer in a
// stage saves 10% of its latency, but analyze rambles when k >= 3 (latency jumps: not monotone);
// accuracy 0.9 minus 1 point per skipped recall sub-layer, 0.5 per analyze, 2 per summarize.
EvalPoint table(std::array<int, 3> k) {
  EvalPoint p;
  p.stage_latency = {1.0 * (1 - 0.1 * k[0]), 3.0 * (1 - 0.1 * k[1]) + (k[1] >= 3 ? 2.0 : 0.0), 2.0 * (1 - 0.1 * k[2])};
  p.latency = p.stage_latency[StageKind::Recall] + p.stage_latency[StageKind::Analyze] + p.stage_latency[StageKind::Summarize];
  p.latency_measured = true;  // this evaluator's latencies stand (it has no separate timing)
  p.accuracy = 0.9 - 0.01 * k[0] - 0.005 * k[1] - 0.02 * k[2];
  p.examples = 100;
  return p;
}

}  // namespace

TEST_CASE("stage-wise search: order by latency, lowest latency within target, non-monotone latency",
          "[search][budget]") {
  TableEvaluator ev;
  ev.table = table;
  SearchJournal journal;
  auto rank = ranking(4);
  SearchSettings s;
  s.epsilon = 2.0;  // target 0.88
  s.max_k = 4;
  auto build = [&](StageKind, int k) { return SkipPlan::from_ranking(rank, k, 4); };
  auto r = stage_wise_search(journal, ev, build, 4, s);
  CHECK(r.target == Approx(0.88));
  REQUIRE(r.order.size() == 3);
  CHECK(r.order[0] == StageKind::Analyze);    // 3 s
  CHECK(r.order[1] == StageKind::Summarize);  // 2 s
  CHECK(r.order[2] == StageKind::Recall);     // 1 s
  // Analyze first: k = 4 keeps accuracy 0.88 but k >= 3 rambles; k = 2 is fastest.
  CHECK(r.k[StageKind::Analyze] == 2);
  // Then summarize with analyze at 2 (acc 0.89): one sub-layer costs 2 points -> 0.87 < 0.88: k = 0.
  CHECK(r.k[StageKind::Summarize] == 0);
  // Recall: 0.89 - 0.01 k >= 0.88 -> k = 1.
  CHECK(r.k[StageKind::Recall] == 1);
  CHECK(r.final.accuracy == Approx(0.88));
  CHECK(r.sweep.size() == 15);
  int chosen = 0;
  for (const auto& row : r.sweep) chosen += row.chosen;
  CHECK(chosen == 3);
  // Identical configurations are evaluated once: 1 full + 3 sweeps of 5 minus the k = 0 repeats.
  CHECK(ev.calls == static_cast<int>(journal.size()));
  CHECK(ev.calls == 1 + 4 + 4 + 4);
}

TEST_CASE("shared-knob search picks the fastest k that meets the target", "[search][budget]") {
  TableEvaluator ev;
  ev.table = table;
  SearchJournal journal;
  auto rank = ranking(4);
  SearchSettings s;
  s.epsilon = 5.0;  // target 0.85: with k in all stages acc = 0.9 - 0.035 k -> k <= 1
  s.max_k = 4;
  auto r = shared_knob_search(Method::Uniform, journal, ev, [&](int k) { return SkipPlan::from_ranking(rank, k, 4); }, 4, s);
  CHECK(r.k == PerStage<int>(1, 1, 1));
  CHECK(choose_row(r.sweep) == 1u);
  // Nothing meets an impossible target: fall back to k = 0.
  std::vector<SweepRow> rows(2);
  CHECK_FALSE(choose_row(rows).has_value());
}

TEST_CASE("an interrupted search resumes from its journal and reaches the same result", "[search][budget]") {
  auto dir = test::temp_dir("search-resume");
  auto path = (dir / "journal.jsonl").string();
  auto rank = ranking(4);
  SearchSettings s;
  s.epsilon = 2.0;
  s.max_k = 4;
  auto build = [&](StageKind, int k) { return SkipPlan::from_ranking(rank, k, 4); };

  TableEvaluator reference_ev;
  reference_ev.table = table;
  SearchJournal memory;
  auto reference = stage_wise_search(memory, reference_ev, build, 4, s);

  TableEvaluator crashing;
  crashing.table = table;
  crashing.fail_after = 6;
  {
    SearchJournal journal(path);
    CHECK_THROWS_WITH(stage_wise_search(journal, crashing, build, 4, s), "simulated crash");
  }
  TableEvaluator second;
  second.table = table;
  SearchJournal journal(path);
  CHECK(journal.size() == 6);
  auto resumed = stage_wise_search(journal, second, build, 4, s);
  CHECK(second.calls == reference_ev.calls - 6);  // nothing evaluated twice
  CHECK(resumed.k == reference.k);
  CHECK(resumed.plans[StageKind::Recall] == reference.plans[StageKind::Recall]);
  CHECK(resumed.final.latency == Approx(reference.final.latency));
}

namespace {

// Accuracy 0.9 everywhere; the timed latency of a configuration follows the skipped sub-layers
// in all stages, faster with more of them (`faster`) or slower: two machines that disagree.
struct MoodyTimer : PlanEvaluator {
  bool faster = true;
  int timings = 0;
  EvalPoint evaluate(const StagePlans&) override {
    EvalPoint p;
    p.accuracy = 0.9;
    p.examples = 10;
    return p;
  }
  std::vector<LatencySamples> time(const std::vector<StagePlans>& plans) override {
    ++timings;
    std::vector<LatencySamples> out;
    for (const auto& config : plans) {
      LatencySamples s;
      double total = 0;
      for (StageKind kind : kStages) {
        const double skipped = static_cast<double>(config[kind].num_skipped());
        const double t = (kind == StageKind::Analyze ? 3.0 : 1.0) * (faster ? 1 - 0.1 * skipped : 1 + 0.1 * skipped);
        s.stage_passes[kind] = {t, t, t};
        total += t;
      }
      s.passes = {total, total, total};
      s.per_question = {total};
      out.push_back(s);
    }
    return out;
  }
};

}  // namespace

TEST_CASE("a resumed measured search reuses the journal's timings and chooses the same plans", "[search][budget]") {
  auto dir = test::temp_dir("search-timings");
  auto path = (dir / "journal.jsonl").string();
  auto rank = ranking(4);
  SearchSettings s;
  s.max_k = 3;
  s.latency = LatencyMode::Measured;
  auto build = [&](StageKind, int k) { return SkipPlan::from_ranking(rank, k, 4); };
  MoodyTimer first;
  PerStage<int> chosen;
  {
    SearchJournal journal(path);
    chosen = stage_wise_search(journal, first, build, 4, s).k;
    CHECK(journal.timings() == 4);  // the full model, then one sweep per stage
  }
  CHECK(chosen == PerStage<int>(3, 3, 3));  // more skipped is faster on this machine
  MoodyTimer second;
  second.faster = false;
  SearchJournal fresh;  // without the journal the other machine chooses otherwise
  CHECK(stage_wise_search(fresh, second, build, 4, s).k == PerStage<int>(0, 0, 0));
  second.timings = 0;
  SearchJournal journal(path);
  CHECK(stage_wise_search(journal, second, build, 4, s).k == chosen);
  CHECK(second.timings == 0);
  CHECK(journal.timings() == 0);
}

TEST_CASE("choose_row: measured latency is noise-aware, ties go to the lower cost, cost mode uses cost alone",
          "[search][budget][noise]") {
  // The cost a choice compares is the latency model's prediction; FLOPs (reversed here) never count.
  auto row = [](int k, std::vector<double> passes, double predicted, bool meets = true) {
    SweepRow r;
    r.k = k;
    r.meets_target = meets;
    r.point.timing.passes = std::move(passes);
    r.point.latency = r.point.timing.median();
    r.point.predicted = predicted;
    r.point.flops = 100 - predicted;
    return r;
  };
  // k=1 is the fastest by median, but k=2 overlaps its band and costs less: a tie won by cost.
  std::vector<SweepRow> rows = {row(0, {1.00, 1.02, 1.04}, 10), row(1, {0.80, 0.81, 0.90}, 9),
                                row(2, {0.83, 0.85, 0.86}, 7), row(3, {0.50, 0.51, 0.52}, 6, false)};
  CHECK(*choose_row(rows, LatencyMode::Measured) == 2);
  // Separated bands: the faster one wins although it costs more.
  rows[2].point.timing.passes = {0.95, 0.96, 0.97};
  rows[2].point.latency = 0.96;
  CHECK(*choose_row(rows, LatencyMode::Measured) == 1);
  // Cost alone: the cheapest row meeting the target (k=3 misses it).
  CHECK(*choose_row(rows, LatencyMode::Cost) == 2);
  for (auto& r : rows) r.meets_target = false;
  CHECK_FALSE(choose_row(rows, LatencyMode::Cost).has_value());
}

TEST_CASE("search.latency: cost makes every choice from the deterministic cost", "[search][budget][noise]") {
  // Latency and cost disagree: latency says skipping analyze is slower (it rambles), the latency
  // model's prediction says it is cheaper. Cost mode follows the prediction, and orders the stages
  // by it too (FLOPs, ordered the other way round here, are not what it ranks by).
  TableEvaluator ev;
  ev.table = [](std::array<int, 3> k) {
    EvalPoint p = table(k);
    p.stage_predicted = {300.0 * (1 - 0.1 * k[0]), 100.0 * (1 - 0.1 * k[1]), 200.0 * (1 - 0.1 * k[2])};
    p.predicted = p.stage_predicted[StageKind::Recall] + p.stage_predicted[StageKind::Analyze] +
                  p.stage_predicted[StageKind::Summarize];
    p.stage_flops = {100.0, 300.0, 200.0};
    return p;
  };
  SearchJournal journal;
  auto rank = ranking(4);
  SearchSettings s;
  s.epsilon = 2.0;
  s.max_k = 4;
  s.latency = LatencyMode::Cost;
  auto build = [&](StageKind, int k) { return SkipPlan::from_ranking(rank, k, 4); };
  auto r = stage_wise_search(journal, ev, build, 4, s);
  REQUIRE(r.order.size() == 3);
  CHECK((r.order[0] == StageKind::Recall && r.order[1] == StageKind::Summarize && r.order[2] == StageKind::Analyze));
  // Measured mode visits analyze first (the slowest stage) and avoids its rambling k >= 3.
  SearchJournal journal2;
  s.latency = LatencyMode::Measured;
  auto m = stage_wise_search(journal2, ev, build, 4, s);
  CHECK((m.order.front() == StageKind::Analyze));
  CHECK(m.k[StageKind::Analyze] < 3);
}

TEST_CASE("cost mode visits the stage the latency model predicts slowest first, not the one with most FLOPs",
          "[search][budget]") {
  // The demo's shape (docs/methods.md, "Cost"): Summarize has the most FLOPs (one long prefill),
  // Analyze reads the weights most often and is predicted (and measured) slowest.
  EvalPoint full;
  full.stage_flops = {15.0, 39.0, 46.0};
  full.stage_predicted = {0.020, 0.064, 0.016};
  full.stage_latency = {0.030, 0.010, 0.020};  // a noisy measurement: measured mode follows it
  const auto cost = stage_order(full, LatencyMode::Cost);
  CHECK((cost == std::vector<StageKind>{StageKind::Analyze, StageKind::Recall, StageKind::Summarize}));
  const auto measured = stage_order(full, LatencyMode::Measured);
  CHECK((measured == std::vector<StageKind>{StageKind::Recall, StageKind::Summarize, StageKind::Analyze}));
  // Ties keep the pipeline's order.
  full.stage_predicted = {0.5, 0.5, 0.5};
  CHECK((stage_order(full, LatencyMode::Cost) == std::vector<StageKind>{StageKind::Recall, StageKind::Analyze,
                                                                        StageKind::Summarize}));
}
