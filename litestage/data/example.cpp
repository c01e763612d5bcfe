#include "litestage/data/example.hpp"

#include <nlohmann/json.hpp>

#include "litestage/util/error.hpp"

namespace litestage {

const std::string& Example::answer_label() const {
  LITESTAGE_CHECK(answer >= 0 && static_cast<size_t>(answer) < labels.size(), "example '", id,
                  "': answer index ", answer, " outside 0..", labels.size());
  return labels[static_cast<size_t>(answer)];
}

std::optional<int> Example::label_index(std::string_view label) const {
  for (size_t i = 0; i < labels.size(); ++i)
    if (labels[i] == label) return static_cast<int>(i);
  return std::nullopt;
}

std::string option_label(size_t index) {
  LITESTAGE_CHECK(index < 26, "option index ", index, " has no letter label (at most 26 options)");
  return std::string(1, static_cast<char>('A' + index));
}

std::optional<std::string> example_problem(const Example& e) {
  if (e.id.empty()) return std::string("empty id");
  if (e.choices.empty()) return std::string("no choices");
  if (e.choices.size() > 26) return "too many choices (" + std::to_string(e.choices.size()) + ", at most 26)";
  if (e.labels.size() != e.choices.size())
    return "labels (" + std::to_string(e.labels.size()) + ") and choices (" +
           std::to_string(e.choices.size()) + ") differ in number";
  for (size_t i = 0; i < e.labels.size(); ++i)
    if (e.labels[i] != option_label(i))
      return "choice " + std::to_string(i) + " has label '" + e.labels[i] + "', expected '" +
             option_label(i) + "' (labels must run A, B, C, ... in order)";
  if (e.answer < 0 || static_cast<size_t>(e.answer) >= e.choices.size())
    return "answer index " + std::to_string(e.answer) + " outside 0.." + std::to_string(e.choices.size() - 1);
  return std::nullopt;
}

void to_json(nlohmann::json& j, const Example& e) {
  j = nlohmann::json{{"id", e.id},         {"stem", e.stem},       {"choices", e.choices},
                     {"labels", e.labels}, {"answer", e.answer},   {"dataset", e.dataset},
                     {"facts", e.facts},   {"source", e.source}};
}

void from_json(const nlohmann::json& j, Example& e) {
  e.id = j.at("id").get<std::string>();
  e.stem = j.at("stem").get<std::string>();
  e.choices = j.at("choices").get<std::vector<std::string>>();
  e.labels = j.at("labels").get<std::vector<std::string>>();
  e.answer = j.at("answer").get<int>();
  e.dataset = j.value("dataset", std::string());
  e.facts = j.value("facts", std::vector<std::string>());
  e.source = j.value("source", std::string());
}

}  // namespace litestage
