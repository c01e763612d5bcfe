#pragma once
// One multiple-choice question, the unit every reader produces and every prompt builder consumes.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace litestage {

struct Example {
  std::string id;                    // the dataset's own id (OBQA/CSQA "id", StrategyQA "qid")
  std::string stem;                  // question text, verbatim from the file (never trimmed)
  std::vector<std::string> choices;  // option texts, verbatim, in label order
  std::vector<std::string> labels;   // "A", "B", ...: always consecutive from "A" (readers enforce it)
  int answer = -1;                   // index into choices/labels of the gold option
  std::string dataset;               // "obqa", "csqa", "strategyqa", ...
  std::vector<std::string> facts;    // StrategyQA's supporting facts (empty for OBQA/CSQA)
  std::string source;                // "path:line" the example was read from (for messages)

  // The gold label ("A", "B", ...). Requires a valid answer.
  const std::string& answer_label() const;
  // Index of `label` among labels, or nullopt.
  std::optional<int> label_index(std::string_view label) const;
};

// Why `example` is unusable by the prompt builders (no choices, labels not "A","B",... in order,
// choices/labels size mismatch, answer out of range, empty id), or nullopt when it is fine.
std::optional<std::string> example_problem(const Example& example);

// Label for option index i: "A" + i. Throws when i is outside 0..25.
std::string option_label(size_t index);

void to_json(nlohmann::json& j, const Example& example);
void from_json(const nlohmann::json& j, Example& example);

}  // namespace litestage
