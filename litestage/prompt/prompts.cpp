#include "litestage/prompt/prompts.hpp"

#include "litestage/util/error.hpp"
#include "litestage/util/strings.hpp"

namespace litestage {

namespace {

std::string analyze_cue(const Example& e, size_t option) {
  LITESTAGE_CHECK(option < e.labels.size(), "example '", e.id, "': option ", option, " out of range (",
                  e.labels.size(), " options)");
  return "\nAnalyze: For option " + e.labels[option] + ",";
}
}  // namespace

const EnumNames<ReasoningMode>& reasoning_mode_names() {
  static const EnumNames<ReasoningMode> names = {{"recall_analyze_summarize", ReasoningMode::RecallAnalyzeSummarize},
                                                 {"recall_summarize", ReasoningMode::RecallSummarize},
                                                 {"analyze_summarize", ReasoningMode::AnalyzeSummarize},
                                                 {"summarize", ReasoningMode::SummarizeOnly}};
  return names;
}

std::string_view to_string(ReasoningMode mode) { return enum_name(reasoning_mode_names(), mode); }

ReasoningMode parse_reasoning_mode(std::string_view name) {
  return enum_from_name(reasoning_mode_names(), std::string(name), "reasoning mode");
}

bool uses_recall(ReasoningMode mode) {
  return mode == ReasoningMode::RecallAnalyzeSummarize || mode == ReasoningMode::RecallSummarize;
}

bool uses_analyze(ReasoningMode mode) {
  return mode == ReasoningMode::RecallAnalyzeSummarize || mode == ReasoningMode::AnalyzeSummarize;
}

std::string normalize_stage_output(std::string_view raw) {
  std::string s = trim(raw);
  if (s.empty() || (s.back() != '.' && s.back() != '"' && s.back() != '\'')) s += '.';
  return s;
}

std::string render_options(const Example& e) {
  LITESTAGE_CHECK(e.labels.size() == e.choices.size(), "example '", e.id, "': ", e.labels.size(), " labels for ",
                  e.choices.size(), " choices");
  std::string out;
  for (size_t i = 0; i < e.choices.size(); ++i) {
    if (i) out += ' ';
    out += '(' + e.labels[i] + ") " + e.choices[i];
  }
  return out;
}

std::string question_block(const Example& e) { return e.stem + "\n" + render_options(e); }

std::string recall_prompt(const Example& e) { return question_block(e) + "\nRecall:"; }

std::string analyze_prompt(const Example& e, ReasoningMode mode, std::string_view recall, size_t option) {
  switch (mode) {
    case ReasoningMode::RecallAnalyzeSummarize:
      return recall_prompt(e) + " " + normalize_stage_output(recall) + analyze_cue(e, option);
    case ReasoningMode::AnalyzeSummarize: return question_block(e) + analyze_cue(e, option);
    default: throw_error("reasoning mode ", to_string(mode), " has no Analyze stage");
  }
}

std::string summarize_prompt(const Example& e, ReasoningMode mode, std::string_view recall,
                             const std::vector<std::string>& analyses) {
  std::string out = question_block(e);
  if (uses_recall(mode)) out += "\nRecall: " + normalize_stage_output(recall);
  if (uses_analyze(mode)) {
    LITESTAGE_CHECK(analyses.size() == e.choices.size(), "example '", e.id, "': ", analyses.size(),
                    " analyses for ", e.choices.size(), " options");
    out += "\nAnalyze:";
    for (size_t i = 0; i < analyses.size(); ++i)
      out += " For option " + e.labels[i] + ", " + normalize_stage_output(analyses[i]);
  }
  return out + "\nSummarize:";
}

std::string summarize_target(std::string_view label) {
  return "So the answer is option " + std::string(label) + ".";
}

std::vector<StageRecord> build_stage_records(const Example& e, const TeacherRationale& r, ReasoningMode mode) {
  if (auto problem = example_problem(e)) throw_error("example '", e.id, "': ", *problem);
  const int answer = r.answer.value_or(e.answer);
  LITESTAGE_CHECK(answer >= 0 && static_cast<size_t>(answer) < e.choices.size(), "example '", e.id,
                  "': rationale answer ", answer, " out of range");
  if (uses_analyze(mode))
    LITESTAGE_CHECK(r.analyses.size() == e.choices.size(), "example '", e.id, "': rationale has ",
                    r.analyses.size(), " analyses for ", e.choices.size(), " options");
  const std::string& gt = e.labels[static_cast<size_t>(answer)];

  std::vector<StageRecord> out;
  if (uses_recall(mode)) out.push_back({StageKind::Recall, recall_prompt(e), gt, normalize_stage_output(r.recall)});
  if (uses_analyze(mode))
    for (size_t i = 0; i < e.choices.size(); ++i)
      out.push_back({StageKind::Analyze, analyze_prompt(e, mode, r.recall, i), gt, normalize_stage_output(r.analyses[i])});
  out.push_back({StageKind::Summarize, summarize_prompt(e, mode, r.recall, r.analyses), gt, summarize_target(gt)});
  return out;
}

FewShotTurns few_shot_turns(const std::vector<Exemplar>& exemplars, const std::string& dataset, ReasoningMode mode) {
  FewShotTurns turns;
  for (size_t i = 0; i < exemplars.size(); ++i) {
    const auto records = build_stage_records(exemplar_example(exemplars[i], dataset, i), exemplar_rationale(exemplars[i]), mode);
    for (const StageRecord& rec : records) {
      turns[rec.kind].push_back({rec.input, rec.target});
    }
  }
  return turns;
}

}  // namespace litestage
