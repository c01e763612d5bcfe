#include "litestage/tokenizer/hf_config.hpp"

#include <algorithm>

#include "litestage/tokenizer/json_file.hpp"
#include "litestage/util/error.hpp"
#include "litestage/util/jsonl.hpp"
#include "litestage/util/strings.hpp"

namespace litestage {

namespace json_file {

std::string type_name(const nlohmann::json& j) { return j.type_name(); }

std::optional<std::string> get_string(const nlohmann::json& obj, const char* key, const std::string& where) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) throw_error(where, ": \"", key, "\" must be a string, got ", type_name(*it));
  return it->get<std::string>();
}

std::optional<bool> get_bool(const nlohmann::json& obj, const char* key, const std::string& where) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::nullopt;
  if (!it->is_boolean()) throw_error(where, ": \"", key, "\" must be true or false, got ", type_name(*it));
  return it->get<bool>();
}

std::optional<int64_t> get_int(const nlohmann::json& obj, const char* key, const std::string& where) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::nullopt;
  if (!it->is_number_integer()) throw_error(where, ": \"", key, "\" must be an integer, got ", type_name(*it));
  return it->get<int64_t>();
}

}  // namespace json_file

namespace {

using nlohmann::json;

// Special-token names appear as plain strings or as {"content": "...", "__type": "AddedToken"}.
std::optional<std::string> token_name(const json& obj, const char* key, const std::string& where) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object()) return json_file::get_string(*it, "content", where + " " + key);
  throw_error(where, ": \"", key, "\" must be a string or an object with \"content\", got ",
              json_file::type_name(*it));
}

// eos_token_id is an int or a list of ints.
void read_ids(const json& obj, const char* key, const std::string& where, std::vector<int32_t>& out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return;
  if (it->is_number_integer()) {
    out.push_back(it->get<int32_t>());
  } else if (it->is_array()) {
    for (const auto& v : *it) {
      if (!v.is_number_integer()) throw_error(where, ": \"", key, "\" must list integers");
      out.push_back(v.get<int32_t>());
    }
  } else {
    throw_error(where, ": \"", key, "\" must be an integer or a list of integers, got ", json_file::type_name(*it));
  }
}

void read_tokenizer_config(const std::filesystem::path& path, HfConventions& c) {
  const std::string where = path.string();
  json j = read_json_file(path.string());
  if (!j.is_object()) throw_error(where, ": expected a JSON object at top level");
  c.bos_token = token_name(j, "bos_token", where);
  c.eos_token = token_name(j, "eos_token", where);
  c.pad_token = token_name(j, "pad_token", where);
  c.add_bos_token = json_file::get_bool(j, "add_bos_token", where);
  c.add_eos_token = json_file::get_bool(j, "add_eos_token", where);
  c.tokenizer_class = json_file::get_string(j, "tokenizer_class", where);
  if (auto it = j.find("added_tokens_decoder"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) throw_error(where, ": \"added_tokens_decoder\" must be an object");
    for (const auto& [key, value] : it->items()) {
      const std::string at = where + " added_tokens_decoder[\"" + key + "\"]";
      AddedToken t;
      try {
        size_t used = 0;
        t.id = std::stoi(key, &used);
        if (used != key.size() || t.id < 0) throw std::invalid_argument(key);
      } catch (const std::exception&) {
        throw_error(at, ": key must be a non-negative token id");
      }
      if (!value.is_object()) throw_error(at, ": expected an object");
      auto content = json_file::get_string(value, "content", at);
      if (!content || content->empty()) throw_error(at, ": missing \"content\"");
      t.content = *content;
      t.special = json_file::get_bool(value, "special", at).value_or(false);
      t.lstrip = json_file::get_bool(value, "lstrip", at).value_or(false);
      t.rstrip = json_file::get_bool(value, "rstrip", at).value_or(false);
      c.added_tokens.push_back(std::move(t));
    }
  }
  if (auto it = j.find("chat_template"); it != j.end() && !it->is_null()) {
    if (it->is_string()) {
      c.chat_template = it->get<std::string>();
    } else if (it->is_array()) {
      // Newer files name several templates: [{"name": "default", "template": "..."}, ...].
      for (const auto& entry : *it) {
        if (!entry.is_object()) continue;
        auto name = json_file::get_string(entry, "name", where + " chat_template");
        auto tmpl = json_file::get_string(entry, "template", where + " chat_template");
        if (tmpl && (!c.chat_template || name == std::string("default"))) c.chat_template = tmpl;
      }
    } else {
      throw_error(where, ": \"chat_template\" must be a string or a list, got ", json_file::type_name(*it));
    }
  }
}

void read_model_config(const std::filesystem::path& path, HfConventions& c) {
  const std::string where = path.string();
  json j = read_json_file(path.string());
  if (!j.is_object()) throw_error(where, ": expected a JSON object at top level");
  if (auto v = json_file::get_int(j, "bos_token_id", where); v && !c.bos_token_id) c.bos_token_id = static_cast<int32_t>(*v);
  if (auto v = json_file::get_int(j, "pad_token_id", where); v && !c.pad_token_id) c.pad_token_id = static_cast<int32_t>(*v);
  read_ids(j, "eos_token_id", where, c.eos_token_ids);
}

}  // namespace

HfConventions read_hf_conventions(const std::filesystem::path& dir) {
  HfConventions c;
  if (auto p = dir / "tokenizer_config.json"; std::filesystem::exists(p)) read_tokenizer_config(p, c);
  if (auto p = dir / "config.json"; std::filesystem::exists(p)) read_model_config(p, c);
  if (auto p = dir / "generation_config.json"; std::filesystem::exists(p)) read_model_config(p, c);
  if (!c.chat_template) {
    // Recent checkpoints keep the template in its own file.
    if (auto p = dir / "chat_template.jinja"; std::filesystem::exists(p)) c.chat_template = read_file(p.string());
  }
  return c;
}

SpecialTokenIds resolve_special_tokens(const HfConventions& conv, const SpecialTokenDefaults& defaults,
                                       const std::function<std::optional<int32_t>(std::string_view)>& token_id,
                                       const std::string& config_file) {
  auto id_of = [&](const std::string& name, const std::string& key, const std::string& file) {
    auto id = token_id(name);
    if (!id) throw_error(file, ": ", key, " \"", name, "\" is not in the vocabulary");
    return *id;
  };
  SpecialTokenIds ids;
  if (conv.add_bos_token.value_or(defaults.add_bos)) {
    if (conv.bos_token)
      ids.bos = id_of(*conv.bos_token, "bos_token", config_file);
    else if (conv.bos_token_id)
      ids.bos = conv.bos_token_id;
    else if (defaults.bos_piece)
      ids.bos = id_of(*defaults.bos_piece, "BOS", defaults.bos_piece_source);
    else if (defaults.bos_id)
      ids.bos = defaults.bos_id;
    else if (conv.add_bos_token)  // asked for explicitly; a default with no BOS just adds none
      throw_error(config_file, ": add_bos_token is true but no bos_token is named");
  }
  auto add_eos = [&](int32_t id) {
    if (std::find(ids.eos.begin(), ids.eos.end(), id) == ids.eos.end()) ids.eos.push_back(id);
  };
  if (conv.eos_token) add_eos(id_of(*conv.eos_token, "eos_token", config_file));
  for (int32_t id : conv.eos_token_ids) add_eos(id);
  if (defaults.eos_id) add_eos(*defaults.eos_id);
  for (const auto& piece : defaults.eos_pieces)
    if (auto id = token_id(piece)) add_eos(*id);
  if (conv.pad_token)
    ids.pad = id_of(*conv.pad_token, "pad_token", config_file);
  else if (conv.pad_token_id)
    ids.pad = conv.pad_token_id;
  else
    ids.pad = defaults.pad_id;
  return ids;
}

}  // namespace litestage
