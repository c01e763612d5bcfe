#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace litestage {

std::string trim(std::string_view s);
std::vector<std::string> split(std::string_view s, char sep, bool skip_empty = true);
bool starts_with(std::string_view s, std::string_view prefix);
bool ends_with(std::string_view s, std::string_view suffix);
std::string to_lower(std::string_view s);
std::string join(const std::vector<std::string>& parts, std::string_view sep);
// Reads a whole file; throws litestage::Error naming the path when it cannot.
std::string read_file(const std::string& path);
// Writes atomically (temporary file + rename) so an interrupted run never leaves half a file.
void write_file_atomic(const std::string& path, std::string_view content);
// Formats a number of seconds as "1h02m", "3m05s" or "4.2s".
std::string format_duration(double seconds);

}  // namespace litestage
