#pragma once
// TinyThinker's completion prompts (docs/datasets.md shows each shape with an example). Pure functions over (Example, stage outputs, mode): the pipeline
// calls them at inference, build_stage_records() at training-data time, few_shot_turns() for
// exemplars, so all three use byte-identical strings.
//
//   stage 1  Recall     {stem}\n(A) t (B) t ...\nRecall:
//   stage 2  Analyze X  {stage-1 prompt} {recall}\nAnalyze: For option X,
//   stage 3  Summarize  {stem}\n{options}\nRecall: {recall}\nAnalyze: For option A, {a} For option B, {b} ...\nSummarize:
//
// Stage outputs are passed raw and normalised here (normalize_stage_output is idempotent, so
// passing normalised text is fine too).

#include <string>
#include <string_view>
#include <vector>

#include "litestage/util/yaml_schema.hpp"
#include "litestage/data/example.hpp"
#include "litestage/data/exemplars.hpp"
#include "litestage/data/stage_records.hpp"

namespace litestage {

// TinyThinker's stage_type values. The full method is RecallAnalyzeSummarize; the others are its
// ablations (shapes in summarize_prompt / analyze_prompt below).
enum class ReasoningMode { RecallAnalyzeSummarize, RecallSummarize, AnalyzeSummarize, SummarizeOnly };

// "recall_analyze_summarize", "recall_summarize", "analyze_summarize", "summarize".
// The modes' names in YAML and stage records, in TinyThinker's order.
const EnumNames<ReasoningMode>& reasoning_mode_names();
std::string_view to_string(ReasoningMode mode);
ReasoningMode parse_reasoning_mode(std::string_view name);
bool uses_recall(ReasoningMode mode);
bool uses_analyze(ReasoningMode mode);

// Strip ASCII whitespace at both ends, then append "." unless the text ends in '.', '"' or '\''.
// An empty (or all-whitespace) output becomes "." — as in the reference, where "".endswith(...)
// is false — so an empty recall still yields "Recall: ." in the next prompt.
std::string normalize_stage_output(std::string_view raw);

// "(A) text (B) text ...": built from the choice list (never by splitting a joined string), texts
// verbatim, one space between options.
std::string render_options(const Example& example);
// "{stem}\n{options}": the question as every stage shows it.
std::string question_block(const Example& example);

// Stage 1: "{stem}\n{options}\nRecall:"
std::string recall_prompt(const Example& example);

// Stage 2 for option index `option`:
//   RecallAnalyzeSummarize: "{stage-1 prompt} {normalize(recall)}\nAnalyze: For option X,"
//   AnalyzeSummarize (no recall stage): "{stem}\n{options}\nAnalyze: For option X,"
// Throws for modes without an Analyze stage or an option out of range.
std::string analyze_prompt(const Example& example, ReasoningMode mode, std::string_view recall, size_t option);

// Stage 3. Lines present per mode (the parts a mode lacks are simply absent; inputs it does not
// use are ignored):
//   RecallAnalyzeSummarize: {stem}\n{options}\nRecall: {r}\nAnalyze: For option A, {a} ...\nSummarize:
//   RecallSummarize:        {stem}\n{options}\nRecall: {r}\nSummarize:
//   AnalyzeSummarize:       {stem}\n{options}\nAnalyze: For option A, {a} ...\nSummarize:
//   SummarizeOnly (direct): {stem}\n{options}\nSummarize:
// Analyze texts are normalised and joined as "For option X, {text}" with single spaces. Throws when
// the mode uses analyses and their number differs from the number of options.
std::string summarize_prompt(const Example& example, ReasoningMode mode, std::string_view recall,
                             const std::vector<std::string>& analyses);

// The Summarize target: "So the answer is option X."
std::string summarize_target(std::string_view label);

// TinyThinker training records for one example under `mode` (recall, then analyze per option in
// label order, then summarize; the stages the mode lacks are left out). Inputs are the prompt
// builders above; recall/analyze targets are the normalised teacher texts; the summarize target and
// GT name rationale.answer (default: the example's gold). Throws for an invalid example or a
// rationale whose analyses do not match the options.
std::vector<StageRecord> build_stage_records(const Example& example, const TeacherRationale& rationale,
                                             ReasoningMode mode = ReasoningMode::RecallAnalyzeSummarize);

// Few-shot exemplars as chat turns, per stage: each turn's user text is that stage's completion
// prompt and the assistant text its target, exactly the stage records of the exemplar. Every
// exemplar gives one recall turn, one analyze turn per option and one summarize turn (stages the
// mode lacks stay empty). `dataset` only names the exemplar examples.
struct ChatTurn {
  std::string user;
  std::string assistant;
};
using FewShotTurns = PerStage<std::vector<ChatTurn>>;
FewShotTurns few_shot_turns(const std::vector<Exemplar>& exemplars, const std::string& dataset,
                            ReasoningMode mode = ReasoningMode::RecallAnalyzeSummarize);

}  // namespace litestage
