#pragma once
// What one generate call is asked (GenerationConfig) and what it returns (GenerationResult): the
// types the Generator's loops and their per-row stop rules (row_decoder.hpp) share.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "litestage/generate/early_exit.hpp"
#include "litestage/generate/speculative.hpp"
#include "litestage/model/observer.hpp"
#include "litestage/model/skip_plan.hpp"
#include "litestage/util/yaml_schema.hpp"

namespace litestage {

struct SamplingConfig {
  double temperature = 0.0;  // 0: greedy
  int top_k = 0;             // 0: off
  double top_p = 1.0;        // 1: off
  uint64_t seed = 0;
};

struct GenerationConfig {
  int max_new_tokens = 200;
  SamplingConfig sampling;
  // Ids that end generation; empty: the tokenizer's eos ids plus the model config's.
  std::vector<int32_t> eos_ids;
  // Generation stops once the text contains one; the text is cut before it.
  std::vector<std::string> stop_strings;
  EarlyExitConfig early_exit;
  SkipPlan skip;                                  // one plan for the whole generate call
  const SubLayerObserver* observer = nullptr;     // called during the prefill forward only
  bool add_bos = true;                            // when the tokenizer's convention has one
  SpeculativeConfig speculative;                  // single-sequence calls only
  DraftHistory* draft_history = nullptr;          // the stage's earlier outputs and draft stats, if any
  SampledRule sampled_rule = nullptr;             // speculative sampling's rule; null: sampled_verdict
  // Start from the longest prefix of the prompt that the generator's caches hold under the same
  // plan (Generator::forget_held), where that is exact: on a model whose rows are computed
  // independently (CausalLM::rows_independent) a prompt's slots equal its tokens fed one at a time.
  bool reuse_held = false;
};

// Every setting of a call that decides its outputs and costs, as JSON: equal keys, equal results
// (the pipeline's stage cache and trace digests key on it). A field added to GenerationConfig,
// SamplingConfig or EarlyExitConfig stops this from compiling until it is placed in the key or
// named there as deciding nothing.
nlohmann::json decision_key(const GenerationConfig& config);

// Why a generate call ended. PromptTooLong: the prompt alone does not fit the context, so the
// pipeline did not call the model at all.
enum class ExitReason { Eos, MaxTokens, StopString, EarlyExit, Callback, ContextFull, PromptTooLong };
const EnumNames<ExitReason>& exit_reason_names();
const std::string& exit_reason_name(ExitReason reason);

struct GenerationResult {
  std::vector<int32_t> tokens;      // generated ids, without the EOS that ended generation
  std::string text;                 // decoded tokens (cut before a stop string)
  std::vector<float> confidences;   // per generated token: max softmax probability
  std::vector<float> max_logits;    // per generated token: max logit
  int prompt_tokens = 0;
  int cached_prompt_tokens = 0;     // leading prompt tokens taken from a SharedPrefix, not prefilled
  double prefill_seconds = 0;       // prompt forward until its first-token logits are ready
  double decode_seconds = 0;        // every later forward and the sampling
  ExitReason exit_reason = ExitReason::MaxTokens;
  SpeculativeStats speculative;     // zero unless config.speculative was on
};

// Called with each generated token id and the newly completed text (may be empty while a UTF-8
// character is incomplete). Return false to stop generation.
using StreamCallback = std::function<bool(int32_t id, const std::string& text)>;

}  // namespace litestage
