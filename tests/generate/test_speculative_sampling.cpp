#include <catch2/catch.hpp>

#include <cmath>
#include <map>

#include "../model/model_fixtures.hpp"
#include "fake_tokenizer.hpp"
#include "litestage/generate/generator.hpp"
#include "litestage/generate/speculative.hpp"

using namespace litestage;
using namespace litestage::test;

namespace {

// The regularised upper incomplete gamma Q(a, x) (series below a + 1, Lentz's continued fraction
// above): the chi-square survival function is Q(df / 2, statistic / 2).
double upper_gamma_q(double a, double x) {
  if (x <= 0) return 1;
  const double log_front = a * std::log(x) - x - std::lgamma(a);
  if (x < a + 1) {
    double term = 1 / a, sum = term;
    for (int n = 1; n < 1000; ++n) {
      term *= x / (a + n);
      sum += term;
      if (std::fabs(term) < std::fabs(sum) * 1e-15) break;
    }
    return 1 - sum * std::exp(log_front);
  }
  const double tiny = 1e-300;
  double b = x + 1 - a, c = 1 / tiny, d = 1 / b, h = d;
  for (int i = 1; i < 1000; ++i) {
    const double an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (std::fabs(d) < tiny) d = tiny;
    c = b + an / c;
    if (std::fabs(c) < tiny) c = tiny;
    d = 1 / d;
    const double delta = d * c;
    h *= delta;
    if (std::fabs(delta - 1) < 1e-15) break;
  }
  return std::exp(log_front) * h;
}

using Counts = std::map<std::vector<int32_t>, int>;

// Two-sample chi-square over equal-sized samples: sum (a - b)^2 / (a + b) over the categories,
// those with fewer than 10 draws in both together pooled into one; its p-value.
double two_sample_p(const Counts& a, const Counts& b) {
  std::map<std::vector<int32_t>, std::pair<double, double>> both;
  for (const auto& [k, n] : a) both[k].first += n;
  for (const auto& [k, n] : b) both[k].second += n;
  double stat = 0, pooled_a = 0, pooled_b = 0;
  int bins = 0;
  for (const auto& [k, n] : both) {
    if (n.first + n.second < 10) {
      pooled_a += n.first, pooled_b += n.second;
      continue;
    }
    stat += (n.first - n.second) * (n.first - n.second) / (n.first + n.second);
    ++bins;
  }
  if (pooled_a + pooled_b > 0) {
    stat += (pooled_a - pooled_b) * (pooled_a - pooled_b) / (pooled_a + pooled_b);
    ++bins;
  }
  REQUIRE(bins >= 2);
  return upper_gamma_q((bins - 1) / 2.0, stat / 2);
}

SampledVerdict always_accept(const float*, const float*, int64_t, int64_t x, double, double) { return {true, x}; }

// A subtler mistake: a rejected draft is replaced by a draw from p itself, not the residual, so
// the rejected token can come back.
SampledVerdict resample_from_p(const float* p, const float* q, int64_t vocab, int64_t x, double u, double u2) {
  SampledVerdict v = sampled_verdict(p, q, vocab, x, u, u2);
  if (!v.accepted) v.token = draw_index(p, vocab, u2);
  return v;
}

}  // namespace

TEST_CASE("chi-square survival function at tabulated points", "[generate][speculative]") {
  // Upper 1 % and 5 % points of the chi-square distribution (standard tables).
  CHECK(upper_gamma_q(10 / 2.0, 23.209 / 2) == Approx(0.01).epsilon(1e-3));
  CHECK(upper_gamma_q(3 / 2.0, 7.815 / 2) == Approx(0.05).epsilon(1e-3));
  CHECK(upper_gamma_q(30 / 2.0, 50.892 / 2) == Approx(0.01).epsilon(1e-3));
  CHECK(upper_gamma_q(1 / 2.0, 3.841 / 2) == Approx(0.05).epsilon(1e-3));
}

TEST_CASE("speculative sampling's verdict: accept with p/q, else a draw from the residual", "[generate][speculative]") {
  const float p[] = {0.5f, 0.3f, 0.2f};
  // A lookup draft (point mass on 1): accepted with probability p(1) = 0.3.
  CHECK(sampled_verdict(p, nullptr, 3, 1, 0.29, 0.0).accepted);
  CHECK_FALSE(sampled_verdict(p, nullptr, 3, 1, 0.31, 0.0).accepted);
  // Rejected: the residual is p without token 1, (5/7, 0, 2/7); the inverse CDF at 0.7 falls at
  // 0.49 < 0.5 (token 0), at 0.72 at 0.504 (token 2).
  CHECK(sampled_verdict(p, nullptr, 3, 1, 0.5, 0.7).token == 0);
  CHECK(sampled_verdict(p, nullptr, 3, 1, 0.5, 0.72).token == 2);
  // A model draft q = (0.2, 0.6, 0.2): accepted when u < p(1) / q(1) = 0.5; the residual
  // max(0, p - q) = (0.3, 0, 0) always gives token 0.
  const float q[] = {0.2f, 0.6f, 0.2f};
  CHECK(sampled_verdict(p, q, 3, 1, 0.49, 0.99).accepted);
  CHECK(sampled_verdict(p, q, 3, 1, 0.51, 0.99).token == 0);
  // q below p at x: always accepted.
  CHECK(sampled_verdict(p, q, 3, 0, 0.999, 0.5).accepted);
  CHECK(draw_index(p, 3, 0.0) == 0);
  CHECK(draw_index(p, 3, 0.79) == 1);
  CHECK(draw_index(p, 3, 0.81) == 2);
  const float zero_first[] = {0.0f, 1.0f};
  CHECK(draw_index(zero_first, 2, 0.0) == 1);  // a zero weight is never drawn
}

namespace {

const std::vector<int32_t> kPrompt{1, 40, 41, 42, 43, 40, 41, 42, 43, 40, 41, 44, 45, 40};

// A history for the lookup drafter in which every token t is followed by the model's greedy token
// after the prompt and t: drafts for any sampled token, often likely ones, often not the one drawn.
DraftHistory likely_followers(Generator& gen, int vocab) {
  DraftHistory history;
  GenerationConfig greedy;
  greedy.max_new_tokens = 1;
  for (int32_t t = 0; t < vocab; ++t) {
    auto prompt = kPrompt;
    prompt.push_back(t);
    const auto r = gen.generate_ids(prompt, greedy);
    if (!r.tokens.empty()) history.add({t, r.tokens[0]});
  }
  return history;
}

// 3-token continuations of one prompt, sampled n times (seed i for the i-th), as counts.
Counts continuations(Generator& gen, GenerationConfig cfg, int n, SpeculativeStats* stats = nullptr) {
  const std::vector<int32_t>& prompt = kPrompt;
  Counts counts;
  for (int i = 0; i < n; ++i) {
    cfg.sampling.seed = static_cast<uint64_t>(i);
    const auto r = gen.generate_ids(prompt, cfg);
    counts[r.tokens] += 1;
    if (stats) *stats += r.speculative;
  }
  return counts;
}

}  // namespace

TEST_CASE("speculative sampling keeps the model's distribution: a chi-square test over 20,000 continuations",
          "[generate][speculative][slow]") {
  auto model = random_model(tiny_llama_config(), 5);
  Generator gen(model, std::make_shared<CharTokenizer>(97, /*eos=*/96));
  GenerationConfig cfg;
  cfg.max_new_tokens = 3;
  cfg.sampling.temperature = 1.0;
  cfg.sampling.top_k = 3;  // at most 27 continuations: every one drawn often enough to compare
  const int n = 20000;
  const Counts plain = continuations(gen, cfg, n);
  DraftHistory history = likely_followers(gen, 97);
  for (const auto drafter : {DrafterKind::Lookup, DrafterKind::Self}) {
    cfg.speculative.drafter = drafter;
    cfg.speculative.gamma = 2;
    cfg.speculative.ngram = 1;
    cfg.speculative.adaptive = false;
    cfg.speculative.draft_skip = "a0,f2";
    cfg.speculative.threshold = 0;
    cfg.draft_history = drafter == DrafterKind::Lookup ? &history : nullptr;
    INFO(enum_name(drafter_kind_names(), drafter));
    SpeculativeStats stats;
    const double p_exact = two_sample_p(plain, continuations(gen, cfg, n, &stats));
    // The test has something to judge: drafts were accepted and rejected.
    CHECK(stats.accepted > n / 10);
    CHECK(stats.drafted - stats.accepted > n / 10);
    CHECK(p_exact > 0.01);
    // The same test tells a broken acceptance rule.
    cfg.sampled_rule = always_accept;
    CHECK(two_sample_p(plain, continuations(gen, cfg, n)) < 0.01);
    cfg.sampled_rule = resample_from_p;
    CHECK(two_sample_p(plain, continuations(gen, cfg, n)) < 0.01);
    cfg.sampled_rule = nullptr;
  }
}
