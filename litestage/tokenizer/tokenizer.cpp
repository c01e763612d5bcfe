#include "litestage/tokenizer/tokenizer.hpp"

#include "litestage/util/utf8.hpp"
#include "litestage/util/error.hpp"
#include "litestage/util/strings.hpp"

namespace litestage {

namespace {

// End of the text that later ids cannot change: before an incomplete UTF-8 tail and before a
// trailing run of U+FFFD (which may be bytes still waiting for the rest of their code point).
size_t settled_length(const std::string& text) {
  size_t end = utf8::complete_prefix_length(text);
  while (end >= utf8::kReplacement.size() &&
         std::string_view(text).substr(end - utf8::kReplacement.size(), utf8::kReplacement.size()) ==
             utf8::kReplacement) {
    end -= utf8::kReplacement.size();
  }
  return end;
}

}  // namespace

// The decode window ids_[start_..] always starts with an id whose text is already emitted, so
// window-relative offsets carry the tokenizer's context rules: SentencePiece strips the space of
// the first piece only, so once the window opens with non-empty text, later pieces decode as in
// the full sequence; byte-level BPE is plain byte concatenation. Re-anchoring requires that the
// whole text so far is settled and that the newest id alone decodes to exactly the tail of it,
// which keeps the window to one or two ids except inside an unfinished multi-byte character.
std::string StreamDecoder::push(int32_t id) {
  ids_.push_back(id);
  const std::vector<int32_t> window(ids_.begin() + static_cast<std::ptrdiff_t>(start_), ids_.end());
  const std::string text = tokenizer_->decode(window);
  const size_t settled = settled_length(text);
  std::string out;
  if (settled > emitted_) {
    out = text.substr(emitted_, settled - emitted_);
    emitted_ = settled;
  }
  if (settled == text.size() && !text.empty() && window.size() > 1) {
    const std::string last = tokenizer_->decode({id});
    if (!last.empty() && ends_with(text, last)) {
      start_ = ids_.size() - 1;
      emitted_ = last.size();
    }
  }
  return out;
}

void StreamDecoder::seed(const std::vector<int32_t>& context) {
  for (int32_t id : context) push(id);
  // Whatever the context left unsettled counts as shown: only new ids produce output.
  const std::vector<int32_t> window(ids_.begin() + static_cast<std::ptrdiff_t>(start_), ids_.end());
  emitted_ = tokenizer_->decode(window).size();
}

std::string StreamDecoder::flush() {
  const std::vector<int32_t> window(ids_.begin() + static_cast<std::ptrdiff_t>(start_), ids_.end());
  const std::string text = tokenizer_->decode(window);
  std::string out = text.size() > emitted_ ? text.substr(emitted_) : std::string();
  emitted_ = text.size();
  return out;
}

}  // namespace litestage
