// Byte-level BPE on synthetic tokenizer files (no ../shared needed): the pre-tokenizer regex
// comes from the file, merge order and the long-word merge loop, both file formats, added
// tokens, conventions.

#include <catch2/catch.hpp>
#include <cstdint>
#include <map>
#include <random>

#include "fixtures.hpp"
#include "litestage/tokenizer/bpe.hpp"
#include "litestage/tokenizer/tokenizer.hpp"
#include "litestage/util/error.hpp"
#include "support.hpp"

using namespace litestage;
using litestage::test::TinyVocab;
using Ids = std::vector<int32_t>;

namespace {

EncodeOptions plain() {
  EncodeOptions o;
  o.add_bos = false;
  return o;
}

// Digits: "1 2" < "3 4" < "12 3" < "4 5" by rank, so the grouping of the pre-tokenizer decides
// the result: one piece "123456" merges 1+2, then 3+4 (rank 1 beats 12+3) -> [12, 34, 5, 6];
// pieces "123" | "456" give [123] and [45, 6].
struct DigitVocab : TinyVocab {
  int32_t d12, d34, d123, d45, xyz, hello_space;
  DigitVocab() {
    d12 = merge("1", "2");
    d34 = merge("3", "4");
    d123 = merge("12", "3");
    d45 = merge("4", "5");
    merge("h", "e");
    merge("l", "l");
    merge("he", "ll");
    merge("hell", "o");
    hello_space = merge(" ", "hello");
    xyz = add("xyz");  // in the vocabulary, but no merge builds it
  }
};

std::filesystem::path write_fixture(const std::string& name, const nlohmann::json& tokenizer_json,
                                    const nlohmann::json& tokenizer_config = nullptr) {
  auto dir = test::temp_dir(name);
  test::write_text(dir / "tokenizer.json", tokenizer_json.dump(2));
  if (!tokenizer_config.is_null()) test::write_text(dir / "tokenizer_config.json", tokenizer_config.dump(2));
  return dir;
}

// The reference semantics of BPE: repeatedly merge the leftmost occurrence of the adjacent pair
// with the lowest rank. Quadratic, for checking the heap implementation.
Ids naive_bpe(const std::string& word, const TinyVocab& v) {
  std::vector<std::string> syms;
  for (char c : word) syms.push_back(byte_level::encode(std::string(1, c)));
  std::map<std::pair<std::string, std::string>, size_t> rank;
  for (size_t i = 0; i < v.merges.size(); ++i) rank.emplace(v.merges[i], i);
  while (syms.size() > 1) {
    size_t best = SIZE_MAX, at = 0;
    for (size_t i = 0; i + 1 < syms.size(); ++i) {
      auto it = rank.find({syms[i], syms[i + 1]});
      if (it != rank.end() && it->second < best) best = it->second, at = i;
    }
    if (best == SIZE_MAX) break;
    syms[at] += syms[at + 1];
    syms.erase(syms.begin() + static_cast<std::ptrdiff_t>(at) + 1);
  }
  Ids ids;
  for (const auto& s : syms) ids.push_back(v.vocab.at(s).get<int32_t>());
  return ids;
}

}  // namespace

TEST_CASE("byte-level alphabet is GPT-2's", "[tokenizer][bpe]") {
  CHECK(byte_level::encode(" ") == "\u0120");   // Ġ
  CHECK(byte_level::encode("\n") == "\u010A");  // Ċ
  CHECK(byte_level::encode("a~") == "a~");
  CHECK(byte_level::encode("\xC3\xA9") == "\u00C3\u00A9");  // é's two bytes: Ã ©
  for (int b = 0; b < 256; ++b) {
    std::string raw(1, static_cast<char>(b));
    REQUIRE(byte_level::decode(byte_level::encode(raw)) == raw);
  }
  CHECK_FALSE(byte_level::decode("\u4E2D"));  // 中 is not in the alphabet
}

TEST_CASE("Llama-3-style tokenizer.json: the Split regex is read from the file", "[tokenizer][bpe]") {
  DigitVocab v;
  auto post = nlohmann::json{{"type", "TemplateProcessing"},
                             {"single", nlohmann::json::array({{{"SpecialToken", {{"id", "<|begin_of_text|>"}, {"type_id", 0}}}},
                                                               {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}})},
                             {"pair", nlohmann::json::array()},
                             {"special_tokens", nlohmann::json::object()}};
  auto added = nlohmann::json::array({test::added_token(300, "<|begin_of_text|>"), test::added_token(301, "<|eot_id|>")});
  auto dir = write_fixture("bpe-llama3", test::tokenizer_json(v, test::split_then_byte_level(test::kLlama3Pattern),
                                                              /*merges_as_pairs=*/true, added, post,
                                                              /*ignore_merges=*/true));
  auto tok = load_tokenizer(dir);
  REQUIRE(tok->kind() == "bpe");
  auto& bpe = dynamic_cast<BpeTokenizer&>(*tok);

  // \p{N}{1,3}: "123456" -> "123" | "456".
  CHECK(bpe.pre_tokenize("123456") == std::vector<std::string>{"123", "456"});
  CHECK(tok->encode("123456", plain()) == Ids{v.d123, v.d45, '6'});
  // ignore_merges: a piece that is a vocabulary entry is taken whole.
  CHECK(tok->encode("xyz", plain()) == Ids{v.xyz});
  CHECK(tok->encode("hello hello", plain()) == Ids{v.id("hello"), v.hello_space});
  // BOS comes from the TemplateProcessing post-processor; added tokens are matched whole.
  CHECK(tok->bos_id() == 300);
  CHECK(tok->encode("12<|eot_id|>") == Ids{300, v.d12, 301});
  CHECK(tok->vocab_size() == 302);
  CHECK(tok->is_special(301));
  CHECK(tok->decode({300, v.d123, 301}) == "123");
  CHECK(tok->decode({300, v.d123, 301}, false) == "<|begin_of_text|>123<|eot_id|>");
  CHECK(tok->eos_ids() == Ids{301});  // <|eot_id|> is a known end-of-turn token
}

TEST_CASE("GPT-2-style ByteLevel{use_regex} uses GPT-2's regex", "[tokenizer][bpe]") {
  DigitVocab v;
  auto dir = write_fixture("bpe-gpt2", test::tokenizer_json(v, test::byte_level_pre_tokenizer(true), false));
  auto tok = load_tokenizer(dir, TokenizerKind::Bpe);
  auto& bpe = dynamic_cast<BpeTokenizer&>(*tok);
  // " ?\p{N}+": one piece, merged by rank: 1+2 (rank 0), then 3+4 (rank 1) wins over 12+3.
  CHECK(bpe.pre_tokenize("123456") == std::vector<std::string>{"123456"});
  CHECK(tok->encode("123456", plain()) == Ids{v.d12, v.d34, '5', '6'});
  // Without ignore_merges, "xyz" is built by merges only: none exist, so three bytes.
  CHECK(tok->encode("xyz", plain()) == Ids{'x', 'y', 'z'});
  CHECK_FALSE(tok->bos_id());
  CHECK(tok->eos_ids().empty());
}

TEST_CASE("Split regex alone, keeping unmatched gaps (Qwen2 digits)", "[tokenizer][bpe]") {
  DigitVocab v;
  auto dir = write_fixture("bpe-qwenlike", test::tokenizer_json(v, test::split_then_byte_level(kQwen2Pattern), true,
                                                                nlohmann::json::array(), nullptr, false,
                                                                {{"type", "NFC"}}));
  auto tok = load_tokenizer(dir);
  CHECK(tok->encode("123456", plain()) == Ids{'1', '2', '3', '4', '5', '6'});
  // NFC from the file: e + U+0301 encodes as the composed é's two bytes.
  CHECK(tok->encode("e\xCC\x81", plain()) == Ids{0xC3, 0xA9});
}

TEST_CASE("merge loop equals the reference on random and long words", "[tokenizer][bpe]") {
  // Random merges over a three-letter alphabet; words up to 60 letters, plus one of 5000.
  std::mt19937 rng(1234);
  TinyVocab v;
  std::vector<std::string> symbols{"a", "b", "c"};
  for (int i = 0; i < 60; ++i) {
    const auto& l = symbols[rng() % symbols.size()];
    const auto& r = symbols[rng() % symbols.size()];
    if (l.size() + r.size() > 12) continue;
    v.merge(l, r);
    symbols.push_back(l + r);
  }
  auto dir = write_fixture("bpe-random", test::tokenizer_json(v, test::byte_level_pre_tokenizer(false), false));
  auto tok = load_tokenizer(dir);
  for (int n = 0; n < 300; ++n) {
    std::string word;
    const size_t len = 1 + rng() % 60;
    for (size_t i = 0; i < len; ++i) word += static_cast<char>('a' + rng() % 3);
    INFO(word);
    REQUIRE(tok->encode(word, plain()) == naive_bpe(word, v));
  }
  std::string long_word;
  for (int i = 0; i < 5000; ++i) long_word += static_cast<char>('a' + rng() % 3);
  CHECK(tok->encode(long_word, plain()) == naive_bpe(long_word, v));
  CHECK(tok->decode(tok->encode(long_word, plain())) == long_word);
  // A run of one letter with "a a" merged: pairs are taken leftmost first.
  TinyVocab w;
  int32_t aa = w.merge("a", "a");
  int32_t aaaa = w.merge("aa", "aa");
  auto dir2 = write_fixture("bpe-run", test::tokenizer_json(w, test::byte_level_pre_tokenizer(false), true));
  auto tok2 = load_tokenizer(dir2);
  CHECK(tok2->encode("aaaaaaa", plain()) == Ids{aaaa, aa, 'a'});
  CHECK(tok2->encode(std::string(100000, 'a'), plain()).size() == 25000);
}

TEST_CASE("vocab.json + merges.txt with tokenizer_config.json added tokens", "[tokenizer][bpe]") {
  DigitVocab v;
  auto dir = test::temp_dir("bpe-vocab-merges");
  test::write_text(dir / "vocab.json", v.vocab.dump());
  std::string merges = "#version: 0.2\n";
  for (const auto& [l, r] : v.merges) merges += l + " " + r + "\r\n";  // CRLF tolerated
  test::write_text(dir / "merges.txt", merges);
  nlohmann::json config = {
      {"tokenizer_class", "GPT2Tokenizer"},
      {"bos_token", "<|endoftext|>"},
      {"eos_token", {{"content", "<|endoftext|>"}, {"__type", "AddedToken"}}},
      {"pad_token", nullptr},
      {"added_tokens_decoder",
       {{"400", {{"content", "<|endoftext|>"}, {"special", true}, {"lstrip", false}, {"rstrip", false}}},
        {"401", {{"content", "<tool>"}, {"special", false}}}}},
  };
  test::write_text(dir / "tokenizer_config.json", config.dump());
  auto tok = load_tokenizer(dir);
  REQUIRE(tok->kind() == "bpe");
  CHECK(tok->encode("123456<|endoftext|>", plain()) == Ids{v.d12, v.d34, '5', '6', 400});
  CHECK(tok->encode("<tool>hello", plain()) == Ids{401, v.id("hello")});
  CHECK_FALSE(tok->bos_id());  // GPT-2 names a bos_token but does not add it
  CHECK(tok->eos_ids() == Ids{400});
  CHECK_FALSE(tok->pad_id());
  CHECK(tok->is_special(400));
  CHECK_FALSE(tok->is_special(401));
  CHECK(tok->decode({401, 400, '7'}) == "<tool>7");  // non-special added tokens stay
  CHECK(tok->token_id("<tool>") == 401);
  CHECK(tok->piece(v.hello_space) == "\u0120hello");
}

TEST_CASE("parse_special=false encodes added-token text as plain text", "[tokenizer][bpe]") {
  DigitVocab v;
  auto added = nlohmann::json::array({test::added_token(300, "<|a|>"), test::added_token(301, "<|a|><|b|>")});
  auto dir = write_fixture("bpe-added", test::tokenizer_json(v, test::split_then_byte_level(kQwen2Pattern), true, added));
  auto tok = load_tokenizer(dir);
  CHECK(tok->encode("x<|a|><|b|>y", plain()) == Ids{'x', 301, 'y'});  // longest match wins
  CHECK(tok->encode("<|a|>", plain()) == Ids{300});
  EncodeOptions literal = plain();
  literal.parse_special = false;
  auto ids = tok->encode("<|a|>", literal);
  CHECK(ids == Ids{'<', '|', 'a', '|', '>'});  // " ?[^\s\p{L}\p{N}]+" etc. with no merges
  CHECK(tok->decode(ids) == "<|a|>");
}

TEST_CASE("lstrip/rstrip added tokens absorb adjacent whitespace", "[tokenizer][bpe]") {
  DigitVocab v;
  auto mask = test::added_token(300, "<mask>");
  mask["lstrip"] = true;
  mask["rstrip"] = true;
  auto dir = write_fixture("bpe-strip", test::tokenizer_json(v, test::byte_level_pre_tokenizer(false), true,
                                                             nlohmann::json::array({mask})));
  auto tok = load_tokenizer(dir);
  CHECK(tok->encode("a  <mask>  b", plain()) == Ids{'a', 300, 'b'});
}

TEST_CASE("byte-level BPE rejects invalid UTF-8 with the byte offset", "[tokenizer][bpe]") {
  DigitVocab v;
  auto dir = write_fixture("bpe-invalid", test::tokenizer_json(v, test::byte_level_pre_tokenizer(true), true));
  auto tok = load_tokenizer(dir);
  CHECK_THROWS_AS(tok->encode("ok \xC3("), Error);
  CHECK_THROWS_WITH(tok->encode("ok \xC3("), Catch::Contains("invalid UTF-8 at byte offset 3"));
  CHECK_THROWS_WITH(tok->decode({999}), Catch::Contains("token id 999"));
  CHECK_THROWS_WITH(tok->piece(-1), Catch::Contains("token id -1"));
}
