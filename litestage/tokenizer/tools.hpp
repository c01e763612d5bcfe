#pragma once
// The pieces behind `litestage tokenize` (apps/cmd_tokenize.cpp), kept in the library so they
// are tested without the app: id-list parsing, token listings, and an encode benchmark.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "litestage/tokenizer/tokenizer.hpp"

namespace litestage {

// "1 2 3", "1,2,3" or "[1, 2, 3]" -> ids. Throws litestage::Error naming the bad entry.
std::vector<int32_t> parse_id_list(std::string_view text);

// One "id\tpiece\n" line per id.
std::string format_token_lines(const Tokenizer& tokenizer, const std::vector<int32_t>& ids);
// "1 2 3\n".
std::string format_id_line(const std::vector<int32_t>& ids);

struct EncodeBenchmark {
  size_t lines = 0;
  size_t bytes = 0;   // per pass
  size_t tokens = 0;  // per pass
  double cold_seconds = 0;  // first pass: the merge cache starts empty
  double warm_seconds = 0;  // fastest of the later passes
  double cold_mb_per_s() const { return cold_seconds > 0 ? bytes / 1e6 / cold_seconds : 0; }
  double warm_mb_per_s() const { return warm_seconds > 0 ? bytes / 1e6 / warm_seconds : 0; }
};

// Encodes text line by line (lines without their '\n', add_bos off), once cold and then
// warm_passes more times. Invalid UTF-8 throws as encode does.
EncodeBenchmark benchmark_encode(const Tokenizer& tokenizer, std::string_view text, int warm_passes = 3);

}  // namespace litestage
