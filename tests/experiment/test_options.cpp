// The experiment keys are declared once (spec.cpp); docs/experiments.md's key tables must say the
// same: every key, its type and its default.

#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "litestage/experiment/spec.hpp"
#include "litestage/util/strings.hpp"

using namespace litestage;

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

TEST_CASE("docs/experiments.md's key tables match the declared experiment keys", "[experiment][options]") {
  const auto infos = option_infos(experiment_options());
  const auto tables = doc_tables(std::string(LITESTAGE_SOURCE_DIR) + "/docs/experiments.md");
  REQUIRE(tables.size() >= 10);
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

TEST_CASE("every experiment key has help, and the effective YAML reads back to itself", "[experiment][options]") {
  for (const auto& info : option_infos(experiment_options())) {
    INFO(info.key);
    CHECK(!info.help.empty());
    CHECK(info.help.find('\n') == std::string::npos);
    CHECK((!info.default_text.empty() || info.required));
  }
  YAML::Node tree = YAML::Load(
      "model: m\nstages: {analyze: {skip: a1, early_exit: {threshold: 0.3}}}\nearly_exit: {enabled: true}\n"
      "search: {latency: cost, max_k: 4}\nimportance: {pooling: last}\nepsilons: [1.5]\n");
  auto spec = parse_experiment(tree, "exp.yaml");
  CHECK(spec.search.latency == LatencyMode::Cost);
  CHECK(spec.importance.pooling == TokenPooling::Last);
  REQUIRE(spec.stages[StageKind::Analyze].early_exit);
  CHECK(spec.stages[StageKind::Analyze].early_exit->enabled);  // inherited from the top level
  CHECK(spec.stages[StageKind::Analyze].early_exit->threshold == 0.3);
  CHECK(!spec.stages[StageKind::Recall].early_exit);
  CHECK(spec.name == "exp");
  CHECK(spec.output_dir == "runs/exp");
  const auto text = experiment_yaml(spec);
  CHECK(experiment_yaml(parse_experiment(YAML::Load(text), "exp.yaml")) == text);
  CHECK_THAT(text, Catch::Contains("latency: cost") && Catch::Contains("pooling: last"));
}

TEST_CASE("speculation runs one sequence at a time: refused by key, or its methods left out",
          "[experiment][options][speculative]") {
  auto parse = [](const std::string& text) { return parse_experiment(YAML::Load("model: m\n" + text), "exp.yaml"); };
  CHECK_THROWS_WITH(parse("generation: {batch_analyze: true, speculative: {drafter: lookup}}\n"),
                    Catch::Contains("exp.yaml: generation.batch_analyze") &&
                        Catch::Contains("generation.speculative run one sequence at a time"));
  // Sampling speculates too (speculative sampling keeps the distribution).
  CHECK(speculation_allowed(parse("generation: {temperature: 0.7, speculative: {drafter: lookup}}\n")));
  // The self drafter needs its skips; a bad one is named.
  CHECK_THROWS_WITH(parse("generation: {speculative: {drafter: auto}}\n"),
                    Catch::Contains("exp.yaml: generation.speculative") && Catch::Contains("needs draft_skip"));
  const auto self = parse("generation: {speculative: {drafter: self, draft_skip: b2-3, threshold: 0.7}}\n");
  CHECK(self.speculative.draft_skip == "b2-3");
  CHECK(self.speculative.threshold == 0.7);
  CHECK(self.speculative.describe() == "self, gamma 8, draft skip b2-3, threshold 0.7");
  CHECK_THROWS_WITH(parse("generation: {batch_analyze: true}\nmethods: [full, lossless]\n"),
                    Catch::Contains("the methods lossless and litestage_spec") &&
                        Catch::Contains("or leave those methods out"));
  // The default method list holds them, but only runs them where they can run.
  const auto batched = parse("generation: {batch_analyze: true}\n");
  CHECK(std::count(batched.methods.begin(), batched.methods.end(), "lossless") == 1);
  CHECK_FALSE(speculation_allowed(batched));
  CHECK(speculation_allowed(parse("generation: {speculative: {drafter: lookup}}\n")));
  CHECK(parse("generation: {speculative: {drafter: lookup, gamma: 4, adaptive: false}}\n").speculative.gamma == 4);
}
