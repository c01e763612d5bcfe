// Generator's speculative decode loop (generate/speculative.hpp has the method): drafts from the
// lookup or self drafter, one verify forward per draft, greedy or sampled verdicts, rollback.

#include <algorithm>
#include <random>

#include <torch/types.h>

#include "litestage/generate/generator.hpp"
#include "litestage/generate/row_decoder.hpp"
#include "litestage/generate/speculative.hpp"
#include "litestage/util/error.hpp"
#include "litestage/util/phase_clock.hpp"
#include "litestage/util/timer.hpp"

namespace litestage {

namespace {

// The part of a found lookup draft to verify: all of it, or under config.adaptive the length
// expected to gain the most tokens per second.
void cut_to_adaptive_length(Draft& found, const SpeculativeConfig& config, DraftStats& stats) {
  if (!config.adaptive || found.tokens.empty()) return;
  std::vector<double> acceptance;
  for (size_t i = 0; i < found.tokens.size(); ++i) acceptance.push_back(stats.acceptance(found, static_cast<int>(i)));
  int k = best_draft_length(acceptance, [&](int rows) { return stats.relative_cost(rows); });
  if (k == 0 && stats.explore(found)) k = 1;
  found.tokens.resize(static_cast<size_t>(k));
}

// One forward's rows, judged: argmax, confidence and max logit per row (untempered), and when
// sampling the distributions to draw from.
struct Judged {
  std::vector<Picked> picks;
  torch::Tensor probs;  // (rows, vocab) f32 CPU contiguous; undefined when greedy
  const float* row(int64_t i) const { return probs.data_ptr<float>() + i * probs.size(1); }
};

class SpeculativeDecoder {
 public:
  SpeculativeDecoder(CausalLM& model, const GenerationConfig& config, KVCache& cache, const ForwardOptions& fwd,
                     const std::vector<int32_t>& prompt, RowDecoder& row, GenerationResult& r)
      : model_(model), config_(config), spec_(config.speculative), cache_(cache), fwd_(fwd),
        prompt_tokens_(static_cast<int64_t>(prompt.size())), row_(row), r_(r),
        lookup_(spec_, prompt, config.draft_history), rng_(config.sampling.seed),
        sampling_(config.sampling.temperature > 0), rule_(config.sampled_rule ? config.sampled_rule : sampled_verdict) {
    stats_ = config.draft_history ? &config.draft_history->stats : &own_.stats;
    if (spec_.uses_self()) self_plan_ = self_draft_plan(config.skip, spec_, model->num_layers());
    fwd_.last_logits_only = false;  // every drafted row's logits are checked
  }

  void run(const torch::Tensor& prompt_logits, int64_t capacity, const StreamCallback& on_token);

 private:
  double uniform() { return static_cast<double>(rng_() >> 11) * 0x1.0p-53; }
  Judged judge(const torch::Tensor& logits) {
    PhaseScope phase(Phase::Pick);
    Judged j{greedy_picks(logits.to(torch::kCPU)), torch::Tensor()};
    if (sampling_) j.probs = sampling_probs(logits, config_.sampling).contiguous();
    return j;
  }
  // The verifier's own token from row i: its argmax, or a draw from its distribution.
  int64_t own_token(const Judged& j, int64_t i) {
    return sampling_ ? draw_index(j.row(i), j.probs.size(1), uniform()) : j.picks[static_cast<size_t>(i)].id;
  }
  int64_t generated() const { return prompt_tokens_ + static_cast<int64_t>(r_.tokens.size()); }
  torch::Tensor ids_for(const std::vector<int64_t>& tokens);
  Draft find_draft(int64_t current, int64_t start, int most);
  Draft self_draft(int64_t current, int64_t start, int most);
  torch::Tensor verify(int64_t current, const Draft& draft);

  CausalLM& model_;
  const GenerationConfig& config_;
  const SpeculativeConfig& spec_;
  KVCache& cache_;
  ForwardOptions fwd_;
  int64_t prompt_tokens_;
  RowDecoder& row_;
  GenerationResult& r_;
  LookupDrafter lookup_;
  DraftHistory own_;  // a call without a stage's history learns its draft lengths alone
  DraftStats* stats_;
  SkipPlan self_plan_;
  std::mt19937_64 rng_;
  bool sampling_;
  SampledRule rule_;
  std::vector<torch::Tensor> inputs_ = std::vector<torch::Tensor>(kShortForwardRows + 1);  // CPU ids, by rows
};

torch::Tensor SpeculativeDecoder::ids_for(const std::vector<int64_t>& tokens) {
  torch::Tensor& ids = inputs_.at(tokens.size());  // reused: one per row count
  if (!ids.defined()) ids = torch::empty({1, static_cast<int64_t>(tokens.size())}, torch::kLong);
  std::copy(tokens.begin(), tokens.end(), ids.data_ptr<int64_t>());
  const auto device = model_->runtime().device;
  return device.is_cpu() ? ids : ids.to(device);
}

Draft SpeculativeDecoder::self_draft(int64_t current, int64_t start, int most) {
  Draft d;
  d.from_model = true;
  ForwardOptions fwd = fwd_;
  fwd.skip = &self_plan_;
  fwd.last_logits_only = true;
  int64_t x = current;
  while (static_cast<int>(d.tokens.size()) < most) {
    const auto logits = forward_phase(model_, Phase::Draft, ids_for({x}), fwd).view({1, -1});
    r_.speculative.draft_forwards += 1;
    const Judged j = judge(logits);
    if (j.picks[0].confidence < spec_.threshold) break;
    x = own_token(j, 0);
    d.tokens.push_back(static_cast<int32_t>(x));
    if (sampling_) d.q.emplace_back(j.row(0), j.row(0) + j.probs.size(1));
  }
  PhaseScope phase(Phase::Rollback);  // most >= 1: at least one draft forward wrote the cache
  cache_.truncate(start);
  return d;
}

Draft SpeculativeDecoder::find_draft(int64_t current, int64_t start, int most) {
  Draft found;
  if (spec_.uses_lookup()) {
    PhaseScope phase(Phase::Lookup);
    found = lookup_.propose(most);
    cut_to_adaptive_length(found, spec_, *stats_);
  }
  if (found.tokens.empty() && spec_.uses_self() && most > 0) return self_draft(current, start, std::min(most, spec_.gamma));
  return found;
}

torch::Tensor SpeculativeDecoder::verify(int64_t current, const Draft& draft) {
  std::vector<int64_t> tokens{current};
  tokens.insert(tokens.end(), draft.tokens.begin(), draft.tokens.end());
  const int64_t rows = static_cast<int64_t>(tokens.size());
  Timer timer;
  auto out = forward_phase(model_, Phase::Verify, ids_for(tokens), fwd_);
  synchronize(model_->runtime().device);
  stats_->time(static_cast<int>(rows), timer.seconds());
  r_.speculative.verify_forwards += 1;
  r_.speculative.drafted += rows - 1;
  return out.view({rows, -1});
}

void SpeculativeDecoder::run(const torch::Tensor& prompt_logits, int64_t capacity, const StreamCallback& on_token) {
  Judged j = judge(prompt_logits);
  int64_t current = own_token(j, 0);
  Picked seen = j.picks[0];  // the row `current` came from: its confidence and max logit
  while (true) {
    // The same cache length a plain step would see for this token: the tokens before it.
    if (row_.push(current, seen.confidence, seen.max_logit, generated(), capacity, on_token)) return;
    lookup_.push(static_cast<int32_t>(current));
    const int64_t start = cache_.length();
    const int64_t room = std::min<int64_t>(capacity - start - 1, config_.max_new_tokens - static_cast<int64_t>(r_.tokens.size()));
    const Draft draft = find_draft(current, start, static_cast<int>(std::max<int64_t>(room, 0)));
    const int64_t k = static_cast<int64_t>(draft.tokens.size());
    j = judge(verify(current, draft));
    int64_t a = 0, next = -1;  // drafted tokens accepted; the token after them, once known
    bool stopped = false;
    for (; a < k; ++a) {
      const int32_t x = draft.tokens[static_cast<size_t>(a)];
      const auto& v = j.picks[static_cast<size_t>(a)];
      if (sampling_) {
        const float* q = draft.q.empty() ? nullptr : draft.q[static_cast<size_t>(a)].data();
        const SampledVerdict verdict = rule_(j.row(a), q, j.probs.size(1), x, uniform(), uniform());
        if (!verdict.accepted) next = verdict.token;
      } else if (v.id != x) {
        next = v.id;
      }
      if (next >= 0) break;
      ++r_.speculative.accepted;
      stopped = row_.push(x, v.confidence, v.max_logit, generated(), capacity, on_token).has_value();
      if (stopped) break;
      lookup_.push(x);
    }
    if (k > 0 && !draft.from_model) stats_->record(draft, static_cast<int>(k), static_cast<int>(a + (stopped ? 1 : 0)));
    if (stopped) return;
    if (a < k) {
      PhaseScope phase(Phase::Rollback);
      cache_.truncate(start + 1 + a);
    }
    current = next >= 0 ? next : own_token(j, a);
    seen = j.picks[static_cast<size_t>(a)];
  }
}

}  // namespace

void Generator::decode_speculative(const std::vector<int32_t>& prompt_ids, const GenerationConfig& config,
                                   KVCache& cache, ForwardOptions fwd, torch::Tensor logits, int64_t capacity,
                                   GenerationResult& r, const StreamCallback& on_token) {
  const auto stops = stop_ids(config);
  RowDecoder row(*tokenizer_, config, stops, r);
  SpeculativeDecoder(model_, config, cache, fwd, prompt_ids, row, r).run(logits, capacity, on_token);
  PhaseScope phase(Phase::Detokenize);
  row.finish();
}

}  // namespace litestage
