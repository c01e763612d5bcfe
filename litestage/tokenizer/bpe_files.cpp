// Reading a byte-level BPE from its files: tokenizer.json, or vocab.json + merges.txt (bpe.hpp).
#include <cctype>
#include <cstdio>
#include <fstream>

#include "litestage/tokenizer/bpe.hpp"
#include "litestage/tokenizer/json_file.hpp"
#include "litestage/util/jsonl.hpp"
#include "litestage/util/strings.hpp"
#include "litestage/util/utf8.hpp"

namespace litestage {


namespace {

using nlohmann::json;

std::string type_of(const json& node) {
  if (!node.is_object()) return "";
  auto it = node.find("type");
  return it != node.end() && it->is_string() ? it->get<std::string>() : "";
}

// True when node, or a member of its Sequence, has the given type.
bool has_component(const json& node, const std::string& type) {
  if (!node.is_object()) return false;
  if (type_of(node) == type) return true;
  for (const char* list : {"pretokenizers", "decoders", "normalizers", "processors"}) {
    auto it = node.find(list);
    if (it != node.end() && it->is_array()) {
      for (const auto& child : *it) {
        if (has_component(child, type)) return true;
      }
    }
  }
  return false;
}

// Escapes a literal for PCRE2 (Split with a "String" pattern).
std::string regex_escape(std::string_view literal) {
  std::string out;
  for (char c : literal) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x80 && !std::isalnum(u)) out += '\\';
    out += c;
  }
  return out;
}

void read_normalizer(const json& node, const std::string& where, BpeSpec& spec) {
  if (node.is_null()) return;
  const std::string type = type_of(node);
  if (type == "NFC") {
    spec.nfc = true;
  } else if (type == "Sequence") {
    auto it = node.find("normalizers");
    if (it == node.end() || !it->is_array()) throw_error(where, ": normalizer Sequence without a \"normalizers\" list");
    for (const auto& child : *it) read_normalizer(child, where, spec);
  } else {
    throw_error(where, ": normalizer type \"", type, "\" is not supported (supported: NFC, Sequence, null)");
  }
}

void read_pre_tokenizer(const json& node, const std::string& where, BpeSpec& spec, bool& byte_level_seen) {
  if (node.is_null()) return;
  const std::string type = type_of(node);
  const std::string at = where + ": pre_tokenizer " + (type.empty() ? "(no type)" : type);
  if (type == "Sequence") {
    auto it = node.find("pretokenizers");
    if (it == node.end() || !it->is_array()) throw_error(at, " without a \"pretokenizers\" list");
    for (const auto& child : *it) read_pre_tokenizer(child, where, spec, byte_level_seen);
    return;
  }
  if (byte_level_seen) throw_error(at, " after ByteLevel is not supported (ByteLevel must come last)");
  if (type == "Split") {
    auto pattern = node.find("pattern");
    if (pattern == node.end() || !pattern->is_object()) throw_error(at, ": missing \"pattern\"");
    std::string regex;
    if (auto r = json_file::get_string(*pattern, "Regex", at)) {
      regex = *r;
    } else if (auto s = json_file::get_string(*pattern, "String", at)) {
      regex = regex_escape(*s);
    } else {
      throw_error(at, ": \"pattern\" needs \"Regex\" or \"String\"");
    }
    const auto behavior = json_file::get_string(node, "behavior", at).value_or("Isolated");
    if (behavior != "Isolated") throw_error(at, ": behavior \"", behavior, "\" is not supported (supported: Isolated)");
    if (json_file::get_bool(node, "invert", at).value_or(false)) throw_error(at, ": invert: true is not supported");
    spec.steps.push_back({regex, false});
  } else if (type == "ByteLevel") {
    // Defaults as in Hugging Face tokenizers.
    if (json_file::get_bool(node, "add_prefix_space", at).value_or(true)) spec.steps.push_back({"", true});
    if (json_file::get_bool(node, "use_regex", at).value_or(true)) spec.steps.push_back({kGpt2Pattern, false});
    byte_level_seen = true;
  } else if (type == "Digits") {
    bool individual = json_file::get_bool(node, "individual_digits", at).value_or(false);
    spec.steps.push_back({individual ? R"(\p{N})" : R"(\p{N}+)", false});
  } else {
    throw_error(at, " is not supported (supported: Split, ByteLevel, Digits, Sequence)");
  }
}

// The first special token of a TemplateProcessing post-processor's "single" template.
std::optional<std::string> template_bos(const json& node) {
  if (!node.is_object()) return std::nullopt;
  if (type_of(node) == "Sequence") {
    auto it = node.find("processors");
    if (it == node.end() || !it->is_array()) return std::nullopt;
    for (const auto& child : *it) {
      if (auto bos = template_bos(child)) return bos;
    }
    return std::nullopt;
  }
  if (type_of(node) != "TemplateProcessing") return std::nullopt;
  auto single = node.find("single");
  if (single == node.end() || !single->is_array() || single->empty()) return std::nullopt;
  const json& first = (*single)[0];
  auto special = first.find("SpecialToken");
  if (special == first.end() || !special->is_object()) return std::nullopt;
  auto id = special->find("id");
  if (id == special->end() || !id->is_string()) return std::nullopt;
  return id->get<std::string>();
}

void read_vocab_object(const json& vocab, const std::string& where, BpeSpec& spec) {
  if (!vocab.is_object()) throw_error(where, ": the vocabulary must be an object of token -> id, got ", json_file::type_name(vocab));
  spec.vocab.reserve(vocab.size());
  for (const auto& [token, id] : vocab.items()) {
    if (!id.is_number_integer()) throw_error(where, ": vocabulary entry \"", token, "\" must map to an integer id");
    spec.vocab.emplace_back(token, id.get<int32_t>());
  }
}

std::pair<std::string, std::string> split_merge(std::string_view line, const std::string& where) {
  size_t space = line.find(' ');
  if (space == std::string_view::npos || space == 0 || space + 1 >= line.size() ||
      line.find(' ', space + 1) != std::string_view::npos) {
    throw_error(where, ": expected two tokens separated by one space, got \"", line, "\"");
  }
  return {std::string(line.substr(0, space)), std::string(line.substr(space + 1))};
}

}  // namespace

BpeSpec read_tokenizer_json(const std::filesystem::path& file) {
  const std::string where = file.string();
  json j = read_json_file(file.string());
  if (!j.is_object()) throw_error(where, ": expected a JSON object at top level");
  auto model_it = j.find("model");
  if (model_it == j.end() || !model_it->is_object()) throw_error(where, ": missing the \"model\" object");
  const json& model = *model_it;
  std::string type = json_file::get_string(model, "type", where + ": model").value_or("");
  if (type.empty() && model.contains("merges")) type = "BPE";  // files written before "type" existed
  if (type != "BPE") {
    throw UnsupportedTokenizerError(detail::concat(
        where, ": model.type \"", type,
        "\" is not supported (LiteStage reads byte-level BPE tokenizer.json files; SentencePiece models load from "
        "tokenizer.model)"));
  }
  const json null_json;
  auto member = [&](const char* key) -> const json& {
    auto it = j.find(key);
    return it == j.end() ? null_json : *it;
  };
  if (!has_component(member("pre_tokenizer"), "ByteLevel") && !has_component(member("decoder"), "ByteLevel")) {
    throw UnsupportedTokenizerError(detail::concat(
        where, ": a BPE model without a ByteLevel pre-tokenizer or decoder (a SentencePiece-style conversion using "
               "byte_fallback/Metaspace) is not supported; load the directory's tokenizer.model instead"));
  }
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (auto v = json_file::get_string(model, key, where + ": model"); v && !v->empty()) {
      throw_error(where, ": model.", key, " \"", *v, "\" is not supported");
    }
  }

  BpeSpec spec;
  spec.source = where;
  auto vocab = model.find("vocab");
  if (vocab == model.end()) throw_error(where, ": model has no \"vocab\"");
  read_vocab_object(*vocab, where + ": model.vocab", spec);

  auto merges = model.find("merges");
  if (merges == model.end() || !merges->is_array()) throw_error(where, ": model.merges must be a list");
  spec.merges.reserve(merges->size());
  for (size_t i = 0; i < merges->size(); ++i) {
    const json& m = (*merges)[i];
    const std::string at = where + ": model.merges[" + std::to_string(i) + "]";
    if (m.is_string()) {
      spec.merges.push_back(split_merge(m.get<std::string>(), at));
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      spec.merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
    } else {
      throw_error(at, ": expected \"a b\" or [\"a\", \"b\"]");
    }
  }
  spec.ignore_merges = json_file::get_bool(model, "ignore_merges", where + ": model").value_or(false);

  read_normalizer(member("normalizer"), where, spec);
  bool byte_level_seen = false;
  read_pre_tokenizer(member("pre_tokenizer"), where, spec, byte_level_seen);

  const json& added = member("added_tokens");
  if (!added.is_null()) {
    if (!added.is_array()) throw_error(where, ": \"added_tokens\" must be a list");
    for (size_t i = 0; i < added.size(); ++i) {
      const std::string at = where + ": added_tokens[" + std::to_string(i) + "]";
      const json& a = added[i];
      if (!a.is_object()) throw_error(at, ": expected an object");
      AddedToken t;
      auto id = json_file::get_int(a, "id", at);
      auto content = json_file::get_string(a, "content", at);
      if (!id || !content) throw_error(at, ": needs \"id\" and \"content\"");
      t.id = static_cast<int32_t>(*id);
      t.content = *content;
      t.special = json_file::get_bool(a, "special", at).value_or(false);
      t.lstrip = json_file::get_bool(a, "lstrip", at).value_or(false);
      t.rstrip = json_file::get_bool(a, "rstrip", at).value_or(false);
      spec.added_tokens.push_back(std::move(t));
    }
  }
  spec.template_bos = template_bos(member("post_processor"));
  return spec;
}

BpeSpec read_vocab_merges(const std::filesystem::path& vocab_json, const std::filesystem::path& merges_txt,
                          const HfConventions& conventions) {
  BpeSpec spec;
  spec.source = vocab_json.string() + " + " + merges_txt.filename().string();
  read_vocab_object(read_json_file(vocab_json.string()), vocab_json.string(), spec);

  const std::string text = read_file(merges_txt.string());
  size_t line_no = 0, pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || (line_no == 1 && starts_with(line, "#version"))) continue;
    spec.merges.push_back(split_merge(line, merges_txt.string() + " line " + std::to_string(line_no)));
  }

  spec.added_tokens = conventions.added_tokens;
  const std::string cls = conventions.tokenizer_class.value_or("");
  if (starts_with(cls, "Qwen2Tokenizer")) {
    // Qwen2's slow tokenizer: NFC, then its own split regex (same as its tokenizer.json).
    spec.nfc = true;
    spec.steps.push_back({kQwen2Pattern, false});
  } else {
    spec.steps.push_back({kGpt2Pattern, false});
  }
  return spec;
}

std::unique_ptr<BpeTokenizer> load_bpe_tokenizer(const std::filesystem::path& dir) {
  const auto json_path = dir / "tokenizer.json";
  const auto vocab_path = dir / "vocab.json", merges_path = dir / "merges.txt";
  HfConventions conv = read_hf_conventions(dir);
  BpeSpec spec;
  if (std::filesystem::exists(json_path)) {
    spec = read_tokenizer_json(json_path);
  } else if (std::filesystem::exists(vocab_path) && std::filesystem::exists(merges_path)) {
    spec = read_vocab_merges(vocab_path, merges_path, conv);
  } else {
    throw_error("no byte-level BPE tokenizer in ", dir.string(),
                ": looked for tokenizer.json, or vocab.json + merges.txt",
                std::filesystem::exists(vocab_path) ? " (vocab.json is there, merges.txt is missing)"
                : std::filesystem::exists(merges_path) ? " (merges.txt is there, vocab.json is missing)"
                                                       : "");
  }
  // tokenizer_config.json may list added tokens that tokenizer.json lacks.
  for (const auto& t : conv.added_tokens) {
    bool known = std::any_of(spec.added_tokens.begin(), spec.added_tokens.end(),
                             [&](const AddedToken& a) { return a.id == t.id; });
    if (!known) spec.added_tokens.push_back(t);
  }
  SpecialTokenDefaults defaults;
  defaults.add_bos = spec.template_bos.has_value();
  defaults.bos_piece = spec.template_bos;
  defaults.bos_piece_source = json_path.string() + ": post_processor";
  defaults.eos_pieces = {"<|endoftext|>", "<|im_end|>", "<|eot_id|>", "<|end_of_text|>"};
  auto tok = std::make_unique<BpeTokenizer>(std::move(spec));
  auto ids = resolve_special_tokens(conv, defaults, [&](std::string_view piece) { return tok->token_id(piece); },
                                    (dir / "tokenizer_config.json").string());
  tok->set_special_ids(ids.bos, std::move(ids.eos), ids.pad);
  return tok;
}

}  // namespace litestage
