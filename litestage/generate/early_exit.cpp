#include "litestage/generate/early_exit.hpp"

#include "litestage/util/error.hpp"

namespace litestage {

ConfidenceMetric parse_confidence_metric(const std::string& name) {
  if (name == "probability" || name == "prob") return ConfidenceMetric::Probability;
  if (name == "logit") return ConfidenceMetric::Logit;
  throw_error("unknown confidence metric '", name, "' (expected probability or logit)");
}

std::string confidence_metric_name(ConfidenceMetric metric) {
  return metric == ConfidenceMetric::Probability ? "probability" : "logit";
}

EarlyExit::EarlyExit(const EarlyExitConfig& config) : config_(config) {
  if (config_.enabled && config_.window < 1) throw_error("early_exit.window must be >= 1, got ", config_.window);
}

bool EarlyExit::push(double confidence) {
  if (!config_.enabled) return false;
  fifo_.push_back(confidence);
  sum_ += confidence;
  if (static_cast<int>(fifo_.size()) > config_.window) {
    sum_ -= fifo_.front();
    fifo_.pop_front();
  }
  return full() && mean() <= config_.threshold;
}

}  // namespace litestage
