#include "litestage/model/latency_model.hpp"

#include <cmath>

#include "litestage/io/digest.hpp"
#include "litestage/util/error.hpp"
#include "litestage/util/format.hpp"
#include "litestage/util/strings.hpp"

namespace litestage {

LatencyModel LatencyModel::defaults() {
  // bench --calibrate --model data/demo-model --threads 2 --dtype f32 --repeats 15, 2-core AMD EPYC,
  // the best of six fits (largest error over its 80 points 14.0 %, 78 of them within 10 %): 25.6 us
  // per forward and 5.1 us per executed sub-layer, weights read at 400 GB/s (warm in the caches), the
  // KV cache at 9 GB/s, one-row FLOPs at 839 GFLOP/s (the fixed terms carry a decode step), long and
  // short forwards alike at 173 GFLOP/s (both run the prefill kernel's packed panels).
  return from_coefficients({2.55674494672333e-05, 5.060810873177524e-06, 2.4996250801517874e-12,
                            1.1100616523752097e-10, 1.1916632565536917e-12, 5.76549169450023e-12,
                            5.751990264976706e-12},
                           "defaults: data/demo-model, f32, 2 threads, 2-core AMD EPYC");
}

std::array<double, LatencyModel::kTerms> LatencyModel::coefficients() const {
  return {per_forward, per_sublayer, per_weight_byte, per_kv_byte, per_decode_flop, per_multirow_flop, per_shortrow_flop};
}

LatencyModel LatencyModel::from_coefficients(const std::array<double, kTerms>& c, std::string source) {
  LatencyModel m;
  m.per_forward = c[0];
  m.per_sublayer = c[1];
  m.per_weight_byte = c[2];
  m.per_kv_byte = c[3];
  m.per_decode_flop = c[4];
  m.per_multirow_flop = c[5];
  m.per_shortrow_flop = c[6];
  m.source = std::move(source);
  return m;
}

std::array<double, LatencyModel::kTerms> LatencyModel::features(const ForwardCost& c) {
  return {c.forwards,      c.sublayer_forwards,
          c.weight_bytes,  c.kv_bytes,
          c.flops - c.multirow_flops - c.shortrow_flops,
          c.multirow_flops, c.shortrow_flops};
}

const std::array<const char*, LatencyModel::kTerms>& LatencyModel::names() {
  static const std::array<const char*, kTerms> keys = {"seconds_per_forward",     "seconds_per_sublayer_forward",
                                                       "seconds_per_weight_byte", "seconds_per_kv_byte",
                                                       "seconds_per_decode_flop", "seconds_per_multirow_flop",
                                                       "seconds_per_shortrow_flop"};
  return keys;
}

double LatencyModel::predict(const ForwardCost& cost) const {
  const auto c = coefficients(), x = features(cost);
  double seconds = 0;
  for (int i = 0; i < kTerms; ++i) seconds += c[i] * x[i];
  return seconds;
}

std::string LatencyModel::hash() const {
  const std::string canonical = nlohmann::json(*this).dump();
  return io::digest_hex(io::xxh64(canonical.data(), canonical.size()));
}

std::string LatencyModel::describe() const {
  // Rates as a reader knows them: microseconds per call and sub-layer, GB/s, GFLOP/s (0: not counted).
  const auto rate = [](double per_unit, double scale) { return per_unit > 0 ? format("%.3g", 1.0 / per_unit / scale) : std::string("inf"); };
  return format("%.2f", per_forward * 1e6) + " us/forward + " + format("%.2f", per_sublayer * 1e6) +
         " us/sub-layer, weights " + rate(per_weight_byte, 1e9) + " GB/s, KV " + rate(per_kv_byte, 1e9) + " GB/s, decode " +
         rate(per_decode_flop, 1e9) + " GFLOP/s, long forwards " + rate(per_multirow_flop, 1e9) + " GFLOP/s, short forwards " +
         rate(per_shortrow_flop, 1e9) + " GFLOP/s (" + source +
         "; " + hash() + ")";
}

void to_json(nlohmann::json& j, const LatencyModel& m) {
  j = {{"format", LatencyModel::kFormat}, {"source", m.source}};
  const auto c = m.coefficients();
  for (int i = 0; i < LatencyModel::kTerms; ++i) j[LatencyModel::names()[i]] = c[i];
}

void from_json(const nlohmann::json& j, LatencyModel& m) {
  if (!j.is_object()) throw_error("a latency model is a JSON object, got ", j.type_name());
  const std::string format = j.contains("format") && j.at("format").is_string() ? j.at("format").get<std::string>() : "";
  if (format != LatencyModel::kFormat)
    throw_error("\"format\" must be \"", LatencyModel::kFormat, "\", got ", j.contains("format") ? j.at("format").dump() : "none",
                format == "litestage-latency-model/1" ? " (made by an earlier version, without the short-forward term: "
                                                        "measure it again with litestage bench --calibrate)"
                                                      : "");
  std::array<double, LatencyModel::kTerms> c{};
  for (int i = 0; i < LatencyModel::kTerms; ++i) {
    const char* key = LatencyModel::names()[i];
    if (!j.contains(key)) throw_error("key \"", key, "\" missing");
    const auto& v = j.at(key);
    if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() < 0)
      throw_error("\"", key, "\" must be a finite number >= 0 (seconds per unit), got ", v.dump());
    c[i] = v.get<double>();
  }
  const std::string source = j.contains("source") && j.at("source").is_string() ? j.at("source").get<std::string>() : "";
  m = LatencyModel::from_coefficients(c, source);
}

void save_latency_model(const LatencyModel& model, const std::string& file) {
  write_file_atomic(file, nlohmann::json(model).dump(2) + "\n");
}

LatencyModel load_latency_model(const std::string& file) {
  const std::string text = read_file(file);
  try {
    return nlohmann::json::parse(text).get<LatencyModel>();
  } catch (const nlohmann::json::exception& e) {
    throw_error("latency model ", file, ": not valid JSON (", e.what(), ")");
  } catch (const Error& e) {
    throw_error("latency model ", file, ": ", e.what(), " (write one with `litestage bench --calibrate --out FILE`)");
  }
}

LatencyModel latency_model_or_defaults(const std::string& file) {
  return file.empty() ? LatencyModel::defaults() : load_latency_model(file);
}

}  // namespace litestage
