#include "litestage/train/sft_data.hpp"

#include <algorithm>

#include <torch/nn/functional/loss.h>
#include <torch/torch.h>

#include "litestage/io/digest.hpp"
#include "litestage/model/causal_lm.hpp"
#include "litestage/tokenizer/tokenizer.hpp"
#include "litestage/util/error.hpp"
#include "litestage/util/strings.hpp"

namespace litestage {

bool tokenizer_adds_leading_space(const Tokenizer& tokenizer) {
  EncodeOptions plain;
  plain.add_bos = false;
  plain.parse_special = false;
  auto ids = tokenizer.encode("a", plain);
  if (ids.empty()) return false;
  const std::string piece = tokenizer.piece(ids.front());
  return starts_with(piece, "\xE2\x96\x81") /* U+2581 ▁ */ || starts_with(piece, "\xC4\xA0") /* U+0120 Ġ */;
}

std::vector<int32_t> encode_target(const Tokenizer& tokenizer, std::string_view target, bool adds_leading_space) {
  EncodeOptions opt;
  opt.add_bos = false;
  opt.add_eos = false;
  // A target is model output: text such as "</s>" in it is text, not a control token.
  opt.parse_special = false;
  if (adds_leading_space) return tokenizer.encode(target, opt);
  std::string spaced = " ";
  spaced.append(target);
  return tokenizer.encode(spaced, opt);
}

std::vector<int32_t> encode_target(const Tokenizer& tokenizer, std::string_view target) {
  return encode_target(tokenizer, target, tokenizer_adds_leading_space(tokenizer));
}

int64_t fit_example(SftExample& ex, int64_t max_len, Truncation truncation, bool has_bos, const std::string& where) {
  if (max_len <= 0 || ex.length() <= max_len) return 0;
  const int64_t keep_front = has_bos && !ex.prompt.empty() ? 1 : 0;
  const int64_t target_len = static_cast<int64_t>(ex.target.size());
  // At least one prompt token besides BOS must remain: the first target token is predicted from it.
  const int64_t minimum = keep_front + 1 + target_len;
  if (minimum > max_len)
    throw_error(where, ": the target (", target_len, " tokens with EOS) does not fit data.max_seq_len = ", max_len,
                " (targets are never cut; raise max_seq_len)");
  if (truncation == Truncation::Error)
    throw_error(where, ": ", ex.length(), " tokens (prompt ", ex.prompt.size(), " + target ", target_len,
                ") exceed data.max_seq_len = ", max_len, "; raise it or set data.truncation: left");
  const int64_t drop = ex.length() - max_len;
  ex.prompt.erase(ex.prompt.begin() + keep_front, ex.prompt.begin() + keep_front + drop);
  return drop;
}

void append_record(SftDataset& out, const Tokenizer& tokenizer, const StageRecord& r,
                   const SftTokenizeOptions& options, bool adds_leading_space, const std::string& where) {
  LITESTAGE_CHECK(!r.input.empty(), where, ": empty input");
  LITESTAGE_CHECK(!trim(r.target).empty(), where, ": empty target");
  EncodeOptions prompt_opt;  // exactly Generator::encode_prompt
  prompt_opt.add_bos = options.add_bos;
  SftExample ex;
  ex.kind = r.kind;
  ex.prompt = tokenizer.encode(r.input, prompt_opt);
  LITESTAGE_CHECK(!ex.prompt.empty(), where, ": the prompt encodes to no tokens");
  ex.target = encode_target(tokenizer, r.target, adds_leading_space);
  LITESTAGE_CHECK(!ex.target.empty(), where, ": the target encodes to no tokens");
  {
    std::vector<int32_t> joint = tokenizer.encode(r.input + " " + r.target, prompt_opt);
    std::vector<int32_t> separate = ex.prompt;
    separate.insert(separate.end(), ex.target.begin(), ex.target.end());
    if (joint != separate) ++out.boundary_mismatches;
  }
  ex.target.push_back(options.eos_id);
  const bool has_bos = options.add_bos && tokenizer.bos_id().has_value() && ex.prompt.front() == *tokenizer.bos_id();
  const int64_t dropped = fit_example(ex, options.max_seq_len, options.truncation, has_bos, where);
  if (dropped > 0) {
    ++out.truncated;
    out.truncated_tokens += dropped;
  }
  out.prompt_tokens += static_cast<int64_t>(ex.prompt.size());
  out.target_tokens += static_cast<int64_t>(ex.target.size());
  ++out.per_stage[ex.kind];
  out.examples.push_back(std::move(ex));
}

SftDataset tokenize_stage_records(const Tokenizer& tokenizer, const std::vector<StageRecord>& records,
                                  const SftTokenizeOptions& options, const std::string& source) {
  SftDataset out;
  out.examples.reserve(records.size());
  const bool leading = tokenizer_adds_leading_space(tokenizer);
  for (size_t i = 0; i < records.size(); ++i)
    append_record(out, tokenizer, records[i], options, leading, source + " record " + std::to_string(i + 1));
  return out;
}

std::string examples_digest(const std::vector<SftExample>& examples) {
  std::vector<uint64_t> parts;
  parts.reserve(examples.size() + 1);
  parts.push_back(examples.size());
  std::vector<int32_t> buf;
  for (const auto& ex : examples) {
    buf.clear();
    buf.push_back(static_cast<int32_t>(ex.kind));
    buf.push_back(static_cast<int32_t>(ex.prompt.size()));
    buf.insert(buf.end(), ex.prompt.begin(), ex.prompt.end());
    buf.push_back(static_cast<int32_t>(ex.target.size()));
    buf.insert(buf.end(), ex.target.begin(), ex.target.end());
    parts.push_back(io::xxh64(buf.data(), buf.size() * sizeof(int32_t)));
  }
  return io::digest_hex(io::xxh64(parts.data(), parts.size() * sizeof(uint64_t)));
}

SftBatch collate(const std::vector<const SftExample*>& examples, int32_t pad_id, const c10::Device& device) {
  LITESTAGE_CHECK(!examples.empty(), "collate: empty batch");
  const int64_t B = static_cast<int64_t>(examples.size());
  int64_t T = 0;
  for (const SftExample* ex : examples) {
    TORCH_CHECK(!ex->prompt.empty() && !ex->target.empty(), "an SFT example needs a prompt and a target");
    T = std::max<int64_t>(T, ex->length() - 1);
  }
  SftBatch b;
  b.rows = B;
  b.padded_tokens = B * T;
  std::vector<int64_t> ids(static_cast<size_t>(B * T), pad_id);
  std::vector<int64_t> labels(static_cast<size_t>(B * T), kIgnoreIndex);
  std::vector<int64_t> index, targets, rows;
  for (int64_t r = 0; r < B; ++r) {
    const SftExample& ex = *examples[static_cast<size_t>(r)];
    b.kinds.push_back(ex.kind);
    const int64_t P = static_cast<int64_t>(ex.prompt.size());
    const int64_t tlen = static_cast<int64_t>(ex.target.size());  // target tokens, EOS included
    const int64_t n = P + tlen - 1;  // the final EOS is a label, never an input
    int64_t* row = ids.data() + r * T;
    for (int64_t t = 0; t < P; ++t) row[t] = ex.prompt[static_cast<size_t>(t)];
    for (int64_t t = P; t < n; ++t) row[t] = ex.target[static_cast<size_t>(t - P)];
    for (int64_t j = 0; j < tlen; ++j) {
      const int64_t t = P - 1 + j;  // position whose next token is target[j]
      labels[static_cast<size_t>(r * T + t)] = ex.target[static_cast<size_t>(j)];
      index.push_back(r * T + t);
      targets.push_back(ex.target[static_cast<size_t>(j)]);
      rows.push_back(r);
    }
    b.tokens += n;
  }
  b.target_count = static_cast<int64_t>(index.size());
  auto to_tensor = [&](std::vector<int64_t>& v, std::vector<int64_t> shape) {
    return torch::from_blob(v.data(), shape, torch::kLong).clone().to(device);
  };
  b.input_ids = to_tensor(ids, {B, T});
  b.labels = to_tensor(labels, {B, T});
  b.target_index = to_tensor(index, {b.target_count});
  b.target_ids = to_tensor(targets, {b.target_count});
  b.target_row = to_tensor(rows, {b.target_count});
  return b;
}

SftLoss sft_loss(CausalLMImpl& model, const SftBatch& batch) {
  auto hidden = model.hidden_states(batch.input_ids);                      // (B, T, H)
  auto flat = hidden.reshape({-1, hidden.size(-1)});                       // (B*T, H)
  // (N, vocab) f32, also under bf16 autocast (the lm_head then runs in bf16)
  auto logits = model.logits_from_hidden(flat.index_select(0, batch.target_index)).to(torch::kFloat);
  auto nll = torch::nn::functional::cross_entropy(
      logits, batch.target_ids, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));  // (N)
  SftLoss out;
  out.sum = nll.sum();
  out.row_sums = torch::zeros({batch.rows}, nll.options()).index_add(0, batch.target_row, nll);
  out.count = batch.target_count;
  return out;
}

}  // namespace litestage
