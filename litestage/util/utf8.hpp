#pragma once
// UTF-8 checks (YAML input, the tokenizers): strict validation (Unicode Table 3-7: no overlongs,
// no surrogates, nothing above U+10FFFF) and repair of decoded bytes with U+FFFD per maximal
// subpart, which is what Hugging Face's String::from_utf8_lossy does for byte-level decoding.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace litestage::utf8 {

inline constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Length of the well-formed sequence starting at s[i], or 0 when the bytes there are not one
// (ill-formed or cut short by the end of s).
size_t sequence_length(std::string_view s, size_t i);

// Byte offset of the first ill-formed byte, or nullopt when s is valid UTF-8.
std::optional<size_t> find_invalid(std::string_view s);

// Throws litestage::Error "<what>: invalid UTF-8 at byte offset N (byte 0xXX)".
void validate(std::string_view s, std::string_view what);

// Valid UTF-8 copy of s: each maximal subpart of an ill-formed sequence becomes one U+FFFD.
std::string repair(std::string_view s);

// Length of the longest prefix of s that does not end inside an incomplete (possibly still
// completable) sequence: the bytes after it may become a code point once more bytes arrive.
size_t complete_prefix_length(std::string_view s);

// Appends the UTF-8 encoding of code point cp (< 0x110000, not a surrogate).
void append(std::string& out, char32_t cp);

// Decodes the code point at s[i] (which must start a well-formed sequence) and advances i.
char32_t next(std::string_view s, size_t& i);

}  // namespace litestage::utf8
