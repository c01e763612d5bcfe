#pragma once
// ExperimentSpec: one YAML experiment file (docs/experiments.md is its schema). The struct's
// member initialisers are the defaults; `experiment_options()` declares every key once (type,
// bounds or allowed values, one line of help) and drives reading, the effective YAML, the output
// directory's fingerprint and `--list-options`. Unknown keys and wrong types are errors naming the
// key path. The same file drives eval, importance, search, reproduce and run.

#include <optional>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "litestage/data/dataset.hpp"
#include "litestage/generate/early_exit.hpp"
#include "litestage/kernels/runtime.hpp"
#include "litestage/reasoning/pipeline.hpp"
#include "litestage/search/budget_search.hpp"
#include "litestage/search/importance.hpp"
#include "litestage/search/policies.hpp"
#include "litestage/util/yaml_schema.hpp"

namespace litestage {

struct StageSpec {
  std::string skip = "none";                     // skip spec (model/skip_plan.hpp)
  std::optional<int> max_new_tokens;             // default: generation.max_new_tokens
  std::optional<EarlyExitConfig> early_exit;     // keys not given inherit the top-level early_exit
};

struct ImportanceSpec {
  std::string split = "calibration";
  int examples = 32;             // N calibration examples
  TokenPooling pooling = TokenPooling::Mean;             // of one prefill's per-token cos(in, out)
  StageAccumulation accumulate = StageAccumulation::Sum;  // across stages
};

struct SearchSpec {
  std::string split = "calibration";
  double epsilon = 2.0;          // accuracy points below full accuracy still accepted
  std::optional<int> max_k;      // K; default: number of layers (L)
  int step = 1;
  int limit = 0;                 // examples of the search split used (0: all)
  // How configurations are compared: measured (median of timing.repeats interleaved passes,
  // differences inside the noise band are ties won by lower cost) or cost (the deterministic cost
  // alone: reproducible bit for bit).
  LatencyMode latency = LatencyMode::Measured;
  // The latency model's coefficients (model/latency_model.hpp), a file written by `litestage bench
  // --calibrate`; empty: the documented defaults. The run's fingerprint holds its content hash.
  std::string latency_model;
};

struct TimingSpec {
  int repeats = 3;  // timed passes per configuration, interleaved round-robin; the median is reported
  int warmup = 1;   // untimed questions first
};

struct ThresholdSweepSpec {
  std::vector<double> thresholds = {0.4, 0.5, 0.6, 0.7, 0.8};
  int window = 4;
  ConfidenceMetric metric = ConfidenceMetric::Probability;
  // A threshold is accepted when the search's accuracy target (full - search.epsilon) still holds.
};

struct ExperimentSpec {
  std::string name;
  std::string source;            // the YAML file
  std::string model;
  std::string tokenizer;         // empty: the model directory
  std::string device = RuntimeRequest{}.device;
  std::string dtype = RuntimeRequest{}.dtype;
  int threads = RuntimeRequest{}.threads;
  bool prefix_sharing = true;    // Analyze options share their prompt prefix's KV cache

  std::string dataset = "obqa";
  std::string data_root;         // empty: default_data_root()
  std::string split = "test";
  LoadOptions load;              // seed, offset, limit, calibration_size, skip_malformed

  PromptFormat prompt_format = PromptFormat::TinyThinker;
  ReasoningMode mode = ReasoningMode::RecallAnalyzeSummarize;
  std::string chat_template = "auto";
  bool exemplars = true;         // chat format: few-shot turns from <data_root>/prompts
  std::string system_prompt;

  int max_new_tokens = 200;
  SamplingConfig sampling;
  std::vector<std::string> stop;
  bool batch_analyze = false;
  bool exact_sharing = false;
  SpeculativeConfig speculative;  // greedy decoding drafted and verified: same outputs, less time

  EarlyExitConfig early_exit;    // default for every stage
  PerStage<StageSpec> stages;
  std::string budget_profile;    // a profile file (search/profile.hpp); overrides stage skips
  bool force_profile = false;    // apply a profile made for another model

  std::string output_dir;        // default: runs/<name>
  uint64_t seed = 0;

  ImportanceSpec importance;
  SearchSpec search;
  TimingSpec timing;
  ThresholdSweepSpec early_exit_sweep;
  std::vector<Method> methods = all_methods();
  std::vector<double> epsilons;  // extra ε values to report (run/reproduce), besides search.epsilon

  YAML::Node effective;          // the tree after --set overrides, as parsed

  std::string data_root_or_default() const;
};

// Every key of an experiment file, in the order the effective YAML writes them.
const std::vector<Option<ExperimentSpec>>& experiment_options();

// Parses a YAML file with optional "key.path=value" overrides applied first.
ExperimentSpec load_experiment(const std::string& path, const std::vector<std::string>& overrides = {});
ExperimentSpec parse_experiment(const YAML::Node& root, const std::string& source);

// The effective configuration as YAML (every key, defaults filled in), recorded with results.
std::string experiment_yaml(const ExperimentSpec& spec);

}  // namespace litestage
