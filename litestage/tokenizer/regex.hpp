#pragma once
// A PCRE2 pattern compiled in UTF + UCP mode (so \s, \p{L}, \p{N} and (?i) follow Unicode, as in
// the Oniguruma regexes Hugging Face tokenizers run), JIT-compiled when the library supports it.
// Used for the pre-tokenizer Split patterns read from tokenizer.json.

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace litestage {

class Regex {
 public:
  // Throws litestage::Error with PCRE2's message and the offset in the pattern.
  explicit Regex(std::string pattern);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  const std::string& pattern() const { return pattern_; }
  bool jit() const { return jit_; }

  // Finds the first non-empty match in subject at or after `start`. subject must be valid UTF-8
  // and start a code-point boundary (the tokenizers validate input once, up front). Lookarounds
  // see the whole subject.
  bool find(std::string_view subject, size_t start, size_t& match_begin, size_t& match_end) const;

  // Hugging Face's Split behaviour "Isolated": every match is its own piece and so is every
  // stretch between matches, in text order. fn(std::string_view) is called once per piece.
  template <typename Fn>
  void split_isolated(std::string_view subject, Fn&& fn) const {
    size_t pos = 0, b = 0, e = 0;
    while (pos < subject.size() && find(subject, pos, b, e)) {
      if (b > pos) fn(subject.substr(pos, b - pos));
      fn(subject.substr(b, e - b));
      pos = e;
    }
    if (pos < subject.size()) fn(subject.substr(pos));
  }

 private:
  std::string pattern_;
  void* code_ = nullptr;  // pcre2_code_8*, kept opaque so users need not include pcre2.h
  bool jit_ = false;
};

}  // namespace litestage
