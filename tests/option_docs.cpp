#include "option_docs.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <set>

#include "litestage/util/strings.hpp"

namespace litestage::test {

namespace {

struct DocRow {
  std::string type, default_text;
};
// prefixes (first: the table's own) -> rows by key
using DocTables = std::vector<std::pair<std::vector<std::string>, std::map<std::string, DocRow>>>;

std::string plain(std::string cell) {
  std::string out;
  for (char c : trim(cell))
    if (c != '`' && c != '*') out += c;
  return out;
}

// Tables preceded by "<!-- options: PREFIX ... -->" ("." is the top level).
DocTables doc_tables(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in);
  DocTables tables;
  std::string line;
  bool in_table = false;
  while (std::getline(in, line)) {
    if (line.rfind("<!-- options:", 0) == 0) {
      auto words = split(line.substr(13, line.find("-->") - 13), ' ');
      for (auto& w : words) w = w == "." ? "" : w;
      tables.push_back({words, {}});
      in_table = true;
      continue;
    }
    if (!in_table) continue;
    if (line.rfind("|", 0) != 0) {
      in_table = false;
      continue;
    }
    auto cells = split(line, '|', false);  // "", key, type, default, meaning, ""
    REQUIRE(cells.size() >= 5);
    const auto key = plain(cells[1]);
    if (key == "key" || key.rfind("---", 0) == 0) continue;
    tables.back().second[key] = {plain(cells[2]), plain(cells[3])};
  }
  return tables;
}

// The keys (leaves) and the mappings (sections) directly under a prefix.
std::map<std::string, const OptionInfo*> children(const std::vector<OptionInfo>& infos, const std::string& prefix,
                                                  std::set<std::string>& sections) {
  std::map<std::string, const OptionInfo*> out;
  const std::string head = prefix.empty() ? "" : prefix + ".";
  for (const auto& info : infos) {
    if (info.key.rfind(head, 0) != 0) continue;
    const auto rest = info.key.substr(head.size());
    const auto dot = rest.find('.');
    if (dot == std::string::npos) {
      out[rest] = &info;
    } else {
      out[rest.substr(0, dot)] = nullptr;
      sections.insert(rest.substr(0, dot));
    }
  }
  return out;
}

}  // namespace

void check_option_docs(const std::vector<OptionInfo>& infos, const std::string& path, std::size_t min_tables) {
  const auto tables = doc_tables(path);
  REQUIRE(tables.size() >= min_tables);
  std::set<std::string> documented;  // prefixes with a table
  for (const auto& [prefixes, rows] : tables) {
    for (const auto& prefix : prefixes) {
      INFO("table of '" << prefix << "'");
      documented.insert(prefix);
      std::set<std::string> sections;
      const auto declared = children(infos, prefix, sections);
      std::set<std::string> declared_keys, doc_keys;
      for (const auto& [k, info] : declared) declared_keys.insert(k);
      for (const auto& [k, row] : rows) doc_keys.insert(k);
      CHECK(doc_keys == declared_keys);
      if (prefix != prefixes.front()) continue;  // the same table: keys only
      for (const auto& [k, row] : rows) {
        INFO("key '" << k << "'");
        auto it = declared.find(k);
        if (it == declared.end()) continue;
        if (!it->second) {
          CHECK(row.type == "mapping");
          continue;
        }
        CHECK(row.type == it->second->type_text());
        CHECK(row.default_text == (it->second->required ? "required" : it->second->default_text));
      }
    }
  }
  for (const auto& info : infos) {
    const auto dot = info.key.rfind('.');
    INFO(info.key);
    CHECK(documented.count(dot == std::string::npos ? "" : info.key.substr(0, dot)) == 1);
  }
}

}  // namespace litestage::test
