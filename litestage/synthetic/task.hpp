#pragma once
// The synthetic multi-stage reasoning task (docs/synthetic-task.md): a small made-up world of
// animals with invented names, generated from a seed, and multiple-choice questions about it whose
// answers need facts that are not in the question. Every question comes with a TinyThinker teacher
// rationale (one recall sentence, one analyze sentence per option, the summary), so the project can
// train its own small demo model on it and run the full three-stage pipeline on held-out questions.
//
//   world     kinds (bird, fish, spider, ...) each with one ability ("Birds can fly."); entities
//             ("zib") each with a kind and four attributes (habitat, diet, colour, size)
//   questions lookup          "Where does the zib live?"        options: attribute values
//             reverse         "Which of these lives in the marsh?" options: entities
//             ability-which   "Which of these can fly?"          options: entities (entity -> kind -> ability)
//             ability-lookup  "What can the zib do?"             options: abilities (entity -> kind -> ability)
//   splits    whole (type, target entity, attribute) combinations are held out for valid and for test;
//             every world fact is stated by some training rationale (the coverage pass), so a model
//             can memorise everything a held-out question needs.
//
// Randomness is std::mt19937_64 plus uniform_below() (shuffle.hpp) and our own Fisher–Yates, never
// std::uniform_int_distribution/std::shuffle, so a seed names the same task on every standard library.

#include <array>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "litestage/data/dataset.hpp"
#include "litestage/data/example.hpp"
#include "litestage/data/stage_records.hpp"

namespace litestage {

inline constexpr uint64_t kDefaultSyntheticSeed = 42;
inline constexpr const char* kSyntheticDatasetName = "synthetic";

// Generator settings: everything that determines the task. Recorded with every split (SplitInfo::rule)
// and written as settings.json by write_synthetic_corpus.
struct SyntheticSettings {
  uint64_t seed = kDefaultSyntheticSeed;  // the world, the held-out draw and every split's questions
  size_t entities = 40;                   // animals in the world (kinds * 2 .. 200)
  size_t kinds = 6;                       // kinds drawn from the pool of 8 (2 .. 8)
  size_t train = 3000;                    // questions per split
  size_t valid = 300;
  size_t test = 300;
  size_t min_options = 2;         // options per question, drawn uniformly in [min, max] and
  size_t max_options = 5;         // capped by what the question can offer (2 <= min <= max <= 5)
  double holdout_fraction = 0.1;  // of each question type's combinations, for valid and again for test
  size_t biographies = 50;        // biography records per entity in the training corpus (0..1000)

  // Throws litestage::Error naming the setting when a value is out of range.
  void validate() const;
};

void to_json(nlohmann::json& j, const SyntheticSettings& s);
// Missing keys keep their defaults; an unknown key or a value of the wrong type throws.
void from_json(const nlohmann::json& j, SyntheticSettings& s);
// Reads a settings JSON file (the keys of SyntheticSettings); throws naming the file and key.
SyntheticSettings read_synthetic_settings(const std::string& path);

// The attributes every entity has. Kind is an attribute like the others for lookup/reverse
// questions ("What kind of animal is the zib?"); the ability questions go through it.
enum class SynAttribute { Kind, Habitat, Diet, Colour, Size };
inline constexpr size_t kSynAttributeCount = 5;
inline constexpr std::array<SynAttribute, kSynAttributeCount> kSynAttributes = {
    SynAttribute::Kind, SynAttribute::Habitat, SynAttribute::Diet, SynAttribute::Colour, SynAttribute::Size};
std::string_view to_string(SynAttribute attribute);  // "kind", "habitat", "diet", "colour", "size"
// The words an attribute's values are spelled with (habitats, diets, colours, sizes); not Kind.
const std::vector<std::string>& synthetic_attribute_words(SynAttribute a);

enum class SynQuestionType { Lookup, Reverse, AbilityWhich, AbilityLookup };
inline constexpr std::array<SynQuestionType, 4> kSynQuestionTypes = {
    SynQuestionType::Lookup, SynQuestionType::Reverse, SynQuestionType::AbilityWhich, SynQuestionType::AbilityLookup};
std::string_view to_string(SynQuestionType type);  // "lookup", "reverse", "ability-which", "ability-lookup"

struct SynKind {
  std::string name;     // "bird"
  std::string plural;   // "birds"
  std::string ability;  // "fly": "Birds can fly."
};

struct SynEntity {
  std::string name;                               // invented, lower case, starts with a consonant: "the zib"
  std::array<size_t, kSynAttributeCount> values;  // per SynAttribute: index into SyntheticWorld::values(attribute)
};

struct SyntheticWorld {
  uint64_t seed = kDefaultSyntheticSeed;
  std::vector<SynKind> kinds;
  std::vector<SynEntity> entities;

  // Option texts of an attribute's values: kinds "bird"; habitats "the marsh"; diets "seeds";
  // colours "red"; sizes "tiny".
  std::vector<std::string> values(SynAttribute attribute) const;
  size_t value(size_t entity, SynAttribute attribute) const {
    return entities.at(entity).values[static_cast<size_t>(attribute)];
  }
  const SynKind& kind_of(size_t entity) const { return kinds.at(value(entity, SynAttribute::Kind)); }

  // The canonical clauses every rationale is built from (no final period):
  //   fact_clause(zib, Habitat)           "The zib lives in the marsh"
  //   ability_clause(zib)                 "The zib is a bird, and birds can fly"
  //   ability_clause(zib, spider's kind)  "The zib is a bird, and birds cannot spin webs"
  // and the option-first clauses of the analyses whose options are values, not entities (the
  // option's text comes first, so the judgement is made after the option has been read out):
  //   option_clause(zib, Habitat, v)      "the desert is not where the zib lives" / "the marsh is where the zib lives"
  //   ability_option_clause(zib, k)       "spin webs is for spiders, and the zib is a bird"
  std::string fact_clause(size_t entity, SynAttribute attribute) const;
  std::string ability_clause(size_t entity, std::optional<size_t> other_kind = std::nullopt) const;
  std::string option_clause(size_t entity, SynAttribute attribute, size_t value) const;
  std::string ability_option_clause(size_t entity, size_t kind) const;
  // "Birds can fly."
  std::string kind_fact(size_t kind) const;
  // Sentences stating one entity fact, the canonical one first ("The zib lives in the marsh.",
  // "The zib makes its home in the marsh.", "The home of the zib is the marsh."): the biography
  // corpus states each fact in several forms so that it is stored, not just memorised as one string.
  std::vector<std::string> fact_paraphrases(size_t entity, SynAttribute attribute) const;
};

// Human-readable description: kinds with their facts, entities with every attribute and fact.
void to_json(nlohmann::json& j, const SyntheticWorld& world);

// Deterministic in settings.seed, settings.entities and settings.kinds only.
SyntheticWorld make_synthetic_world(const SyntheticSettings& settings);

// One atomic world fact: an entity's attribute ("The zib lives in the marsh.") or a kind's ability
// ("Birds can fly.").
struct SynFact {
  enum class Type { EntityAttribute, KindAbility } type = Type::EntityAttribute;
  size_t index = 0;  // entity (EntityAttribute) or kind (KindAbility)
  SynAttribute attribute = SynAttribute::Kind;
  bool operator<(const SynFact& o) const;
  bool operator==(const SynFact& o) const;
};
// "The zib lives in the marsh." / "Birds can fly."
std::string fact_sentence(const SyntheticWorld& world, const SynFact& fact);

// A held-out unit: a question type with its target (the entity the question is about, or the
// correct entity of a reverse/ability-which question) and, for lookup/reverse, the attribute
// (Kind for the ability types).
struct SynCombo {
  SynQuestionType type = SynQuestionType::Lookup;
  size_t entity = 0;
  SynAttribute attribute = SynAttribute::Kind;
  bool operator<(const SynCombo& o) const;
  bool operator==(const SynCombo& o) const;
};
// "lookup/zib/habitat", "ability-which/zib"
std::string combo_name(const SyntheticWorld& world, const SynCombo& combo);

struct SyntheticQuestion {
  Example example;             // dataset "synthetic"; facts = fact_sentence() of `needed`
  TeacherRationale rationale;  // recall, one analysis per option; answer = nullopt (the gold)
  SynCombo combo;
  std::vector<SynFact> needed;  // facts that decide the answer (sorted, unique)
  std::vector<SynFact> stated;  // facts the rationale states (sorted, unique); here always == needed
};

// Which combinations go to valid and to test: for each question type separately, the first
// max(1, round(holdout_fraction * n)) combinations of a seeded permutation go to test, the next
// as many to valid; the rest are the training combinations.
struct SyntheticHoldout {
  std::vector<SynCombo> train, valid, test;  // sorted
};
SyntheticHoldout synthetic_holdout(const SyntheticWorld& world, const SyntheticSettings& settings);

// One split's questions (Train, Valid or Test; Calibration is load_dataset's business). Each split
// has its own random stream, so generating one never needs another. Train = a coverage pass (a
// question stating each world fact not yet stated, from training combinations) then questions
// dealt round-robin over question types and their training combinations, shuffled; valid/test
// likewise over their held-out combinations. No two questions of a split share stem and options.
// Throws when the settings cannot give the requested sizes (train smaller than the coverage pass,
// too few distinct held-out questions).
std::vector<SyntheticQuestion> generate_synthetic_split(const SyntheticWorld& world, const SyntheticSettings& settings,
                                                        Split split);

struct SyntheticTask {
  SyntheticSettings settings;
  SyntheticWorld world;
  SyntheticHoldout holdout;
  std::vector<SyntheticQuestion> train, valid, test;
};
SyntheticTask generate_synthetic_task(const SyntheticSettings& settings);

std::vector<Example> synthetic_examples(const std::vector<SyntheticQuestion>& questions);
// Mean over questions of 1 / number of options: the accuracy of guessing uniformly.
double chance_accuracy(const std::vector<Example>& examples);

// The "synthetic" dataset provider. Settings come from `root` when it is a JSON file, else from
// <root>/synthetic/settings.json when that exists, else the defaults; options.seed is NOT the
// generator seed (it only draws the calibration subset, as for every dataset). The rule string
// records the settings as compact JSON.
SplitSource synthetic_provider(const std::string& root, Split split, const LoadOptions& options);
// Registers synthetic_provider as dataset "synthetic" (data/dataset.hpp); again is harmless.
void register_synthetic_dataset();
// Settings the provider would use for `root`, and the file they came from (empty: defaults).
SyntheticSettings synthetic_settings_for_root(const std::string& root, std::string* source_file = nullptr);

}  // namespace litestage
