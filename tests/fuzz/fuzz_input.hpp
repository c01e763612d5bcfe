#pragma once
// What every fuzz target shares: the input written to files in a per-process scratch directory
// (the parsers read files, as users' tools hand them over), the input cut into parts at NUL bytes
// (text formats never contain one), and the one rule each target checks — a parser accepts its
// input or throws litestage::Error. Any other outcome (another exception type escaping, a crash,
// a hang, a sanitizer report) is a finding.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "litestage/util/error.hpp"

namespace litestage::fuzz {

// $TMPDIR/litestage-fuzz-<pid>, created on first use and removed when the process exits.
const std::filesystem::path& scratch_dir();

// Writes `bytes` to scratch_dir()/name (replacing it) and returns the path.
std::filesystem::path write_file(const std::string& name, std::string_view bytes);

// Writes parts[i] to scratch_dir()/name, or removes that file when the input has no part i.
void write_part(const std::string& name, const std::vector<std::string_view>& parts, std::size_t i);

// The input cut at NUL bytes into at most `max_parts` parts; the last part keeps any further NULs.
std::vector<std::string_view> split_parts(const uint8_t* data, std::size_t size, std::size_t max_parts);

// Prints the rejection when LITESTAGE_FUZZ_SHOW_ERRORS is set (to see why a seed is refused).
void show_rejection(const litestage::Error& error);

// Runs `parse`; a litestage::Error is the clear rejection every parser owes bad input.
template <typename F>
void expect_clear_error(F&& parse) {
  try {
    parse();
  } catch (const litestage::Error& error) {
    show_rejection(error);
  }
}

}  // namespace litestage::fuzz
