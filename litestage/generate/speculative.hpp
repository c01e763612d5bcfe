#pragma once
// Speculative decoding for greedy generation: a drafter proposes up to gamma tokens, the model
// (under the call's own skip plan: the verifier) runs them in one forward over the KV cache, keeps
// the longest prefix it agrees with plus its own next token, and the cache is rolled back to the
// accepted length (KVCache::truncate). On the CPU kernels a forward over k tokens gives bitwise
// the logits of k decode steps (model/decode_kernel.hpp), so the tokens, confidences, exit reason
// and text are those of plain decoding; only the time changes.
//
// The drafter `lookup` is prompt-lookup decoding over tokens: the longest suffix of what has been
// generated (n-gram, ngram tokens down to 1) is looked up in the call's prompt and output (latest
// occurrence first), then in the same stage's outputs on earlier calls (DraftHistory), and the
// tokens that followed it are the draft.

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "litestage/model/decode_kernel.hpp"
#include "litestage/util/yaml_schema.hpp"

namespace litestage {

enum class DrafterKind { Off, Lookup };
const EnumNames<DrafterKind>& drafter_kind_names();  // "off" | "lookup"

constexpr int kMostNgram = 8;

struct SpeculativeConfig {
  DrafterKind drafter = DrafterKind::Off;
  int gamma = 8;  // most tokens drafted per verify forward (1..16: a short forward's rows)
  int ngram = 3;  // longest suffix looked up (tokens); shorter ones are tried after it, down to 1
  // Cut each draft to the length expected to gain the most tokens per second (DraftStats); off:
  // every draft found is verified whole, up to gamma.
  bool adaptive = true;
  bool on() const { return drafter != DrafterKind::Off; }
  std::string describe() const;  // "off" or e.g. "lookup, gamma 8, ngram 3, adaptive"
  void validate() const;  // throws on gamma or ngram out of range
};

// What speculation did in a call: verify forwards (each over 1 + its draft's tokens), tokens
// drafted, and drafted tokens accepted.
struct SpeculativeStats {
  int64_t verify_forwards = 0;
  int64_t drafted = 0;
  int64_t accepted = 0;
  SpeculativeStats& operator+=(const SpeculativeStats& o);
  // Tokens gained per verify forward: accepted drafts plus the verifier's own token.
  double tokens_per_forward() const;
};

// A draft and where it came from: the n-gram length matched (1..kMostNgram) and whether in the
// call's own prompt and output or in the stage's history.
struct Draft {
  std::vector<int32_t> tokens;
  int matched = 0;
  bool from_history = false;
};

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
  // The cost of a forward over `rows` rows in units of a one-row forward: a line through the
  // measured means (exponential, by rows; slope >= 0); with fewer than two row counts measured,
  // 1 + kPriorSlope (rows - 1).
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
