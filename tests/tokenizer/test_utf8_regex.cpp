// UTF-8 validation/repair, NFC, and the PCRE2 split used by the pre-tokenizer.

#include <catch2/catch.hpp>

#include "litestage/tokenizer/bpe.hpp"
#include "litestage/tokenizer/normalizer.hpp"
#include "litestage/tokenizer/regex.hpp"
#include "litestage/util/utf8.hpp"
#include "litestage/util/error.hpp"

using namespace litestage;

namespace {
std::vector<std::string> split(const Regex& re, std::string_view text) {
  std::vector<std::string> out;
  re.split_isolated(text, [&](std::string_view p) { out.emplace_back(p); });
  return out;
}
const std::string R = std::string(utf8::kReplacement);
}  // namespace

TEST_CASE("UTF-8 validation reports the first bad byte", "[tokenizer][utf8]") {
  CHECK_FALSE(utf8::find_invalid("plain ascii, é, 中, 😀"));
  CHECK_FALSE(utf8::find_invalid(""));
  CHECK(utf8::find_invalid("abc\xFF" "def") == size_t{3});
  CHECK(utf8::find_invalid("ok\xC0\xAF") == size_t{2});           // overlong '/'
  CHECK(utf8::find_invalid("x\xED\xA0\x80") == size_t{1});        // surrogate U+D800
  CHECK(utf8::find_invalid("\xF4\x90\x80\x80") == size_t{0});     // above U+10FFFF
  CHECK(utf8::find_invalid("ab\xE4\xB8") == size_t{2});           // cut short
  CHECK(utf8::find_invalid("0123456789abcdef\x80") == size_t{16});  // after the 8-byte fast path
  CHECK_THROWS_WITH(utf8::validate("abc\xFF", "encode"),
                    Catch::Contains("byte offset 3") && Catch::Contains("0xFF"));
}

TEST_CASE("UTF-8 repair replaces each maximal subpart once", "[tokenizer][utf8]") {
  CHECK(utf8::repair("a\xE4\xB8" "b") == "a" + R + "b");  // one incomplete 中
  CHECK(utf8::repair("\xF0\x9F\x98") == R);               // one incomplete 😀
  CHECK(utf8::repair("\x80\x80") == R + R);               // two stray continuation bytes
  CHECK(utf8::repair("\xED\xA0\x80") == R + R + R);       // surrogates are three subparts
  CHECK(utf8::repair("中文") == "中文");
}

TEST_CASE("complete prefix stops before a code point that is still arriving", "[tokenizer][utf8]") {
  CHECK(utf8::complete_prefix_length("ab") == 2);
  CHECK(utf8::complete_prefix_length("ab\xE4\xB8") == 2);
  CHECK(utf8::complete_prefix_length("ab\xF0\x9F\x98") == 2);
  CHECK(utf8::complete_prefix_length("ab\xC3") == 2);
  CHECK(utf8::complete_prefix_length("ab\xFF") == 3);     // never completes
  CHECK(utf8::complete_prefix_length("a\x80") == 2);      // stray continuation: settled
  CHECK(utf8::complete_prefix_length("\xE4\xB8\xAD") == 3);
}

TEST_CASE("NFC composes and leaves composed text alone", "[tokenizer][nfc]") {
  CHECK(nfc_normalize("e\xCC\x81") == "\xC3\xA9");       // e + U+0301 -> é
  CHECK(nfc_normalize("\xC3\xA9") == "\xC3\xA9");
  CHECK(nfc_normalize("Ångström 中文 😀") == "Ångström 中文 😀");
  CHECK_FALSE(nfc_may_change("plain ascii and é"));       // all below U+0300
  CHECK(nfc_may_change("e\xCC\x81"));
}

TEST_CASE("Regex split keeps matches and the gaps between them", "[tokenizer][regex]") {
  Regex digits(R"(\p{N}+)");
  CHECK(split(digits, "ab12cd34") == std::vector<std::string>{"ab", "12", "cd", "34"});
  CHECK(split(digits, "") == std::vector<std::string>{});
  CHECK(split(digits, "xyz") == std::vector<std::string>{"xyz"});
  Regex empty_ok(R"(x*)");  // empty matches produce no pieces
  CHECK(split(empty_ok, "axxb") == std::vector<std::string>{"a", "xx", "b"});
  CHECK_THROWS_WITH(Regex("(unclosed"), Catch::Contains("cannot compile regex") && Catch::Contains("offset"));
}

TEST_CASE("Qwen2 regex pre-tokenizes like the Hugging Face pattern", "[tokenizer][regex]") {
  Regex qwen(kQwen2Pattern);
  INFO("JIT: " << qwen.jit());
  // Expected pieces follow the regex alternatives in order (checked with Python's `regex`).
  CHECK(split(qwen, "Hello world") == std::vector<std::string>{"Hello", " world"});
  CHECK(split(qwen, "12345") == std::vector<std::string>{"1", "2", "3", "4", "5"});
  CHECK(split(qwen, "I'm DON'T they'll") == std::vector<std::string>{"I", "'m", " DON", "'T", " they", "'ll"});
  CHECK(split(qwen, "Hello   world\n\n  foo\n") ==
        std::vector<std::string>{"Hello", "  ", " world", "\n\n", " ", " foo", "\n"});
  CHECK(split(qwen, "...!!! x") == std::vector<std::string>{"...!!!", " x"});
  CHECK(split(qwen, "你好，世界") == std::vector<std::string>{"你好", "，世界"});
  CHECK(split(qwen, "a\u00A0b") == std::vector<std::string>{"a", "\u00A0b"});  // NBSP is not a letter
  Regex gpt2(kGpt2Pattern);
  CHECK(split(gpt2, "12345 678") == std::vector<std::string>{"12345", " 678"});
}
