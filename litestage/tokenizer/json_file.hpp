#pragma once
// JSON reading with errors that name the file and key (internal to litestage/tokenizer).

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace litestage::json_file {

// Name of a JSON value's type for messages ("string", "number", ...).
std::string type_name(const nlohmann::json& j);

// obj[key] as a string / bool / int when present and not null; throws naming file and key
// when it has another type.
std::optional<std::string> get_string(const nlohmann::json& obj, const char* key, const std::string& where);
std::optional<bool> get_bool(const nlohmann::json& obj, const char* key, const std::string& where);
std::optional<int64_t> get_int(const nlohmann::json& obj, const char* key, const std::string& where);

}  // namespace litestage::json_file
