#pragma once
// Supervised fine-tuning examples: stage records turned into token ids, batched, and scored.
//
// The joining rule (docs/training.md, "Prompt and target"). A stage record is (input, target),
// where `input` is byte-for-byte the inference prompt (it ends in "Recall:", "For option X," or
// "Summarize:", no trailing space) and `target` is the stripped stage output. The text the model
// learns is input + " " + target, then EOS, tokenised in two separate calls so the token boundary
// is exactly where inference puts it:
//   prompt ids = encode(input, {add_bos})        -- what Generator::encode_prompt feeds at inference
//   target ids = encode_target(target) + [EOS]   -- no BOS; the joining space belongs to the target
// encode_target spells the joining space the way the tokenizer spells a word-initial space:
// SentencePiece (Llama, TinyLlama) adds its own dummy-prefix "▁", so the target is encoded as is
// ("▁So ▁the ..."); a byte-level BPE (Qwen2) has no dummy prefix, so " " + target is encoded
// ("ĠSo Ġthe ..."). Greedy generation after the exact prompt then reproduces the target ids; the
// decoded text may start with a space, which the pipeline's normalize_stage_output strips.
//
// The loss is the mean negative log-likelihood of the target ids (EOS included) given everything
// before them; prompt positions carry no loss.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <torch/types.h>

#include "litestage/data/stage_records.hpp"
#include "litestage/train/config.hpp"

namespace litestage {

class Tokenizer;
class CausalLMImpl;

constexpr int64_t kIgnoreIndex = -100;

struct SftExample {
  std::vector<int32_t> prompt;  // as encoded for inference (BOS first when the tokenizer uses one)
  std::vector<int32_t> target;  // the continuation, ending with EOS
  StageKind kind = StageKind::Recall;
  // Tokens of the whole example (prompt + target, EOS included): what data.max_seq_len bounds.
  int64_t length() const { return static_cast<int64_t>(prompt.size() + target.size()); }
};

// Whether the tokenizer marks a word-initial space itself when encoding text that starts with a
// letter (SentencePiece's dummy prefix "▁", a byte-level BPE with add_prefix_space "Ġ"). Probed by
// encoding "a" once.
bool tokenizer_adds_leading_space(const Tokenizer& tokenizer);

// The target's ids as a continuation of a prompt (the rule above), without EOS and BOS.
std::vector<int32_t> encode_target(const Tokenizer& tokenizer, std::string_view target);
std::vector<int32_t> encode_target(const Tokenizer& tokenizer, std::string_view target, bool adds_leading_space);

struct SftTokenizeOptions {
  bool add_bos = true;
  int32_t eos_id = 0;
  int64_t max_seq_len = 0;  // 0: no limit
  Truncation truncation = Truncation::Error;
};

// Fits an example into max_len tokens: Truncation::Left drops prompt tokens right after a leading
// BOS (kept when `has_bos`), else from the very start. Throws, naming `where`, when truncation is
// Error or when even one prompt token plus the target does not fit. Returns tokens dropped.
int64_t fit_example(SftExample& example, int64_t max_len, Truncation truncation, bool has_bos,
                    const std::string& where);

struct SftDataset {
  std::vector<SftExample> examples;
  std::map<StageKind, int64_t> per_stage;  // examples per stage kind
  int64_t prompt_tokens = 0;
  int64_t target_tokens = 0;               // EOS included
  int64_t truncated = 0;                   // examples whose prompt was cut (Truncation::Left)
  int64_t truncated_tokens = 0;
  // Records whose separate tokenisation (prompt ids + target ids) differs from encoding
  // input + " " + target in one call: informational; the separate form is what is trained.
  int64_t boundary_mismatches = 0;
};

// Tokenises one record by the joining rule, fits it to max_seq_len and appends it to `out`
// (updating the statistics). `adds_leading_space` = tokenizer_adds_leading_space(tokenizer);
// `where` names the record in errors ("obqa_train.jsonl record 17").
void append_record(SftDataset& out, const Tokenizer& tokenizer, const StageRecord& record,
                   const SftTokenizeOptions& options, bool adds_leading_space, const std::string& where);

// Tokenises records (all of them, in order); record i (1-based) is reported as "source record i".
SftDataset tokenize_stage_records(const Tokenizer& tokenizer, const std::vector<StageRecord>& records,
                                  const SftTokenizeOptions& options, const std::string& source);

// XXH64 over every example's ids, lengths and kind: identifies the training data of a run (a
// resumed run must see the same data).
std::string examples_digest(const std::vector<SftExample>& examples);

// A padded batch. Row b holds prompt + target without the final EOS (nothing is predicted after
// it), right-padded with pad_id; labels[b][t] is the id to predict from position t (the next
// token) where that token belongs to the target, kIgnoreIndex elsewhere (prompt, padding). A
// causal model needs no attention mask under right padding: a real token never sees a later one.
struct SftBatch {
  torch::Tensor input_ids;  // (B, T) int64
  torch::Tensor labels;     // (B, T) int64
  // The labelled positions, flattened: the loss reads only these rows of the hidden states.
  torch::Tensor target_index;  // (N) int64, b * T + t
  torch::Tensor target_ids;    // (N) int64, labels at those positions
  torch::Tensor target_row;    // (N) int64, b
  std::vector<StageKind> kinds;  // per row
  int64_t rows = 0;
  int64_t tokens = 0;         // real (non-padding) input tokens
  int64_t padded_tokens = 0;  // B * T
  int64_t target_count = 0;   // N
};

SftBatch collate(const std::vector<const SftExample*>& examples, int32_t pad_id, const c10::Device& device);

struct SftLoss {
  torch::Tensor sum;       // scalar float32: summed NLL over target tokens (differentiable)
  torch::Tensor row_sums;  // (B) float32: the same per row
  int64_t count = 0;       // target tokens
};

// Target-token NLL of one batch. Logits are computed only at the labelled positions, so the
// (B, T, vocab) logits tensor of a full forward never exists.
SftLoss sft_loss(CausalLMImpl& model, const SftBatch& batch);

}  // namespace litestage
