#pragma once
// Drives a loaded tokenizer with fuzzed text: encode with and without special-token matching,
// decode the result, decode ids taken from the text's bytes (in or out of the vocabulary), and
// stream-decode. Each call must succeed or throw litestage::Error.

#include <cstdint>
#include <string_view>
#include <vector>

#include "fuzz_input.hpp"
#include "litestage/tokenizer/tokenizer.hpp"

namespace litestage::fuzz {

inline void exercise_tokenizer(const Tokenizer& tokenizer, std::string_view text) {
  for (bool special : {true, false}) {
    expect_clear_error([&] {
      EncodeOptions options;
      options.parse_special = special;
      auto ids = tokenizer.encode(text, options);
      (void)tokenizer.decode(ids, special);
      for (auto id : ids) (void)tokenizer.piece(id);
    });
  }
  // Two bytes of text per id, mapped onto [-2, vocab_size + 2): mostly real ids, a few invalid.
  const int64_t span = int64_t{tokenizer.vocab_size()} + 4;
  std::vector<int32_t> raw;
  for (std::size_t i = 0; i + 1 < text.size() && raw.size() < 64; i += 2)
    raw.push_back(static_cast<int32_t>((static_cast<uint8_t>(text[i]) | static_cast<uint8_t>(text[i + 1]) << 8) % span - 2));
  expect_clear_error([&] { (void)tokenizer.decode(raw, false); });
  expect_clear_error([&] {
    StreamDecoder stream(tokenizer);
    for (auto id : raw) (void)stream.push(id);
    (void)stream.flush();
  });
  (void)tokenizer.token_id(text);
}

}  // namespace litestage::fuzz
