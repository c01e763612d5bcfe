#include "litestage/data/json_records.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "litestage/util/error.hpp"
#include "litestage/util/strings.hpp"

namespace litestage {

void ReadReport::merge(const ReadReport& other) {
  files.insert(files.end(), other.files.begin(), other.files.end());
  records += other.records;
  skipped += other.skipped;
  problems.insert(problems.end(), other.problems.begin(), other.problems.end());
}

size_t line_of_offset(const std::string& text, size_t offset) {
  offset = std::min(offset, text.size());
  return 1 + static_cast<size_t>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(offset), '\n'));
}

std::vector<size_t> array_element_offsets(const std::string& text) {
  std::vector<size_t> offsets;
  int depth = 0;
  bool in_string = false, escaped = false, expect_value = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') continue;
    if (depth == 1 && expect_value && c != ']') {
      offsets.push_back(i);
      expect_value = false;
    }
    switch (c) {
      case '"': in_string = true; break;
      case '[':
      case '{':
        if (++depth == 1) expect_value = true;
        break;
      case ']':
      case '}': --depth; break;
      case ',':
        if (depth == 1) expect_value = true;
        break;
      default: break;
    }
  }
  return offsets;
}

namespace {

std::string where(const std::string& path, size_t line) { return path + ":" + std::to_string(line); }

// Applies the skip policy to one problem.
void malformed(const std::string& path, size_t line, const std::string& what, const ReadOptions& options,
               ReadReport& report) {
  if (!options.skip_malformed)
    throw_error(where(path, line), ": ", what, " (set skip_malformed to skip such records)");
  ++report.skipped;
  report.problems.push_back(where(path, line) + ": " + what);
}

void handle(const std::string& path, const nlohmann::json& record, size_t line, const ReadOptions& options,
            ReadReport& report, const RecordHandler& handler) {
  std::optional<std::string> problem;
  try {
    problem = handler(record, line);
  } catch (const nlohmann::json::exception& e) {
    problem = std::string("unexpected structure: ") + e.what();  // e.g. a field of the wrong type
  }
  if (problem) {
    malformed(path, line, *problem, options, report);
  } else {
    ++report.records;
  }
}

}  // namespace

void read_json_records(const std::string& path, RecordLayout layout, const ReadOptions& options,
                       ReadReport& report, const RecordHandler& handler) {
  const std::string text = read_file(path);
  report.files.push_back(path);
  if (layout == RecordLayout::Auto) {
    const size_t first = text.find_first_not_of(" \t\r\n");
    layout = (first != std::string::npos && text[first] == '[') ? RecordLayout::JsonArray : RecordLayout::JsonLines;
  }

  if (layout == RecordLayout::JsonArray) {
    nlohmann::json doc;
    try {
      doc = nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
      // e.byte is 1-based and points just past the offending character.
      throw_error(where(path, line_of_offset(text, e.byte > 0 ? e.byte - 1 : 0)), ": invalid JSON: ", e.what());
    } catch (const nlohmann::json::exception& e) {  // a number out of range: no position
      throw_error(path, ": invalid JSON: ", e.what());
    }
    if (!doc.is_array()) throw_error(path, ": expected a JSON array at the top level, found ", doc.type_name());
    const auto offsets = array_element_offsets(text);
    LITESTAGE_CHECK(offsets.size() == doc.size(), path, ": internal error locating array elements (", offsets.size(),
                    " offsets for ", doc.size(), " elements)");
    for (size_t i = 0; i < doc.size(); ++i) handle(path, doc[i], line_of_offset(text, offsets[i]), options, report, handler);
    return;
  }

  size_t line_no = 0, start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    ++line_no;
    const std::string_view line(text.data() + start, end - start);
    start = end + 1;
    if (trim(line).empty()) continue;
    nlohmann::json record;
    try {
      record = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      malformed(path, line_no, std::string("invalid JSON: ") + e.what(), options, report);
      continue;
    }
    handle(path, record, line_no, options, report, handler);
  }
}

}  // namespace litestage
