#pragma once
// Measuring a latency model's coefficients (model/latency_model.hpp) on this machine: real
// forwards of a model under several skip plans, prompt lengths and decode lengths, each point
// timed (the fastest of its repeats) beside its deterministic cost, then a least-squares fit of the
// coefficients (none negative) to the relative errors. `litestage bench --calibrate` drives it.

#include <string>
#include <vector>

#include "litestage/model/causal_lm.hpp"
#include "litestage/model/latency_model.hpp"

namespace litestage {

struct CalibrationSettings {
  std::vector<int> prompts = {16, 64, 128, 224};  // prompt tokens (clamped to the model's positions)
  int decode = 24;                                 // decode steps after each prompt
  std::vector<int> tails = {2, 8};                 // rows of short forwards on the warm prompt's cache
  int repeats = 7;                                 // timed repeats per point (the fastest counts)
  int warmup = 2;
  bool kernels = true;
  uint64_t seed = 0;                               // prompt ids
};

struct CalibrationPoint {
  std::string what;  // e.g. "skip a4-7 prompt 64 + 24 decode"
  ForwardCost cost;
  double seconds = 0;    // measured (median)
  double predicted = 0;  // by the fitted model
};

// The plans calibration times for a model of `layers` layers: none, the upper half's attention,
// the upper half's FFNs, the last quarter's and the last half's sub-layers.
std::vector<SkipPlan> calibration_plans(int layers);

// Times every (plan, prompt) point: the prompt's prefill, the prefill and `decode` steps, and each
// short forward of `tails` rows on the prompt's cache (rolled back after each).
std::vector<CalibrationPoint> measure_calibration_points(CausalLM& model, const CalibrationSettings& settings);

// Least squares over the points' relative errors, every coefficient >= 0 (the best of the exact
// fits over every subset of terms whose coefficients come out >= 0). Fills each point's predicted.
LatencyModel fit_latency_model(std::vector<CalibrationPoint>& points, std::string source);

}  // namespace litestage
