#pragma once
// Record-oriented reading of JSON files, shared by the dataset, stage-record and exemplar readers:
// a file is either JSON Lines (one value per line) or one top-level JSON array, and every record
// comes with the 1-based line it starts on so problems can be reported as path:line.

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace litestage {

struct ReadOptions {
  // false: the first malformed record throws litestage::Error naming path:line.
  // true: malformed records are skipped, counted and described in ReadReport (never silently).
  bool skip_malformed = false;
};

struct ReadReport {
  std::vector<std::string> files;     // files read, in order
  size_t records = 0;                 // records accepted
  size_t skipped = 0;                 // malformed records skipped (skip_malformed only)
  std::vector<std::string> problems;  // "path:line: what is wrong", one per skipped record

  void merge(const ReadReport& other);
};

// Byte offset -> 1-based line number in `text`.
size_t line_of_offset(const std::string& text, size_t offset);

// Offsets of the first character of each element of the top-level JSON array in `text`.
// `text` must already be known to be valid JSON whose top level is an array.
std::vector<size_t> array_element_offsets(const std::string& text);

// Checks one parsed record; returns a description of what is wrong, or nullopt to accept it.
using RecordHandler = std::function<std::optional<std::string>(const nlohmann::json& record, size_t line)>;

enum class RecordLayout { Auto, JsonLines, JsonArray };

// Reads `path` record by record. Auto: a file whose first non-blank character is '[' is one JSON
// array, anything else JSON Lines (blank lines are not records). A JSON Lines line that does not
// parse is a malformed record like any other; a JSON array file that does not parse as a whole is
// always fatal (there is no record boundary to skip to) and throws with the line of the error.
void read_json_records(const std::string& path, RecordLayout layout, const ReadOptions& options,
                       ReadReport& report, const RecordHandler& handler);

}  // namespace litestage
