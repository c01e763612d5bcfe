// One special-token rule for both tokenizers: a name in tokenizer_config.json beats an id in
// config.json, which beats the tokenizer file's own default. The files here are ones where the two
// tokenizers' former rules disagreed (the SentencePiece loader preferred config.json's ids).

#include <catch2/catch.hpp>

#include "fixtures.hpp"
#include "litestage/tokenizer/tokenizer.hpp"
#include "litestage/util/error.hpp"
#include "support.hpp"

using namespace litestage;
namespace fs = std::filesystem;

namespace {

// A byte-level BPE directory whose vocabulary holds <s> (256), </s> (257) and <pad> (258).
fs::path bpe_dir(const std::string& name) {
  auto dir = test::temp_dir(name);
  test::TinyVocab v;
  auto added = nlohmann::json::array({test::added_token(256, "<s>"), test::added_token(257, "</s>"),
                                      test::added_token(258, "<pad>")});
  test::write_text(dir / "tokenizer.json", test::tokenizer_json(v, test::byte_level_pre_tokenizer(true), false, added).dump());
  return dir;
}

// A SentencePiece directory with the demo model's tokenizer.model (<unk> 0, <s> 1, </s> 2).
fs::path spm_dir(const std::string& name) {
  auto dir = test::temp_dir(name);
  fs::copy_file(fs::path(LITESTAGE_SOURCE_DIR) / "data" / "demo-model" / "tokenizer.model", dir / "tokenizer.model");
  return dir;
}

}  // namespace

TEST_CASE("special tokens: tokenizer_config.json's names win over config.json's ids in both tokenizers",
          "[tokenizer][special]") {
  // Names point at </s> (BOS) and <s> (PAD); config.json's ids say otherwise.
  for (auto [dir, bos_name, pad_name] : {std::tuple{bpe_dir("special-bpe"), "<s>", "<pad>"},
                                         std::tuple{spm_dir("special-spm"), "</s>", "<s>"}}) {
    test::write_text(dir / "tokenizer_config.json", nlohmann::json{{"add_bos_token", true}, {"bos_token", bos_name},
                                                                   {"pad_token", pad_name}}.dump());
    test::write_text(dir / "config.json", R"({"bos_token_id": 0, "pad_token_id": 0, "eos_token_id": 0})");
    auto tok = load_tokenizer(dir);
    INFO(tok->kind());
    CHECK(tok->bos_id() == tok->token_id(bos_name));
    CHECK(tok->pad_id() == tok->token_id(pad_name));
    CHECK(tok->encode("a").front() == *tok->token_id(bos_name));
    // EOS: config.json's id joins the tokenizer's own end-of-text tokens.
    const auto eos = tok->eos_ids();
    CHECK(std::find(eos.begin(), eos.end(), 0) != eos.end());
  }
}

TEST_CASE("special tokens: config.json's ids apply where no name is given, then the file's defaults",
          "[tokenizer][special]") {
  auto spm = spm_dir("special-spm-ids");
  auto tok = load_tokenizer(spm);
  CHECK(tok->bos_id() == 1);  // the model's own <s>
  CHECK(tok->eos_ids() == std::vector<int32_t>{2});
  test::write_text(spm / "config.json", R"({"bos_token_id": 2, "eos_token_id": [1]})");
  tok = load_tokenizer(spm);
  CHECK(tok->bos_id() == 2);
  CHECK(tok->eos_ids() == std::vector<int32_t>{1, 2});

  auto bpe = bpe_dir("special-bpe-ids");
  CHECK_FALSE(load_tokenizer(bpe)->bos_id());  // no template, no add_bos_token: no BOS
  test::write_text(bpe / "tokenizer_config.json", R"({"add_bos_token": true})");
  test::write_text(bpe / "config.json", R"({"bos_token_id": 257})");
  CHECK(load_tokenizer(bpe)->bos_id() == 257);
  fs::remove(bpe / "config.json");
  CHECK_THROWS_WITH(load_tokenizer(bpe), Catch::Contains("add_bos_token is true but no bos_token is named"));
}
