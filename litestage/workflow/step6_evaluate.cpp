#include "litestage/workflow/steps.hpp"

#include <map>

#include "litestage/dist/dist.hpp"
#include "litestage/experiment/evaluate.hpp"
#include "litestage/util/stats.hpp"

namespace litestage {
namespace fs = std::filesystem;

namespace {

// Times every method together on the evaluation split and puts the timed medians into the rows
// (stage latencies, total, shares), with the full model's as the reference and a bootstrap interval
// over questions on each speedup. The first row is the full model.
void time_methods(const LatencyModel& latency, Generator& generator, const std::vector<PipelineConfig>& configs,
                  const std::vector<Example>& examples, const TimingSettings& timing, std::vector<MethodRow>& rows) {
  // Rows with the same plans and early exit (e.g. one method at several ε) are one configuration:
  // timed once, they share the samples.
  std::vector<PipelineConfig> unique;
  std::vector<size_t> slot;
  std::map<std::string, size_t> seen;
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto [it, added] = seen.emplace(rows[i].skip + " / " + rows[i].early_exit + " / " + rows[i].speculative, unique.size());
    if (added) unique.push_back(configs[i]);
    slot.push_back(it->second);
  }
  const auto samples = time_interleaved_progress(generator, unique, examples, timing, "methods");
  for (size_t i = 0; i < rows.size(); ++i) {
    Summary& s = rows[i].summary;
    rows[i].timing = samples[slot[i]];
    s.mean_seconds = rows[i].timing.median();
    for (auto kind : kStages) {
      auto& agg = s.stages[kind];
      agg.mean_seconds = rows[i].timing.stage_median(kind);
      agg.share = s.mean_seconds > 0 ? agg.mean_seconds / s.mean_seconds : 0;
    }
  }
  // One statistic throughout (reasoning/timing.hpp: the median pass): full latency / row latency
  // is the printed speedup, and its bootstrap interval resamples the questions of those passes.
  const LatencySamples& full = rows.front().timing;
  for (auto& r : rows) {
    r.full_accuracy = rows.front().summary.accuracy;
    r.full_latency = rows.front().summary.mean_seconds;
    r.full_flops = rows.front().summary.mean_cost.flops;
    r.full_predicted = latency.predict(rows.front().summary.mean_cost);
    r.predicted_seconds = latency.predict(r.summary.mean_cost);
    r.timed_speedup = r.summary.mean_seconds > 0 ? r.full_latency / r.summary.mean_seconds : 0;
    r.speedup_ci = bootstrap_ratio_interval(full.per_question, r.timing.per_question);
  }
}

}  // namespace

// Step 6: every candidate on the experiment's own split (identical stage generations shared
// through the split's stage cache), then all of them timed together.
void evaluate_candidates(WorkflowRun& run) {
  run.test = run.session.dataset(run.spec.split);
  const Dataset& test = run.test;
  const auto& spec = run.spec;
  run.out.write(run.out.split(), nlohmann::json(test.info).dump(2) + "\n");
  StageCache test_cache(run.out.stage_cache(std::string(to_string(parse_split(spec.split)))).string());
  fs::create_directories(run.out.methods());
  std::vector<PipelineConfig> configs;
  for (const auto& c : run.candidates) {
    const std::string& name = method_name(c.method);
    std::string label = name + (c.epsilon >= 0 && c.method != Method::Full ? " (eps=" + eps_label(c.epsilon) + ")" : "");
    banner("evaluating " + label + " on " + spec.dataset + "/" + test.info.split + " (" +
           std::to_string(test.examples.size()) + " examples)");
    configs.push_back(candidate_config(run, c));
    MultiStagePipeline pipeline(run.session.generator(), configs.back(), &test_cache);
    EvalOptions eo;
    eo.label = label;
    eo.traces_path = run.out.method_traces(method_stem(c.method, c.epsilon)).string();
    eo.resume = true;
    auto result = run_pipeline(pipeline, test.examples, eo);
    MethodRow row;
    row.method = c.method;
    row.label = label;
    row.epsilon = c.method == Method::Full ? -1 : c.epsilon;
    row.skip = plans_text(c.plans);
    row.early_exit = early_exit_text(c.early_exit);
    row.speculative = configs.back().speculative.describe();
    row.summary = result.summary;
    row.unconstrained = c.unconstrained;
    run.report.rows.push_back(row);
  }
  banner("timing every method on " + test.info.split + ": " + std::to_string(spec.timing.repeats) +
         " interleaved passes");
  time_methods(run.latency, run.session.generator(), configs, test.examples, timing_settings(spec), run.report.rows);
}

}  // namespace litestage
