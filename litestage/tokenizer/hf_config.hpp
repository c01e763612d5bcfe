#pragma once
// What a Hugging Face tokenizer or checkpoint directory states outside the model file:
// tokenizer_config.json (special-token names, add_bos_token, added_tokens_decoder,
// chat_template), config.json and generation_config.json (bos/eos/pad ids). Both tokenizers
// read their bos/eos/pad conventions from here.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace litestage {

// An entry of tokenizer.json's "added_tokens" or tokenizer_config.json's "added_tokens_decoder".
struct AddedToken {
  int32_t id = -1;
  std::string content;
  bool special = false;  // dropped by decode(skip_special = true)
  bool lstrip = false;   // a match absorbs the whitespace on its left ...
  bool rstrip = false;   // ... or on its right
};

struct HfConventions {
  // tokenizer_config.json
  std::optional<std::string> bos_token, eos_token, pad_token;
  std::optional<bool> add_bos_token, add_eos_token;
  std::optional<std::string> tokenizer_class;
  std::vector<AddedToken> added_tokens;
  std::optional<std::string> chat_template;  // the "default" one when several are named
  // config.json, then generation_config.json (ids may repeat; callers deduplicate)
  std::optional<int32_t> bos_token_id, pad_token_id;
  std::vector<int32_t> eos_token_ids;
};

// Reads whichever of the three files exist in dir; none is required. Throws litestage::Error
// naming the file and key when a file is malformed.
HfConventions read_hf_conventions(const std::filesystem::path& dir);

// What a tokenizer's own files imply where tokenizer_config.json and config.json are silent.
struct SpecialTokenDefaults {
  bool add_bos = false;                    // when add_bos_token is absent
  std::optional<std::string> bos_piece;    // e.g. the BOS of tokenizer.json's post_processor template
  std::string bos_piece_source;            // where bos_piece was read (error messages)
  std::optional<int32_t> bos_id, eos_id, pad_id;  // e.g. the SentencePiece model's own ids
  std::vector<std::string> eos_pieces;     // also end generation when in the vocabulary
};

struct SpecialTokenIds {
  std::optional<int32_t> bos;  // prepended by encode (nullopt: none)
  std::vector<int32_t> eos;    // every id that ends generation, without repeats
  std::optional<int32_t> pad;
};

// The one rule both tokenizers follow, as Hugging Face's tokenizers do: a token named in
// tokenizer_config.json (bos_token, eos_token, pad_token) wins over an id from config.json /
// generation_config.json, which wins over the tokenizer file's own default. BOS is added when
// add_bos_token says so, else when `defaults.add_bos`; add_bos_token: true with no BOS anywhere
// is an error. EOS is the union, in that order. `token_id` looks a piece up in the vocabulary;
// `config_file` names tokenizer_config.json in errors.
SpecialTokenIds resolve_special_tokens(const HfConventions& conv, const SpecialTokenDefaults& defaults,
                                       const std::function<std::optional<int32_t>(std::string_view)>& token_id,
                                       const std::string& config_file);

}  // namespace litestage
