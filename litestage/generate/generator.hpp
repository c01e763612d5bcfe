#pragma once
// Generator: prefill + decode loop over a preallocated KV cache, with greedy or seeded sampling,
// stop rules (EOS ids, stop strings, max tokens, early exit, callback), per-token confidence, and
// prefill and decode timed apart (device synchronised before each clock read).

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "litestage/generate/early_exit.hpp"
#include "litestage/generate/speculative.hpp"
#include "litestage/model/causal_lm.hpp"
#include "litestage/model/kv_cache.hpp"
#include "litestage/tokenizer/tokenizer.hpp"
#include "litestage/util/phase_clock.hpp"

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
};

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

// The KV cache of a prompt prefix shared by several generate calls (the options of one Analyze
// stage): prefilled once under one skip plan, then copied into each call's cache, so a call
// prefills only the rest of its prompt.
struct SharedPrefix {
  std::vector<int32_t> tokens;
  std::string plan;                // the skip plan it was computed under (text form)
  std::shared_ptr<KVCache> cache;  // batch 1, tokens.size() slots filled
  double prefill_seconds = 0;
  bool prefixes(const std::vector<int32_t>& prompt) const;  // a proper prefix of `prompt`
};

// Called with each generated token id and the newly completed text (may be empty while a UTF-8
// character is incomplete). Return false to stop generation.
using StreamCallback = std::function<bool(int32_t id, const std::string& text)>;

// One row's pick: the token, and its confidences (max softmax probability, max logit) read off
// the untempered distribution.
struct Picked {
  int64_t id;
  float confidence;
  float max_logit;
};

// Greedy picks of (batch, vocab) f32 CPU logits in one pass per row: the first maximal logit (as
// torch's max), and the max probability 1 / sum(exp(logit - max)). Equal, up to float rounding in
// the confidence, to the tensor ops of the sampling path, without their five kernels and tensors.
std::vector<Picked> greedy_picks(const torch::Tensor& logits);

// The distributions sampling draws from: (batch, vocab) logits tempered, cut to top_k and top_p,
// softmaxed; f32 on the CPU. temperature > 0.
torch::Tensor sampling_probs(const torch::Tensor& logits, const SamplingConfig& sampling);

// The model's forward, its time counted to `phase` when a PhaseClock is installed (the device is
// synchronised then, so that queued GPU work is not counted to the next phase).
torch::Tensor forward_phase(CausalLM& model, Phase phase, const torch::Tensor& input, const ForwardOptions& fwd);

class Generator {
 public:
  Generator(CausalLM model, std::shared_ptr<const Tokenizer> tokenizer);

  GenerationResult generate(const std::string& prompt, const GenerationConfig& config,
                            const StreamCallback& on_token = nullptr);
  // With `prefix` (computed by prefill_prefix under config.skip, a proper prefix of prompt_ids) the
  // call starts from its KV cache and prefills only the rest.
  GenerationResult generate_ids(const std::vector<int32_t>& prompt_ids, const GenerationConfig& config,
                                const StreamCallback& on_token = nullptr, const SharedPrefix* prefix = nullptr);
  // Several prompts at once (left-padded; after the shared prefix's slots when there is one). Each
  // row stops on its own rules; the timings of the shared forwards are reported on every row.
  std::vector<GenerationResult> generate_batch(const std::vector<std::vector<int32_t>>& prompts,
                                               const GenerationConfig& config, const SharedPrefix* prefix = nullptr);
  // Prefills `tokens` under `plan` into a cache of their own (no logits are computed).
  SharedPrefix prefill_prefix(const std::vector<int32_t>& tokens, const SkipPlan& plan);

  std::vector<int32_t> encode_prompt(const std::string& prompt, bool add_bos) const;

  CausalLM& model() { return model_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  std::shared_ptr<const Tokenizer> tokenizer_ptr() const { return tokenizer_; }

 private:
  std::vector<int32_t> stop_ids(const GenerationConfig& config) const;
  KVCache& cache_for(int64_t batch, int64_t capacity);
  // The decode loop of generate_ids under config.speculative, from the prompt's last logits.
  void decode_speculative(const std::vector<int32_t>& prompt_ids, const GenerationConfig& config, KVCache& cache,
                          ForwardOptions fwd, torch::Tensor logits, int64_t capacity, GenerationResult& r,
                          const StreamCallback& on_token);
  // logits: (batch, vocab) float32 -> one pick per row.
  std::vector<Picked> pick(const torch::Tensor& logits, const SamplingConfig& sampling, at::Generator& gen) const;

  CausalLM model_;
  std::shared_ptr<const Tokenizer> tokenizer_;
  std::unique_ptr<KVCache> cache_;  // reused across calls while large enough
};

}  // namespace litestage
