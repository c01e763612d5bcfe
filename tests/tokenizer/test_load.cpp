// load_tokenizer dispatch and its errors (no ../shared needed).

#include <catch2/catch.hpp>

#include "fixtures.hpp"
#include "litestage/tokenizer/bpe.hpp"
#include "litestage/tokenizer/tokenizer.hpp"
#include "litestage/util/error.hpp"
#include "support.hpp"

using namespace litestage;
using Catch::Contains;

namespace {

nlohmann::json good_json() {
  test::TinyVocab v;
  v.merge("a", "b");
  return test::tokenizer_json(v, test::byte_level_pre_tokenizer(true), false);
}

}  // namespace

TEST_CASE("tokenizer kind names", "[tokenizer][load]") {
  CHECK(parse_tokenizer_kind("auto") == TokenizerKind::Auto);
  CHECK(parse_tokenizer_kind("sentencepiece") == TokenizerKind::SentencePiece);
  CHECK(parse_tokenizer_kind("bpe") == TokenizerKind::Bpe);
  CHECK_THROWS_WITH(parse_tokenizer_kind("wordpiece"), Contains("auto, sentencepiece or bpe"));
}

TEST_CASE("missing directory or files are named", "[tokenizer][load]") {
  auto dir = test::temp_dir("load-missing");
  CHECK_THROWS_WITH(load_tokenizer(dir / "nope"), Contains("does not exist"));
  CHECK_THROWS_AS(load_tokenizer(dir), Error);
  CHECK_THROWS_WITH(load_tokenizer(dir), Contains("tokenizer.json") && Contains("vocab.json + merges.txt") &&
                                             Contains("tokenizer.model"));
  CHECK_THROWS_WITH(load_tokenizer(dir, TokenizerKind::SentencePiece), Contains("looked for tokenizer.model"));
  CHECK_THROWS_WITH(load_tokenizer(dir, TokenizerKind::Bpe), Contains("looked for tokenizer.json"));
  test::write_text(dir / "vocab.json", "{}");
  CHECK_THROWS_WITH(load_tokenizer(dir), Contains("merges.txt is missing"));
  test::write_text(dir / "file", "x");
  CHECK_THROWS_WITH(load_tokenizer(dir / "file"), Contains("not a directory"));
}

TEST_CASE("malformed files are reported with the file name", "[tokenizer][load]") {
  auto dir = test::temp_dir("load-malformed");
  test::write_text(dir / "tokenizer.json", "{\"model\": {\"type\": \"BPE\", ");
  CHECK_THROWS_WITH(load_tokenizer(dir), Contains("tokenizer.json") && Contains("malformed JSON"));

  test::write_text(dir / "tokenizer.json", "[1, 2]");
  CHECK_THROWS_WITH(load_tokenizer(dir), Contains("expected a JSON object"));

  auto j = good_json();
  j["model"]["merges"].push_back("a zz");
  test::write_text(dir / "tokenizer.json", j.dump());
  CHECK_THROWS_WITH(load_tokenizer(dir), Contains("merge 1") && Contains("\"zz\" is not in the vocabulary"));

  j = good_json();
  j["model"]["vocab"]["a"] = "zero";
  test::write_text(dir / "tokenizer.json", j.dump());
  CHECK_THROWS_WITH(load_tokenizer(dir), Contains("\"a\" must map to an integer id"));

  j = good_json();
  j["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "(unclosed"}}}, {"behavior", "Isolated"}};
  j["decoder"] = {{"type", "ByteLevel"}};
  test::write_text(dir / "tokenizer.json", j.dump());
  CHECK_THROWS_WITH(load_tokenizer(dir), Contains("cannot compile regex /(unclosed/"));

  j = good_json();
  j["normalizer"] = {{"type", "Lowercase"}};
  test::write_text(dir / "tokenizer.json", j.dump());
  CHECK_THROWS_WITH(load_tokenizer(dir), Contains("normalizer type \"Lowercase\""));

  j = good_json();
  j["pre_tokenizer"] = {{"type", "Whitespace"}};
  test::write_text(dir / "tokenizer.json", j.dump());
  CHECK_THROWS_WITH(load_tokenizer(dir), Contains("pre_tokenizer Whitespace is not supported"));

  j = good_json();
  test::write_text(dir / "tokenizer.json", j.dump());
  test::write_text(dir / "tokenizer_config.json", "{\"eos_token\": 5}");
  CHECK_THROWS_WITH(load_tokenizer(dir), Contains("tokenizer_config.json") && Contains("eos_token"));
  test::write_text(dir / "tokenizer_config.json", "{\"eos_token\": \"<|nope|>\"}");
  CHECK_THROWS_WITH(load_tokenizer(dir), Contains("\"<|nope|>\" is not in the vocabulary"));
  test::write_text(dir / "tokenizer_config.json", "{}");
  test::write_text(dir / "config.json", "{\"eos_token_id\": 999999}");
  CHECK_THROWS_WITH(load_tokenizer(dir), Contains("token id 999999"));
  std::filesystem::remove(dir / "config.json");
  CHECK_NOTHROW(load_tokenizer(dir));

  auto sp = test::temp_dir("load-bad-model");
  test::write_text(sp / "tokenizer.model", "this is not a protobuf");
  CHECK_THROWS_WITH(load_tokenizer(sp), Contains("tokenizer.model") && Contains("cannot load SentencePiece model"));
}

TEST_CASE("unknown model types are named", "[tokenizer][load]") {
  auto dir = test::temp_dir("load-types");
  for (const char* type : {"WordPiece", "Unigram", "WordLevel"}) {
    nlohmann::json j = {{"model", {{"type", type}, {"vocab", nlohmann::json::object()}}}};
    test::write_text(dir / "tokenizer.json", j.dump());
    CHECK_THROWS_AS(load_tokenizer(dir), UnsupportedTokenizerError);
    CHECK_THROWS_WITH(load_tokenizer(dir), Contains(std::string("model.type \"") + type + "\" is not supported"));
  }
  test::write_text(dir / "tokenizer.json", R"({"version": "1.0"})");
  CHECK_THROWS_WITH(load_tokenizer(dir), Contains("missing the \"model\" object"));
}

TEST_CASE("directory with both tokenizer.json and vocab files prefers tokenizer.json", "[tokenizer][load]") {
  auto dir = test::temp_dir("load-prefer");
  test::write_text(dir / "tokenizer.json", good_json().dump());
  test::write_text(dir / "vocab.json", "not json at all");  // would fail if read
  test::write_text(dir / "merges.txt", "");
  auto tok = load_tokenizer(dir);
  CHECK(tok->kind() == "bpe");
  CHECK(tok->encode("ab", EncodeOptions{false, false, true}) == std::vector<int32_t>{256});
}
