#pragma once
// Strict YAML reading for experiment and training files. Every value is read through a YamlNode
// that knows its key path, so errors read "stages.recall.early_exit.window: expected an integer,
// got 'four'"; every mapping declares the keys it accepts, so a misspelt key is an error, never
// silently ignored.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace litestage {

class YamlNode {
 public:
  YamlNode() = default;
  YamlNode(YAML::Node node, std::string path, std::string file = "");
  YamlNode(const YamlNode&) = default;
  // Rebinds to the other node (a YAML::Node assigned to would write through its handle instead).
  YamlNode& operator=(const YamlNode& other) {
    node_.reset(other.node_);
    path_ = other.path_;
    file_ = other.file_;
    return *this;
  }

  // Parses a file (errors name it and the line).
  static YamlNode load_file(const std::string& path);
  static YamlNode load_string(const std::string& text, const std::string& name = "<string>");

  const std::string& path() const { return path_; }
  const std::string& file() const { return file_; }
  bool defined() const { return node_.IsDefined() && !node_.IsNull(); }
  bool is_map() const { return node_.IsMap(); }
  const YAML::Node& raw() const { return node_; }

  // Throws unless this node is a mapping whose keys are all in `allowed`.
  void expect_keys(const std::vector<std::string>& allowed) const;
  void expect_map() const;
  bool has(const std::string& key) const;
  YamlNode operator[](const std::string& key) const;  // undefined node when absent
  std::vector<YamlNode> items() const;                 // sequence elements
  std::vector<std::string> keys() const;               // mapping keys in file order

  int64_t as_int() const;
  double as_double() const;
  bool as_bool() const;
  std::string as_string() const;
  std::vector<double> as_double_list() const;
  std::vector<std::string> as_string_list() const;  // a sequence of strings, or one string

  // Value of `key` or the fallback when absent/null.
  int64_t get_int(const std::string& key, int64_t fallback) const;
  double get_double(const std::string& key, double fallback) const;
  bool get_bool(const std::string& key, bool fallback) const;
  std::string get_string(const std::string& key, const std::string& fallback) const;
  std::string require_string(const std::string& key) const;
  // One of `choices`, else an error listing them.
  std::string get_choice(const std::string& key, const std::string& fallback,
                         const std::vector<std::string>& choices) const;

  [[noreturn]] void fail(const std::string& message) const;

 private:
  std::string where() const;
  YAML::Node node_;
  std::string path_;
  std::string file_;
};

// Sets `value` at a dotted path of `root` ("a.b.c"), creating mappings where keys are missing or
// null. Throws on an empty key, or where the path runs through a value that is not a mapping.
void set_yaml_path(YAML::Node& root, const std::string& dotted, const YAML::Node& value);

// Applies "a.b.c=value" overrides (value parsed as YAML, so numbers stay numbers) to a tree,
// creating intermediate mappings. Throws on a malformed assignment.
void apply_yaml_override(YAML::Node& root, const std::string& assignment);

// Canonical YAML text of a tree (block style), for writing effective configs.
std::string yaml_dump(const YAML::Node& node);

}  // namespace litestage
