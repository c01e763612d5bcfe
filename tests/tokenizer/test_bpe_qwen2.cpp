// Byte-level BPE on the real Qwen2/Qwen2.5 files in ../shared/tokenizers/qwen2.
//
// Expected ids were derived while writing these tests with an independent Python reference
// (json + the `regex` module, no transformers): NFC, the Qwen2 split regex from the README,
// GPT-2's byte alphabet, then "merge the leftmost lowest-rank pair" with ranks = line order of
// merges.txt, ids looked up in vocab.json; added-token ids from tokenizer_config.json. The
// vocabulary spellings are noted next to each case (Ġ = space, Ċ = newline).

#include <catch2/catch.hpp>
#include <random>

#include "litestage/tokenizer/bpe.hpp"
#include "litestage/tokenizer/tokenizer.hpp"
#include "litestage/tokenizer/tools.hpp"
#include "litestage/util/utf8.hpp"
#include "litestage/util/error.hpp"
#include "support.hpp"

using namespace litestage;
using Ids = std::vector<int32_t>;

namespace {

EncodeOptions plain(bool parse_special = true) {
  EncodeOptions o;
  o.add_bos = false;
  o.parse_special = parse_special;
  return o;
}

// Loaded once per process: tokenizer.json is 7 MB.
const Tokenizer& qwen2() {
  static std::unique_ptr<Tokenizer> tok = load_tokenizer(*test::shared_path("tokenizers/qwen2"));
  return *tok;
}

struct Case {
  const char* text;
  Ids ids;
};

// (text, ids); pieces in the comment.
const std::vector<Case>& qwen2_cases() {
  static const std::vector<Case> cases = {
      // Published: Hello | Ġworld
      {"Hello world", {9707, 1879}},
      // \p{N} alone: digits one by one (ids 15..24 are "0".."9")
      {"12345", {16, 17, 18, 19, 20}},
      // Hello | ĠĠ | Ġworld | ĊĊ | Ġ | Ġfoo | Ċ  ("\s+(?!\S)" leaves the last space to the word)
      {"Hello   world\n\n  foo\n", {9707, 256, 1879, 271, 220, 15229, 198}},
      // I | 'm ;  they | 'll ;  DON | 'T  ((?i:...) contractions)
      {"I'm", {40, 2776}},
      {"they'll", {20069, 3278}},
      {"DON'T", {84641, 17323}},
      // ... | !!!   (one punctuation pre-token, two merged tokens)
      {"...!!!", {1112, 12069}},
      // ca | fÃ© | ĠdÃ©jÃł | Ġvu | , | ĠnaÃ¯ | ve | ĠÃħ | ng | str | Ã¶m
      {"café déjà vu, naïve Ångström", {924, 58858, 45839, 32514, 11, 94880, 586, 79252, 968, 495, 85584}},
      // 你好 | ，(U+FF0C) | 世界   (pre-tokens "你好" and "，世界")
      {"你好，世界", {108386, 3837, 99489}},
      // I | Ġlove | ĠðŁ į ķ (🍕 split over three tokens) | Ġand | ĠðŁĳ į | ðŁı½ (👍🏽) | !
      {"I love 🍕 and 👍🏽!", {40, 2948, 11162, 235, 243, 323, 61804, 235, 145375, 0}},
      // def | Ġf | (x | ):Ċ | ĉreturn | Ġx | ** | 2 | Ġ | Ġ# | Ġsquare
      {"def f(x):\n\treturn x**2  # square", {750, 282, 2075, 982, 853, 856, 334, 17, 220, 671, 9334}},
      // a | čĊ | b
      {"a\r\nb", {64, 319, 65}},
      {" ", {220}},
      {"\n", {198}},
      // The | Ġquick | Ġbrown | Ġfox | Ġjumps | Ġover | Ġ | 1 | 3 | Ġlazy | Ġdogs | .
      {"The quick brown fox jumps over 13 lazy dogs.", {785, 3974, 13876, 38835, 34208, 916, 220, 16, 18, 15678, 12590, 13}},
      // ChatML: <|im_start|>=151644, <|im_end|>=151645; system=8948, user=872, assistant=77091,
      // Ċ=198, You | Ġare | Ġa | Ġhelpful | Ġassistant | . ; Hi | !
      {"<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n"
       "<|im_start|>assistant\n",
       {151644, 8948, 198, 2610, 525, 264, 10950, 17847, 13, 151645, 198, 151644, 872, 198, 13048, 0, 151645, 198,
        151644, 77091, 198}},
  };
  return cases;
}

// Random text from NFC-stable parts (no combining marks), so decode(encode(x)) == x exactly.
std::string random_text(std::mt19937& rng) {
  static const std::vector<std::string> parts = {
      "the", "The", "quick", "DON'T", "I'm", "they'll", "x", "Zebra", "0", "42", "12345", " ", "  ", "   ",
      "\n", "\n\n", "\t", "\r\n", " \n ", ".", "...", "!!!", "?", ",", "(", ")", "**", "#", "'", "\"", "-",
      "é", "café", "naïve", "Ångström", "ß", "Ω", "ñ", "中", "文", "你好", "，", "日本語", "한국어", "क्या",
      "😀", "👍🏽", "🍕", "🇫🇷", "\u00A0", "\u3000", "\u2028", "<|im_start|>", "<|im_end|>", "<|endoftext|>",
      "<|", "|>", "<tool_call>",
  };
  std::string s;
  const size_t n = 1 + rng() % 12;
  for (size_t i = 0; i < n; ++i) s += parts[rng() % parts.size()];
  return s;
}

}  // namespace

TEST_CASE("Qwen2 loads with its conventions", "[tokenizer][qwen2]") {
  REQUIRE_SHARED(dir, "tokenizers/qwen2/tokenizer.json");
  const Tokenizer& tok = qwen2();
  CHECK(tok.kind() == "bpe");
  CHECK(tok.vocab_size() == 151665);  // 151,643 regular + 22 added (151643..151664)
  CHECK_FALSE(tok.bos_id());
  CHECK(tok.eos_ids() == Ids{151645, 151643});  // eos_token <|im_end|>, then <|endoftext|>
  CHECK(tok.pad_id() == 151643);
  CHECK(tok.token_id("<|im_start|>") == 151644);
  CHECK(tok.token_id("Ġworld") == 1879);
  CHECK(tok.piece(1879) == "Ġworld");
  CHECK(tok.piece(151645) == "<|im_end|>");
  CHECK(tok.is_special(151643));
  CHECK_FALSE(tok.is_special(9707));
  CHECK(tok.encode("Hello world") == Ids{9707, 1879});  // add_bos is a no-op: no BOS
  EncodeOptions eos;
  eos.add_eos = true;
  CHECK(tok.encode("Hi", eos) == Ids{13048, 151645});
  // JIT is optional (the interpreter matches the same); say so when it is missing.
  if (!dynamic_cast<const BpeTokenizer&>(tok).regex_jit()) WARN("PCRE2 JIT unavailable: regexes run interpreted");
}

TEST_CASE("Qwen2 exact ids from tokenizer.json", "[tokenizer][qwen2]") {
  REQUIRE_SHARED(dir, "tokenizers/qwen2/tokenizer.json");
  for (const auto& c : qwen2_cases()) {
    INFO("text: " << c.text);
    CHECK(qwen2().encode(c.text, plain()) == c.ids);
    CHECK(qwen2().decode(c.ids, false) == c.text);
  }
}

TEST_CASE("Qwen2 exact ids from vocab.json + merges.txt", "[tokenizer][qwen2]") {
  REQUIRE_SHARED(src, "tokenizers/qwen2/merges.txt");
  auto dir = test::temp_dir("qwen2-vocab-merges");
  for (const char* f : {"vocab.json", "merges.txt", "tokenizer_config.json"}) {
    std::filesystem::create_symlink(src.parent_path() / f, dir / f);
  }
  auto tok = load_tokenizer(dir);
  REQUIRE(tok->kind() == "bpe");
  CHECK(tok->vocab_size() == 151665);
  CHECK(tok->eos_ids() == Ids{151645, 151643});
  for (const auto& c : qwen2_cases()) {
    INFO("text: " << c.text);
    CHECK(tok->encode(c.text, plain()) == c.ids);
  }
}

TEST_CASE("Qwen2 special tokens as plain text, NFC, decode options", "[tokenizer][qwen2]") {
  REQUIRE_SHARED(dir, "tokenizers/qwen2/tokenizer.json");
  const Tokenizer& tok = qwen2();
  // < | im _end | >  once parse_special is off
  CHECK(tok.encode("<|im_end|>", plain(false)) == Ids{27, 91, 318, 6213, 91, 29});
  // Hello < | endo ft ext | >
  CHECK(tok.encode("Hello<|endoftext|>", plain(false)) == Ids{9707, 27, 91, 8691, 723, 427, 91, 29});
  CHECK(tok.encode("Hello<|endoftext|>", plain(true)) == Ids{9707, 151643});
  // NFC: e + U+0301 becomes é = "Ã©" (963)
  CHECK(tok.encode("e\xCC\x81", plain()) == Ids{963});
  CHECK(tok.encode("\xC3\xA9", plain()) == Ids{963});
  CHECK(tok.decode({151644, 872, 198, 13048, 151645}) == "user\nHi");
  CHECK(tok.decode({151644, 872, 198, 13048, 151645}, false) == "<|im_start|>user\nHi<|im_end|>");
  // A lone partial token decodes with U+FFFD, as Hugging Face's lossy decode does.
  CHECK(tok.decode({11162}) == " " + std::string(utf8::kReplacement));  // "ĠðŁ": space + F0 9F
}

TEST_CASE("Qwen2 rejects invalid UTF-8 with the byte offset", "[tokenizer][qwen2]") {
  REQUIRE_SHARED(dir, "tokenizers/qwen2/tokenizer.json");
  CHECK_THROWS_WITH(qwen2().encode("Hello \xE4\xB8 world"), Catch::Contains("invalid UTF-8 at byte offset 6"));
  CHECK_THROWS_WITH(qwen2().encode(std::string("a\0b\xFF", 4)), Catch::Contains("byte offset 3"));
  CHECK_THROWS_AS(qwen2().decode({151665}), Error);
}

TEST_CASE("Qwen2 round trip on random UTF-8 text", "[tokenizer][qwen2]") {
  REQUIRE_SHARED(dir, "tokenizers/qwen2/tokenizer.json");
  const Tokenizer& tok = qwen2();
  std::mt19937 rng(20240601);
  for (int i = 0; i < 400; ++i) {
    const std::string text = random_text(rng);
    INFO("text: " << text);
    // parse_special off: special-token text is ordinary text and comes back as such.
    auto literal = tok.encode(text, plain(false));
    for (int32_t id : literal) REQUIRE_FALSE(tok.is_special(id));
    REQUIRE(tok.decode(literal) == text);
    // parse_special on: the same text when specials are kept.
    REQUIRE(tok.decode(tok.encode(text, plain(true)), false) == text);
  }
}

TEST_CASE("Qwen2 streaming decode never splits a code point", "[tokenizer][qwen2][stream]") {
  REQUIRE_SHARED(dir, "tokenizers/qwen2/tokenizer.json");
  const Tokenizer& tok = qwen2();
  auto stream = [&](const Ids& ids) {
    StreamDecoder dec(tok);
    std::string all;
    for (int32_t id : ids) {
      std::string chunk = dec.push(id);
      REQUIRE_FALSE(utf8::find_invalid(chunk));
      REQUIRE(chunk.find(utf8::kReplacement) == std::string::npos);  // no premature U+FFFD
      all += chunk;
    }
    all += dec.flush();
    return all;
  };
  const std::string text = "Café 中文 and emoji 😀👍🏽🇫🇷 done.\nNext line: naïve, 日本語!";
  const auto ids = tok.encode(text, plain());
  CHECK(stream(ids) == text);
  // Random texts, and ids cut anywhere (a stream may end inside a character).
  std::mt19937 rng(7);
  for (int i = 0; i < 200; ++i) {
    auto t = random_text(rng);
    auto e = tok.encode(t, plain());
    INFO("text: " << t);
    REQUIRE(stream(e) == tok.decode(e));
    const Ids cut(e.begin(), e.begin() + static_cast<std::ptrdiff_t>(rng() % (e.size() + 1)));
    REQUIRE(stream(cut) == tok.decode(cut));
  }
  StreamDecoder dec(tok);
  CHECK(dec.push(11162) == " ");  // "ĠðŁ": the space is complete, F0 9F are not
  CHECK(dec.push(235).empty());   // still incomplete
  CHECK(dec.flush() == std::string(utf8::kReplacement));
}

TEST_CASE("Qwen2 encode benchmark helper", "[tokenizer][qwen2]") {
  REQUIRE_SHARED(dir, "tokenizers/qwen2/tokenizer.json");
  auto r = benchmark_encode(qwen2(), "Hello world\n12345\n你好，世界\n", 1);
  CHECK(r.lines == 3);
  CHECK(r.bytes == 11 + 5 + 15);
  CHECK(r.tokens == 2 + 5 + 3);
  CHECK(r.warm_mb_per_s() > 0);
}
