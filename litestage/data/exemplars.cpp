#include "litestage/data/exemplars.hpp"

#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>

#include "litestage/util/error.hpp"

namespace litestage {

std::vector<std::string> parse_exemplar_options(const std::string& options) {
  LITESTAGE_CHECK(options.rfind("A. ", 0) == 0, "exemplar options '", options, "' do not start with \"A. \"");
  std::vector<std::string> out;
  size_t start = 3;
  for (char next = 'B'; next <= 'Z'; ++next) {
    const std::string marker = std::string(", ") + next + ". ";
    const size_t at = options.find(marker, start);
    if (at == std::string::npos) break;
    out.push_back(options.substr(start, at - start));
    start = at + marker.size();
  }
  out.push_back(options.substr(start));
  return out;
}

namespace {

// TinyThinker's own split of an explanation into "<X> is correct." and the reason: the first of
// these delimiters that occurs.
constexpr const char* kReasonDelimiters[] = {"Because ", "Because, ", "Although ", "While "};

std::optional<std::string> parse_exemplar(const nlohmann::json& j, Exemplar& e) {
  if (!j.is_object()) return std::string("expected a JSON object, found ") + j.type_name();
  for (const char* key : {"Q", "Options", "Key Information"})
    if (!j.contains(key) || !j[key].is_string()) return std::string("missing string field '") + key + "'";
  if (!j.contains("Explanations") || !j["Explanations"].is_array())
    return std::string("missing array field 'Explanations'");
  e.question = j["Q"].get<std::string>();
  e.options_raw = j["Options"].get<std::string>();
  e.key_information = j["Key Information"].get<std::string>();
  e.reference = j.value("Reference", std::string());
  try {
    e.options = parse_exemplar_options(e.options_raw);
  } catch (const Error& err) {
    return std::string(err.what());
  }
  e.explanations = j["Explanations"].get<std::vector<std::string>>();
  if (e.explanations.size() != e.options.size())
    return std::to_string(e.options.size()) + " options but " + std::to_string(e.explanations.size()) + " explanations";
  static const std::regex verdict(R"(^([A-Z]) is (correct|incorrect)\.$)");
  for (size_t i = 0; i < e.explanations.size(); ++i) {
    const std::string& text = e.explanations[i];
    size_t at = std::string::npos, len = 0;
    for (const char* d : kReasonDelimiters) {
      at = text.find(d);
      if (at != std::string::npos) {
        len = std::char_traits<char>::length(d);
        break;
      }
    }
    if (at == std::string::npos) return "explanation " + std::to_string(i) + " has no 'Because ' part: '" + text + "'";
    std::string prefix = text.substr(0, at);
    while (!prefix.empty() && prefix.back() == ' ') prefix.pop_back();
    std::smatch m;
    if (!std::regex_match(prefix, m, verdict) || m[1].str() != option_label(i))
      return "explanation " + std::to_string(i) + " does not start with '" + option_label(i) +
             " is correct.' or '" + option_label(i) + " is incorrect.': '" + text + "'";
    if (m[2].str() == "correct") {
      if (e.answer >= 0) return std::string("more than one explanation says 'is correct.'");
      e.answer = static_cast<int>(i);
    }
    e.analyses.push_back(text.substr(at + len));
  }
  if (e.answer < 0) return std::string("no explanation says 'is correct.'");
  return std::nullopt;
}

}  // namespace

std::vector<Exemplar> read_exemplars(const std::string& path) {
  std::vector<Exemplar> out;
  ReadReport report;
  read_json_records(path, RecordLayout::JsonArray, ReadOptions{}, report,
                    [&](const nlohmann::json& j, size_t line) -> std::optional<std::string> {
                      Exemplar e;
                      if (auto problem = parse_exemplar(j, e)) return problem;
                      e.source = path + ":" + std::to_string(line);
                      out.push_back(std::move(e));
                      return std::nullopt;
                    });
  return out;
}

std::string exemplar_path(const std::string& root, const std::string& dataset) {
  return (std::filesystem::path(root) / "prompts" / (dataset + "_cot.json")).string();
}

Example exemplar_example(const Exemplar& x, const std::string& dataset, size_t index) {
  Example e;
  e.id = dataset + "-exemplar-" + std::to_string(index);
  e.stem = x.question;
  e.choices = x.options;
  for (size_t i = 0; i < x.options.size(); ++i) e.labels.push_back(option_label(i));
  e.answer = x.answer;
  e.dataset = dataset;
  e.source = x.source;
  return e;
}

TeacherRationale exemplar_rationale(const Exemplar& x) {
  return TeacherRationale{x.key_information, x.analyses, x.answer};
}

}  // namespace litestage
