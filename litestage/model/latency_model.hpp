#pragma once
// The latency model: predicted seconds of model forwards, linear in the deterministic cost's counts
// (model/cost.hpp), so it adds up over forwards, calls, stages and questions like the cost does:
//
//   seconds = per_forward x forwards + per_sublayer x executed sub-layer forwards
//           + per_weight_byte x weight bytes + per_kv_byte x KV-cache bytes
//           + per_decode_flop x FLOPs of one-row forwards + per_multirow_flop x FLOPs of long forwards
//           + per_shortrow_flop x FLOPs of short forwards (2..kShortForwardRows rows)
//
// At batch 1 a forward reads every executed weight once however many rows it computes: one-row
// (decode) forwards are bound by those reads and the fixed costs, long ones (prefill) by their
// GEMMs, and short ones (an option's tail, a verify step) by whichever kernel takes them (the
// decode kernel's rows, or a small f32 model's packed panels: model/decode_kernel.hpp), each with
// the weights warm: hence three FLOP rates. The coefficients are measured on a machine by `litestage
// bench --calibrate` (model/latency_calibration.hpp) and kept in a small JSON file that an
// experiment names (search.latency_model); without one the defaults below apply (docs/methods.md,
// "Cost"). Predictions are deterministic: a search that ranks by them chooses the same plans on
// every run.

#include <array>
#include <string>

#include <nlohmann/json.hpp>

#include "litestage/model/cost.hpp"

namespace litestage {

struct LatencyModel {
  static constexpr const char* kFormat = "litestage-latency-model/2";
  static constexpr int kTerms = 7;
  // Seconds per unit of each count, all >= 0, in the order of features().
  double per_forward = 0;
  double per_sublayer = 0;
  double per_weight_byte = 0;
  double per_kv_byte = 0;
  double per_decode_flop = 0;
  double per_multirow_flop = 0;
  double per_shortrow_flop = 0;
  std::string source;  // where the coefficients were measured (machine, model, dtype, threads)

  // Coefficients measured with `bench --calibrate` on the demo model (f32, 2 threads) on a 2-core
  // AMD EPYC (docs/methods.md, "Cost").
  static LatencyModel defaults();

  std::array<double, kTerms> coefficients() const;
  static LatencyModel from_coefficients(const std::array<double, kTerms>& c, std::string source);
  // The counts the coefficients multiply, in the same order.
  static std::array<double, kTerms> features(const ForwardCost& cost);
  static const std::array<const char*, kTerms>& names();  // the JSON keys, in that order
  double predict(const ForwardCost& cost) const;         // seconds

  // XXH64 of the canonical JSON: what a run's fingerprint and a budget profile record.
  std::string hash() const;
  std::string describe() const;  // one line: the coefficients in readable units, the source, the hash
};

void to_json(nlohmann::json& j, const LatencyModel& m);
// Refuses a file that is not a latency model: wrong format tag, a key missing, a coefficient that
// is not a finite number >= 0 (the message names the key and what it got).
void from_json(const nlohmann::json& j, LatencyModel& m);

void save_latency_model(const LatencyModel& model, const std::string& file);
LatencyModel load_latency_model(const std::string& file);  // errors name the file
// The file's model, or the defaults for "".
LatencyModel latency_model_or_defaults(const std::string& file);

}  // namespace litestage
