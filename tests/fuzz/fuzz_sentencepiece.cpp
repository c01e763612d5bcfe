// SentencePiece loading as far as LiteStage's own code goes: the model file is the demo model's
// (valid; the SentencePiece library parses it), while tokenizer_config.json, special_tokens_map
// and config.json — which decide bos/eos/pad and added tokens — come from the input.
// Input: tokenizer_config.json [NUL config.json [NUL text]].

#include <filesystem>

#include "fuzz_tokenizer.hpp"
#include "litestage/tokenizer/sentencepiece.hpp"

#ifndef LITESTAGE_SOURCE_DIR
#error "LITESTAGE_SOURCE_DIR must name the source tree (for data/demo-model/tokenizer.model)"
#endif

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace litestage::fuzz;
  static const bool linked = [] {
    std::filesystem::path model = std::filesystem::path(LITESTAGE_SOURCE_DIR) / "data/demo-model/tokenizer.model";
    std::filesystem::copy_file(model, scratch_dir() / "tokenizer.model",
                               std::filesystem::copy_options::overwrite_existing);
    return true;
  }();
  (void)linked;
  auto parts = split_parts(data, size, 3);
  write_part("tokenizer_config.json", parts, 0);
  write_part("config.json", parts, 1);
  std::string_view text = parts.size() > 2 ? parts[2] : std::string_view("Recall: water boils. </s> <s>");
  expect_clear_error([&] {
    auto tokenizer = litestage::load_sentencepiece_tokenizer(scratch_dir());
    exercise_tokenizer(*tokenizer, text);
  });
  return 0;
}
