#pragma once
// Synthetic tokenizer files written to a temporary directory, so loader, regex and merge
// behaviour is tested without ../shared.

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "litestage/tokenizer/bpe.hpp"

namespace litestage::test {

inline void write_text(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out << text;
}

// Llama-3's pre-tokenizer regex: like Qwen2's, but digits go in groups of up to three.
inline const char* kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// A tiny byte-level vocabulary: the 256 byte symbols (id = byte value), then one entry per
// merge result in merge order (ids 256...), then `extra` entries that no merge builds.
struct TinyVocab {
  nlohmann::json vocab = nlohmann::json::object();
  std::vector<std::pair<std::string, std::string>> merges;  // byte-level spellings
  int32_t next_id = 0;

  TinyVocab() {
    for (int b = 0; b < 256; ++b) vocab[byte_level::encode(std::string(1, static_cast<char>(b)))] = next_id++;
  }
  // Merge of two raw-byte strings; returns the new token's id.
  int32_t merge(const std::string& left, const std::string& right) {
    auto l = byte_level::encode(left), r = byte_level::encode(right);
    merges.emplace_back(l, r);
    if (!vocab.contains(l + r)) vocab[l + r] = next_id++;
    return vocab[l + r].get<int32_t>();
  }
  int32_t add(const std::string& raw) {
    auto s = byte_level::encode(raw);
    if (!vocab.contains(s)) vocab[s] = next_id++;
    return vocab[s].get<int32_t>();
  }
  int32_t id(const std::string& raw) const { return vocab.at(byte_level::encode(raw)).get<int32_t>(); }
};

// A tokenizer.json in Hugging Face's layout. merges_as_pairs selects the newer [["a","b"]]
// merge format instead of "a b" strings.
inline nlohmann::json tokenizer_json(const TinyVocab& v, nlohmann::json pre_tokenizer, bool merges_as_pairs,
                                     nlohmann::json added_tokens = nlohmann::json::array(),
                                     nlohmann::json post_processor = nullptr, bool ignore_merges = false,
                                     nlohmann::json normalizer = nullptr) {
  nlohmann::json merges = nlohmann::json::array();
  for (const auto& [l, r] : v.merges) {
    if (merges_as_pairs) {
      merges.push_back(nlohmann::json::array({l, r}));
    } else {
      merges.push_back(l + " " + r);
    }
  }
  return {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", added_tokens},
      {"normalizer", normalizer},
      {"pre_tokenizer", pre_tokenizer},
      {"post_processor", post_processor},
      {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", false}}},
      {"model",
       {{"type", "BPE"},
        {"dropout", nullptr},
        {"unk_token", nullptr},
        {"continuing_subword_prefix", ""},
        {"end_of_word_suffix", ""},
        {"fuse_unk", false},
        {"byte_fallback", false},
        {"ignore_merges", ignore_merges},
        {"vocab", v.vocab},
        {"merges", merges}}},
  };
}

inline nlohmann::json added_token(int32_t id, const std::string& content, bool special = true) {
  return {{"id", id},          {"content", content}, {"single_word", false}, {"lstrip", false},
          {"rstrip", false},   {"normalized", false}, {"special", special}};
}

inline nlohmann::json byte_level_pre_tokenizer(bool use_regex) {
  return {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", use_regex}};
}

inline nlohmann::json split_then_byte_level(const std::string& regex) {
  nlohmann::json split = {{"type", "Split"}, {"pattern", {{"Regex", regex}}}, {"behavior", "Isolated"}, {"invert", false}};
  return {{"type", "Sequence"}, {"pretokenizers", nlohmann::json::array({split, byte_level_pre_tokenizer(false)})}};
}

}  // namespace litestage::test
