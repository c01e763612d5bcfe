#include "litestage/util/yaml_schema.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <sstream>

#include "litestage/util/error.hpp"
#include "litestage/util/strings.hpp"

namespace litestage {

void throw_unknown_name(const std::string& what, const std::string& name, const std::string& known) {
  throw_error(what, ": unknown '", name, "'", known.empty() ? "" : " (known: " + known + ")");
}

namespace {

std::string number_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

template <class T>
YAML::Node sequence(const std::vector<T>& values) {
  YAML::Node n(YAML::NodeType::Sequence);
  for (const auto& v : values) n.push_back(YamlCodec<T>::write(v));
  return n;
}

// For every mapping on the way to a key ("" is the root), the keys it accepts, in table order.
std::map<std::string, std::vector<std::string>> sections_of(const std::vector<OptionInfo>& keys) {
  std::map<std::string, std::vector<std::string>> sections;
  for (const auto& k : keys) {
    std::string prefix;
    for (const auto& part : split(k.key, '.', false)) {
      auto& children = sections[prefix];
      if (std::find(children.begin(), children.end(), part) == children.end()) children.push_back(part);
      prefix += (prefix.empty() ? "" : ".") + part;
    }
  }
  return sections;
}

void check_mapping(const YamlNode& node, const std::string& prefix,
                   const std::map<std::string, std::vector<std::string>>& sections) {
  const auto& children = sections.at(prefix);
  node.expect_keys(children);
  for (const auto& child : children) {
    const std::string path = prefix.empty() ? child : prefix + "." + child;
    if (sections.count(path) && node[child].defined()) check_mapping(node[child], path, sections);
  }
}

YamlNode node_at(const YamlNode& root, const std::string& dotted) {
  // YAML::Node assignment writes through the handle, so each step constructs a new node instead.
  std::vector<YamlNode> chain{root};
  for (const auto& part : split(dotted, '.', false)) {
    if (!chain.back().defined()) break;
    chain.push_back(chain.back()[part]);
  }
  return chain.back();
}

// Terminal columns of UTF-8 text (no wide characters here): its code points.
size_t columns(const std::string& s) {
  return static_cast<size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

}  // namespace

namespace {

std::vector<YamlNode> items_of(const YamlNode& node) {
  return node.raw().IsSequence() ? node.items() : std::vector<YamlNode>{node};
}

}  // namespace

void check_choices(const YamlNode& node, const OptionInfo& info) {
  if (info.choices.empty()) return;
  for (const auto& item : items_of(node)) {
    const auto v = item.as_string();
    if (std::find(info.choices.begin(), info.choices.end(), v) == info.choices.end())
      item.fail("'" + v + "' is not one of: " + join(info.choices, ", "));
  }
}

void check_bounds(const YamlNode& node, const OptionInfo& info) {
  if (!info.min && !info.max) return;
  for (const auto& item : items_of(node)) {
    if (!item.raw().IsScalar()) continue;  // reading it names the type expected
    char* end = nullptr;
    const std::string& text = item.raw().Scalar();
    const double v = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0' || !std::isfinite(v)) continue;
    if (info.min && info.max && (v < *info.min || v > *info.max))
      item.fail("must be in [" + number_text(*info.min) + ", " + number_text(*info.max) + "]");
    if (info.min && v < *info.min) item.fail("must be >= " + number_text(*info.min));
    if (info.max && v > *info.max) item.fail("must be <= " + number_text(*info.max));
  }
}

std::string shortest_number_text(double v) {
  if (!std::isfinite(v)) return YAML::Node(v).Scalar();  // .nan, .inf, -.inf
  char buf[40];
  for (int digits = 15; digits <= 17; ++digits) {
    std::snprintf(buf, sizeof buf, "%.*g", digits, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

std::string OptionInfo::type_text() const {
  if (min && max) return type + " in [" + number_text(*min) + ", " + number_text(*max) + "]";
  if (min) return type + " ≥ " + number_text(*min);
  if (max) return type + " ≤ " + number_text(*max);
  return type;
}

YAML::Node YamlCodec<std::vector<std::string>>::write(const std::vector<std::string>& v) { return sequence(v); }
YAML::Node YamlCodec<std::vector<double>>::write(const std::vector<double>& v) { return sequence(v); }

std::string yaml_inline(const YAML::Node& value) {
  if (!value.IsDefined() || value.IsNull()) return "";
  YAML::Emitter out;
  out << YAML::Flow << value;
  return out.c_str();
}

std::vector<YamlNode> checked_nodes(const YamlNode& root, const std::vector<OptionInfo>& keys) {
  if (root.defined()) check_mapping(root, "", sections_of(keys));
  std::vector<YamlNode> nodes;
  for (const auto& info : keys) {
    YamlNode n = node_at(root, info.key);
    if (!n.defined() && info.required) YamlNode(YAML::Node(), info.key, root.file()).fail("required key is missing");
    nodes.push_back(n);
  }
  return nodes;
}

nlohmann::json yaml_to_json(const YAML::Node& node) {
  if (node.IsMap()) {
    nlohmann::json j = nlohmann::json::object();
    for (const auto& kv : node) j[kv.first.as<std::string>()] = yaml_to_json(kv.second);
    return j;
  }
  if (node.IsSequence()) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& item : node) j.push_back(yaml_to_json(item));
    return j;
  }
  if (node.IsScalar()) return node.Scalar();
  return nullptr;
}

std::string list_options(const std::vector<OptionInfo>& keys) {
  size_t wk = 3, wt = 4, wd = 7;
  for (const auto& k : keys) {
    wk = std::max(wk, k.key.size());
    wt = std::max(wt, columns(k.type_text()));
    wd = std::max(wd, k.required ? 8 : k.default_text.size());
  }
  std::ostringstream o;
  auto row = [&](const std::string& key, const std::string& type, const std::string& def, const std::string& help) {
    o << key << std::string(wk + 2 - key.size(), ' ') << type << std::string(wt + 2 - columns(type), ' ') << def
      << std::string(wd + 2 - def.size(), ' ') << help << "\n";
  };
  row("key", "type", "default", "meaning");
  for (const auto& k : keys) {
    std::string help = k.help;
    if (!k.choices.empty()) help += " (one of: " + join(k.choices, ", ") + ")";
    row(k.key, k.type_text(), k.required ? "required" : k.default_text, help);
  }
  return o.str();
}

}  // namespace litestage
