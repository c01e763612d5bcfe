#pragma once
// Unicode NFC for the tokenizer.json "NFC" normalizer (Qwen2), through ICU.

#include <string>
#include <string_view>

namespace litestage {

// True when s may change under NFC. False is exact for text whose code points are all below
// U+0300 (nothing there composes or decomposes), the common case, which skips ICU entirely.
bool nfc_may_change(std::string_view s);

// NFC of valid UTF-8 s. Throws litestage::Error when ICU fails.
std::string nfc_normalize(std::string_view s);

}  // namespace litestage
