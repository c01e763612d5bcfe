#pragma once
// Cuts added/special tokens out of raw text before any normalization or pre-tokenization, as
// Hugging Face tokenizers do: scanning left to right, the longest token starting at a position
// wins, and a matched token is never split. lstrip/rstrip tokens absorb adjacent ASCII
// whitespace. Matching works on bytes: a valid UTF-8 token can only match at code-point
// boundaries of valid UTF-8 text.

#include <algorithm>
#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "litestage/tokenizer/hf_config.hpp"

namespace litestage {

class AddedTokenMatcher {
 public:
  AddedTokenMatcher() = default;
  explicit AddedTokenMatcher(std::vector<AddedToken> tokens) : tokens_(std::move(tokens)) {
    std::stable_sort(tokens_.begin(), tokens_.end(),
                     [](const AddedToken& a, const AddedToken& b) { return a.content.size() > b.content.size(); });
    for (uint32_t i = 0; i < tokens_.size(); ++i) {
      if (!tokens_[i].content.empty()) by_first_byte_[static_cast<unsigned char>(tokens_[i].content[0])].push_back(i);
    }
  }

  bool empty() const { return tokens_.empty(); }
  const std::vector<AddedToken>& tokens() const { return tokens_; }

  // Calls on_text(std::string_view) for each non-empty stretch of ordinary text and
  // on_token(const AddedToken&) for each match, in text order.
  template <typename OnText, typename OnToken>
  void split(std::string_view text, OnText&& on_text, OnToken&& on_token) const {
    const size_t n = text.size();
    size_t segment = 0, i = 0;
    while (i < n) {
      const auto& candidates = by_first_byte_[static_cast<unsigned char>(text[i])];
      const AddedToken* hit = nullptr;
      for (uint32_t c : candidates) {  // longest first
        const auto& content = tokens_[c].content;
        if (content.size() <= n - i && text.compare(i, content.size(), content) == 0) {
          hit = &tokens_[c];
          break;
        }
      }
      if (!hit) {
        ++i;
        continue;
      }
      size_t text_end = i, next = i + hit->content.size();
      if (hit->lstrip) {
        while (text_end > segment && is_space(text[text_end - 1])) --text_end;
      }
      if (hit->rstrip) {
        while (next < n && is_space(text[next])) ++next;
      }
      if (text_end > segment) on_text(text.substr(segment, text_end - segment));
      on_token(*hit);
      segment = i = next;
    }
    if (segment < n) on_text(text.substr(segment));
  }

 private:
  static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

  std::vector<AddedToken> tokens_;  // longest content first
  std::array<std::vector<uint32_t>, 256> by_first_byte_;
};

}  // namespace litestage
