#pragma once
// The three TinyThinker stages, in the order they run, and PerStage<T>: one value per stage,
// indexed by the stage. Every per-stage setting, measurement or plan in LiteStage is a
// PerStage<...>; the stage list is written here and nowhere else. Torch-free.

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace litestage {

enum class StageKind { Recall, Analyze, Summarize };

inline constexpr std::size_t kNumStages = 3;
// In running order: Recall, then Analyze (once per option), then Summarize.
inline constexpr std::array<StageKind, kNumStages> kStages = {StageKind::Recall, StageKind::Analyze,
                                                              StageKind::Summarize};

// "recall", "analyze", "summarize": the stage's name in YAML, JSON and stage records.
std::string_view to_string(StageKind kind);
StageKind parse_stage_kind(std::string_view name);  // throws, listing the names, on anything else
// Every stage's name, in running order (the keys a per-stage YAML or JSON mapping may hold).
std::vector<std::string> stage_names();

template <class T>
class PerStage {
 public:
  PerStage() = default;
  PerStage(T recall, T analyze, T summarize) : values_{std::move(recall), std::move(analyze), std::move(summarize)} {}

  T& operator[](StageKind kind) { return values_[static_cast<std::size_t>(kind)]; }
  const T& operator[](StageKind kind) const { return values_[static_cast<std::size_t>(kind)]; }

  // The values in running order (kStages' order).
  auto begin() { return values_.begin(); }
  auto end() { return values_.end(); }
  auto begin() const { return values_.begin(); }
  auto end() const { return values_.end(); }

  // Every stage's value `value`.
  static PerStage filled(const T& value) { return PerStage(value, value, value); }

  bool operator==(const PerStage& other) const { return values_ == other.values_; }
  bool operator!=(const PerStage& other) const { return !(*this == other); }

 private:
  std::array<T, kNumStages> values_{};
};

// {"recall": f(v[Recall]), "analyze": ..., "summarize": ...}: a per-stage value as a JSON (or
// other map-like) object keyed by stage name.
template <class Json, class T, class F>
Json stage_object(const PerStage<T>& v, F f) {
  Json j;
  for (StageKind k : kStages) j[std::string(to_string(k))] = f(v[k]);
  return j;
}

// The inverse of stage_object: each stage's value read from its key with f (j.at throws on a
// missing stage).
template <class T, class Json, class F>
PerStage<T> stage_values(const Json& j, F f) {
  PerStage<T> v;
  for (StageKind k : kStages) v[k] = f(j.at(std::string(to_string(k))));
  return v;
}

// f(v[Recall]) + sep + f(v[Analyze]) + sep + f(v[Summarize]).
template <class T, class F>
std::string join_stages(const PerStage<T>& v, F f, const std::string& sep = " | ") {
  std::string out;
  for (StageKind k : kStages) out += (k == kStages.front() ? "" : sep) + f(v[k]);
  return out;
}

}  // namespace litestage
