#pragma once
// JSON files: whole documents, and JSON Lines files that are appended to as work finishes (traces,
// stage caches, search journals). An interrupted run can leave a torn last line: reading drops it
// and truncates the file to the last complete line, so entries appended afterwards start on a
// line of their own.

#include <functional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace litestage {

// Parses `text` as one JSON document; any failure (syntax, a number out of range, invalid UTF-8)
// is a litestage::Error "<source>: malformed JSON: ...".
nlohmann::json parse_json(std::string_view text, const std::string& source);

// parse_json of a whole file (errors name the path, or say it cannot be read).
nlohmann::json read_json_file(const std::string& path);

// Calls `fn` for every record of `path` (a missing file has none). A malformed line other than a
// torn last one is an error naming path:line; `what` names the kind of record in that message.
void read_jsonl(const std::string& path, const std::function<void(const nlohmann::json&)>& fn,
                const std::string& what = "record");

// Appends one record as a line (creating the file).
void append_jsonl(const std::string& path, const nlohmann::json& record);

}  // namespace litestage
