#pragma once
// MultiStagePipeline: TinyThinker's three generate calls per question — Recall, Analyze once per
// option, Summarize — each over its own prompt with its own skip plan, early exit and token
// budget (docs/methods.md). The search and every evaluation drive this one pipeline.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "litestage/data/example.hpp"
#include "litestage/data/stage_records.hpp"
#include "litestage/generate/generator.hpp"
#include "litestage/model/cost.hpp"
#include "litestage/prompt/answer.hpp"
#include "litestage/prompt/prompts.hpp"
#include "litestage/reasoning/stage_cache.hpp"
#include "litestage/reasoning/traces.hpp"
#include "litestage/tokenizer/chat_template.hpp"

namespace litestage {

enum class PromptFormat {
  TinyThinker,  // completion prompts, for models fine-tuned on stage records
  Chat,         // instruct models: few-shot stage turns rendered with the chat template
};
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
  // Work shared where that changes no output (the speculative methods), on a model whose rows are
  // computed independently (CausalLM::rows_independent): the Analyze options decode together when
  // they have one length after their shared prefix, and each call starts from the longest prefix of
  // its prompt that an earlier call of the same question left in the KV caches under the same plan
  // (the Analyze prefix from Recall's, Summarize's from the first option's). Elsewhere: as without.
  // Such calls bypass the stage cache (their costs depend on the calls before them).
  bool exact_sharing = false;
  // Every stage's sequential calls; a batched Analyze (batch_analyze, exact_sharing) decodes
  // its options together without speculation.
  SpeculativeConfig speculative;

  // Importance estimation hooks: called when a stage's generate call starts, and during its
  // prefill forward (the observer). Not part of the configuration proper.
  std::function<void(StageKind)> on_stage_start;
  const SubLayerObserver* observer = nullptr;
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
  // Each option's cost in a batch (results in batch order, shared[r] its counted prefix tokens).
  std::vector<ForwardCost> batch_costs(const SkipPlan& plan, const std::vector<GenerationResult>& results,
                                       const std::vector<int>& shared) const;
  bool add_bos() const;

  std::string cache_key(StageKind kind, const std::string& prompt, int shared_tokens) const;
  nlohmann::json stage_settings(StageKind kind) const;  // what a stage's outputs depend on, but the prompt

  Generator& generator_;
  PipelineConfig config_;
  StageCache* cache_;
  mutable PerStage<DraftHistory> drafts_;  // each stage's earlier outputs, for the lookup drafter
};

}  // namespace litestage
