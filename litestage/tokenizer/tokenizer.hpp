#pragma once
// The Tokenizer interface. Implementations: SentencePiece (sentencepiece.hpp) and byte-level BPE
// (bpe.hpp). load_tokenizer() picks one from a checkpoint or tokenizer directory.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace litestage {

struct EncodeOptions {
  // Prepend BOS when the tokenizer's convention has one (Llama/SentencePiece: yes; Qwen2: none).
  bool add_bos = true;
  bool add_eos = false;
  // Match added/special tokens (<|im_start|>, </s>, ...) in the text as single tokens. When
  // false they are encoded as plain text.
  bool parse_special = true;
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Throws litestage::Error on invalid UTF-8 input.
  virtual std::vector<int32_t> encode(std::string_view text, const EncodeOptions& options = {}) const = 0;
  // Decodes ids to text. Special tokens (bos/eos/...) are dropped when skip_special is true.
  virtual std::string decode(const std::vector<int32_t>& ids, bool skip_special = true) const = 0;

  virtual int32_t vocab_size() const = 0;
  // The vocabulary entry for an id as stored (e.g. "▁the", "Ġthe", "<0x0A>").
  virtual std::string piece(int32_t id) const = 0;
  // Id of an exact vocabulary entry or added token, if any.
  virtual std::optional<int32_t> token_id(std::string_view piece) const = 0;
  virtual bool is_special(int32_t id) const = 0;

  virtual std::optional<int32_t> bos_id() const = 0;
  // Ids that end generation (e.g. </s>; <|im_end|> and <|endoftext|> for Qwen2 chat).
  virtual std::vector<int32_t> eos_ids() const = 0;
  virtual std::optional<int32_t> pad_id() const = 0;

  // "sentencepiece" or "bpe".
  virtual std::string kind() const = 0;
};

// Streaming decode: feed generated ids one at a time, get back only text that is complete —
// never a broken UTF-8 code point, and with the tokenizer's own whitespace rules (SentencePiece's
// leading-space handling) applied as a full decode would.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tokenizer) : tokenizer_(&tokenizer) {}
  // Returns the newly completed text (possibly empty).
  std::string push(int32_t id);
  // Feeds context (e.g. the prompt) without returning its text, so the first generated piece is
  // decoded as a continuation (SentencePiece keeps its leading space).
  void seed(const std::vector<int32_t>& context);
  // Returns whatever is left (incomplete bytes are decoded with replacement as decode() would).
  std::string flush();
  const std::vector<int32_t>& ids() const { return ids_; }

 private:
  const Tokenizer* tokenizer_;
  std::vector<int32_t> ids_;
  // Only ids_[start_..] are re-decoded on each push: start_ moves to the newest id whenever
  // the text so far is complete and that id alone decodes to the tail of it (see tokenizer.cpp).
  size_t start_ = 0;
  size_t emitted_ = 0;  // bytes of decode(ids_[start_..]) already returned
};

enum class TokenizerKind { Auto, SentencePiece, Bpe };
TokenizerKind parse_tokenizer_kind(std::string_view name);  // "auto" | "sentencepiece" | "bpe"

// Loads from a directory: tokenizer.json -> byte-level BPE, else vocab.json + merges.txt -> BPE,
// else tokenizer.model -> SentencePiece (Auto), or the kind asked for. tokenizer_config.json
// and the checkpoint's config.json, when present, supply added tokens and bos/eos conventions.
// A tokenizer.json that is not a byte-level BPE (TinyLlama's SentencePiece conversion, a
// WordPiece or Unigram model) defers to tokenizer.model when the directory has one; otherwise
// the error names the model type. Errors name the files looked for. See docs/tokenizers.md.
std::unique_ptr<Tokenizer> load_tokenizer(const std::filesystem::path& dir,
                                          TokenizerKind kind = TokenizerKind::Auto);

// The files of a tokenizer directory that Hugging Face's AutoTokenizer reads (whichever exist):
// what a checkpoint carries beside its weights so that it loads on its own.
const std::vector<std::string>& tokenizer_files();

}  // namespace litestage
