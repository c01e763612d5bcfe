#include "litestage/tokenizer/tools.hpp"

#include <algorithm>
#include <chrono>
#include <limits>

#include "litestage/util/error.hpp"

namespace litestage {

std::vector<int32_t> parse_id_list(std::string_view text) {
  std::vector<int32_t> ids;
  size_t i = 0;
  auto is_separator = [](char c) {
    return c == ' ' || c == ',' || c == '\t' || c == '\n' || c == '\r' || c == '[' || c == ']';
  };
  while (i < text.size()) {
    if (is_separator(text[i])) {
      ++i;
      continue;
    }
    size_t end = i;
    while (end < text.size() && !is_separator(text[end])) ++end;
    const std::string entry(text.substr(i, end - i));
    size_t used = 0;
    long long value = -1;
    try {
      value = std::stoll(entry, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != entry.size() || value < 0 || value > std::numeric_limits<int32_t>::max()) {
      throw_error("bad token id \"", entry, "\" in id list (expected non-negative integers separated by spaces or commas)");
    }
    ids.push_back(static_cast<int32_t>(value));
    i = end;
  }
  return ids;
}

std::string format_token_lines(const Tokenizer& tokenizer, const std::vector<int32_t>& ids) {
  std::string out;
  for (int32_t id : ids) {
    out += std::to_string(id);
    out += '\t';
    out += tokenizer.piece(id);
    out += '\n';
  }
  return out;
}

std::string format_id_line(const std::vector<int32_t>& ids) {
  std::string out;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) out += ' ';
    out += std::to_string(ids[i]);
  }
  out += '\n';
  return out;
}

EncodeBenchmark benchmark_encode(const Tokenizer& tokenizer, std::string_view text, int warm_passes) {
  std::vector<std::string_view> lines;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    lines.push_back(text.substr(pos, end - pos));
    pos = end + 1;
  }
  EncodeBenchmark result;
  result.lines = lines.size();
  for (auto line : lines) result.bytes += line.size();
  EncodeOptions options;
  options.add_bos = false;
  using clock = std::chrono::steady_clock;
  auto pass = [&] {
    size_t tokens = 0;
    auto start = clock::now();
    for (auto line : lines) tokens += tokenizer.encode(line, options).size();
    result.tokens = tokens;
    return std::chrono::duration<double>(clock::now() - start).count();
  };
  result.cold_seconds = pass();
  for (int i = 0; i < warm_passes; ++i) {
    double t = pass();
    result.warm_seconds = i == 0 ? t : std::min(result.warm_seconds, t);
  }
  return result;
}

}  // namespace litestage
