#pragma once
// MultiStagePipeline: TinyThinker's three generate calls per question — Recall, Analyze once per
// option, Summarize — each over its own prompt with its own skip plan, early exit and token
// budget (docs/methods.md). The search and every evaluation drive this one pipeline.

#include <functional>
#include <optional>
#include <unordered_map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "litestage/data/example.hpp"
#include "litestage/data/stage_records.hpp"
#include "litestage/generate/generator.hpp"
#include "litestage/model/cost.hpp"
#include "litestage/prompt/answer.hpp"
#include "litestage/prompt/prompts.hpp"
#include "litestage/tokenizer/chat_template.hpp"

namespace litestage {

enum class PromptFormat {
  TinyThinker,  // completion prompts, for models fine-tuned on stage records
  Chat,         // instruct models: few-shot stage turns rendered with the chat template
};
std::string to_string(PromptFormat format);
const EnumNames<PromptFormat>& prompt_format_names();  // "tinythinker", "chat"

struct StageSettings {
  SkipPlan skip;
  EarlyExitConfig early_exit;
  int max_new_tokens = 200;
};

struct PipelineConfig {
  ReasoningMode mode = ReasoningMode::RecallAnalyzeSummarize;
  PromptFormat format = PromptFormat::TinyThinker;
  ChatTemplateKind chat_template = ChatTemplateKind::None;  // Chat format only
  FewShotTurns few_shot;                                     // Chat format only
  std::string system_prompt;                                 // Chat format; empty: template default
  PerStage<StageSettings> stages;
  SamplingConfig sampling;                                   // greedy by default, as the paper
  std::vector<std::string> stop_strings;
  bool batch_analyze = false;  // all options of one question in one batched generate call
  // The options of one Analyze stage share the KV cache of their common prompt prefix: it is
  // prefilled once, each option prefills only its own tail. Same greedy outputs as without.
  bool prefix_sharing = true;
  SpeculativeConfig speculative;  // every stage; off with batch_analyze (one sequence at a time)

  // Importance estimation hooks: called when a stage's generate call starts, and during its
  // prefill forward (the observer). Not part of the configuration proper.
  std::function<void(StageKind)> on_stage_start;
  const SubLayerObserver* observer = nullptr;
};

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

// Memo of stage generations. With deterministic decoding a stage's output and token count are a
// function of (prompt, skip plan, early exit, budget, sampling), so a search that changes one
// stage's plan re-runs only that stage. Hits reuse outputs and costs, never timings: their
// seconds are zero, and latencies come from timed passes without a cache (reasoning/timing.hpp).
// Optionally journaled to a JSONL file, which makes an interrupted search resumable.
class StageCache {
 public:
  StageCache() = default;
  // Loads `path` if it exists (a torn last line is ignored), then appends new entries to it.
  explicit StageCache(const std::string& path);
  const StageTrace* find(const std::string& key) const;
  void insert(const std::string& key, const StageTrace& trace);
  size_t size() const { return entries_.size(); }

 private:
  std::unordered_map<std::string, StageTrace> entries_;
  std::string path_;
};

class MultiStagePipeline {
 public:
  MultiStagePipeline(Generator& generator, PipelineConfig config, StageCache* cache = nullptr);
  ExampleTrace run(const Example& example);
  const PipelineConfig& config() const { return config_; }
  PipelineConfig& config() { return config_; }
  // XXH64 (hex) of every setting that decides a trace's outputs and costs: each stage's skip plan,
  // token budget and early exit, sampling, stop strings, prompt mode and format, batching and
  // prefix sharing. Equal digests: interchangeable traces.
  std::string config_digest() const;

  // One stage's generate call on a given stage prompt (teacher forcing: the prompt holds the gold
  // earlier stages), with this pipeline's settings for that stage.
  StageTrace run_stage(StageKind kind, const std::string& stage_prompt) { return generate_stage(kind, -1, stage_prompt); }

  // The text handed to the model for one stage prompt (the prompt itself, or the chat rendering
  // with few-shot turns), and whether BOS is prepended when encoding it.
  std::string model_input(StageKind kind, const std::string& stage_prompt) const;

 private:
  struct PrefixShare;  // the options of one Analyze stage: their inputs and the prefix they share
  StageTrace generate_stage(StageKind kind, int option, const std::string& stage_prompt,
                            PrefixShare* share = nullptr);
  std::vector<StageTrace> generate_analyze(const std::vector<std::string>& prompts);
  std::vector<StageTrace> generate_analyze_batch(PrefixShare& share);
  PrefixShare prefix_share(const std::vector<std::string>& prompts, bool sharing) const;
  GenerationConfig generation_config(StageKind kind) const;
  bool fits(const std::vector<int32_t>& prompt_ids) const;  // within the model's context
  ForwardCost stage_cost(const SkipPlan& plan, const GenerationResult& result, int shared_tokens) const;
  bool add_bos() const;

  std::string cache_key(StageKind kind, const std::string& prompt, int shared_tokens) const;
  nlohmann::json stage_settings(StageKind kind) const;  // what a stage's outputs depend on, but the prompt

  Generator& generator_;
  PipelineConfig config_;
  StageCache* cache_;
  mutable PerStage<DraftHistory> drafts_;  // each stage's earlier outputs, for the lookup drafter
};

}  // namespace litestage
