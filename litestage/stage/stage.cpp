#include "litestage/stage/stage.hpp"

#include "litestage/util/error.hpp"

namespace litestage {

std::string_view to_string(StageKind kind) {
  switch (kind) {
    case StageKind::Recall: return "recall";
    case StageKind::Analyze: return "analyze";
    case StageKind::Summarize: return "summarize";
  }
  return "?";
}

StageKind parse_stage_kind(std::string_view name) {
  for (StageKind k : kStages)
    if (to_string(k) == name) return k;
  throw_error("unknown stage '", name, "' (expected recall, analyze or summarize)");
}

std::vector<std::string> stage_names() {
  std::vector<std::string> names;
  for (StageKind k : kStages) names.emplace_back(to_string(k));
  return names;
}

}  // namespace litestage
