#pragma once
// What a Hugging Face tokenizer or checkpoint directory states outside the model file:
// tokenizer_config.json (special-token names, add_bos_token, added_tokens_decoder,
// chat_template), config.json and generation_config.json (bos/eos/pad ids). Both tokenizers
// read their bos/eos/pad conventions from here.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
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

}  // namespace litestage
