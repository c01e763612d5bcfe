#pragma once
// Speculative decoding: a drafter proposes up to gamma tokens, the model (under the call's own
// skip plan: the verifier) runs them in one forward over the KV cache, keeps the longest prefix it
// agrees with plus its own next token, and the cache is rolled back to the accepted length
// (KVCache::truncate). Greedy: on the CPU kernels a forward over k tokens gives bitwise the logits
// of k decode steps (either kernel: model/decode_kernel.hpp), so the tokens, confidences, exit reason and text
// are those of plain decoding; only the time changes. Sampling (temperature > 0): each draft token
// is accepted with probability min(1, p/q) and a rejected one is replaced by a draw from the
// normalised residual max(0, p - q) (sampled_verdict), which keeps the verifier's distribution p
// exactly; the draws themselves differ from plain sampling's.
//
// Drafters. `lookup` is prompt-lookup decoding over tokens: the longest suffix of what has been
// generated (n-gram, ngram tokens down to 1) is looked up in the call's prompt and output (latest
// occurrence first), then in the same stage's outputs on earlier calls (DraftHistory), and the
// tokens that followed it are the draft (a point mass: q = 1). `self` is the verifier's own model
// under a more aggressive skip plan (the call's plan plus `draft_skip`), decoding one token at a
// time while its confidence stays at or above `threshold` (Draft & Verify). `auto`: lookup first,
// self where lookup finds nothing.

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "litestage/model/decode_kernel.hpp"
#include "litestage/model/skip_plan.hpp"
#include "litestage/util/yaml_schema.hpp"

namespace litestage {

enum class DrafterKind { Off, Lookup, Self, Auto };
const EnumNames<DrafterKind>& drafter_kind_names();  // "off" | "lookup" | "self" | "auto"

constexpr int kMostNgram = 8;

struct SpeculativeConfig {
  DrafterKind drafter = DrafterKind::Off;
  int gamma = 8;  // most tokens drafted per verify forward (1..16: a short forward's rows)
  int ngram = 3;  // longest suffix looked up (tokens); shorter ones are tried after it, down to 1
  // Cut each draft to the length expected to gain the most tokens per second (DraftStats); off:
  // every draft found is verified whole, up to gamma.
  bool adaptive = true;
  // The self drafter: the sub-layers its drafts skip beyond the verifier's plan (a skip spec), and
  // the confidence (max probability) below which it stops drafting.
  std::string draft_skip;
  double threshold = 0.5;
  bool on() const { return drafter != DrafterKind::Off; }
  bool uses_lookup() const { return drafter == DrafterKind::Lookup || drafter == DrafterKind::Auto; }
  bool uses_self() const { return drafter == DrafterKind::Self || drafter == DrafterKind::Auto; }
  std::string describe() const;  // "off" or e.g. "lookup, gamma 8, ngram 3, adaptive"
  // Throws on gamma, ngram or threshold out of range, or a self drafter without draft_skip.
  void validate() const;
};

// The self drafter's plan: the verifier's skips and draft_skip's (an unparsable draft_skip throws,
// naming it).
SkipPlan self_draft_plan(const SkipPlan& verifier, const SpeculativeConfig& config, int layers);

// What speculation did in a call: verify forwards (each over 1 + its draft's tokens), tokens
// drafted, drafted tokens accepted, and the self drafter's one-token forwards.
struct SpeculativeStats {
  int64_t verify_forwards = 0;
  int64_t drafted = 0;
  int64_t accepted = 0;
  int64_t draft_forwards = 0;
  SpeculativeStats& operator+=(const SpeculativeStats& o);
  // Tokens gained per verify forward: accepted drafts plus the verifier's own token.
  double tokens_per_forward() const;
};

// A draft and where it came from: the n-gram length matched (1..kMostNgram) and whether in the
// call's own prompt and output or in the stage's history; or the self drafter's (matched 0), with,
// when sampling, each token's draft distribution q (empty: a point mass on the token).
struct Draft {
  std::vector<int32_t> tokens;
  int matched = 0;
  bool from_history = false;
  bool from_model = false;
  std::vector<std::vector<float>> q;
};

// Speculative sampling's verdict on a drafted token x: `accepted`, or else the token drawn in its
// place. p: the verifier's distribution at x's position (after temperature, top-k and top-p); q:
// the draft's distribution there (empty: a point mass on x). Accepted when u_accept < p(x) / q(x);
// otherwise the token is the inverse-CDF draw at u_residual from max(0, p - q) normalised (p itself
// should that be all zero, as it is only by rounding). u_*: uniform in [0, 1).
struct SampledVerdict {
  bool accepted = false;
  int64_t token = -1;
};
SampledVerdict sampled_verdict(const float* p, const float* q, int64_t vocab, int64_t x, double u_accept,
                               double u_residual);
// The rule the generator applies (tests substitute a broken one to show the distribution test can
// tell).
using SampledRule = SampledVerdict (*)(const float* p, const float* q, int64_t vocab, int64_t x, double u_accept,
                                       double u_residual);
// The inverse-CDF draw at u (uniform in [0, 1)) from the weights w (not necessarily normalised).
int64_t draw_index(const float* w, int64_t n, double u);

// What an adaptive draft length is chosen from, learned as a stage runs: how often a drafted
// token is accepted, given that the ones before it were, by where the draft came from and the
// token's position in it; and the measured seconds of verify forwards by rows. Both change only
// how much is drafted, never an output.
class DraftStats {
 public:
  // The chance that position i (0-based) of such a draft is accepted once those before it were:
  // (accepted + 1) / (verified + 2) over the earlier drafts of its kind.
  double acceptance(const Draft& draft, int i) const;
  // A verified draft of `drafted` tokens of which the first `accepted` were accepted.
  void record(const Draft& draft, int drafted, int accepted);
  // Called when a draft of this kind was cut to nothing: true (and then it is verified at one
  // token) for every kExploreEvery-th such draft in a row, so that an acceptance estimate that fell
  // by chance, or a verify cost measured under load, can recover.
  bool explore(const Draft& draft);
  static constexpr int kExploreEvery = 16;
  void time(int rows, double seconds);  // a forward over `rows` rows took `seconds`
  // The cost of a forward over `rows` rows in units of a one-row forward: the measured means
  // (exponential, by rows) of both where they are; else a line through the measured means (slope
  // >= 0); with fewer than two row counts measured, 1 + kPriorSlope (rows - 1).
  double relative_cost(int rows) const;
  static constexpr double kPriorSlope = 0.25;  // each further row costs a quarter of a one-row forward

 private:
  static constexpr int kKinds = 2 * (kMostNgram + 1);
  static int kind(const Draft& draft) { return (draft.from_history ? kMostNgram + 1 : 0) + draft.matched; }
  struct Count {
    double verified = 0, accepted = 0;
  };
  std::array<std::array<Count, kShortForwardRows>, kKinds> counts_{};
  std::array<int, kKinds> cut_in_a_row_{};
  std::array<double, kShortForwardRows + 1> seconds_{};  // by rows: exponential mean, 0 = none yet
};

// The draft length k in 0..acceptance.size() that maximises the expected tokens of a verify
// forward, 1 + sum over i <= k of the product of acceptance[0..i), per its cost(k + 1 rows).
int best_draft_length(const std::vector<double>& acceptance, const std::function<double(int rows)>& cost);

// Token sequences and, for each n-gram of up to `ngram` tokens, where its latest occurrence ended:
// the lookup table of a drafter. Sequences are kept apart (no n-gram spans two).
class NgramIndex {
 public:
  explicit NgramIndex(int ngram) : ngram_(ngram) {}
  void start_sequence();
  void push(int32_t token);  // appends to the current sequence
  // The tokens that followed the latest earlier occurrence of the last n tokens of `tail` (n =
  // ngram down to 1, the first that occurs), at most `most`; empty where none does. `matched`
  // (if given) is set to that n.
  std::vector<int32_t> follow(const std::vector<int32_t>& tail, int most, int* matched = nullptr) const;
  size_t size() const { return tokens_.size(); }

 private:
  static uint64_t key(const int32_t* first, int n);
  int ngram_;
  std::vector<int32_t> tokens_;  // sequences, each closed by -1
  size_t sequence_start_ = 0;
  std::unordered_map<uint64_t, size_t> next_;  // n-gram key -> index of the token after it
};

// A stage's outputs on earlier calls of a run, for the lookup drafter, and what its drafts have
// done (stats). It changes only the speed: outputs are the verifier's whatever it holds.
class DraftHistory {
 public:
  DraftHistory() : index_(kMostNgram) {}  // every n-gram length a config may ask for
  void add(const std::vector<int32_t>& output);
  const NgramIndex& index() const { return index_; }
  DraftStats stats;

 private:
  NgramIndex index_;
};

// The lookup drafter of one generate call: the prompt and the tokens generated so far, then the
// history.
class LookupDrafter {
 public:
  LookupDrafter(const SpeculativeConfig& config, const std::vector<int32_t>& prompt, const DraftHistory* history);
  void push(int32_t token);                     // a token of the output, as it is accepted
  Draft propose(int most) const;  // up to min(most, gamma) tokens

 private:
  const SpeculativeConfig& config_;
  NgramIndex context_;
  std::vector<int32_t> tail_;  // the last ngram tokens of prompt + output
  const DraftHistory* history_;
};

}  // namespace litestage
