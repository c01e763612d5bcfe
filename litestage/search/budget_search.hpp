#pragma once
// Stage-wise budget search (LiteStage step 2) and the searches of the baselines that have a knob.
// target = full accuracy - epsilon points. Stages are visited slowest first (full-model stage
// latency); for the current stage k = 0..K (step), skipping the k most redundant sub-layers in that
// stage only (visited stages keep their chosen k, the rest skip nothing); the lowest-latency k
// that meets the target is kept. Latency is not monotone in k, so the whole sweep is evaluated and
// kept. Every evaluated point goes to a journal first, so an interrupted search resumes and reaches
// the same result, and no configuration is evaluated twice.

#include <array>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "litestage/search/method.hpp"
#include "litestage/data/stage_records.hpp"
#include "litestage/model/latency_model.hpp"
#include "litestage/model/skip_plan.hpp"
#include "litestage/reasoning/pipeline.hpp"
#include "litestage/reasoning/timing.hpp"
#include "litestage/util/yaml_schema.hpp"

namespace litestage {

using StagePlans = PerStage<SkipPlan>;

struct EvalPoint {
  double accuracy = 0;                   // fraction
  int correct = 0;
  double latency = 0;                    // mean seconds per question (median of the timed passes)
  bool latency_measured = false;         // latency and stage_latency were timed (else 0, written null)
  PerStage<double> stage_latency;        // mean seconds per question, per stage
  double tokens = 0;                     // mean generated tokens per question
  double flops = 0;                      // mean per question: the deterministic cost (model/cost.hpp)
  PerStage<double> stage_flops;          // per stage
  // Mean seconds per question the latency model predicts from the cost (model/latency_model.hpp):
  // what search.latency: cost ranks by. Deterministic.
  double predicted = 0;
  PerStage<double> stage_predicted;      // per stage
  int prompt_too_long = 0;               // questions with a stage that did not fit the context
  int examples = 0;
  LatencySamples timing;                 // the timed passes behind `latency` (empty: not timed)
};
void to_json(nlohmann::json& j, const EvalPoint& p);
void from_json(const nlohmann::json& j, EvalPoint& p);

// Measures one configuration (a plan per stage) on the search split.
class PlanEvaluator {
 public:
  virtual ~PlanEvaluator() = default;
  // Accuracy and cost (latency too where the evaluator has no separate timing: it then sets
  // latency_measured).
  virtual EvalPoint evaluate(const StagePlans& plans) = 0;
  // Times the configurations together (timing.hpp: interleaved, repeated). Empty: the evaluator
  // does not time separately and evaluate()'s latency stands.
  virtual std::vector<LatencySamples> time(const std::vector<StagePlans>& /*plans*/) { return {}; }
};

// How the searches compare configurations: by measured latency (noise-aware: differences within
// the timed passes' spread are ties, broken by lower predicted latency) or by the latency model's
// prediction from the deterministic cost alone, which makes every choice reproducible bit for bit.
enum class LatencyMode { Measured, Cost };
const EnumNames<LatencyMode>& latency_mode_names();  // "measured" | "cost"
std::string to_string(LatencyMode mode);

// Stores timed samples (one per point, in order) as the points' latencies.
void set_timing(const std::vector<LatencySamples>& samples, const std::vector<EvalPoint*>& points);

// JSONL journal of evaluated configurations and of the timed passes that compared them,
// consulted before the evaluator is called or anything is timed: a resumed search reuses both, so
// it reaches the same choices even under measured latency.
class SearchJournal {
 public:
  SearchJournal() = default;
  explicit SearchJournal(std::string path);  // loads existing entries (a torn last line is ignored)
  // The point of these plans: the journal's, else the evaluator's (then recorded).
  EvalPoint point(PlanEvaluator& evaluator, const StagePlans& plans);
  // The samples of configurations timed together under `key` (one per configuration): the
  // journal's, else time()'s (then recorded; an empty result is not).
  std::vector<LatencySamples> timing(const std::string& key, const std::function<std::vector<LatencySamples>()>& time);
  size_t timings() const { return timings_run_; }      // time() calls made through this journal
  size_t size() const { return points_.size(); }
  static std::string key(const StagePlans& plans);     // "<recall> | <analyze> | <summarize>"

 private:
  std::string path_;
  std::map<std::string, EvalPoint> points_;
  std::map<std::string, std::vector<LatencySamples>> timed_;
  size_t timings_run_ = 0;
};

// Times `points` (their plans in `plans`) together through the evaluator, or takes the journal's
// timing of the same configurations, and stores the medians.
void time_points(SearchJournal& journal, PlanEvaluator& evaluator, const std::vector<StagePlans>& plans,
                 const std::vector<EvalPoint*>& points);

struct SearchSettings {
  double epsilon = 2.0;   // accuracy points
  int max_k = 0;          // K
  int step = 1;
  LatencyMode latency = LatencyMode::Measured;
};

struct SweepRow {
  std::string stage;      // "recall", "analyze", "summarize", or "all" (uniform-style sweeps)
  int k = 0;
  EvalPoint point;
  bool meets_target = false;
  bool chosen = false;
};

struct SearchResult {
  Method method = Method::LiteStage;
  EvalPoint full;
  double target = 0;              // accuracy fraction
  std::vector<StageKind> order;   // visiting order (LiteStage)
  PerStage<int> k;                // chosen k per stage
  StagePlans plans;
  EvalPoint final;
  std::vector<SweepRow> sweep;
};
void to_json(nlohmann::json& j, const SearchResult& r);

// Builds the plans for a given k per stage from a ranking (each stage skips a prefix).
using PlanBuilder = std::function<SkipPlan(StageKind stage, int k)>;

SearchResult stage_wise_search(SearchJournal& journal, PlanEvaluator& evaluator, const PlanBuilder& build,
                               int num_layers, const SearchSettings& settings);

// One knob shared by every stage (uniform, AdaSkip-style, ShortGPT): sweep k = 0..max_k with the
// same plan in all stages and keep the lowest-latency point meeting the target.
SearchResult shared_knob_search(Method method, SearchJournal& journal, PlanEvaluator& evaluator,
                                const std::function<SkipPlan(int k)>& build, int num_layers,
                                const SearchSettings& settings);

// Picks, among rows meeting the target, the fastest: Measured, the lowest latency, where rows whose
// timed bands overlap the fastest one's are ties won by the lowest predicted latency; Cost, the
// lowest predicted latency.
// Remaining ties: smaller k. nullopt if no row meets the target.
std::optional<size_t> choose_row(const std::vector<SweepRow>& rows, LatencyMode mode = LatencyMode::Measured);

// Slowest stage first: Measured, by the full model's median stage latency; Cost, by its predicted
// stage latency. Ties keep pipeline order.
std::vector<StageKind> stage_order(const EvalPoint& full, LatencyMode mode);

// Evaluates plans with the multi-stage pipeline over a fixed example list, sharing a StageCache so
// that only stages whose plan changed are generated again; predicted latencies by `latency`.
class PipelineEvaluator : public PlanEvaluator {
 public:
  PipelineEvaluator(Generator& generator, PipelineConfig base, std::vector<Example> examples, StageCache* cache,
                    std::string label = "search", TimingSettings timing = {},
                    LatencyModel latency = LatencyModel::defaults());
  EvalPoint evaluate(const StagePlans& plans) override;
  std::vector<LatencySamples> time(const std::vector<StagePlans>& plans) override;
  static EvalPoint point_from(const Summary& summary, const LatencyModel& latency);

 private:
  PipelineConfig config_for(const StagePlans& plans) const;
  Generator& generator_;
  TimingSettings timing_;
  PipelineConfig base_;
  std::vector<Example> examples_;
  StageCache* cache_;
  std::string label_;
  LatencyModel latency_;
};

}  // namespace litestage
