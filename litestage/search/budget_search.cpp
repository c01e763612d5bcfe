#include "litestage/search/budget_search.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>

#include "litestage/dist/dist.hpp"
#include "litestage/util/error.hpp"
#include "litestage/util/jsonl.hpp"
#include "litestage/util/progress.hpp"
#include "litestage/util/strings.hpp"

namespace litestage {

void to_json(nlohmann::json& j, const EvalPoint& p) {
  // A latency nothing measured (stage-cache hits carry no time) is written as null, never as 0.
  const auto measured = [&](double x) { return p.latency_measured ? nlohmann::json(x) : nlohmann::json(nullptr); };
  j = {{"accuracy", p.accuracy},
       {"correct", p.correct},
       {"latency", measured(p.latency)},
       {"stage_latency", stage_object<nlohmann::json>(p.stage_latency, measured)},
       {"tokens", p.tokens},
       {"flops", p.flops},
       {"stage_flops", stage_object<nlohmann::json>(p.stage_flops, [](double x) { return x; })},
       {"predicted_seconds", p.predicted},
       {"stage_predicted_seconds", stage_object<nlohmann::json>(p.stage_predicted, [](double x) { return x; })},
       {"prompt_too_long", p.prompt_too_long},
       {"examples", p.examples}};
  if (p.timing.measured()) j["timing"] = p.timing;
}

void from_json(const nlohmann::json& j, EvalPoint& p) {
  p.accuracy = j.at("accuracy").get<double>();
  p.correct = j.value("correct", 0);
  p.latency_measured = !j.at("latency").is_null();
  const auto number = [](const nlohmann::json& x) { return x.is_null() ? 0.0 : x.get<double>(); };
  p.latency = number(j.at("latency"));
  p.stage_latency = stage_values<double>(j.at("stage_latency"), number);
  p.tokens = j.at("tokens").get<double>();
  p.flops = j.value("flops", 0.0);
  if (j.contains("stage_flops")) p.stage_flops = stage_values<double>(j.at("stage_flops"), number);
  p.predicted = j.value("predicted_seconds", 0.0);
  if (j.contains("stage_predicted_seconds")) p.stage_predicted = stage_values<double>(j.at("stage_predicted_seconds"), number);
  p.prompt_too_long = j.value("prompt_too_long", 0);
  p.examples = j.at("examples").get<int>();
  if (j.contains("timing")) p.timing = j.at("timing").get<LatencySamples>();
}

const EnumNames<LatencyMode>& latency_mode_names() {
  static const EnumNames<LatencyMode> names = {{"measured", LatencyMode::Measured}, {"cost", LatencyMode::Cost}};
  return names;
}

std::string to_string(LatencyMode mode) { return enum_name(latency_mode_names(), mode); }

void set_timing(const std::vector<LatencySamples>& samples, const std::vector<EvalPoint*>& points) {
  for (size_t i = 0; i < points.size(); ++i) {
    EvalPoint& p = *points[i];
    p.timing = samples.at(i);
    p.latency = p.timing.median();
    p.latency_measured = true;
    for (StageKind k : kStages) p.stage_latency[k] = p.timing.stage_median(k);
  }
}

void time_points(SearchJournal& journal, PlanEvaluator& evaluator, const std::vector<StagePlans>& plans,
                 const std::vector<EvalPoint*>& points) {
  std::string key;
  for (const auto& p : plans) key += (key.empty() ? "" : " ; ") + SearchJournal::key(p);
  const std::vector<LatencySamples> samples = journal.timing(key, [&] { return evaluator.time(plans); });
  if (samples.empty()) return;  // the evaluator's own latencies stand
  set_timing(samples, points);
}

SearchJournal::SearchJournal(std::string path) : path_(std::move(path)) {
  // Rank 0 keeps the journal; every rank starts from its entries, so all skip the same points.
  dist::read_jsonl_from_root(path_, [&](const nlohmann::json& j) {
    if (j.contains("timed"))
      timed_[j.at("timed").get<std::string>()] = j.at("samples").get<std::vector<LatencySamples>>();
    else
      points_[j.at("plans").get<std::string>()] = j.at("point").get<EvalPoint>();
  }, "journal entry");
}

std::vector<LatencySamples> SearchJournal::timing(const std::string& key,
                                                  const std::function<std::vector<LatencySamples>()>& time) {
  if (auto it = timed_.find(key); it != timed_.end()) return it->second;
  auto samples = time();
  ++timings_run_;
  if (samples.empty()) return samples;
  timed_[key] = samples;
  if (!path_.empty() && dist::is_root()) append_jsonl(path_, {{"timed", key}, {"samples", samples}});
  return samples;
}

std::string SearchJournal::key(const StagePlans& plans) {
  return join_stages(plans, [](const SkipPlan& plan) { return plan.to_string(); });
}

EvalPoint SearchJournal::point(PlanEvaluator& evaluator, const StagePlans& plans) {
  auto k = key(plans);
  auto it = points_.find(k);
  if (it != points_.end()) return it->second;
  auto p = evaluator.evaluate(plans);
  points_[k] = p;
  if (!path_.empty() && dist::is_root()) append_jsonl(path_, {{"plans", k}, {"point", p}});
  return p;
}

void to_json(nlohmann::json& j, const SearchResult& r) {
  auto sweep = nlohmann::json::array();
  for (const auto& row : r.sweep)
    sweep.push_back({{"stage", row.stage}, {"k", row.k}, {"point", row.point}, {"meets_target", row.meets_target},
                     {"chosen", row.chosen}});
  std::vector<std::string> order;
  for (auto s : r.order) order.emplace_back(to_string(s));
  j = {{"method", method_name(r.method)},
       {"full", r.full},
       {"target_accuracy", r.target},
       {"order", order},
       {"k", stage_object<nlohmann::json>(r.k, [](int k) { return k; })},
       {"plans", stage_object<nlohmann::json>(r.plans, [](const SkipPlan& plan) { return plan.to_string(); })},
       {"final", r.final},
       {"sweep", sweep}};
}

std::optional<size_t> choose_row(const std::vector<SweepRow>& rows, LatencyMode mode) {
  // The fastest row meeting the target by value (latency or cost), then, for measured latency,
  // the one predicted fastest of the rows inside its noise band.
  std::optional<size_t> best;
  auto key = [&](size_t i) { return mode == LatencyMode::Cost ? rows[i].point.predicted : rows[i].point.latency; };
  for (size_t i = 0; i < rows.size(); ++i)
    if (rows[i].meets_target && (!best || key(i) < key(*best) || (key(i) == key(*best) && rows[i].k < rows[*best].k)))
      best = i;
  if (!best || mode == LatencyMode::Cost) return best;
  const size_t fastest = *best;
  for (size_t i = 0; i < rows.size(); ++i) {
    if (!rows[i].meets_target || !within_noise(rows[i].point.timing, rows[fastest].point.timing)) continue;
    const double fi = rows[i].point.predicted, fb = rows[*best].point.predicted;
    if (fi < fb || (fi == fb && rows[i].k < rows[*best].k)) best = i;
  }
  return best;
}

std::vector<StageKind> stage_order(const EvalPoint& full, LatencyMode mode) {
  std::vector<StageKind> order = {kStages.begin(), kStages.end()};
  std::stable_sort(order.begin(), order.end(), [&](StageKind a, StageKind b) {
    if (mode == LatencyMode::Cost) return full.stage_predicted[a] > full.stage_predicted[b];
    return full.stage_latency[a] > full.stage_latency[b];
  });
  return order;
}

namespace {

// Accuracy is a fraction; the target is compared with a tolerance that absorbs float rounding
// (e.g. 0.9 - 0.02 computed vs 0.88 measured).
bool meets(double accuracy, double target) { return accuracy >= target - 1e-9; }

// Times a sweep's rows together, so load drift hits them alike.
void time_rows(SearchJournal& journal, PlanEvaluator& evaluator, const std::vector<StagePlans>& trials,
               std::vector<SweepRow>& rows) {
  std::vector<EvalPoint*> points;
  for (auto& row : rows) points.push_back(&row.point);
  time_points(journal, evaluator, trials, points);
}

// The point of the configuration the search ended on: the last stage's chosen row.
EvalPoint chosen_point(const std::vector<SweepRow>& sweep) {
  for (auto it = sweep.rbegin(); it != sweep.rend(); ++it)
    if (it->chosen) return it->point;
  return {};
}

void check_settings(const SearchSettings& s) {
  if (s.max_k < 0) throw_error("search max_k must be >= 0");
  if (s.step < 1) throw_error("search step must be >= 1");
  if (s.epsilon < 0) throw_error("search epsilon must be >= 0");
}

}  // namespace

namespace {

// One sweep: k = 0, step, ..., max_k over the configurations `trial(k)`, timed together under
// measured latency, with the chosen row marked (the fastest that meets the target; k = 0, the
// configuration the sweep starts from, when none does). Returns the chosen k.
int sweep_knob(SearchJournal& journal, PlanEvaluator& evaluator, const SearchSettings& settings, double target,
               const std::string& stage, const std::function<StagePlans(int k)>& trial, std::vector<SweepRow>& out) {
  std::vector<SweepRow> rows;
  std::vector<StagePlans> trials;
  for (int k = 0; k <= settings.max_k; k += settings.step) {
    trials.push_back(trial(k));
    SweepRow row;
    row.stage = stage;
    row.k = k;
    row.point = journal.point(evaluator, trials.back());
    row.meets_target = meets(row.point.accuracy, target);
    rows.push_back(row);
  }
  if (settings.latency == LatencyMode::Measured) time_rows(journal, evaluator, trials, rows);
  const auto best = choose_row(rows, settings.latency);
  int k = 0;
  if (best) {
    rows[*best].chosen = true;
    k = rows[*best].k;
  } else if (!rows.empty()) {
    rows[0].chosen = true;
  }
  out.insert(out.end(), rows.begin(), rows.end());
  return k;
}

}  // namespace

SearchResult stage_wise_search(SearchJournal& journal, PlanEvaluator& evaluator, const PlanBuilder& build,
                               int num_layers, const SearchSettings& settings) {
  check_settings(settings);
  SearchResult r;
  r.method = Method::LiteStage;
  auto plans = StagePlans::filled(SkipPlan(num_layers));
  r.full = journal.point(evaluator, plans);
  if (settings.latency == LatencyMode::Measured) time_points(journal, evaluator, {plans}, {&r.full});
  r.target = r.full.accuracy - settings.epsilon / 100.0;
  r.order = stage_order(r.full, settings.latency);
  for (auto stage : r.order) {
    auto trial = [&](int k) {
      auto t = plans;
      t[stage] = build(stage, k);
      return t;
    };
    r.k[stage] = sweep_knob(journal, evaluator, settings, r.target, std::string(to_string(stage)), trial, r.sweep);
    plans[stage] = build(stage, r.k[stage]);
  }
  r.plans = plans;
  r.final = r.sweep.empty() ? r.full : chosen_point(r.sweep);
  return r;
}

SearchResult shared_knob_search(Method method, SearchJournal& journal, PlanEvaluator& evaluator,
                                const std::function<SkipPlan(int k)>& build, int num_layers,
                                const SearchSettings& settings) {
  check_settings(settings);
  SearchResult r;
  r.method = method;
  const auto none = StagePlans::filled(SkipPlan(num_layers));
  r.full = journal.point(evaluator, none);
  r.target = r.full.accuracy - settings.epsilon / 100.0;
  auto trial = [&](int k) { return StagePlans::filled(build(k)); };
  const int k = sweep_knob(journal, evaluator, settings, r.target, "all", trial, r.sweep);
  r.k = PerStage<int>::filled(k);
  r.plans = trial(k);
  r.final = r.sweep.empty() ? journal.point(evaluator, r.plans) : chosen_point(r.sweep);
  return r;
}

PipelineEvaluator::PipelineEvaluator(Generator& generator, PipelineConfig base, std::vector<Example> examples,
                                     StageCache* cache, std::string label, TimingSettings timing, LatencyModel latency)
    : generator_(generator),
      timing_(timing),
      base_(std::move(base)),
      examples_(std::move(examples)),
      cache_(cache),
      label_(std::move(label)),
      latency_(std::move(latency)) {
  if (examples_.empty()) throw_error("the search split has no examples");
}

EvalPoint PipelineEvaluator::point_from(const Summary& s, const LatencyModel& latency) {
  EvalPoint p;
  p.accuracy = s.accuracy;
  p.correct = s.correct;
  // A pass with stage-cache hits has no latency of its own (hits carry no time): 0 = not measured;
  // the timed passes (time_points) fill it in.
  if (s.cached_stages == 0) {
    p.latency_measured = true;
    p.latency = s.mean_seconds;
    for (StageKind k : kStages) p.stage_latency[k] = s.stages[k].mean_seconds;
  }
  p.tokens = s.mean_tokens;
  p.flops = s.mean_cost.flops;
  for (StageKind k : kStages) p.stage_flops[k] = s.stages[k].mean_flops;
  p.predicted = latency.predict(s.mean_cost);
  for (StageKind k : kStages) p.stage_predicted[k] = latency.predict(s.stages[k].mean_cost);
  p.prompt_too_long = s.prompt_too_long;
  p.examples = s.examples;
  return p;
}

PipelineConfig PipelineEvaluator::config_for(const StagePlans& plans) const {
  auto cfg = base_;
  for (auto kind : kStages) cfg.stages[kind].skip = plans[kind];
  return cfg;
}

std::vector<LatencySamples> PipelineEvaluator::time(const std::vector<StagePlans>& plans) {
  std::vector<PipelineConfig> configs;
  for (const auto& p : plans) configs.push_back(config_for(p));
  return time_interleaved_progress(generator_, configs, examples_, timing_, label_);
}

EvalPoint PipelineEvaluator::evaluate(const StagePlans& plans) {
  MultiStagePipeline pipeline(generator_, config_for(plans), cache_);
  std::string what = label_ + " [" + join_stages(plans, [](const SkipPlan& p) { return p.to_string(); }) + "]";
  // This rank's share of the questions, then every rank's traces, in question order.
  Progress bar(what, dist::shard(examples_.size()).size(), stderr);
  size_t correct = 0, ran = 0;
  auto run = [&](size_t i) {
    const ExampleTrace t = pipeline.run(examples_[i]);
    correct += t.correct;
    char status[48];
    std::snprintf(status, sizeof status, "acc %.1f%%", 100.0 * static_cast<double>(correct) / static_cast<double>(++ran));
    bar.update(ran, status);
    return nlohmann::json(t).dump();
  };
  const auto gathered = dist::map_gathered(examples_.size(), run);
  bar.finish();
  std::vector<ExampleTrace> traces;
  for (const auto& text : gathered) traces.push_back(nlohmann::json::parse(text).get<ExampleTrace>());
  return point_from(summarize(traces), latency_);
}

}  // namespace litestage
