// Helpers behind `litestage tokenize`, and StreamDecoder on a synthetic byte-level BPE.

#include <catch2/catch.hpp>

#include "fixtures.hpp"
#include "litestage/tokenizer/tokenizer.hpp"
#include "litestage/tokenizer/tools.hpp"
#include "litestage/util/utf8.hpp"
#include "litestage/util/error.hpp"
#include "support.hpp"

using namespace litestage;
using Ids = std::vector<int32_t>;

namespace {

std::unique_ptr<Tokenizer> tiny_tokenizer() {
  test::TinyVocab v;
  v.merge("h", "i");
  auto dir = test::temp_dir("tools-tiny");
  auto added = nlohmann::json::array({test::added_token(400, "<|end|>")});
  test::write_text(dir / "tokenizer.json",
                   test::tokenizer_json(v, test::byte_level_pre_tokenizer(true), false, added).dump());
  return load_tokenizer(dir);
}

}  // namespace

TEST_CASE("id lists parse in the usual spellings", "[tokenizer][tools]") {
  CHECK(parse_id_list("1 2 3") == Ids{1, 2, 3});
  CHECK(parse_id_list("[151644, 872,198]") == Ids{151644, 872, 198});
  CHECK(parse_id_list("  ").empty());
  CHECK_THROWS_WITH(parse_id_list("1 two 3"), Catch::Contains("bad token id \"two\""));
  CHECK_THROWS_WITH(parse_id_list("-4"), Catch::Contains("\"-4\""));
  CHECK_THROWS_WITH(parse_id_list("99999999999"), Catch::Contains("99999999999"));
}

TEST_CASE("token listings", "[tokenizer][tools]") {
  auto tok = tiny_tokenizer();
  auto ids = tok->encode("hi there<|end|>");
  CHECK(format_id_line({1, 22, 333}) == "1 22 333\n");
  CHECK(format_token_lines(*tok, {ids.front(), 400}) == std::to_string(ids.front()) + "\thi\n400\t<|end|>\n");
  auto bench = benchmark_encode(*tok, "hi\nthere\n", 2);
  CHECK(bench.lines == 2);
  CHECK(bench.bytes == 7);
  CHECK(bench.tokens == 1 + 5);
}

TEST_CASE("StreamDecoder holds back unfinished characters", "[tokenizer][stream]") {
  auto tok = tiny_tokenizer();
  // 中 = E4 B8 AD: feed its three byte tokens one at a time.
  StreamDecoder dec(*tok);
  CHECK(dec.push('a') == "a");
  CHECK(dec.push(0xE4).empty());
  CHECK(dec.push(0xB8).empty());
  CHECK(dec.push(0xAD) == "中");
  CHECK(dec.push(400).empty());  // special: skipped like decode() does
  CHECK(dec.push(0xF0).empty());
  CHECK(dec.flush() == std::string(utf8::kReplacement));  // a stream ending mid-character
  CHECK(dec.ids() == Ids{'a', 0xE4, 0xB8, 0xAD, 400, 0xF0});
  // A stray continuation byte is final at once and is replaced, then text continues.
  StreamDecoder d2(*tok);
  std::string stray = d2.push(0x80);
  stray += d2.push('b');
  CHECK(stray == std::string(utf8::kReplacement) + "b");
  // Whole-stream equality on every split of a mixed text.
  const std::string text = "hi 中文 😀 é!";
  const auto ids = tok->encode(text);
  for (size_t cut = 0; cut <= ids.size(); ++cut) {
    StreamDecoder d(*tok);
    std::string out;
    for (size_t i = 0; i < cut; ++i) {
      std::string chunk = d.push(ids[i]);
      REQUIRE_FALSE(utf8::find_invalid(chunk));
      REQUIRE(chunk.find(utf8::kReplacement) == std::string::npos);
      out += chunk;
    }
    out += d.flush();
    REQUIRE(out == tok->decode(Ids(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(cut))));
  }
}
