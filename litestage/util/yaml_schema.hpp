#pragma once
// A YAML file's keys, declared once. Each key is one Option: its dotted path, its type (from the
// field it binds to), bounds or allowed values, one line of help, and the field of the
// configuration struct it reads into. The struct's member initialisers are the defaults, so a
// default is written once too. One table of options then
//   - reads a file: unknown keys, wrong types, out-of-range values and missing required keys are
//     errors that name the key path (util/yaml.hpp);
//   - writes the effective YAML: every key, defaults filled in;
//   - lists the keys (`--list-options`) and is checked against the documentation's key tables.
//
//   struct Timing { int repeats = 3; };
//   std::vector<Option<Timing>> t = {
//       option<Timing>("repeats", [](auto& s) -> auto& { return s.repeats; }, "timed passes").min(1)};

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "litestage/util/yaml.hpp"

namespace litestage {

// An enum's YAML names, in the order a listing shows them.
template <class E>
using EnumNames = std::vector<std::pair<std::string, E>>;

[[noreturn]] void throw_unknown_name(const std::string& what, const std::string& name, const std::string& known);

// The value named `name`, else an error: "<what>: unknown 'x' (known: a, b)".
template <class E>
E enum_from_name(const EnumNames<E>& names, const std::string& name, const std::string& what) {
  std::string known;
  for (const auto& [n, value] : names) {
    if (n == name) return value;
    known += (known.empty() ? "" : ", ") + n;
  }
  throw_unknown_name(what, name, known);
}

template <class E>
const std::string& enum_name(const EnumNames<E>& names, E value) {
  for (const auto& entry : names)
    if (entry.second == value) return entry.first;
  throw_unknown_name("enum value", std::to_string(static_cast<int>(value)), "");
}

// What a listing, a documentation check or a validity check needs to know of one key.
struct OptionInfo {
  std::string key;                   // dotted path: "runtime.threads"
  std::string type;                  // "int", "number", "bool", "string", "list of strings", ...
  std::optional<double> min, max;    // inclusive bounds of a number (or of each list item)
  std::vector<std::string> choices;  // the allowed values of a string (or of each list item)
  std::string default_text;          // the default as YAML, or a note when it is computed
  std::string help;                  // one line
  bool required = false;
  bool fingerprint = true;           // the value changes results (see `options_json`)

  std::string type_text() const;     // "int ≥ 1", "number in [0, 1]", "string"
};

template <class Spec>
struct Option {
  OptionInfo info;
  std::function<void(const YamlNode&, Spec&)> read;  // a present key's value into the struct
  std::function<YAML::Node(const Spec&)> write;       // no_value(): nothing to write

  Option&& min(double v) && { info.min = v; return std::move(*this); }
  Option&& max(double v) && { info.max = v; return std::move(*this); }
  Option&& choices(std::vector<std::string> c) && { info.choices = std::move(c); return std::move(*this); }
  Option&& required() && { info.required = true; return std::move(*this); }
  Option&& default_note(std::string note) && { info.default_text = std::move(note); return std::move(*this); }
  Option&& not_fingerprinted() && { info.fingerprint = false; return std::move(*this); }
};

// What a writer returns for a key it leaves out (an absent optional value).
inline YAML::Node no_value() { return YAML::Node(YAML::NodeType::Undefined); }

// How one field type reads, writes and names itself.
template <class T, class Enable = void>
struct YamlCodec;

template <class T>
struct YamlCodec<T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>>> {
  static const char* type() { return "int"; }
  static T read(const YamlNode& n) {
    const int64_t v = n.as_int();
    if (std::is_unsigned_v<T> && v < 0) n.fail("must be >= 0");
    return static_cast<T>(v);
  }
  static YAML::Node write(T v) { return YAML::Node(v); }
};
template <>
struct YamlCodec<bool> {
  static const char* type() { return "bool"; }
  static bool read(const YamlNode& n) { return n.as_bool(); }
  static YAML::Node write(bool v) { return YAML::Node(v); }
};
// The shortest text that reads back as exactly `v` ("0.4", not "0.40000000000000002").
std::string shortest_number_text(double v);

template <>
struct YamlCodec<double> {
  static const char* type() { return "number"; }
  static double read(const YamlNode& n) { return n.as_double(); }
  static YAML::Node write(double v) { return YAML::Node(shortest_number_text(v)); }
};
template <>
struct YamlCodec<std::string> {
  static const char* type() { return "string"; }
  static std::string read(const YamlNode& n) { return n.as_string(); }
  static YAML::Node write(const std::string& v) { return YAML::Node(v); }
};
template <>
struct YamlCodec<std::vector<std::string>> {
  static const char* type() { return "list of strings"; }
  static std::vector<std::string> read(const YamlNode& n) { return n.as_string_list(); }
  static YAML::Node write(const std::vector<std::string>& v);
};
template <>
struct YamlCodec<std::vector<double>> {
  static const char* type() { return "list of numbers"; }
  static std::vector<double> read(const YamlNode& n) { return n.as_double_list(); }
  static YAML::Node write(const std::vector<double>& v);
};
template <class T>
struct YamlCodec<std::optional<T>> {  // absent: not written
  static const char* type() { return YamlCodec<T>::type(); }
  static std::optional<T> read(const YamlNode& n) { return YamlCodec<T>::read(n); }
  static YAML::Node write(const std::optional<T>& v) { return v ? YamlCodec<T>::write(*v) : no_value(); }
};

// The YAML text of one value on one line ("3", "[0.4, 0.5]", "mean").
std::string yaml_inline(const YAML::Node& value);

// A key bound to a field: `field(spec)` returns a reference to it (write it as a generic lambda,
// `[](auto& s) -> auto& { return s.x; }`, so that it serves const and mutable structs alike). The
// default shown is the field's value in a default-constructed Spec.
template <class Spec, class Field>
Option<Spec> option(std::string key, Field field, std::string help) {
  using T = std::decay_t<decltype(field(std::declval<Spec&>()))>;
  Option<Spec> o;
  o.info.key = std::move(key);
  o.info.type = YamlCodec<T>::type();
  o.info.help = std::move(help);
  const auto defaults = std::make_unique<const Spec>();  // on the heap: GCC 12 warns falsely of a local one
  o.info.default_text = yaml_inline(YamlCodec<T>::write(field(*defaults)));
  o.read = [field](const YamlNode& n, Spec& s) { field(s) = YamlCodec<T>::read(n); };
  o.write = [field](const Spec& s) { return YamlCodec<T>::write(field(s)); };
  return o;
}

// A key bound to an enum field through its names.
template <class Spec, class Field, class E = std::decay_t<std::invoke_result_t<Field, Spec&>>>
Option<Spec> enum_option(std::string key, Field field, const EnumNames<E>& names, std::string help) {
  Option<Spec> o;
  o.info.key = std::move(key);
  o.info.type = "string";
  o.info.help = std::move(help);
  for (const auto& [name, value] : names) o.info.choices.push_back(name);
  const auto defaults = std::make_unique<const Spec>();
  o.info.default_text = enum_name(names, field(*defaults));
  o.read = [field, names](const YamlNode& n, Spec& s) { field(s) = enum_from_name(names, n.as_string(), n.path()); };
  o.write = [field, names](const Spec& s) { return YAML::Node(enum_name(names, field(s))); };
  return o;
}

// A key read and written by hand: its type text, default text and help, and the two functions.
template <class Spec>
Option<Spec> custom_option(std::string key, std::string type, std::string default_text, std::string help,
                           std::function<void(const YamlNode&, Spec&)> read, std::function<YAML::Node(const Spec&)> write) {
  Option<Spec> o;
  o.info.key = std::move(key);
  o.info.type = std::move(type);
  o.info.default_text = std::move(default_text);
  o.info.help = std::move(help);
  o.read = std::move(read);
  o.write = std::move(write);
  return o;
}

// A key bound to a list of enum values through their names.
template <class Spec, class Field, class E>
Option<Spec> enum_list_option(std::string key, Field field, const EnumNames<E>& names, std::string help) {
  Option<Spec> o;
  o.info.key = std::move(key);
  o.info.type = YamlCodec<std::vector<std::string>>::type();
  o.info.help = std::move(help);
  for (const auto& [name, value] : names) o.info.choices.push_back(name);
  auto to_names = [names](const std::vector<E>& values) {
    std::vector<std::string> out;
    for (E v : values) out.push_back(enum_name(names, v));
    return out;
  };
  const auto defaults = std::make_unique<const Spec>();
  o.info.default_text = yaml_inline(YamlCodec<std::vector<std::string>>::write(to_names(field(*defaults))));
  o.read = [field, names](const YamlNode& n, Spec& s) {
    std::vector<E> values;
    for (const auto& name : n.as_string_list()) values.push_back(enum_from_name(names, name, n.path()));
    field(s) = std::move(values);
  };
  o.write = [field, to_names](const Spec& s) { return YamlCodec<std::vector<std::string>>::write(to_names(field(s))); };
  return o;
}

// A table of a nested struct under `prefix`. `get` reads the nested value from a const Spec (it
// may return a computed value); `ref` returns the nested struct to read into. With `inherits`, the
// defaults shown are that table's keys ("early_exit.window").
template <class Spec, class Sub, class Get, class Ref>
void nest(std::vector<Option<Spec>>& into, const std::string& prefix, const std::vector<Option<Sub>>& table, Get get,
          Ref ref, const std::string& inherits = "") {
  for (const auto& sub : table) {
    Option<Spec> o;
    o.info = sub.info;
    o.info.key = prefix + "." + sub.info.key;
    if (!inherits.empty()) o.info.default_text = inherits + "." + sub.info.key;
    o.read = [read = sub.read, ref](const YamlNode& n, Spec& s) { read(n, ref(s)); };
    o.write = [write = sub.write, get](const Spec& s) { return write(get(s)); };
    into.push_back(std::move(o));
  }
}

// The keys of a table: what reading and listing need, without the bindings.
template <class Spec>
std::vector<OptionInfo> option_infos(const std::vector<Option<Spec>>& table) {
  std::vector<OptionInfo> infos;
  for (const auto& o : table) infos.push_back(o.info);
  return infos;
}

// Checks the mapping `root` against the keys (every mapping on the way accepts exactly the keys
// declared under it) and that required keys are present, then returns the node of each key, in
// table order (undefined when absent).
std::vector<YamlNode> checked_nodes(const YamlNode& root, const std::vector<OptionInfo>& keys);
// A present value against its allowed values and its bounds, before reading it (bounds apply to
// the values that are numbers; reading the others names the type expected).
void check_choices(const YamlNode& node, const OptionInfo& info);
void check_bounds(const YamlNode& node, const OptionInfo& info);

template <class Spec>
void read_options(const YamlNode& root, const std::vector<Option<Spec>>& table, Spec& spec) {
  const auto nodes = checked_nodes(root, option_infos(table));
  for (size_t i = 0; i < table.size(); ++i) {
    if (!nodes[i].defined()) continue;
    check_choices(nodes[i], table[i].info);
    // Bounds first: a negative count reads "must be >= 1", as 0 does, not an unsigned type's ">= 0".
    check_bounds(nodes[i], table[i].info);
    table[i].read(nodes[i], spec);
  }
}

// Every key's value (defaults filled in) as a YAML tree; `fingerprint_only` keeps the keys that
// change results.
template <class Spec>
YAML::Node write_options(const std::vector<Option<Spec>>& table, const Spec& spec, bool fingerprint_only = false);

template <class Spec>
YAML::Node write_options(const std::vector<Option<Spec>>& table, const Spec& spec, bool fingerprint_only) {
  YAML::Node root(YAML::NodeType::Map);
  for (const auto& o : table) {
    if (fingerprint_only && !o.info.fingerprint) continue;
    YAML::Node v = o.write(spec);
    if (v.IsDefined()) set_yaml_path(root, o.info.key, v);
  }
  return root;
}

// A YAML tree as JSON: mappings, sequences, and scalars as their text.
nlohmann::json yaml_to_json(const YAML::Node& node);

// The keys that change results, with their values: what an output directory's fingerprint holds.
template <class Spec>
nlohmann::json options_json(const std::vector<Option<Spec>>& table, const Spec& spec) {
  return yaml_to_json(write_options(table, spec, true));
}

// One line per key: "key  type  default  help (one of: ...)", aligned, for --list-options.
std::string list_options(const std::vector<OptionInfo>& keys);

}  // namespace litestage
