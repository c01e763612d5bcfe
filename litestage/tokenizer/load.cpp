// load_tokenizer (declared in tokenizer.hpp): the one place that names every implementation.
#include <filesystem>
#include <string>
#include <vector>

#include "litestage/tokenizer/bpe.hpp"
#include "litestage/tokenizer/sentencepiece.hpp"
#include "litestage/tokenizer/tokenizer.hpp"
#include "litestage/util/error.hpp"

namespace litestage {

TokenizerKind parse_tokenizer_kind(std::string_view name) {
  if (name == "auto") return TokenizerKind::Auto;
  if (name == "sentencepiece") return TokenizerKind::SentencePiece;
  if (name == "bpe") return TokenizerKind::Bpe;
  throw_error("unknown tokenizer kind \"", name, "\" (expected auto, sentencepiece or bpe)");
}

std::unique_ptr<Tokenizer> load_tokenizer(const std::filesystem::path& dir, TokenizerKind kind) {
  namespace fs = std::filesystem;
  if (!fs::exists(dir)) throw_error("tokenizer directory ", dir.string(), " does not exist");
  if (!fs::is_directory(dir)) throw_error("tokenizer path ", dir.string(), " is not a directory");
  switch (kind) {
    case TokenizerKind::SentencePiece:
      return load_sentencepiece_tokenizer(dir);
    case TokenizerKind::Bpe:
      return load_bpe_tokenizer(dir);
    case TokenizerKind::Auto:
      break;
  }
  const bool has_json = fs::exists(dir / "tokenizer.json");
  const bool has_vocab = fs::exists(dir / "vocab.json"), has_merges = fs::exists(dir / "merges.txt");
  const bool has_model = fs::exists(dir / "tokenizer.model");
  if (has_json) {
    try {
      return load_bpe_tokenizer(dir);
    } catch (const UnsupportedTokenizerError&) {
      // A SentencePiece conversion (Llama-2/TinyLlama ship both files) or a model type we do not
      // read: the .model file is the authoritative source when present.
      if (has_model) return load_sentencepiece_tokenizer(dir);
      throw;
    }
  }
  if (has_vocab && has_merges) return load_bpe_tokenizer(dir);
  if (has_model) return load_sentencepiece_tokenizer(dir);
  throw_error("no tokenizer in ", dir.string(), ": looked for tokenizer.json, vocab.json + merges.txt, tokenizer.model",
              has_vocab ? " (vocab.json is there but merges.txt is missing)"
              : has_merges ? " (merges.txt is there but vocab.json is missing)"
                           : "");
}

const std::vector<std::string>& tokenizer_files() {
  static const std::vector<std::string> files = {"tokenizer.model",         "tokenizer.json",    "tokenizer_config.json",
                                                 "special_tokens_map.json", "added_tokens.json", "vocab.json",
                                                 "merges.txt",              "chat_template.jinja"};
  return files;
}

}  // namespace litestage
