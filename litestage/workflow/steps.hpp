#pragma once
// The steps of one workflow run, in the order run_workflow takes them (step<N>_*.cpp), and the
// record they share. Each step reads what the earlier ones filled in and adds its own part, so a
// test can set a step's inputs by hand and run it alone.
//
//   1 prepare              output directory claimed, search split, importance, warm-up, settings
//   2 search_litestage     LiteStage's stage-wise search at every epsilon
//   3 sweep_thresholds     the early-exit threshold on LiteStage's (and the full model's) plans
//     choose_speculation   the speculative methods' drafter settings
//   4 search_baselines     uniform, adaskip, shortgpt, random under the same target
//   5 write_profile        the budget profile (LiteStage at the main epsilon, timed)
//   6 evaluate_candidates  every method on the experiment's split, then timed together
//   7 write_report         tables, plots, results.json

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "litestage/search/budget_search.hpp"
#include "litestage/reasoning/timing.hpp"
#include "litestage/util/timer.hpp"
#include "litestage/experiment/run_dir.hpp"
#include "litestage/workflow/workflow.hpp"

namespace litestage {

// One configuration of a method to evaluate on the test split.
struct Candidate {
  Method method = Method::Full;
  double epsilon = -1;
  StagePlans plans;
  EarlyExitConfig early_exit;  // all stages
  bool unconstrained = false;  // not held to the accuracy target
  bool speculative = false;    // with speculative decoding (WorkflowRun::speculation): the same outputs
};

// What the steps of one workflow run share, in the order the steps fill it in.
struct WorkflowRun {
  Session& session;
  const ExperimentSpec& spec;
  const WorkflowOptions& options;
  WorkflowReport& report;
  const int L;
  const RunDir out;
  Timer clock;
  Dataset search_data;                              // step 1
  PipelineConfig base;                              // the full model
  SearchSettings settings;
  LatencyModel latency;                             // predicts seconds from the cost (search.latency_model)
  std::vector<double> epsilons;                     // the main one first
  std::unique_ptr<StageCache> search_cache;         // the search split's stage generations
  std::unique_ptr<SearchJournal> journal;           // every search point measured
  std::unique_ptr<PipelineEvaluator> evaluator;     // plans on the search split
  std::map<double, SearchResult> litestage_by_eps;  // step 2
  EarlyExitConfig litestage_ee;                     // step 3: at the main epsilon
  SpeculativeConfig speculation;                    // step 3: the speculative candidates' drafter
  std::vector<Candidate> candidates;                // steps 1-4: what the test split evaluates
  Dataset test;                                     // step 6

  WorkflowRun(Session& s, const WorkflowOptions& o, WorkflowReport& r);
  ~WorkflowRun();
  bool wants(Method method) const;
  const SearchResult& main_search() const { return litestage_by_eps.at(spec.search.epsilon); }
  void add_files(const std::vector<std::string>& files);
};

void prepare(WorkflowRun& run);              // step 1
void search_litestage(WorkflowRun& run);     // step 2
void sweep_thresholds(WorkflowRun& run);     // step 3
void choose_speculation(WorkflowRun& run);   // step 3, after the thresholds
void search_baselines(WorkflowRun& run);     // step 4
void write_profile(WorkflowRun& run);        // step 5
void evaluate_candidates(WorkflowRun& run);  // step 6
void write_report(WorkflowRun& run);         // step 7

// Shared by the steps.
void banner(const std::string& text);
std::string plans_text(const StagePlans& p);
std::string eps_label(double eps);
// The stem of a method's files at an epsilon ("litestage_eps2"; "full" with none, epsilon < 0).
std::string method_stem(Method method, double epsilon);
StagePlans full_plans(int L);
PipelineConfig final_config(PipelineConfig base, const StagePlans& plans, const EarlyExitConfig& early_exit);
// The speculative decoding of the lossless and litestage_spec methods before choose_speculation:
// generation.speculative where it is on, else the lookup drafter with its defaults.
SpeculativeConfig speculation_for(const ExperimentSpec& spec);
PipelineConfig candidate_config(const WorkflowRun& run, const Candidate& c);
// The speculative methods' pipeline: `base` with `speculation` in every sequential call and the
// Analyze options decoded together and KV caches reused where that is exact (PipelineConfig::exact_sharing).
PipelineConfig speculative_config(PipelineConfig base, const SpeculativeConfig& speculation);
// One setting swept on fixed plans over `examples` (the early-exit threshold, the drafter): each
// configuration evaluated through the stage cache (progress labelled `what` and the setting's
// `labels[i]`); under measured latency all timed together, journaled under `timing_key` so that a
// resumed run keeps the choice; `chosen` by the search's rule (choose_row), 0 where no row meets
// the target (ties go to the lower index). `table`: per row {label_field: label, point,
// meets_target}.
struct SettingSweep {
  std::vector<SweepRow> rows;
  size_t chosen = 0;
  nlohmann::json table(const std::string& label_field, const std::vector<std::string>& labels) const;
};
SettingSweep sweep_setting(Session& session, const std::vector<PipelineConfig>& configs,
                           const std::vector<std::string>& labels, const std::string& what, const StagePlans& plans,
                           double target, const std::vector<Example>& examples, StageCache& cache,
                           SearchJournal& journal, LatencyMode mode, const std::string& timing_key);
TimingSettings timing_settings(const ExperimentSpec& spec);
int settings_max_k(const ExperimentSpec& spec, int layers);

}  // namespace litestage
