#include "litestage/search/budget_search.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>

#include "litestage/util/error.hpp"
#include "litestage/util/jsonl.hpp"
#include "litestage/util/progress.hpp"
#include "litestage/util/strings.hpp"

namespace litestage {

void to_json(nlohmann::json& j, const EvalPoint& p) {
  j = {{"accuracy", p.accuracy},
       {"latency", p.latency},
       {"stage_latency", {{"recall", p.stage_latency[0]}, {"analyze", p.stage_latency[1]}, {"summarize", p.stage_latency[2]}}},
       {"tokens", p.tokens},
       {"examples", p.examples}};
}

void from_json(const nlohmann::json& j, EvalPoint& p) {
  p.accuracy = j.at("accuracy").get<double>();
  p.latency = j.at("latency").get<double>();
  const auto& s = j.at("stage_latency");
  p.stage_latency = {s.at("recall").get<double>(), s.at("analyze").get<double>(), s.at("summarize").get<double>()};
  p.tokens = j.at("tokens").get<double>();
  p.examples = j.at("examples").get<int>();
}

SearchJournal::SearchJournal(std::string path) : path_(std::move(path)) {
  read_jsonl(
      path_, [&](const nlohmann::json& j) { points_[j.at("plans").get<std::string>()] = j.at("point").get<EvalPoint>(); },
      "journal entry");
}

std::string SearchJournal::key(const StagePlans& plans) {
  return plans[0].to_string() + " | " + plans[1].to_string() + " | " + plans[2].to_string();
}

EvalPoint SearchJournal::evaluate(PlanEvaluator& evaluator, const StagePlans& plans) {
  auto k = key(plans);
  auto it = points_.find(k);
  if (it != points_.end()) return it->second;
  auto p = evaluator.evaluate(plans);
  ++evaluations_;
  points_[k] = p;
  if (!path_.empty()) append_jsonl(path_, {{"plans", k}, {"point", p}});
  return p;
}

void to_json(nlohmann::json& j, const SearchResult& r) {
  auto sweep = nlohmann::json::array();
  for (const auto& row : r.sweep)
    sweep.push_back({{"stage", row.stage}, {"k", row.k}, {"point", row.point}, {"meets_target", row.meets_target},
                     {"chosen", row.chosen}});
  std::vector<std::string> order;
  for (auto s : r.order) order.emplace_back(to_string(s));
  j = {{"method", r.method},
       {"full", r.full},
       {"target_accuracy", r.target},
       {"order", order},
       {"k", {{"recall", r.k[0]}, {"analyze", r.k[1]}, {"summarize", r.k[2]}}},
       {"plans", {{"recall", r.plans[0].to_string()}, {"analyze", r.plans[1].to_string()}, {"summarize", r.plans[2].to_string()}}},
       {"final", r.final},
       {"sweep", sweep}};
}

std::optional<size_t> choose_row(const std::vector<SweepRow>& rows) {
  std::optional<size_t> best;
  for (size_t i = 0; i < rows.size(); ++i) {
    if (!rows[i].meets_target) continue;
    if (!best || rows[i].point.latency < rows[*best].point.latency ||
        (rows[i].point.latency == rows[*best].point.latency && rows[i].k < rows[*best].k))
      best = i;
  }
  return best;
}

namespace {

// Accuracy is a fraction; the target is compared with a tolerance that absorbs float rounding
// (e.g. 0.9 - 0.02 computed vs 0.88 measured).
bool meets(double accuracy, double target) { return accuracy >= target - 1e-9; }

void check_settings(const SearchSettings& s) {
  if (s.max_k < 0) throw_error("search max_k must be >= 0");
  if (s.step < 1) throw_error("search step must be >= 1");
  if (s.epsilon < 0) throw_error("search epsilon must be >= 0");
}

}  // namespace

SearchResult stage_wise_search(SearchJournal& journal, PlanEvaluator& evaluator, const PlanBuilder& build,
                               int num_layers, const SearchSettings& settings) {
  check_settings(settings);
  SearchResult r;
  r.method = "litestage";
  StagePlans plans = {SkipPlan(num_layers), SkipPlan(num_layers), SkipPlan(num_layers)};
  r.full = journal.evaluate(evaluator, plans);
  r.target = r.full.accuracy - settings.epsilon / 100.0;
  // Slowest stage first; ties keep pipeline order.
  r.order = {kStages.begin(), kStages.end()};
  std::stable_sort(r.order.begin(), r.order.end(), [&](StageKind a, StageKind b) {
    return r.full.stage_latency[stage_index(a)] > r.full.stage_latency[stage_index(b)];
  });
  for (auto stage : r.order) {
    std::vector<SweepRow> rows;
    for (int k = 0; k <= settings.max_k; k += settings.step) {
      auto trial = plans;
      trial[stage_index(stage)] = build(stage, k);
      SweepRow row;
      row.stage = std::string(to_string(stage));
      row.k = k;
      row.point = journal.evaluate(evaluator, trial);
      row.meets_target = meets(row.point.accuracy, r.target);
      rows.push_back(row);
    }
    auto best = choose_row(rows);
    int k = 0;  // k = 0 is the previous configuration, which met the target (or is the full model)
    if (best) {
      rows[*best].chosen = true;
      k = rows[*best].k;
    } else if (!rows.empty()) {
      rows[0].chosen = true;
    }
    r.k[stage_index(stage)] = k;
    plans[stage_index(stage)] = build(stage, k);
    r.sweep.insert(r.sweep.end(), rows.begin(), rows.end());
  }
  r.plans = plans;
  r.final = journal.evaluate(evaluator, plans);
  return r;
}

SearchResult shared_knob_search(const std::string& method, SearchJournal& journal, PlanEvaluator& evaluator,
                                const std::function<SkipPlan(int k)>& build, int num_layers,
                                const SearchSettings& settings) {
  check_settings(settings);
  SearchResult r;
  r.method = method;
  StagePlans none = {SkipPlan(num_layers), SkipPlan(num_layers), SkipPlan(num_layers)};
  r.full = journal.evaluate(evaluator, none);
  r.target = r.full.accuracy - settings.epsilon / 100.0;
  std::vector<SweepRow> rows;
  for (int k = 0; k <= settings.max_k; k += settings.step) {
    auto plan = build(k);
    SweepRow row;
    row.stage = "all";
    row.k = k;
    row.point = journal.evaluate(evaluator, {plan, plan, plan});
    row.meets_target = meets(row.point.accuracy, r.target);
    rows.push_back(row);
  }
  auto best = choose_row(rows);
  int k = best ? rows[*best].k : 0;
  if (best) rows[*best].chosen = true;
  auto plan = build(k);
  r.k = {k, k, k};
  r.plans = {plan, plan, plan};
  r.final = journal.evaluate(evaluator, r.plans);
  r.sweep = rows;
  return r;
}

PipelineEvaluator::PipelineEvaluator(Generator& generator, PipelineConfig base, std::vector<Example> examples,
                                     StageCache* cache, std::string label)
    : generator_(generator), base_(std::move(base)), examples_(std::move(examples)), cache_(cache), label_(std::move(label)) {
  if (examples_.empty()) throw_error("the search split has no examples");
}

EvalPoint PipelineEvaluator::point_from(const Summary& s) {
  EvalPoint p;
  p.accuracy = s.accuracy;
  p.latency = s.mean_seconds;
  p.stage_latency = {s.recall.mean_seconds, s.analyze.mean_seconds, s.summarize.mean_seconds};
  p.tokens = s.mean_tokens;
  p.examples = s.examples;
  return p;
}

EvalPoint PipelineEvaluator::evaluate(const StagePlans& plans) {
  auto cfg = base_;
  for (auto kind : kStages) cfg.stage(kind).skip = plans[stage_index(kind)];
  MultiStagePipeline pipeline(generator_, cfg, cache_);
  std::vector<ExampleTrace> traces;
  std::string what = label_ + " [" + plans[0].to_string() + " | " + plans[1].to_string() + " | " + plans[2].to_string() + "]";
  Progress bar(what, examples_.size(), stderr);
  size_t correct = 0;
  for (size_t i = 0; i < examples_.size(); ++i) {
    traces.push_back(pipeline.run(examples_[i]));
    correct += traces.back().correct;
    char status[48];
    std::snprintf(status, sizeof status, "acc %.1f%%", 100.0 * correct / (i + 1));
    bar.update(i + 1, status);
  }
  bar.finish();
  return point_from(summarize(traces));
}

}  // namespace litestage
