// The synthetic task generator: determinism, the held-out rule, question and rationale
// well-formedness, and the "synthetic" dataset provider. Needs nothing from ../shared.

#include <algorithm>
#include <catch2/catch.hpp>
#include <cctype>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>

#include "litestage/synthetic/task.hpp"
#include "litestage/util/error.hpp"
#include "litestage/util/strings.hpp"
#include "support.hpp"

using namespace litestage;
using Catch::Contains;

namespace {

const SyntheticTask& default_task() {
  static const SyntheticTask task = generate_synthetic_task(SyntheticSettings{});
  return task;
}

SyntheticSettings small_settings(uint64_t seed = 7) {
  SyntheticSettings s;
  s.seed = seed;
  s.entities = 16;
  s.kinds = 4;
  s.train = 400;
  s.valid = 60;
  s.test = 60;
  return s;
}

std::string key(const Example& e) { return e.stem + "\x1f" + join(e.choices, "\x1f"); }
std::string set_key(const Example& e) {
  std::vector<std::string> c = e.choices;
  std::sort(c.begin(), c.end());
  return e.stem + "\x1f" + join(c, "\x1f");
}

size_t words(const std::string& s) {
  std::istringstream in(s);
  std::string w;
  size_t n = 0;
  while (in >> w) ++n;
  return n;
}

std::string lower_clause(std::string s) {
  if (!s.empty() && s.back() == '.') s.pop_back();
  return to_lower(s);
}

bool same_question(const SyntheticQuestion& a, const SyntheticQuestion& b) {
  return a.example.id == b.example.id && a.example.stem == b.example.stem && a.example.choices == b.example.choices &&
         a.example.labels == b.example.labels && a.example.answer == b.example.answer &&
         a.example.facts == b.example.facts && a.example.source == b.example.source &&
         a.rationale.recall == b.rationale.recall && a.rationale.analyses == b.rationale.analyses &&
         a.combo == b.combo && a.needed == b.needed;
}

bool same_split(const std::vector<SyntheticQuestion>& a, const std::vector<SyntheticQuestion>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (!same_question(a[i], b[i])) return false;
  return true;
}

// Which option is right according to the world alone (not the generator's answer field), or -1 when
// not exactly one is.
int world_answer(const SyntheticWorld& w, const SyntheticQuestion& q) {
  const SynCombo& c = q.combo;
  std::map<std::string, size_t> entity_by_name;
  for (size_t e = 0; e < w.entities.size(); ++e) entity_by_name[w.entities[e].name] = e;
  const size_t kind = w.value(c.entity, SynAttribute::Kind);
  int found = -1;
  for (size_t i = 0; i < q.example.choices.size(); ++i) {
    const std::string& text = q.example.choices[i];
    bool right = false;
    switch (c.type) {
      case SynQuestionType::Lookup:
        right = text == w.values(c.attribute).at(w.value(c.entity, c.attribute));
        break;
      case SynQuestionType::Reverse:
        right = w.value(entity_by_name.at(text), c.attribute) == w.value(c.entity, c.attribute);
        break;
      case SynQuestionType::AbilityWhich:
        right = w.value(entity_by_name.at(text), SynAttribute::Kind) == kind;
        break;
      case SynQuestionType::AbilityLookup:
        right = text == w.kinds.at(kind).ability;
        break;
    }
    if (right) {
      if (found >= 0) return -1;
      found = static_cast<int>(i);
    }
  }
  return found;
}

}  // namespace

TEST_CASE("synthetic world: invented names, balanced attributes, distinct kind abilities", "[synthetic]") {
  const SyntheticWorld& w = default_task().world;
  REQUIRE(w.entities.size() == 40);
  REQUIRE(w.kinds.size() == 6);
  std::set<std::string> names, abilities, kinds;
  for (const SynEntity& e : w.entities) {
    names.insert(e.name);
    CHECK(e.name.size() >= 3);
    CHECK(e.name.size() <= 6);
    CHECK(std::string("aeiou").find(e.name[0]) == std::string::npos);  // names start with a consonant
    CHECK(std::all_of(e.name.begin(), e.name.end(), [](char c) { return c >= 'a' && c <= 'z'; }));
  }
  CHECK(names.size() == w.entities.size());
  for (const SynKind& k : w.kinds) {
    abilities.insert(k.ability);
    kinds.insert(k.name);
    CHECK(names.count(k.name) == 0);
  }
  CHECK(abilities.size() == w.kinds.size());
  for (SynAttribute a : kSynAttributes) {
    std::map<size_t, size_t> uses;
    for (size_t e = 0; e < w.entities.size(); ++e) ++uses[w.value(e, a)];
    const size_t n_values = w.values(a).size();
    CHECK(uses.size() == n_values);
    for (const auto& [v, n] : uses) {
      CHECK(n >= w.entities.size() / n_values);
      CHECK(n <= w.entities.size() / n_values + 1);
    }
  }
  CHECK(w.fact_clause(0, SynAttribute::Habitat) ==
        "The " + w.entities[0].name + " lives in " + w.values(SynAttribute::Habitat)[w.value(0, SynAttribute::Habitat)]);
  CHECK(w.kind_fact(0) == "Birds can fly.");  // the pool keeps its order; bird is drawn for seed 42
  const nlohmann::json j = w;
  CHECK(j.at("entities").size() == 40);
  CHECK(j.at("entities")[0].at("facts").size() == kSynAttributeCount + 1);
}

TEST_CASE("synthetic generator is deterministic in its seed", "[synthetic]") {
  const SyntheticSettings s = small_settings(11);
  const SyntheticTask a = generate_synthetic_task(s), b = generate_synthetic_task(s);
  CHECK(same_split(a.train, b.train));
  CHECK(same_split(a.valid, b.valid));
  CHECK(same_split(a.test, b.test));
  CHECK(nlohmann::json(a.world) == nlohmann::json(b.world));

  // One split alone equals the same split of the whole task (independent streams).
  CHECK(same_split(generate_synthetic_split(a.world, s, Split::Test), a.test));

  SyntheticSettings other = s;
  other.seed = 12;
  const SyntheticTask c = generate_synthetic_task(other);
  CHECK(nlohmann::json(a.world) != nlohmann::json(c.world));
  CHECK_FALSE(same_split(a.train, c.train));
  CHECK_FALSE(same_split(a.test, c.test));

  // Growing train does not change valid or test.
  SyntheticSettings bigger = s;
  bigger.train = 600;
  const SyntheticTask d = generate_synthetic_task(bigger);
  CHECK(d.train.size() == 600);
  CHECK(same_split(a.valid, d.valid));
  CHECK(same_split(a.test, d.test));

  // Golden values for the default settings: the generator is portable (mt19937_64 + our own draws),
  // so these hold on every standard library. Update them only when the task changes on purpose.
  const SyntheticTask& t = default_task();
  CHECK(t.world.entities[0].name == "grizwa");
  CHECK(t.test[0].example.id == "syn-test-00000-ability-which");
  CHECK(t.test[0].example.stem == "Which of these can breathe underwater?");
}

TEST_CASE("synthetic splits: sizes, ids, every question type", "[synthetic]") {
  const SyntheticTask& t = default_task();
  CHECK(t.train.size() == 3000);
  CHECK(t.valid.size() == 300);
  CHECK(t.test.size() == 300);
  for (const auto* split : {&t.train, &t.valid, &t.test}) {
    std::map<SynQuestionType, size_t> per_type;
    std::set<std::string> ids, keys;
    for (const SyntheticQuestion& q : *split) {
      ++per_type[q.combo.type];
      CHECK(ids.insert(q.example.id).second);
      CHECK(keys.insert(key(q.example)).second);  // no repeated question within a split
      CHECK(ends_with(q.example.id, std::string(to_string(q.combo.type))));
      CHECK(q.example.dataset == "synthetic");
    }
    REQUIRE(per_type.size() == 4);
    size_t lo = split->size(), hi = 0;
    for (const auto& [type, n] : per_type) {
      lo = std::min(lo, n);
      hi = std::max(hi, n);
    }
    CHECK(hi - lo <= 1);  // the types are balanced
  }
  const double chance = chance_accuracy(synthetic_examples(t.test));
  CHECK(chance > 0.25);
  CHECK(chance < 0.40);
  CHECK(chance_accuracy({}) == 0.0);
}

TEST_CASE("synthetic questions: 2-5 options, exactly one correct, rationale agrees with the gold", "[synthetic]") {
  const SyntheticTask& t = default_task();
  std::set<size_t> option_counts;
  for (const auto* split : {&t.train, &t.valid, &t.test}) {
    for (const SyntheticQuestion& q : *split) {
      const Example& e = q.example;
      INFO(e.id << ": " << e.stem);
      REQUIRE_FALSE(example_problem(e).has_value());
      REQUIRE(e.choices.size() >= 2);
      REQUIRE(e.choices.size() <= 5);
      option_counts.insert(e.choices.size());
      CHECK(ends_with(e.stem, "?"));
      CHECK(std::set<std::string>(e.choices.begin(), e.choices.end()).size() == e.choices.size());
      for (const std::string& c : e.choices) CHECK((!c.empty() && trim(c) == c));
      CHECK(world_answer(t.world, q) == e.answer);  // the world, not the generator, says which is right

      // Capitals A..E are the option letters' own tokenizer pieces: no question text holds one.
      std::vector<std::string> texts = {e.stem, q.rationale.recall};
      texts.insert(texts.end(), e.choices.begin(), e.choices.end());
      texts.insert(texts.end(), q.rationale.analyses.begin(), q.rationale.analyses.end());
      for (const std::string& text : texts) CHECK(text.find_first_of("ABCDE") == std::string::npos);

      // Recall: one short sentence about the target (lookup, ability-lookup), or one per option, in
      // option order, each naming its option (reverse), then the asked ability's kind fact
      // (ability-which): every option's fact is recalled forwards, from its name.
      const std::string& recall = q.rationale.recall;
      CHECK(ends_with(recall, "."));
      const auto sentences = static_cast<size_t>(std::count(recall.begin(), recall.end(), '.'));
      const bool per_option = q.combo.type == SynQuestionType::Reverse || q.combo.type == SynQuestionType::AbilityWhich;
      CHECK(sentences == (!per_option ? 1 : e.choices.size() + (q.combo.type == SynQuestionType::AbilityWhich ? 1 : 0)));
      CHECK(words(recall) <= (per_option ? 6 * e.choices.size() + 4 : 20));
      if (per_option) {
        size_t from = 0;
        for (const std::string& c : e.choices) {
          const size_t at = recall.find("The " + c + " ", from);
          CHECK(at != std::string::npos);
          from = at == std::string::npos ? from : at + 1;
        }
      }

      // Analyze: one short sentence per option, naming the option, "correct" exactly for the gold.
      REQUIRE(q.rationale.analyses.size() == e.choices.size());
      size_t n_correct = 0;
      for (size_t i = 0; i < e.choices.size(); ++i) {
        const std::string& a = q.rationale.analyses[i];
        const bool gold = static_cast<int>(i) == e.answer;
        INFO(a);
        CHECK(words(a) <= 16);
        CHECK(std::count(a.begin(), a.end(), '.') == 1);
        CHECK(a.find(e.choices[i]) != std::string::npos);
        CHECK(ends_with(a, gold ? ", so this is correct." : ", so this is not correct."));
        n_correct += ends_with(a, ", so this is correct.") ? 1 : 0;
      }
      CHECK(n_correct == 1);
      // The gold analysis restates the recalled fact (options that are entities), or reads out the
      // option first and then judges it (options that are values).
      const std::string& gold_analysis = q.rationale.analyses[static_cast<size_t>(e.answer)];
      if (q.combo.type == SynQuestionType::Reverse) {
        CHECK(recall.find(gold_analysis.substr(0, gold_analysis.find(", so")) + ".") != std::string::npos);
      } else if (q.combo.type == SynQuestionType::AbilityWhich) {
        CHECK(recall.find(gold_analysis.substr(0, gold_analysis.find(", and")) + ".") != std::string::npos);
      } else {
        for (size_t i = 0; i < e.choices.size(); ++i) CHECK(starts_with(q.rationale.analyses[i], e.choices[i] + " "));
      }
      CHECK_FALSE(q.rationale.answer.has_value());

      // Facts: one sentence per needed fact.
      CHECK(e.facts.size() == q.needed.size());
      CHECK(q.stated == q.needed);
    }
  }
  CHECK(option_counts == std::set<size_t>{2, 3, 4, 5});
}

TEST_CASE("synthetic held-out rule: valid/test questions and combinations never seen in train", "[synthetic]") {
  for (const SyntheticSettings& s : {SyntheticSettings{}, small_settings(3), small_settings(4)}) {
    const SyntheticTask t = generate_synthetic_task(s);
    INFO("seed " << s.seed << ", " << s.entities << " entities");
    const std::set<SynCombo> train_combos(t.holdout.train.begin(), t.holdout.train.end());
    const std::set<SynCombo> valid_combos(t.holdout.valid.begin(), t.holdout.valid.end());
    const std::set<SynCombo> test_combos(t.holdout.test.begin(), t.holdout.test.end());
    for (const SynCombo& c : valid_combos) CHECK((train_combos.count(c) == 0 && test_combos.count(c) == 0));
    for (const SynCombo& c : test_combos) CHECK(train_combos.count(c) == 0);

    std::set<std::string> train_keys, train_set_keys;
    std::set<SynFact> train_stated;
    std::vector<std::string> train_texts;
    for (const SyntheticQuestion& q : t.train) {
      CHECK(train_combos.count(q.combo) == 1);
      train_keys.insert(key(q.example));
      train_set_keys.insert(set_key(q.example));
      train_stated.insert(q.stated.begin(), q.stated.end());
      train_texts.push_back(to_lower(q.rationale.recall));
      for (const std::string& a : q.rationale.analyses) train_texts.push_back(to_lower(a));
    }
    // Every world fact is stated by some training rationale.
    for (size_t e = 0; e < t.world.entities.size(); ++e)
      for (SynAttribute a : kSynAttributes) CHECK(train_stated.count({SynFact::Type::EntityAttribute, e, a}) == 1);
    for (size_t k = 0; k < t.world.kinds.size(); ++k)
      CHECK(train_stated.count({SynFact::Type::KindAbility, k, SynAttribute::Kind}) == 1);

    for (const auto& [split, combos] :
         {std::make_pair(&t.valid, &valid_combos), std::make_pair(&t.test, &test_combos)}) {
      for (const SyntheticQuestion& q : *split) {
        INFO(q.example.id << ": " << q.example.stem);
        CHECK(combos->count(q.combo) == 1);
        CHECK(train_keys.count(key(q.example)) == 0);
        CHECK(train_set_keys.count(set_key(q.example)) == 0);  // not even with the options reordered
        for (const SynFact& f : q.needed) CHECK(train_stated.count(f) == 1);
        // The same, as text: each needed fact sentence occurs in a training recall or analysis.
        for (const std::string& fact : q.example.facts) {
          INFO(fact);
          const std::string needle = lower_clause(fact);
          CHECK(std::any_of(train_texts.begin(), train_texts.end(),
                            [&](const std::string& text) { return text.find(needle) != std::string::npos; }));
        }
      }
    }
  }
}

TEST_CASE("synthetic coverage pass states facts whose combinations are all held out", "[synthetic]") {
  // A tiny world with the largest hold-out: many facts have every combination naming them held out
  // and must be stated as distractors of other training questions.
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    SyntheticSettings s;
    s.seed = seed;
    s.entities = 10;
    s.kinds = 3;
    s.train = 300;
    s.valid = 20;
    s.test = 20;
    s.holdout_fraction = 0.4;
    INFO("seed " << seed);
    try {
      const SyntheticTask t = generate_synthetic_task(s);
      std::set<SynFact> stated;
      for (const SyntheticQuestion& q : t.train) stated.insert(q.stated.begin(), q.stated.end());
      CHECK(stated.size() == t.world.entities.size() * kSynAttributeCount + t.world.kinds.size());
    } catch (const Error& e) {
      // The only acceptable failure: a kind whose every ability combination is held out, said plainly.
      CHECK_THAT(e.what(), Contains("all its combinations are held out"));
    }
  }
}

TEST_CASE("synthetic settings: JSON round trip and validation", "[synthetic]") {
  SyntheticSettings s = small_settings(99);
  s.holdout_fraction = 0.15;
  const nlohmann::json j = s;
  const SyntheticSettings back = j.get<SyntheticSettings>();
  CHECK(nlohmann::json(back) == j);
  CHECK(nlohmann::json::parse(R"({"seed": 5})").get<SyntheticSettings>().entities == 40);  // missing keys: defaults

  CHECK_THROWS_WITH(nlohmann::json::parse(R"({"sede": 5})").get<SyntheticSettings>(), Contains("unknown key 'sede'"));
  CHECK_THROWS_WITH(nlohmann::json::parse(R"({"train": -1})").get<SyntheticSettings>(), Contains("'train'"));
  CHECK_THROWS_WITH(nlohmann::json::parse(R"({"kinds": 9})").get<SyntheticSettings>(), Contains("kinds"));
  CHECK_THROWS_WITH(nlohmann::json::parse(R"({"entities": 5})").get<SyntheticSettings>(), Contains("entities"));
  CHECK_THROWS_WITH(nlohmann::json::parse(R"({"max_options": 6})").get<SyntheticSettings>(), Contains("max_options"));
  CHECK_THROWS_WITH(nlohmann::json::parse(R"({"holdout_fraction": 0.5})").get<SyntheticSettings>(),
                    Contains("holdout_fraction"));

  SyntheticSettings tight = small_settings();
  tight.train = 20;  // below the coverage pass
  CHECK_THROWS_WITH(generate_synthetic_task(tight), Contains("coverage pass"));

  const auto dir = test::temp_dir("synthetic-settings");
  write_file_atomic((dir / "bad.json").string(), R"({"seed": 1, "colour": 2})");
  CHECK_THROWS_WITH(read_synthetic_settings((dir / "bad.json").string()), Contains("bad.json") && Contains("'colour'"));
}

TEST_CASE("synthetic dataset: registered, load_dataset(\"synthetic\") finds the provider", "[synthetic]") {
  register_synthetic_dataset();
  register_synthetic_dataset();  // again: harmless
  REQUIRE(has_dataset("synthetic"));

  // Defaults when the root has no settings (the usual data root has no synthetic/ folder).
  const auto empty_root = test::temp_dir("synthetic-empty-root");
  const Dataset test = load_dataset("synthetic", empty_root.string(), Split::Test);
  const SyntheticTask& t = default_task();
  REQUIRE(test.examples.size() == t.test.size());
  for (size_t i = 0; i < test.examples.size(); ++i) CHECK(test.examples[i].id == t.test[i].example.id);
  CHECK(test.info.dataset == "synthetic");
  CHECK_THAT(test.info.rule, Contains("\"seed\":42") && Contains("(defaults)"));
  CHECK(test.info.files.empty());

  // Calibration: the first calibration_size of a seeded permutation of valid.
  LoadOptions o;
  o.calibration_size = 16;
  const Dataset cal = load_dataset("synthetic", empty_root.string(), "calibration", o);
  CHECK(cal.examples.size() == 16);
  std::set<std::string> valid_ids;
  for (const SyntheticQuestion& q : t.valid) valid_ids.insert(q.example.id);
  for (const Example& e : cal.examples) CHECK(valid_ids.count(e.id) == 1);

  // Settings from a file given as the root, and from <root>/synthetic/settings.json.
  const SyntheticSettings s = small_settings(21);
  const auto dir = test::temp_dir("synthetic-root");
  const std::string file = (dir / "synthetic" / "settings.json").string();
  write_file_atomic(file, nlohmann::json(s).dump());
  const SyntheticTask small = generate_synthetic_task(s);
  for (const std::string& root : {file, dir.string()}) {
    INFO(root);
    LoadOptions limited;
    limited.offset = 5;
    limited.limit = 10;
    const Dataset train = load_dataset("synthetic", root, "train", limited);
    REQUIRE(train.examples.size() == 10);
    CHECK(train.info.split_size == s.train);
    CHECK(train.examples[0].id == small.train[5].example.id);
    CHECK(train.examples[0].stem == small.train[5].example.stem);
    CHECK(train.info.files == std::vector<std::string>{file});
    CHECK_THAT(train.info.rule, Contains("\"seed\":21") && Contains("\"train\":400"));
  }
  std::string from;
  CHECK(synthetic_settings_for_root(dir.string(), &from).seed == 21);
  CHECK(from == file);
}
