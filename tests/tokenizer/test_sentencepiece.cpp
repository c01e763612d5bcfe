// SentencePiece on the real Llama-2 tokenizer (32000 pieces) and the stories260K one (512
// pieces, remove_extra_whitespaces on). Expected ids come from SentencePiece's own spm_encode
// and from the vocabularies: <unk> 0, <s> 1, </s> 2, byte pieces <0x00>..<0xFF> at 3..258, so
// "\n" is <0x0A> = 13.

#include <catch2/catch.hpp>
#include <fstream>
#include <random>

#include "litestage/tokenizer/sentencepiece.hpp"
#include "litestage/tokenizer/tokenizer.hpp"
#include "litestage/util/utf8.hpp"
#include "litestage/util/error.hpp"
#include "support.hpp"

using namespace litestage;
using Ids = std::vector<int32_t>;

namespace {

EncodeOptions no_bos(bool parse_special = true) {
  EncodeOptions o;
  o.add_bos = false;
  o.parse_special = parse_special;
  return o;
}

std::string stream_all(const Tokenizer& tok, const Ids& ids) {
  StreamDecoder dec(tok);
  std::string all;
  for (int32_t id : ids) {
    std::string chunk = dec.push(id);
    REQUIRE_FALSE(utf8::find_invalid(chunk));
    all += chunk;
  }
  return all + dec.flush();
}

}  // namespace

TEST_CASE("Llama-2 SentencePiece known ids", "[tokenizer][sentencepiece]") {
  REQUIRE_SHARED(dir, "tokenizers/llama2/tokenizer.model");
  auto tok = load_tokenizer(dir.parent_path());
  REQUIRE(tok->kind() == "sentencepiece");
  CHECK(tok->vocab_size() == 32000);
  CHECK(tok->bos_id() == 1);
  CHECK(tok->eos_ids() == Ids{2});
  CHECK_FALSE(tok->pad_id());
  CHECK(tok->piece(13) == "<0x0A>");
  CHECK(tok->piece(15043) == "\u2581Hello");
  CHECK(tok->token_id("\u2581world") == 3186);
  CHECK_FALSE(tok->token_id("no such piece"));
  CHECK(tok->is_special(1));
  CHECK(tok->is_special(2));
  CHECK_FALSE(tok->is_special(0));  // <unk> is content (" ⁇ "), not special

  CHECK(tok->encode("Hello world", no_bos()) == Ids{15043, 3186});
  CHECK(tok->encode("Hello world") == Ids{1, 15043, 3186});
  EncodeOptions eos;
  eos.add_eos = true;
  CHECK(tok->encode("Hello world", eos) == Ids{1, 15043, 3186, 2});
  // ▁The ▁capital ▁of ▁France ▁is ▁Paris .
  CHECK(tok->encode("The capital of France is Paris.", no_bos()) == Ids{450, 7483, 310, 3444, 338, 3681, 29889});
  // Byte fallback: "\n" has no piece, so <0x0A> = 13 (after the dummy-prefix ▁ = 29871).
  CHECK(tok->encode("\n", no_bos()) == Ids{29871, 13});
  CHECK(tok->encode("Hello\nworld", no_bos()) == Ids{15043, 13, 11526});  // ▁Hello <0x0A> world
  // ▁na ï ve ▁c afé ▁ 中 文 ▁ <0xF0> <0x9F> <0x98> <0x80> ▁ok  (😀 has no piece: four bytes)
  CHECK(tok->encode("naïve café 中文 😀 ok", no_bos()) ==
        Ids{1055, 30085, 345, 274, 28059, 29871, 30275, 30333, 29871, 243, 162, 155, 131, 3431});
  // ▁ 1 2 3 4: digits are single pieces
  CHECK(tok->encode("1234", no_bos()) == Ids{29871, 29896, 29906, 29941, 29946});
}

TEST_CASE("Llama-2 leading spaces and decode", "[tokenizer][sentencepiece]") {
  REQUIRE_SHARED(dir, "tokenizers/llama2/tokenizer.model");
  auto tok = load_tokenizer(dir.parent_path(), TokenizerKind::SentencePiece);
  // The dummy prefix turns "Hello" into "▁Hello"; a real leading space adds "▁" (29871).
  CHECK(tok->encode(" Hello", no_bos()) == Ids{29871, 15043});
  CHECK(tok->encode("Hello  world", no_bos()) == Ids{15043, 29871, 3186});
  // Decode drops the dummy-prefix space of the first piece only, after any control pieces.
  CHECK(tok->decode({15043, 3186}) == "Hello world");
  CHECK(tok->decode({1, 15043, 3186}) == "Hello world");
  CHECK(tok->decode({29871, 15043}) == " Hello");
  CHECK(tok->decode({3186}) == "world");
  // Byte pieces become bytes; an unfinished character decodes to U+FFFD per byte.
  CHECK(tok->decode({13}) == "\n");
  CHECK(tok->decode({0xE4 + 3, 0xB8 + 3, 0xAD + 3}) == "中");
  const std::string R(utf8::kReplacement);
  CHECK(tok->decode({0xE4 + 3, 0xB8 + 3}) == R + R);
  // Specials kept as text; the piece after them keeps its space.
  CHECK(tok->decode({1, 15043, 3186, 2}, false) == "<s> Hello world</s>");
  CHECK_THROWS_WITH(tok->decode({32000}), Catch::Contains("token id 32000"));
}

TEST_CASE("Llama-2 parse_special matches control pieces", "[tokenizer][sentencepiece]") {
  REQUIRE_SHARED(dir, "tokenizers/llama2/tokenizer.model");
  auto tok = load_tokenizer(dir.parent_path());
  CHECK(tok->encode("<s>Hello</s>", no_bos()) == Ids{1, 15043, 2});
  // Each stretch between specials gets its own dummy prefix, as in the Llama-2 tokenizer.
  CHECK(tok->encode("</s>\n", no_bos()) == Ids{2, 29871, 13});
  // As text: ▁< s > Hello </ s >
  CHECK(tok->encode("<s>Hello</s>", no_bos(false)) == Ids{529, 29879, 29958, 10994, 829, 29879, 29958});
  CHECK_THROWS_WITH(tok->encode("bad \xF0\x28\x8C\x28"), Catch::Contains("invalid UTF-8 at byte offset 4"));
}

TEST_CASE("Llama-2 round trip", "[tokenizer][sentencepiece]") {
  REQUIRE_SHARED(dir, "tokenizers/llama2/tokenizer.model");
  auto tok = load_tokenizer(dir.parent_path());
  for (const char* text : {"Hello world", "The capital of France is Paris.", "naïve café 中文 😀 ok",
                           "line one\nline two\n", "tabs\tand\ttabs", "emoji 👍🏽🇫🇷 and 日本語", "x"}) {
    INFO(text);
    CHECK(tok->decode(tok->encode(text)) == text);
  }
  // Random words joined by single spaces or newlines (no leading or doubled spaces).
  std::mt19937 rng(99);
  const std::vector<std::string> words = {"Once", "upon", "a", "time", "é", "café", "中", "文字", "😀", "👍🏽",
                                          "1234", "3.14", "don't", "ÆØÅ", "Ω", "!", "?!", "<s>"};
  for (int i = 0; i < 200; ++i) {
    std::string text = words[rng() % words.size()];
    for (size_t n = rng() % 10; n > 0; --n) text += (rng() % 4 ? " " : "\n") + words[rng() % words.size()];
    INFO(text);
    REQUIRE(tok->decode(tok->encode(text, no_bos(false))) == text);
  }
}

TEST_CASE("Llama-2 streaming decode equals the full decode", "[tokenizer][sentencepiece][stream]") {
  REQUIRE_SHARED(dir, "tokenizers/llama2/tokenizer.model");
  auto tok = load_tokenizer(dir.parent_path());
  const std::string text = "Café 中文 and emoji 😀👍🏽 done.\nNext line:  naïve,   日本語!";
  const auto ids = tok->encode(text);
  CHECK(stream_all(*tok, ids) == tok->decode(ids));
  CHECK(stream_all(*tok, ids) == text);
  // The first piece loses its space in a stream as in a full decode, later ones keep it.
  StreamDecoder dec(*tok);
  CHECK(dec.push(1).empty());
  CHECK(dec.push(15043) == "Hello");
  CHECK(dec.push(3186) == " world");
  CHECK(dec.push(243).empty());  // <0xF0>: the start of 😀
  CHECK(dec.push(162).empty());
  CHECK(dec.push(155).empty());
  CHECK(dec.push(131) == "😀");
  CHECK(dec.push(29871) == " ");  // "▁" after text is a space
  CHECK(dec.flush().empty());
  // Random id sequences over pieces that stress the rules: lone ▁, bytes of multi-byte
  // characters, controls, unknown, ordinary words.
  const Ids pool = {1, 2, 0, 29871, 15043, 3186, 13, 243, 162, 155, 131, 0xE4 + 3, 0xB8 + 3, 0xAD + 3,
                    0xC3 + 3, 0xA9 + 3, 30275, 29889, 259 /* ▁▁ */};
  std::mt19937 rng(3);
  for (int i = 0; i < 500; ++i) {
    Ids seq;
    for (size_t n = 1 + rng() % 12; n > 0; --n) seq.push_back(pool[rng() % pool.size()]);
    INFO("ids: " << Catch::Detail::stringify(seq));
    REQUIRE(stream_all(*tok, seq) == tok->decode(seq));
  }
}

TEST_CASE("stories260K: 512 pieces, extra whitespace removed", "[tokenizer][sentencepiece]") {
  REQUIRE_SHARED(dir, "models/stories260K/tokenizer.model");
  auto tok = load_tokenizer(dir.parent_path());  // config.json: bos 1, eos 2
  REQUIRE(tok->kind() == "sentencepiece");
  CHECK(tok->vocab_size() == 512);
  CHECK(tok->bos_id() == 1);
  CHECK(tok->eos_ids() == Ids{2});
  CHECK(tok->encode("Once upon a time") == Ids{1, 403, 407, 261, 378});
  // ▁He ll o ▁w or ld, whether or not spaces are doubled or trailing
  const Ids hello = {346, 306, 414, 263, 304, 341};
  CHECK(tok->encode("Hello world", no_bos()) == hello);
  CHECK(tok->encode("Hello  world ", no_bos()) == hello);
  CHECK(tok->decode(hello) == "Hello world");
  // ▁Lily ▁was ▁happy . <0x0A> S he ▁s m il ed .
  const Ids lily = {317, 286, 393, 426, 13, 437, 260, 262, 423, 290, 266, 426};
  CHECK(tok->encode("Lily was happy.\nShe smiled.", no_bos()) == lily);
  CHECK(tok->decode(lily) == "Lily was happy.\nShe smiled.");
  CHECK(stream_all(*tok, tok->encode("A big 中 ball")) == "A big 中 ball");
}

TEST_CASE("tokenizer.json that is not byte-level defers to tokenizer.model", "[tokenizer][sentencepiece]") {
  REQUIRE_SHARED(model, "tokenizers/llama2/tokenizer.model");
  auto dir = test::temp_dir("sp-fallback");
  std::filesystem::create_symlink(model, dir / "tokenizer.model");
  // Shaped like TinyLlama's tokenizer.json: a BPE with byte_fallback and no ByteLevel.
  std::ofstream(dir / "tokenizer.json")
      << R"({"model": {"type": "BPE", "vocab": {}, "merges": [], "byte_fallback": true},
             "pre_tokenizer": null, "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "▁"}]},
             "decoder": {"type": "Sequence", "decoders": [{"type": "ByteFallback"}]}})";
  std::ofstream(dir / "tokenizer_config.json")
      << R"({"add_bos_token": true, "bos_token": "<s>", "eos_token": "</s>", "pad_token": null,
             "added_tokens_decoder": {"0": {"content": "<unk>", "special": true},
                                      "1": {"content": "<s>", "special": true},
                                      "2": {"content": "</s>", "special": true}}})";
  auto tok = load_tokenizer(dir);
  CHECK(tok->kind() == "sentencepiece");
  CHECK(tok->encode("Hello world") == Ids{1, 15043, 3186});
  // Asking for BPE explicitly reports why the file is not usable.
  CHECK_THROWS_WITH(load_tokenizer(dir, TokenizerKind::Bpe), Catch::Contains("ByteLevel"));
}
