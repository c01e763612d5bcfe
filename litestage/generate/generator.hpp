#pragma once
// Generator: prefill + decode loop over a preallocated KV cache, with greedy or seeded sampling,
// stop rules (EOS ids, stop strings, max tokens, early exit, callback), per-token confidence, and
// prefill and decode timed apart (device synchronised before each clock read).

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "litestage/generate/generation.hpp"
#include "litestage/generate/speculative.hpp"
#include "litestage/model/causal_lm.hpp"
#include "litestage/model/kv_cache.hpp"
#include "litestage/tokenizer/tokenizer.hpp"
#include "litestage/util/phase_clock.hpp"

namespace litestage {

class RowDecoder;

// The KV cache of a prompt prefix shared by several generate calls (the options of one Analyze
// stage): prefilled once under one skip plan, then copied into the generator's cache (once, while
// calls on it follow each other), so a call prefills only the rest of its prompt.
struct SharedPrefix {
  std::vector<int32_t> tokens;
  std::string plan;                // the skip plan it was computed under (text form)
  int reused = 0;                  // leading tokens taken from a held cache (reuse_held), not prefilled
  std::shared_ptr<KVCache> cache;  // batch 1, tokens.size() slots filled
  double prefill_seconds = 0;
  bool prefixes(const std::vector<int32_t>& prompt) const;  // a proper prefix of `prompt`
};

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
  // Prefills `tokens` under `plan` into a cache of their own (no logits are computed); with
  // `reuse_held`, from the longest prefix of them the generator's caches hold (as generate_ids).
  SharedPrefix prefill_prefix(const std::vector<int32_t>& tokens, const SkipPlan& plan, bool reuse_held = false);
  // What the caches hold is forgotten: the next call with reuse_held starts from nothing (the
  // pipeline calls this as each question starts, so that no question gains from another's work).
  void forget_held();
  // Whether the generator's cache still holds `prefix` from the last call (the next call on it
  // truncates instead of copying).
  bool holds_prefix(const SharedPrefix& prefix) const { return cache_ && resident_.lock() == prefix.cache; }

  std::vector<int32_t> encode_prompt(const std::string& prompt, bool add_bos) const;

  CausalLM& model() { return model_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  std::shared_ptr<const Tokenizer> tokenizer_ptr() const { return tokenizer_; }

 private:
  std::vector<int32_t> stop_ids(const GenerationConfig& config) const;
  KVCache& cache_for(int64_t batch, int64_t capacity);
  // A batch-1 cache that holds `prefix`'s tokens for a call of `capacity` slots. When the last call
  // started from the same prefix, the generator's cache still holds it (decoding only appends after
  // it) and is truncated back to it; otherwise the prefix is copied into a fresh cache.
  KVCache& cache_with_prefix(const SharedPrefix& prefix, int64_t capacity);
  KVCache& fresh_cache(int64_t batch, int64_t capacity);
  // The decode loop of generate_ids under config.speculative, from the prompt's last logits.
  void decode_speculative(const std::vector<int32_t>& prompt_ids, const GenerationConfig& config, KVCache& cache,
                          ForwardOptions fwd, torch::Tensor logits, int64_t capacity, GenerationResult& r,
                          const StreamCallback& on_token);
  // The decode loop of plain and batched calls: from the prompt's last logits (batch, vocab), one
  // pick per unfinished row, one forward over every row's pick (a finished row's: padding), until
  // every row has stopped. The cache is fwd.cache, at most `capacity` slots.
  // `fed`, when given, receives each row's fed tokens (a finished row's padding included).
  void decode_rows(std::vector<RowDecoder>& rows, torch::Tensor logits, const ForwardOptions& fwd, int64_t capacity,
                   const SamplingConfig& sampling, at::Generator& gen, const StreamCallback& on_token,
                   std::vector<std::vector<int32_t>>* fed = nullptr);
  // What a cache's slots hold, row by row (the prompt, then every token fed), and under which plan.
  struct Held {
    std::string plan;
    std::vector<std::vector<int32_t>> rows;
    void clear() {
      plan.clear();
      rows.clear();
    }
  };
  struct HeldMatch {
    int64_t length = 0;  // slots
    bool batch = false;  // in batch_cache_, else cache_
    int64_t row = 0;
  };
  // The longest prefix of `tokens`, at most `most` of them, that a row of the caches holds under
  // `plan`; none on a model whose rows are not computed independently.
  HeldMatch held_match(const std::vector<int32_t>& tokens, const std::string& plan, int64_t most) const;
  // cache_, batch 1 with at least `capacity` slots, holding the match's slots.
  KVCache& cache_from_held(const HeldMatch& match, int64_t capacity);
  // logits: (batch, vocab) float32 -> one pick per row.
  std::vector<Picked> pick(const torch::Tensor& logits, const SamplingConfig& sampling, at::Generator& gen) const;

  CausalLM model_;
  std::shared_ptr<const Tokenizer> tokenizer_;
  // Reused across calls while large enough: one for single sequences, one for batches (a batched
  // Analyze between two single-sequence stages keeps both).
  std::unique_ptr<KVCache> cache_, batch_cache_;
  std::weak_ptr<KVCache> resident_;  // the shared prefix cache_ holds, if any (cache_with_prefix)
  Held held_, batch_held_;           // what cache_ and batch_cache_ hold
};

}  // namespace litestage
