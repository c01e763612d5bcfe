#pragma once
// SentencePiece tokenizer (Llama-2, TinyLlama, llama2.c models) over libsentencepiece.
//
// Conventions, as Hugging Face's (legacy) Llama tokenizer applies them:
//   - encode(add_bos) prepends BOS (config.json bos_token_id, else the model's <s>), unless
//     tokenizer_config.json says add_bos_token: false;
//   - with parse_special, the model's control pieces (<s>, </s>) and tokenizer_config.json's
//     added tokens written in the text become their ids; each stretch of text between them is
//     encoded as its own SentencePiece sequence (so it gets its own dummy-prefix space, as in
//     the Llama-2 tokenizer: "</s>\n" -> [2, 29871, 13]);
//   - decode follows SentencePiece: byte-fallback pieces (<0x0A>) become bytes, ill-formed bytes
//     U+FFFD each, and the first piece loses the space its dummy prefix stands for. Special
//     tokens kept by decode(ids, false) appear as their piece text ("<s>").
// The unknown piece (<unk>) is not special: it decodes to " ⁇ " as in SentencePiece.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "litestage/tokenizer/hf_config.hpp"
#include "litestage/tokenizer/tokenizer.hpp"

namespace litestage {

class SentencePieceTokenizer final : public Tokenizer {
 public:
  // Loads model_file (tokenizer.model). Added tokens with ids inside the model must name the
  // model's own piece; ids past its end extend the vocabulary.
  explicit SentencePieceTokenizer(const std::filesystem::path& model_file, std::vector<AddedToken> added = {});
  ~SentencePieceTokenizer() override;

  std::vector<int32_t> encode(std::string_view text, const EncodeOptions& options = {}) const override;
  std::string decode(const std::vector<int32_t>& ids, bool skip_special = true) const override;
  int32_t vocab_size() const override;
  std::string piece(int32_t id) const override;
  std::optional<int32_t> token_id(std::string_view piece) const override;
  bool is_special(int32_t id) const override;
  std::optional<int32_t> bos_id() const override;
  std::vector<int32_t> eos_ids() const override;
  std::optional<int32_t> pad_id() const override;
  std::string kind() const override { return "sentencepiece"; }

  // bos: what encode(add_bos) prepends (none when nullopt); eos[0] is what add_eos appends.
  void set_special_ids(std::optional<int32_t> bos, std::vector<int32_t> eos, std::optional<int32_t> pad);
  // The model's own ids (from the .model file), before any configuration.
  std::optional<int32_t> model_bos_id() const;
  std::optional<int32_t> model_eos_id() const;
  std::optional<int32_t> model_pad_id() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Loads <dir>/tokenizer.model with the directory's conventions (hf_config.hpp): bos as above;
// eos = tokenizer_config eos_token, config/generation_config eos_token_id(s), the model's </s>;
// pad = pad_token, pad_token_id, or the model's pad piece.
std::unique_ptr<SentencePieceTokenizer> load_sentencepiece_tokenizer(const std::filesystem::path& dir);

}  // namespace litestage
