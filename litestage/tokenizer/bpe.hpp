#pragma once
// Byte-level BPE (GPT-2, Qwen2, Llama-3 family) from a Hugging Face tokenizer.json, or from
// vocab.json + merges.txt (+ tokenizer_config.json). Encoding, in order:
//   1. added tokens (<|im_start|>, ...) are cut out of the raw text, longest match first, and
//      never split (EncodeOptions::parse_special = false skips this step);
//   2. each stretch between them is NFC-normalized when the file's normalizer says so;
//   3. the pre-tokenizer's Split regexes (read from the file) cut it into pieces, every match
//      and every gap between matches its own piece ("Isolated");
//   4. each piece's bytes, spelled with GPT-2's byte -> code point alphabet, are merged by
//      rank (line order of the merges) with a heap over a linked list, so a long piece costs
//      O(n log n); results are cached per piece.
// Decoding maps each token back to its bytes and repairs ill-formed UTF-8 with U+FFFD, so
// decode(encode(x)) == x for every valid UTF-8 x that the normalizer leaves unchanged.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "litestage/tokenizer/added_tokens.hpp"
#include "litestage/tokenizer/hf_config.hpp"
#include "litestage/tokenizer/tokenizer.hpp"
#include "litestage/util/error.hpp"

namespace litestage {

class Regex;

// A well-formed tokenizer.json that this loader does not handle (model.type WordPiece or
// Unigram, a BPE without ByteLevel such as a SentencePiece conversion). load_tokenizer(Auto)
// falls back to tokenizer.model when the directory has one.
class UnsupportedTokenizerError : public Error {
 public:
  using Error::Error;
};

namespace byte_level {
// GPT-2's bijection between bytes and printable code points ("Ġ" is the space byte 0x20).
char32_t byte_to_code_point(uint8_t b);
std::optional<uint8_t> code_point_to_byte(char32_t cp);
// " the" -> "Ġthe".
std::string encode(std::string_view bytes);
// "Ġthe" -> " the"; nullopt when a code point is outside the alphabet.
std::optional<std::string> decode(std::string_view spelled);
}  // namespace byte_level

// Pre-tokenizer regexes known by name.
inline constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
inline constexpr const char* kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// Everything a byte-level BPE needs, as read from the files (or written by hand in a test).
struct BpeSpec {
  std::string source;                                      // for messages: the file(s) read
  std::vector<std::pair<std::string, int32_t>> vocab;      // byte-level spelling -> id
  std::vector<std::pair<std::string, std::string>> merges;  // rank = position
  std::vector<AddedToken> added_tokens;
  // Pre-tokenizer steps in order: a Split regex, or (empty pattern) ByteLevel's
  // add_prefix_space, which prepends a space to a piece that lacks one.
  struct Step {
    std::string pattern;
    bool prefix_space = false;
  };
  std::vector<Step> steps;
  bool nfc = false;
  bool ignore_merges = false;  // Llama-3: a piece that is a vocabulary entry is taken whole
  // Token that a template post-processor puts first (Llama-3's <|begin_of_text|>), if any.
  std::optional<std::string> template_bos;
};

// Reads <file> (tokenizer.json). Throws UnsupportedTokenizerError for a well-formed file of
// another kind, litestage::Error naming file and key for anything malformed.
BpeSpec read_tokenizer_json(const std::filesystem::path& file);
// Reads vocab.json + merges.txt; the pre-tokenizer is chosen from tokenizer_class
// (Qwen2Tokenizer: the Qwen2 regex + NFC; anything else: GPT-2's regex) and added tokens come
// from tokenizer_config.json's added_tokens_decoder.
BpeSpec read_vocab_merges(const std::filesystem::path& vocab_json, const std::filesystem::path& merges_txt,
                          const HfConventions& conventions);

class BpeTokenizer final : public Tokenizer {
 public:
  explicit BpeTokenizer(BpeSpec spec);
  ~BpeTokenizer() override;

  std::vector<int32_t> encode(std::string_view text, const EncodeOptions& options = {}) const override;
  std::string decode(const std::vector<int32_t>& ids, bool skip_special = true) const override;
  int32_t vocab_size() const override { return vocab_size_; }
  std::string piece(int32_t id) const override;
  std::optional<int32_t> token_id(std::string_view piece) const override;
  bool is_special(int32_t id) const override;
  std::optional<int32_t> bos_id() const override { return bos_; }
  std::vector<int32_t> eos_ids() const override { return eos_; }
  std::optional<int32_t> pad_id() const override { return pad_; }
  std::string kind() const override { return "bpe"; }

  // bos: what encode(add_bos) prepends (none when nullopt); eos[0] is what add_eos appends.
  void set_special_ids(std::optional<int32_t> bos, std::vector<int32_t> eos, std::optional<int32_t> pad);

  // The pieces BPE runs on (after added-token split, normalization and the Split regexes),
  // as raw bytes; added tokens come out whole. For tests and debugging.
  std::vector<std::string> pre_tokenize(std::string_view text, bool parse_special = true) const;
  bool regex_jit() const;

 private:
  struct Merge {
    int32_t rank;
    int32_t merged;
  };
  struct Step {
    std::unique_ptr<Regex> regex;  // null: prefix-space step
  };

  template <typename OnPiece>
  void for_each_piece(std::string_view segment, OnPiece&& on_piece) const;
  template <typename OnPiece>
  void apply_steps(std::string_view piece, size_t step, OnPiece& on_piece) const;
  void encode_piece(std::string_view piece, std::vector<int32_t>& out) const;
  std::vector<int32_t> merge_piece(std::string_view piece) const;
  const AddedToken* added_token(int32_t id) const;
  void check_id(int32_t id) const;

  std::string source_;
  int32_t vocab_size_ = 0;
  std::vector<std::string> spelled_;    // id -> byte-level spelling ("" for gaps and added-only ids)
  std::vector<std::string> bytes_;      // id -> raw bytes
  std::unordered_map<std::string, int32_t> index_;  // spelling -> id
  std::unordered_map<std::string, int32_t> raw_index_;  // raw bytes -> id, for ignore_merges
  int32_t byte_id_[256];                // single-byte token ids (-1: missing from the vocab)
  std::unordered_map<uint64_t, Merge> merges_;  // (left id << 32 | right id) -> rank, result
  std::vector<Step> steps_;
  bool nfc_ = false;
  bool ignore_merges_ = false;

  AddedTokenMatcher matcher_;
  std::unordered_map<int32_t, AddedToken> added_by_id_;
  std::unordered_map<std::string, int32_t> added_by_content_;

  std::optional<int32_t> bos_;
  std::vector<int32_t> eos_;
  std::optional<int32_t> pad_;

  // Piece -> ids. Bounded; once full, new pieces are merged without caching.
  mutable std::shared_mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache_;
};

// Loads <dir>/tokenizer.json, else <dir>/vocab.json + merges.txt, with the directory's
// conventions (hf_config.hpp): bos only when the files say one is added (add_bos_token, or a
// template post-processor); eos = tokenizer_config eos_token, config/generation_config
// eos_token_id(s), then the end-of-text/turn tokens present among <|endoftext|>, <|im_end|>,
// <|eot_id|>, <|end_of_text|>; pad = pad_token or pad_token_id.
std::unique_ptr<BpeTokenizer> load_bpe_tokenizer(const std::filesystem::path& dir);

}  // namespace litestage
