#include "litestage/util/yaml.hpp"

#include <algorithm>
#include <cmath>

#include "litestage/util/error.hpp"
#include "litestage/util/strings.hpp"
#include "litestage/util/utf8.hpp"

namespace litestage {

namespace {
std::string describe(const YAML::Node& n) {
  if (!n.IsDefined() || n.IsNull()) return "nothing";
  if (n.IsScalar()) return "'" + n.Scalar() + "'";
  if (n.IsSequence()) return "a list";
  if (n.IsMap()) return "a mapping";
  return "an unknown value";
}
}  // namespace

YamlNode::YamlNode(YAML::Node node, std::string path, std::string file)
    : node_(std::move(node)), path_(std::move(path)), file_(std::move(file)) {}

YamlNode YamlNode::load_file(const std::string& path) {
  std::string text = read_file(path);
  return load_string(text, path);
}

YamlNode YamlNode::load_string(const std::string& text, const std::string& name) {
  utf8::validate(text, name);  // YAML is Unicode; yaml-cpp would pass stray bytes through
  try {
    return YamlNode(YAML::Load(text), "", name);
  } catch (const YAML::Exception& e) {
    throw_error(name, ": invalid YAML at line ", e.mark.line + 1, ", column ", e.mark.column + 1, ": ", e.msg);
  }
}

std::string YamlNode::where() const {
  std::string w = file_.empty() ? "" : file_ + ": ";
  return w + (path_.empty() ? "(top level)" : path_);
}

void YamlNode::fail(const std::string& message) const { throw_error(where(), ": ", message); }

void YamlNode::expect_map() const {
  if (!node_.IsMap()) fail("expected a mapping, got " + describe(node_));
}

void YamlNode::expect_keys(const std::vector<std::string>& allowed) const {
  for (const auto& key : keys()) {
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      std::string p = path_.empty() ? key : path_ + "." + key;
      throw_error(file_.empty() ? "" : file_ + ": ", p, ": unknown key (expected one of: ", join(allowed, ", "), ")");
    }
  }
}

bool YamlNode::has(const std::string& key) const {
  return node_.IsMap() && node_[key].IsDefined() && !node_[key].IsNull();
}

YamlNode YamlNode::operator[](const std::string& key) const {
  std::string p = path_.empty() ? key : path_ + "." + key;
  if (node_.IsMap()) {
    // A missing key gives yaml-cpp's invalid "zombie" node, which throws on any question but
    // IsDefined(): hand out a plain undefined node instead.
    YAML::Node child = node_[key];
    if (child.IsDefined()) return YamlNode(child, p, file_);
  }
  return YamlNode(YAML::Node(YAML::NodeType::Undefined), p, file_);
}

std::vector<YamlNode> YamlNode::items() const {
  if (!node_.IsSequence()) fail("expected a list, got " + describe(node_));
  std::vector<YamlNode> out;
  for (size_t i = 0; i < node_.size(); ++i)
    out.emplace_back(node_[i], path_ + "[" + std::to_string(i) + "]", file_);
  return out;
}

std::vector<std::string> YamlNode::keys() const {
  expect_map();
  std::vector<std::string> out;
  for (const auto& kv : node_) {
    if (!kv.first.IsScalar()) fail("a key must be a plain name, got " + describe(kv.first));
    out.push_back(kv.first.Scalar());
  }
  return out;
}

int64_t YamlNode::as_int() const {
  if (!node_.IsScalar()) fail("expected an integer, got " + describe(node_));
  const std::string& s = node_.Scalar();
  try {
    size_t used = 0;
    long long v = std::stoll(s, &used, 10);
    if (used == s.size()) return v;
  } catch (const std::exception&) {
  }
  fail("expected an integer, got '" + s + "'");
}

double YamlNode::as_double() const {
  if (!node_.IsScalar()) fail("expected a number, got " + describe(node_));
  const std::string& s = node_.Scalar();
  try {
    size_t used = 0;
    double v = std::stod(s, &used);
    if (used == s.size() && std::isfinite(v)) return v;
  } catch (const std::exception&) {
  }
  fail("expected a number, got '" + s + "'");
}

bool YamlNode::as_bool() const {
  if (!node_.IsScalar()) fail("expected true or false, got " + describe(node_));
  std::string s = to_lower(node_.Scalar());
  if (s == "true" || s == "yes" || s == "on") return true;
  if (s == "false" || s == "no" || s == "off") return false;
  fail("expected true or false, got '" + node_.Scalar() + "'");
}

std::string YamlNode::as_string() const {
  if (!node_.IsScalar()) fail("expected a string, got " + describe(node_));
  return node_.Scalar();
}

std::vector<double> YamlNode::as_double_list() const {
  std::vector<double> out;
  for (const auto& item : items()) out.push_back(item.as_double());
  return out;
}

std::vector<std::string> YamlNode::as_string_list() const {
  if (node_.IsScalar()) return {node_.Scalar()};
  std::vector<std::string> out;
  for (const auto& item : items()) out.push_back(item.as_string());
  return out;
}

int64_t YamlNode::get_int(const std::string& key, int64_t fallback) const {
  return has(key) ? (*this)[key].as_int() : fallback;
}
double YamlNode::get_double(const std::string& key, double fallback) const {
  return has(key) ? (*this)[key].as_double() : fallback;
}
bool YamlNode::get_bool(const std::string& key, bool fallback) const {
  return has(key) ? (*this)[key].as_bool() : fallback;
}
std::string YamlNode::get_string(const std::string& key, const std::string& fallback) const {
  return has(key) ? (*this)[key].as_string() : fallback;
}
std::string YamlNode::require_string(const std::string& key) const {
  if (!has(key)) (*this)[key].fail("required key is missing");
  return (*this)[key].as_string();
}
std::string YamlNode::get_choice(const std::string& key, const std::string& fallback,
                                 const std::vector<std::string>& choices) const {
  std::string v = get_string(key, fallback);
  if (std::find(choices.begin(), choices.end(), v) == choices.end())
    (*this)[key].fail("'" + v + "' is not one of: " + join(choices, ", "));
  return v;
}

void set_yaml_path(YAML::Node& root, const std::string& dotted, const YAML::Node& value) {
  const auto keys = split(dotted, '.', false);
  for (const auto& k : keys)
    if (k.empty()) throw_error("empty key in path '", dotted, "'");
  if (!root.IsDefined() || root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  // yaml-cpp nodes are handles: walk by keeping a handle to each mapping on the way.
  std::vector<YAML::Node> chain{root};
  for (size_t i = 0; i + 1 < keys.size(); ++i) {
    YAML::Node child = chain.back()[keys[i]];
    if (!child.IsDefined() || child.IsNull()) {
      chain.back()[keys[i]] = YAML::Node(YAML::NodeType::Map);
      child = chain.back()[keys[i]];
    }
    if (!child.IsMap()) throw_error("'", keys[i], "' is not a mapping");
    chain.push_back(child);
  }
  chain.back()[keys.back()] = value;
}

void apply_yaml_override(YAML::Node& root, const std::string& assignment) {
  auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) throw_error("--set '", assignment, "': expected key.path=value");
  utf8::validate(assignment, "--set '" + assignment + "'");
  YAML::Node parsed;
  try {
    parsed = YAML::Load(assignment.substr(eq + 1));
  } catch (const YAML::Exception& e) {
    throw_error("--set '", assignment, "': value is not valid YAML: ", e.msg);
  }
  try {
    set_yaml_path(root, trim(assignment.substr(0, eq)), parsed);
  } catch (const Error& e) {
    throw_error("--set '", assignment, "': ", e.what());
  }
}

namespace {

// As yaml-cpp writes a node, except that a string with a carriage return is double-quoted with
// escapes: yaml-cpp writes it raw, and one just before a line break would read back as part of it.
void emit(YAML::Emitter& out, const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map:
      if (n.Style() == YAML::EmitterStyle::Flow) out << YAML::Flow;
      out << YAML::BeginMap;
      for (const auto& kv : n) {
        out << YAML::Key;
        emit(out, kv.first);
        out << YAML::Value;
        emit(out, kv.second);
      }
      out << YAML::EndMap;
      break;
    case YAML::NodeType::Sequence:
      if (n.Style() == YAML::EmitterStyle::Flow) out << YAML::Flow;
      out << YAML::BeginSeq;
      for (const auto& item : n) emit(out, item);
      out << YAML::EndSeq;
      break;
    case YAML::NodeType::Scalar:
      if (n.Scalar().find('\r') != std::string::npos) out << YAML::DoubleQuoted;
      out << n.Scalar();
      break;
    default:
      out << YAML::Null;
  }
}

}  // namespace

std::string yaml_dump(const YAML::Node& node) {
  YAML::Emitter out;
  emit(out, node);
  return std::string(out.c_str()) + "\n";
}

}  // namespace litestage
