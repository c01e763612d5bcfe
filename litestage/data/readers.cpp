#include "litestage/data/readers.hpp"

#include <map>
#include <nlohmann/json.hpp>

namespace litestage {
namespace {

using nlohmann::json;

// Reads obj[key] as a string; on failure sets `problem` and returns false.
bool get_string(const json& obj, const char* key, const std::string& context, std::string& out,
                std::optional<std::string>& problem) {
  auto it = obj.find(key);
  if (it == obj.end()) {
    problem = "missing field '" + context + key + "'";
    return false;
  }
  if (!it->is_string()) {
    problem = "field '" + context + key + "' must be a string, found " + it->type_name();
    return false;
  }
  out = it->get<std::string>();
  return true;
}

// Rejects ids seen earlier in the same file.
class IdRegistry {
 public:
  std::optional<std::string> add(const std::string& id, size_t line) {
    auto [it, inserted] = first_line_.emplace(id, line);
    if (!inserted)
      return "duplicate id '" + id + "' (first seen at line " + std::to_string(it->second) + ")";
    return std::nullopt;
  }

 private:
  std::map<std::string, size_t> first_line_;
};

std::optional<std::string> parse_choice_row(const json& row, Example& e) {
  std::optional<std::string> problem;
  if (!row.is_object()) return std::string("expected a JSON object, found ") + row.type_name();
  if (!get_string(row, "id", "", e.id, problem)) return problem;
  if (e.id.empty()) return std::string("empty id");
  auto q = row.find("question");
  if (q == row.end()) return std::string("missing field 'question'");
  if (!q->is_object()) return std::string("field 'question' must be an object, found ") + q->type_name();
  if (!get_string(*q, "stem", "question.", e.stem, problem)) return problem;
  auto choices = q->find("choices");
  if (choices == q->end()) return std::string("missing field 'question.choices'");
  if (!choices->is_array() || choices->empty()) return std::string("field 'question.choices' must be a non-empty array");
  for (size_t i = 0; i < choices->size(); ++i) {
    const json& c = (*choices)[i];
    const std::string ctx = "question.choices[" + std::to_string(i) + "].";
    if (!c.is_object()) return "'" + ctx.substr(0, ctx.size() - 1) + "' must be an object";
    std::string text, label;
    if (!get_string(c, "text", ctx, text, problem) || !get_string(c, "label", ctx, label, problem)) return problem;
    e.choices.push_back(std::move(text));
    e.labels.push_back(std::move(label));
  }
  std::string key;
  if (!get_string(row, "answerKey", "", key, problem)) return problem;
  auto index = e.label_index(key);
  if (!index) return "answerKey '" + key + "' is not one of the choice labels";
  e.answer = *index;
  return example_problem(e);
}

std::optional<std::string> parse_strategyqa_row(const json& row, Example& e) {
  std::optional<std::string> problem;
  if (!row.is_object()) return std::string("expected a JSON object, found ") + row.type_name();
  if (!get_string(row, "qid", "", e.id, problem)) return problem;
  if (e.id.empty()) return std::string("empty qid");
  if (!get_string(row, "question", "", e.stem, problem)) return problem;
  auto answer = row.find("answer");
  if (answer == row.end()) return std::string("missing field 'answer'");
  if (!answer->is_boolean()) return std::string("field 'answer' must be true or false, found ") + answer->type_name();
  e.choices = {"yes", "no"};
  e.labels = {"A", "B"};
  e.answer = answer->get<bool>() ? 0 : 1;
  auto facts = row.find("facts");
  if (facts != row.end()) {
    if (!facts->is_array()) return std::string("field 'facts' must be an array of strings");
    for (const auto& f : *facts) {
      if (!f.is_string()) return std::string("field 'facts' must be an array of strings");
      e.facts.push_back(f.get<std::string>());
    }
  }
  return std::nullopt;
}

template <typename ParseRow>
ReadResult read_examples(const std::string& path, const std::string& dataset, RecordLayout layout,
                         const ReadOptions& options, ParseRow parse_row) {
  ReadResult result;
  IdRegistry ids;
  read_json_records(path, layout, options, result.report,
                    [&](const json& row, size_t line) -> std::optional<std::string> {
                      Example e;
                      if (auto problem = parse_row(row, e)) return problem;
                      if (auto problem = ids.add(e.id, line)) return problem;
                      e.dataset = dataset;
                      e.source = path + ":" + std::to_string(line);
                      result.examples.push_back(std::move(e));
                      return std::nullopt;
                    });
  return result;
}

}  // namespace

ReadResult read_choice_jsonl(const std::string& path, const std::string& dataset, const ReadOptions& options) {
  return read_examples(path, dataset, RecordLayout::JsonLines, options, parse_choice_row);
}

ReadResult read_strategyqa_json(const std::string& path, const ReadOptions& options) {
  return read_examples(path, "strategyqa", RecordLayout::JsonArray, options, parse_strategyqa_row);
}

}  // namespace litestage
