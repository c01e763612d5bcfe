#include "litestage/generate/early_exit.hpp"

#include <cstdio>

#include "litestage/util/error.hpp"

namespace litestage {

const EnumNames<ConfidenceMetric>& confidence_metric_names() {
  static const EnumNames<ConfidenceMetric> names = {{"probability", ConfidenceMetric::Probability},
                                                    {"logit", ConfidenceMetric::Logit}};
  return names;
}

std::string confidence_metric_name(ConfidenceMetric metric) { return enum_name(confidence_metric_names(), metric); }

const std::vector<Option<EarlyExitConfig>>& early_exit_options() {
  using E = EarlyExitConfig;
  static const std::vector<Option<E>> table = {
      option<E>("enabled", [](auto& e) -> auto& { return e.enabled; }, "turn the confidence early exit on"),
      option<E>("window", [](auto& e) -> auto& { return e.window; }, "n: the FIFO holds the last n tokens' confidences")
          .min(1),
      option<E>("threshold", [](auto& e) -> auto& { return e.threshold; },
                "end the call once the full FIFO's mean is <= this"),
      enum_option<E>("metric", [](auto& e) -> auto& { return e.metric; }, confidence_metric_names(),
                     "the confidence: max softmax probability or max raw logit"),
  };
  return table;
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

std::string early_exit_text(const EarlyExitConfig& e) {
  if (!e.enabled) return "off";
  char buf[96];
  std::snprintf(buf, sizeof buf, "threshold %.3g (%s, n=%d)", e.threshold, confidence_metric_name(e.metric).c_str(),
                e.window);
  return buf;
}

}  // namespace litestage
