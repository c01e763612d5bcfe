// tokenizer.json -> byte-level BPE. Input: tokenizer.json [NUL tokenizer_config.json [NUL text]].
// A loaded tokenizer then encodes and decodes the text.

#include "fuzz_tokenizer.hpp"
#include "litestage/tokenizer/bpe.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace litestage::fuzz;
  auto parts = split_parts(data, size, 3);
  write_part("tokenizer.json", parts, 0);
  write_part("tokenizer_config.json", parts, 1);
  std::string_view text = parts.size() > 2 ? parts[2] : std::string_view("Hello, world! 12345 <|im_end|>");
  expect_clear_error([&] {
    auto tokenizer = litestage::load_bpe_tokenizer(scratch_dir());
    exercise_tokenizer(*tokenizer, text);
  });
  return 0;
}
