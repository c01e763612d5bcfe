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

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "litestage/util/yaml_schema.hpp"

namespace litestage {

enum class DrafterKind { Off, Lookup };
const EnumNames<DrafterKind>& drafter_kind_names();  // "off" | "lookup"

constexpr int kMostNgram = 8;

struct SpeculativeConfig {
  DrafterKind drafter = DrafterKind::Off;
  int gamma = 8;  // most tokens drafted per verify forward (1..16: a short forward's rows)
  int ngram = 3;  // longest suffix looked up (tokens); shorter ones are tried after it, down to 1
  bool on() const { return drafter != DrafterKind::Off; }
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

// Token sequences and, for each n-gram of up to `ngram` tokens, where its latest occurrence ended:
// the lookup table of a drafter. Sequences are kept apart (no n-gram spans two).
class NgramIndex {
 public:
  explicit NgramIndex(int ngram) : ngram_(ngram) {}
  void start_sequence();
  void push(int32_t token);  // appends to the current sequence
  // The tokens that followed the latest earlier occurrence of the last n tokens of `tail` (n =
  // ngram down to 1, the first that occurs), at most `most`; empty where none does.
  std::vector<int32_t> follow(const std::vector<int32_t>& tail, int most) const;
  size_t size() const { return tokens_.size(); }

 private:
  static uint64_t key(const int32_t* first, int n);
  int ngram_;
  std::vector<int32_t> tokens_;  // sequences, each closed by -1
  size_t sequence_start_ = 0;
  std::unordered_map<uint64_t, size_t> next_;  // n-gram key -> index of the token after it
};

// A stage's outputs on earlier calls of a run, for the lookup drafter. It changes only the speed:
// outputs are the verifier's whatever it holds.
class DraftHistory {
 public:
  DraftHistory() : index_(kMostNgram) {}  // every n-gram length a config may ask for
  void add(const std::vector<int32_t>& output);
  const NgramIndex& index() const { return index_; }

 private:
  NgramIndex index_;
};

// The lookup drafter of one generate call: the prompt and the tokens generated so far, then the
// history.
class LookupDrafter {
 public:
  LookupDrafter(const SpeculativeConfig& config, const std::vector<int32_t>& prompt, const DraftHistory* history);
  void push(int32_t token);                     // a token of the output, as it is accepted
  std::vector<int32_t> propose(int most) const;  // up to min(most, gamma) tokens

 private:
  const SpeculativeConfig& config_;
  NgramIndex context_;
  std::vector<int32_t> tail_;  // the last ngram tokens of prompt + output
  const DraftHistory* history_;
};

}  // namespace litestage
