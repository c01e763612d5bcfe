#include "litestage/workflow/steps.hpp"

#include <algorithm>
#include <cstdio>

namespace litestage {
namespace fs = std::filesystem;

WorkflowRun::WorkflowRun(Session& s, const WorkflowOptions& o, WorkflowReport& r)
    : session(s), spec(s.spec()), options(o), report(r), L(s.num_layers()), out(s.spec().output_dir),
      speculation(speculation_for(s.spec())) {}

WorkflowRun::~WorkflowRun() = default;

bool WorkflowRun::wants(Method method) const {
  return std::find(spec.methods.begin(), spec.methods.end(), method) != spec.methods.end();
}

void WorkflowRun::add_files(const std::vector<std::string>& files) {
  report.files.insert(report.files.end(), files.begin(), files.end());
}

void banner(const std::string& text) { std::fprintf(stderr, "\n== %s\n", text.c_str()); }

std::string plans_text(const StagePlans& p) {
  std::string out;
  for (StageKind k : kStages) out += (out.empty() ? "" : " | ") + std::string(to_string(k)) + " " + p[k].to_string();
  return out;
}

std::string method_stem(Method method, double epsilon) {
  return method_name(method) + (epsilon >= 0 ? "_eps" + eps_label(epsilon) : "");
}

std::string eps_label(double eps) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", eps);
  return buf;
}

StagePlans full_plans(int L) { return StagePlans::filled(SkipPlan(L)); }

PipelineConfig final_config(PipelineConfig base, const StagePlans& plans, const EarlyExitConfig& early_exit) {
  for (auto kind : kStages) {
    base.stages[kind].skip = plans[kind];
    base.stages[kind].early_exit = early_exit;
  }
  return base;
}

SpeculativeConfig speculation_for(const ExperimentSpec& spec) {
  if (spec.speculative.on()) return spec.speculative;
  SpeculativeConfig s;
  s.drafter = DrafterKind::Lookup;
  return s;
}

PipelineConfig candidate_config(const WorkflowRun& run, const Candidate& c) {
  PipelineConfig config = final_config(run.base, c.plans, c.early_exit);
  return c.speculative ? speculative_config(config, run.speculation) : config;
}

PipelineConfig speculative_config(PipelineConfig base, const SpeculativeConfig& speculation) {
  base.speculative = speculation;
  base.exact_sharing = true;
  return base;
}

SettingSweep sweep_setting(Session& session, const std::vector<PipelineConfig>& configs,
                           const std::vector<std::string>& labels, const std::string& what, const StagePlans& plans,
                           double target, const std::vector<Example>& examples, StageCache& cache,
                           SearchJournal& journal, LatencyMode mode, const std::string& timing_key) {
  SettingSweep sweep;
  sweep.rows.resize(configs.size());
  std::vector<EvalPoint*> points;
  for (size_t i = 0; i < configs.size(); ++i) {
    PipelineEvaluator eval(session.generator(), configs[i], examples, &cache, what + " " + labels[i]);
    SweepRow& row = sweep.rows[i];
    row.stage = "all";
    row.k = static_cast<int>(i);  // ties go to the lower index
    row.point = eval.evaluate(plans);
    row.meets_target = row.point.accuracy >= target - 1e-9;
    points.push_back(&row.point);
  }
  if (mode == LatencyMode::Measured)
    set_timing(journal.timing(timing_key, [&] {
      return time_interleaved_progress(session.generator(), configs, examples, timing_settings(session.spec()),
                                       what + " sweep");
    }), points);
  sweep.chosen = choose_row(sweep.rows, mode).value_or(0);
  return sweep;
}

nlohmann::json SettingSweep::table(const std::string& label_field, const std::vector<std::string>& labels) const {
  nlohmann::json out = nlohmann::json::array();
  for (size_t i = 0; i < rows.size(); ++i)
    out.push_back({{label_field, labels[i]}, {"point", rows[i].point}, {"meets_target", rows[i].meets_target}});
  return out;
}

TimingSettings timing_settings(const ExperimentSpec& spec) { return {spec.timing.repeats, spec.timing.warmup}; }

int settings_max_k(const ExperimentSpec& spec, int layers) { return spec.search.max_k.value_or(layers); }

}  // namespace litestage
