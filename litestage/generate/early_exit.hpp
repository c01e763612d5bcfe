#pragma once
// Confidence-based generation early exit (LiteStage's online adjustment). A FIFO holds the
// confidences of the last `window` generated tokens; once it is full and its mean is at or below
// `threshold`, the stage ends as if EOS had been emitted. The token whose confidence completed
// the decision is kept in the output.

#include <deque>
#include <string>
#include <vector>

#include "litestage/util/yaml_schema.hpp"

namespace litestage {

enum class ConfidenceMetric {
  Probability,  // max softmax probability of the next-token distribution (default)
  Logit,        // max raw logit, as drawn in the paper's figure
};
const EnumNames<ConfidenceMetric>& confidence_metric_names();  // "probability" | "logit"
std::string confidence_metric_name(ConfidenceMetric metric);

struct EarlyExitConfig {
  bool enabled = false;
  int window = 4;           // n: tokens in the FIFO
  double threshold = 0.5;   // exit when mean(FIFO) <= threshold
  ConfidenceMetric metric = ConfidenceMetric::Probability;

  bool operator==(const EarlyExitConfig& o) const {
    return enabled == o.enabled && window == o.window && threshold == o.threshold && metric == o.metric;
  }
  bool operator!=(const EarlyExitConfig& o) const { return !(*this == o); }
};

// "off", or "threshold 0.6 (probability, n=4)": how traces, tables and results name a setting.
std::string early_exit_text(const EarlyExitConfig& e);

// The YAML keys of an early-exit mapping (experiment files, budget profiles).
const std::vector<Option<EarlyExitConfig>>& early_exit_options();

class EarlyExit {
 public:
  explicit EarlyExit(const EarlyExitConfig& config);
  // Records one generated token's confidence; true when generation should stop after it.
  bool push(double confidence);
  void reset() { fifo_.clear(); sum_ = 0; }
  bool full() const { return static_cast<int>(fifo_.size()) == config_.window; }
  double mean() const { return fifo_.empty() ? 0.0 : sum_ / static_cast<double>(fifo_.size()); }

 private:
  EarlyExitConfig config_;
  std::deque<double> fifo_;
  double sum_ = 0;
};

}  // namespace litestage
