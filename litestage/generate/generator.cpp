#include "litestage/generate/generator.hpp"

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/types.h>

#include "litestage/generate/row_decoder.hpp"
#include "litestage/generate/speculative.hpp"
#include "litestage/util/error.hpp"
#include "litestage/util/phase_clock.hpp"
#include "litestage/util/timer.hpp"

namespace litestage {

Generator::Generator(CausalLM model, std::shared_ptr<const Tokenizer> tokenizer)
    : model_(std::move(model)), tokenizer_(std::move(tokenizer)) {
  LITESTAGE_CHECK(tokenizer_ != nullptr, "Generator needs a tokenizer");
}

std::vector<int32_t> Generator::encode_prompt(const std::string& prompt, bool add_bos) const {
  PhaseScope phase(Phase::Tokenize);
  EncodeOptions opt;
  opt.add_bos = add_bos;
  return tokenizer_->encode(prompt, opt);
}

std::vector<int32_t> Generator::stop_ids(const GenerationConfig& config) const {
  if (!config.eos_ids.empty()) return config.eos_ids;
  std::vector<int32_t> ids = tokenizer_->eos_ids();
  for (auto id : model_->config().eos_token_ids) ids.push_back(static_cast<int32_t>(id));
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

KVCache& Generator::cache_for(int64_t batch, int64_t capacity) {
  PhaseScope phase(Phase::CacheSetup);
  return fresh_cache(batch, capacity);
}

KVCache& Generator::cache_with_prefix(const SharedPrefix& prefix, int64_t capacity) {
  PhaseScope phase(Phase::CacheSetup);
  held_.clear();
  const int64_t n = static_cast<int64_t>(prefix.tokens.size());
  if (holds_prefix(prefix) && cache_->batch() == 1 && cache_->capacity() >= capacity &&
      cache_->length() >= n) {
    cache_->truncate(n);
    return *cache_;
  }
  // Room for the longer prompts of the calls that follow on the same prefix (the options of one
  // Analyze stage differ by a few tokens), so that they find it still there.
  constexpr int64_t kHeadroom = 64;
  const int64_t limit = model_->config().max_position_embeddings;
  KVCache& cache = fresh_cache(1, std::min(limit, capacity + kHeadroom));
  cache.load_prefix(*prefix.cache, n);
  resident_ = prefix.cache;
  return cache;
}

KVCache& Generator::fresh_cache(int64_t batch, int64_t capacity) {
  std::unique_ptr<KVCache>& slot = batch == 1 ? cache_ : batch_cache_;
  if (batch == 1) resident_.reset();
  (batch == 1 ? held_ : batch_held_).clear();
  if (!slot || slot->batch() != batch || slot->capacity() < capacity) {
    slot.reset();  // free the old buffers before allocating new ones
    slot = std::make_unique<KVCache>(model_->config(), batch, capacity, model_->runtime().dtype,
                                     model_->runtime().device);
  } else {
    slot->reset();
  }
  return *slot;
}

void Generator::forget_held() {
  held_.clear();
  batch_held_.clear();
}

Generator::HeldMatch Generator::held_match(const std::vector<int32_t>& tokens, const std::string& plan,
                                           int64_t most) const {
  HeldMatch best;
  if (!model_->rows_independent()) return best;
  const auto scan = [&](const Held& held, bool batch) {
    if (held.plan != plan) return;
    for (size_t r = 0; r < held.rows.size(); ++r) {
      const auto& row = held.rows[r];
      const auto n = static_cast<std::ptrdiff_t>(std::min<int64_t>(most, std::min(row.size(), tokens.size())));
      const int64_t m = std::mismatch(tokens.begin(), tokens.begin() + n, row.begin()).first - tokens.begin();
      if (m > best.length) best = {m, batch, static_cast<int64_t>(r)};
    }
  };
  scan(held_, false);
  scan(batch_held_, true);
  return best;
}

KVCache& Generator::cache_from_held(const HeldMatch& match, int64_t capacity) {
  PhaseScope phase(Phase::CacheSetup);
  resident_.reset();
  if (!match.batch && cache_->capacity() >= capacity) {  // cache_ itself: keep its first slots
    held_.clear();
    cache_->truncate(match.length);
    return *cache_;
  }
  if (match.batch) {  // a batch row into cache_, reallocated only when too small
    KVCache& cache = fresh_cache(1, capacity);
    cache.load_prefix(*batch_cache_, match.length, match.row);
    return cache;
  }
  // cache_ itself, too small: its slots into a larger one
  auto fresh = std::make_unique<KVCache>(model_->config(), 1, capacity, model_->runtime().dtype,
                                         model_->runtime().device);
  fresh->load_prefix(*cache_, match.length);
  held_.clear();
  cache_ = std::move(fresh);
  return *cache_;
}

std::vector<Picked> greedy_picks(const torch::Tensor& logits) {
  TORCH_CHECK(logits.dim() == 2 && logits.device().is_cpu() && logits.scalar_type() == torch::kFloat,
              "greedy_picks takes (batch, vocab) f32 CPU logits");
  const auto rows = logits.contiguous();
  const int64_t B = rows.size(0), V = rows.size(1);
  const float* data = rows.data_ptr<float>();
  std::vector<Picked> out(static_cast<size_t>(B));
  for (int64_t b = 0; b < B; ++b) {
    const float* x = data + b * V;
    int64_t best = 0;
    for (int64_t v = 1; v < V; ++v)
      if (x[v] > x[best]) best = v;
    double sum = 0;
    for (int64_t v = 0; v < V; ++v) sum += std::exp(static_cast<double>(x[v]) - x[best]);
    out[static_cast<size_t>(b)] = {best, static_cast<float>(1.0 / sum), x[best]};
  }
  return out;
}

torch::Tensor sampling_probs(const torch::Tensor& logits, const SamplingConfig& s) {
  LITESTAGE_CHECK(s.temperature > 0, "sampling_probs needs a temperature > 0");
  auto scaled = logits / s.temperature;
  if (s.top_k > 0 && s.top_k < scaled.size(-1)) {
    auto kth = std::get<0>(scaled.topk(s.top_k, -1)).narrow(-1, s.top_k - 1, 1);
    scaled = scaled.masked_fill(scaled < kth, -std::numeric_limits<float>::infinity());
  }
  if (s.top_p < 1.0) {
    auto [sorted, idx] = scaled.sort(-1, /*descending=*/true);
    auto cum = sorted.softmax(-1).cumsum(-1);
    // Drop a token when the mass before it already reaches top_p (the first always stays).
    auto drop_sorted = (cum - sorted.softmax(-1)) >= s.top_p;
    drop_sorted.narrow(-1, 0, 1).fill_(false);  // even at top_p <= 0, as transformers keeps one
    auto drop = torch::zeros_like(drop_sorted).scatter(-1, idx, drop_sorted);
    scaled = scaled.masked_fill(drop, -std::numeric_limits<float>::infinity());
  }
  return scaled.softmax(-1).to(torch::kCPU);
}

std::vector<Picked> Generator::pick(const torch::Tensor& logits, const SamplingConfig& s, at::Generator& gen) const {
  PhaseScope phase(Phase::Pick);
  if (s.temperature == 0 && logits.device().is_cpu() && logits.scalar_type() == torch::kFloat)
    return greedy_picks(logits);
  // Confidence is read off the untempered distribution: it measures the model, not the sampler.
  auto [max_logit, argmax] = logits.max(-1);
  auto max_prob = (max_logit - logits.logsumexp(-1)).exp();
  torch::Tensor chosen = argmax;
  if (s.temperature > 0) chosen = at::multinomial(sampling_probs(logits, s), 1, false, gen).view({-1});
  auto ids = chosen.to(torch::kCPU);
  auto conf = max_prob.to(torch::kCPU);
  auto mlog = max_logit.to(torch::kCPU);
  std::vector<Picked> out(ids.size(0));
  for (int64_t b = 0; b < ids.size(0); ++b)
    out[b] = {ids[b].item<int64_t>(), conf[b].item<float>(), mlog[b].item<float>()};
  return out;
}

torch::Tensor forward_phase(CausalLM& model, Phase phase, const torch::Tensor& input, const ForwardOptions& fwd) {
  PhaseScope scope(phase);
  auto out = model->forward(input, fwd);
  if (PhaseClock::current()) synchronize(model->runtime().device);
  return out;
}

namespace {

void check_sampling(const SamplingConfig& s) {
  if (!(s.temperature >= 0)) throw_error("temperature must be >= 0 (0 = greedy), got ", s.temperature);
  if (s.top_k < 0) throw_error("top_k must be >= 0 (0 = off), got ", s.top_k);
  // top_p = 0 keeps only the most likely token, as transformers does.
  if (!(s.top_p >= 0 && s.top_p <= 1)) throw_error("top_p must be in [0, 1] (1 = off), got ", s.top_p);
}

void check_speculative(const GenerationConfig& config) {
  config.speculative.validate();
  if (config.observer) throw_error("an observed call runs plain decoding: set the drafter to off");
}

void check_prefix(const SharedPrefix& prefix, const std::vector<int32_t>& prompt, const GenerationConfig& config) {
  LITESTAGE_CHECK(prefix.cache != nullptr, "shared prefix without a KV cache");
  LITESTAGE_CHECK(prefix.prefixes(prompt), "the shared prefix of ", prefix.tokens.size(),
                  " tokens is not a proper prefix of the prompt of ", prompt.size(), " tokens");
  LITESTAGE_CHECK(prefix.plan == config.skip.to_string(), "shared prefix computed under skip plan '", prefix.plan,
                  "', but this call runs '", config.skip.to_string(), "'");
  LITESTAGE_CHECK(config.observer == nullptr, "an observed call prefills its whole prompt: no shared prefix");
}

}  // namespace

GenerationResult Generator::generate(const std::string& prompt, const GenerationConfig& config,
                                     const StreamCallback& on_token) {
  return generate_ids(encode_prompt(prompt, config.add_bos), config, on_token);
}

GenerationResult Generator::generate_ids(const std::vector<int32_t>& prompt_ids, const GenerationConfig& config,
                                         const StreamCallback& on_token, const SharedPrefix* prefix) {
  LITESTAGE_CHECK(!prompt_ids.empty(), "cannot generate from an empty prompt");
  LITESTAGE_CHECK(config.max_new_tokens >= 0, "max_new_tokens must be >= 0");
  check_sampling(config.sampling);
  if (prefix) check_prefix(*prefix, prompt_ids, config);
  c10::InferenceMode inference;
  const auto device = model_->runtime().device;
  const int64_t P = static_cast<int64_t>(prompt_ids.size());
  HeldMatch held;  // the prompt's last token is always prefilled: its logits start the decoding
  if (!prefix && config.reuse_held && !config.observer && config.max_new_tokens > 0)
    held = held_match(prompt_ids, config.skip.to_string(), P - 1);
  const int64_t cached = prefix ? static_cast<int64_t>(prefix->tokens.size()) : held.length;
  const int64_t limit = model_->config().max_position_embeddings;
  if (P >= limit) throw_error("prompt of ", P, " tokens does not fit the model's ", limit, " positions");
  const int64_t capacity = std::min<int64_t>(P + config.max_new_tokens, limit);

  GenerationResult r;
  r.prompt_tokens = static_cast<int>(P);
  r.cached_prompt_tokens = static_cast<int>(cached);
  if (config.max_new_tokens == 0) return r;
  const auto stops = stop_ids(config);
  if (config.speculative.on()) check_speculative(config);
  auto gen = at::detail::createCPUGenerator(config.sampling.seed);
  std::vector<int64_t> ids64(prompt_ids.begin() + cached, prompt_ids.end());
  auto input = torch::tensor(ids64, torch::kLong).view({1, P - cached}).to(device);
  synchronize(device);
  Timer timer;  // a prefix's cache set-up counts to the prefill, as the prefill it saves would
  KVCache& cache = prefix             ? cache_with_prefix(*prefix, capacity)
                   : held.length > 0 ? cache_from_held(held, capacity)
                                     : cache_for(1, capacity);
  ForwardOptions fwd;
  fwd.skip = &config.skip;
  fwd.cache = &cache;
  fwd.last_logits_only = true;
  fwd.observer = config.observer;
  auto logits = forward_phase(model_, Phase::Prefill, input, fwd).view({1, -1});
  synchronize(device);
  r.prefill_seconds = timer.seconds();
  fwd.observer = nullptr;

  timer.reset();
  if (config.speculative.on()) {
    decode_speculative(prompt_ids, config, cache, fwd, logits, capacity, r, on_token);
  } else {
    std::vector<RowDecoder> row;
    row.emplace_back(*tokenizer_, config, stops, r);
    decode_rows(row, logits, fwd, capacity, config.sampling, gen, on_token);
    PhaseScope phase(Phase::Detokenize);
    row[0].finish();
  }
  synchronize(device);
  r.decode_seconds = timer.seconds();
  // The slots hold the prompt, then the generated tokens that were fed (all but a last unfed one);
  // recorded for calls that share (every change to the cache cleared the record before).
  const auto fed = static_cast<size_t>(cache.length() - P);
  if (config.reuse_held && fed <= r.tokens.size()) {
    held_.plan = config.skip.to_string();
    held_.rows.push_back(prompt_ids);
    held_.rows[0].insert(held_.rows[0].end(), r.tokens.begin(), r.tokens.begin() + static_cast<std::ptrdiff_t>(fed));
  }
  return r;
}

void Generator::decode_rows(std::vector<RowDecoder>& rows, torch::Tensor logits, const ForwardOptions& fwd,
                            int64_t capacity, const SamplingConfig& sampling, at::Generator& gen,
                            const StreamCallback& on_token, std::vector<std::vector<int32_t>>* fed) {
  const int64_t B = static_cast<int64_t>(rows.size());
  const int32_t pad = tokenizer_->pad_id().value_or(0);
  std::vector<bool> done(B, false);
  int64_t remaining = B;
  auto next = torch::empty({B, 1}, torch::kLong);  // the picks, on the CPU
  int64_t* ids = next.data_ptr<int64_t>();
  const auto device = model_->runtime().device;
  while (true) {
    const auto picks = pick(logits, sampling, gen);
    for (int64_t b = 0; b < B; ++b) {
      ids[b] = pad;  // a finished row keeps decoding padding; its outputs are ignored
      if (done[b]) continue;
      const auto& p = picks[b];
      if (rows[b].push(p.id, p.confidence, p.max_logit, fwd.cache->length(), capacity, on_token)) {
        done[b] = true;
        --remaining;
      } else {
        ids[b] = p.id;
      }
    }
    if (remaining == 0) return;
    if (fed)
      for (int64_t b = 0; b < B; ++b) (*fed)[b].push_back(static_cast<int32_t>(ids[b]));
    logits = forward_phase(model_, Phase::Decode, next.to(device), fwd).view({B, -1});
  }
}

std::vector<GenerationResult> Generator::generate_batch(const std::vector<std::vector<int32_t>>& prompts,
                                                        const GenerationConfig& config, const SharedPrefix* prefix) {
  LITESTAGE_CHECK(!prompts.empty(), "generate_batch needs at least one prompt");
  if (prompts.size() == 1) return {generate_ids(prompts[0], config, nullptr, prefix)};
  LITESTAGE_CHECK(config.observer == nullptr, "observers are supported for single-prompt generation only");
  if (config.speculative.on())
    throw_error("speculative decoding runs one sequence at a time: set generation.batch_analyze to false or the "
                "drafter to off");
  LITESTAGE_CHECK(config.max_new_tokens >= 0, "max_new_tokens must be >= 0");
  check_sampling(config.sampling);
  c10::InferenceMode inference;
  const auto device = model_->runtime().device;
  const int64_t B = static_cast<int64_t>(prompts.size());
  const int64_t cached = prefix ? static_cast<int64_t>(prefix->tokens.size()) : 0;
  int64_t P = 0;  // the longest prompt part after the shared prefix
  for (const auto& p : prompts) {
    LITESTAGE_CHECK(!p.empty(), "cannot generate from an empty prompt");
    if (prefix) check_prefix(*prefix, p, config);
    P = std::max<int64_t>(P, static_cast<int64_t>(p.size()) - cached);
  }
  const int64_t limit = model_->config().max_position_embeddings;
  if (cached + P >= limit) throw_error("prompt of ", cached + P, " tokens does not fit the model's ", limit, " positions");
  const int64_t capacity = std::min<int64_t>(cached + P + config.max_new_tokens, limit);
  int32_t pad = tokenizer_->pad_id().value_or(0);

  // Left padding keeps every row's last prompt token in the final column (padding sits between
  // the shared prefix and a shorter row's own tokens; it is masked and takes no position).
  std::vector<int64_t> ids(B * P, pad), mask(B * P, 0);
  for (int64_t b = 0; b < B; ++b) {
    const int64_t own = static_cast<int64_t>(prompts[b].size()) - cached, off = P - own;
    for (int64_t i = 0; i < own; ++i) {
      ids[b * P + off + i] = prompts[b][cached + i];
      mask[b * P + off + i] = 1;
    }
  }
  std::vector<GenerationResult> results(B);
  for (int64_t b = 0; b < B; ++b) {
    results[b].prompt_tokens = static_cast<int>(prompts[b].size());
    results[b].cached_prompt_tokens = static_cast<int>(cached);
  }
  if (config.max_new_tokens == 0) return results;

  const auto stops = stop_ids(config);
  std::vector<RowDecoder> rows;
  rows.reserve(static_cast<size_t>(B));
  for (int64_t b = 0; b < B; ++b) rows.emplace_back(*tokenizer_, config, stops, results[b]);
  auto gen = at::detail::createCPUGenerator(config.sampling.seed);
  KVCache& cache = cache_for(B, capacity);
  ForwardOptions fwd;
  fwd.skip = &config.skip;
  fwd.cache = &cache;
  fwd.last_logits_only = true;
  // Rows of one length need no mask: they take the model's kernels, where each row's sums do not
  // depend on the other rows, so a row's outputs are those of its prompt generated alone (CPU f32
  // layers with kept panels: bitwise; docs/architecture.md).
  const bool ragged = std::any_of(prompts.begin(), prompts.end(),
                                  [&](const auto& p) { return static_cast<int64_t>(p.size()) - cached != P; });
  if (ragged) fwd.token_mask = torch::tensor(mask, torch::kLong).view({B, P}).to(device);

  auto input = torch::tensor(ids, torch::kLong).view({B, P}).to(device);
  synchronize(device);
  Timer timer;
  if (prefix) {
    PhaseScope phase(Phase::CacheSetup);
    cache.load_prefix(*prefix->cache, cached);
  }
  auto logits = forward_phase(model_, Phase::Prefill, input, fwd).view({B, -1});
  synchronize(device);
  double prefill = timer.seconds();
  fwd.token_mask = torch::Tensor();
  timer.reset();
  // Unpadded rows of a call that shares: each row's slots hold its prompt, then the tokens it was fed.
  const bool record = config.reuse_held && !ragged;
  std::vector<std::vector<int32_t>> fed(record ? B : 0);
  decode_rows(rows, logits, fwd, capacity, config.sampling, gen, nullptr, record ? &fed : nullptr);
  synchronize(device);
  double decode = timer.seconds();
  if (record) {
    batch_held_.plan = config.skip.to_string();
    for (int64_t b = 0; b < B; ++b) {
      batch_held_.rows.push_back(prompts[b]);
      batch_held_.rows.back().insert(batch_held_.rows.back().end(), fed[b].begin(), fed[b].end());
    }
  }
  for (int64_t b = 0; b < B; ++b) {
    rows[b].finish();
    results[b].prefill_seconds = prefill;
    results[b].decode_seconds = decode;
  }
  return results;
}

bool SharedPrefix::prefixes(const std::vector<int32_t>& prompt) const {
  return tokens.size() < prompt.size() && std::equal(tokens.begin(), tokens.end(), prompt.begin());
}

SharedPrefix Generator::prefill_prefix(const std::vector<int32_t>& tokens, const SkipPlan& plan, bool reuse_held) {
  LITESTAGE_CHECK(!tokens.empty(), "a shared prefix needs at least one token");
  const int64_t n = static_cast<int64_t>(tokens.size());
  const int64_t limit = model_->config().max_position_embeddings;
  if (n >= limit) throw_error("shared prefix of ", n, " tokens does not fit the model's ", limit, " positions");
  c10::InferenceMode inference;
  const auto device = model_->runtime().device;
  SharedPrefix out;
  out.tokens = tokens;
  out.plan = plan.to_string();
  const HeldMatch held = reuse_held ? held_match(tokens, out.plan, n) : HeldMatch{};
  out.reused = static_cast<int>(held.length);
  synchronize(device);
  Timer timer;  // the copy of held slots counts to the prefill, as the prefill it saves would
  {
    PhaseScope phase(Phase::CacheSetup);
    out.cache = std::make_shared<KVCache>(model_->config(), 1, n, model_->runtime().dtype, device);
    if (held.length > 0) out.cache->load_prefix(held.batch ? *batch_cache_ : *cache_, held.length, held.row);
  }
  if (held.length < n) {
    ForwardOptions fwd;
    fwd.skip = &plan;
    fwd.cache = out.cache.get();
    fwd.last_logits_only = true;
    std::vector<int64_t> ids64(tokens.begin() + held.length, tokens.end());
    auto input = torch::tensor(ids64, torch::kLong).view({1, n - held.length}).to(device);
    PhaseScope phase(Phase::Prefill);
    model_->hidden_states(input, fwd);
    synchronize(device);
  }
  out.prefill_seconds = timer.seconds();
  return out;
}

}  // namespace litestage
