#pragma once
// What one question's run records (ExampleTrace: its stage calls, StageTrace), their JSON, and the
// summary of a set of traces (means per question and per stage, and its Markdown table).

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "litestage/generate/generation.hpp"
#include "litestage/model/cost.hpp"
#include "litestage/stage/stage.hpp"

namespace litestage {

struct StageTrace {
  StageKind stage = StageKind::Recall;
  int option = -1;            // Analyze: option index
  std::string prompt;         // the exact text given to the model (chat: rendered)
  std::string output;         // raw generated text
  int prompt_tokens = 0;
  // Leading prompt tokens this call took from the Analyze options' shared prefix; they are
  // counted in the cost of option 0, which prefills them (whichever option ran first).
  int shared_prefix_tokens = 0;
  int tokens = 0;             // generated tokens (EOS excluded)
  double prefill_seconds = 0;
  double decode_seconds = 0;
  ExitReason exit_reason = ExitReason::MaxTokens;
  std::string skip;           // skip plan used, text form
  std::string early_exit;     // early exit used (early_exit_text); "" in traces older than it
  ForwardCost cost;           // what the model executed (model/cost.hpp): deterministic
  SpeculativeStats speculative;  // verify forwards, drafted and accepted tokens (0: plain decoding)
  // The output came from a StageCache: it is exact, but its timings are not a measurement of this
  // run, so they are zero here and a latency must come from a timed pass (reasoning/timing.hpp).
  bool cached = false;
  double seconds() const { return prefill_seconds + decode_seconds; }
};

struct ExampleTrace {
  std::string id;
  // MultiStagePipeline::config_digest() of the pipeline that made it: a resumed evaluation keeps
  // only traces of its own configuration ("" in traces older than it: never kept).
  std::string config;
  std::string gold;                    // label
  std::optional<std::string> predicted;  // parsed letter (may be outside the labels)
  bool parsed = false;
  bool correct = false;
  std::vector<StageTrace> stages;
  double seconds() const;
  double stage_seconds(StageKind kind) const;
  int stage_tokens(StageKind kind) const;
};

void to_json(nlohmann::json& j, const ForwardCost& c);
void from_json(const nlohmann::json& j, ForwardCost& c);
void to_json(nlohmann::json& j, const SpeculativeStats& s);  // verify_forwards, drafted, accepted
void from_json(const nlohmann::json& j, SpeculativeStats& s);
void to_json(nlohmann::json& j, const StageTrace& t);
void from_json(const nlohmann::json& j, StageTrace& t);
void to_json(nlohmann::json& j, const ExampleTrace& t);
void from_json(const nlohmann::json& j, ExampleTrace& t);
// The deterministic part of a trace (no timings): identical across machines and resumed runs.
nlohmann::json prediction_json(const ExampleTrace& t);

struct StageAggregate {
  double mean_seconds = 0;   // per question (Analyze: all options together)
  double mean_tokens = 0;    // per question
  double mean_flops = 0;     // per question (ForwardCost::flops)
  ForwardCost mean_cost;     // per question (its token counts are rounded means)
  double share = 0;          // of total latency
  int calls = 0;             // generate calls in all
  int early_exits = 0;
  SpeculativeStats speculative;  // summed over the calls (0: plain decoding)
};

struct Summary {
  int examples = 0;
  int correct = 0;
  int unparsed = 0;
  double accuracy = 0;          // correct / examples
  double mean_seconds = 0;      // per question, all stages
  double mean_tokens = 0;
  ForwardCost mean_cost;        // per question, all stages (its counts are rounded means)
  int prompt_too_long = 0;      // questions with a stage whose prompt did not fit the context
  int cached_stages = 0;        // stage outputs taken from a cache: the latencies are not all measured
  PerStage<StageAggregate> stages;
};
Summary summarize(const std::vector<ExampleTrace>& traces);
void to_json(nlohmann::json& j, const Summary& s);
// One Markdown table: accuracy and per-stage latency/tokens/share.
std::string summary_markdown(const Summary& s, const std::string& title);

}  // namespace litestage
