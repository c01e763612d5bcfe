#pragma once
// A stand-in tokenizer for generation tests: id i decodes to one printable character, so tests
// of the decode loop need no tokenizer files.

#include <memory>

#include "litestage/tokenizer/tokenizer.hpp"

namespace litestage::test {

class CharTokenizer : public Tokenizer {
 public:
  explicit CharTokenizer(int32_t vocab, int32_t eos = 2) : vocab_(vocab), eos_(eos) {}
  std::vector<int32_t> encode(std::string_view text, const EncodeOptions& o = {}) const override {
    std::vector<int32_t> ids;
    if (o.add_bos) ids.push_back(1);
    for (char c : text) ids.push_back(static_cast<int32_t>((static_cast<unsigned char>(c) % (vocab_ - 3)) + 3));
    return ids;
  }
  // Every id is printable (none is special), so any generated sequence has visible text.
  std::string decode(const std::vector<int32_t>& ids, bool = true) const override {
    std::string s;
    for (auto id : ids) s += static_cast<char>('!' + id % 90);
    return s;
  }
  int32_t vocab_size() const override { return vocab_; }
  std::string piece(int32_t id) const override { return decode({id}); }
  std::optional<int32_t> token_id(std::string_view) const override { return std::nullopt; }
  bool is_special(int32_t) const override { return false; }
  std::optional<int32_t> bos_id() const override { return 1; }
  std::vector<int32_t> eos_ids() const override { return {eos_}; }
  std::optional<int32_t> pad_id() const override { return 0; }
  std::string kind() const override { return "char"; }

 private:
  int32_t vocab_, eos_;
};

}  // namespace litestage::test
