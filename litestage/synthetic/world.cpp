// The synthetic task's settings and its world: kinds, invented names, attributes (task.hpp).
#include "litestage/synthetic/task.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <tuple>
#include <utility>

#include "litestage/synthetic/random.hpp"
#include "litestage/util/error.hpp"
#include "litestage/util/jsonl.hpp"
#include "litestage/util/strings.hpp"

namespace litestage {

using namespace synthetic;  // random.hpp

namespace {

// ---------------------------------------------------------------------------------------------
// The vocabulary of the world. Each kind has exactly one ability and no two kinds share one, so
// "birds cannot spin webs" follows from the kind facts.

struct KindSpec {
  const char* name;
  const char* plural;
  const char* ability;
};
constexpr KindSpec kKindPool[] = {
    {"bird", "birds", "fly"},
    {"fish", "fish", "breathe underwater"},
    {"spider", "spiders", "spin webs"},
    {"mole", "moles", "dig tunnels"},
    {"bat", "bats", "echolocate"},
    {"frog", "frogs", "jump far"},
    {"lizard", "lizards", "climb walls"},
    {"firefly", "fireflies", "glow"},
};
constexpr size_t kKindPoolSize = sizeof(kKindPool) / sizeof(kKindPool[0]);

// Singular habitats and a per-diet verb form keep the option-first analyses grammatical:
// "the lake is where the zib lives", "fruit is what the zib eats", "seeds are what the zib eats".
const std::vector<std::string> kHabitats = {"marsh", "desert", "forest", "river", "lake", "jungle", "tundra", "meadow"};
const std::vector<std::string> kDiets = {"seeds", "insects", "leaves", "fruit", "worms", "grass", "berries", "moss"};
const std::vector<bool> kDietPlural = {true, true, true, false, true, false, true, false};
const std::vector<std::string> kColours = {"red", "blue", "green", "yellow", "orange", "purple", "grey", "white"};
const std::vector<std::string> kSizes = {"tiny", "small", "medium-sized", "large", "huge"};

const char* const kOnsets[] = {"b",  "d",  "f",  "g",  "k",  "l",  "m",  "n",  "p",  "r",
                               "s",  "t",  "v",  "z",  "bl", "br", "dr", "fl", "gl", "gr",
                               "kl", "kr", "pl", "pr", "sk", "sn", "sp", "st", "tr", "zw"};
const char* const kVowels[] = {"a", "e", "i", "o", "u", "oo", "ee", "ai"};
const char* const kCodas[] = {"b", "d", "g", "k", "l", "m", "n", "p", "r", "t", "x", "z", "rp", "nk", "mp", "sh"};

template <size_t N>
const char* draw(const char* const (&table)[N], std::mt19937_64& rng) {
  return table[pick(rng, N)];
}

// Words an invented name must not be: the task's own words and short English words the syllable
// generator can produce (a name that is a real word would read oddly, not break anything).
const std::set<std::string>& reserved_words() {
  static const std::set<std::string> words = [] {
    std::set<std::string> w = {
        "a", "and", "animal", "answer", "big", "can", "cannot", "colour", "correct", "do", "does", "eat", "eats", "for",
        "how", "in", "is", "kind", "size", "live", "lives", "not", "of", "option", "recall", "analyze", "summarize", "so",
        "the", "these", "this", "what", "where", "which", "fly", "breathe", "underwater", "spin", "webs", "dig",
        "tunnels", "echolocate", "jump", "far", "climb", "walls", "glow", "about", "body", "feeds", "food", "has",
        "home", "its", "looks", "makes", "on", "only",
        // short English words the syllables can spell
        "bad", "bag", "bar", "bed", "beg", "bib", "bid", "bin", "bob", "bog", "bud", "bug", "bun", "bum", "bur", "dab",
        "dad", "dam", "den", "dim", "din", "dip", "dog", "dot", "dub", "dud", "dug", "dun", "fab", "fad", "fan", "fat",
        "fed", "fen", "fib", "fig", "fin", "fit", "fix", "fob", "fog", "fox", "fun", "fur", "gab", "gag", "gal", "gap",
        "gem", "get", "gig", "gin", "god", "got", "gum", "gun", "gut", "kid", "kin", "kit", "lab", "lad", "lag", "lap",
        "led", "leg", "let", "lid", "lip", "lit", "log", "lot", "lug", "mad", "man", "map", "mat", "men", "met", "mid",
        "mix", "mob", "mom", "mop", "mud", "mug", "mum", "nab", "nag", "nap", "net", "nib", "nil", "nip", "nod", "nor",
        "not", "nub", "nun", "nut", "pad", "pal", "pan", "pat", "peg", "pen", "pep", "pet", "pig", "pin", "pit", "pod",
        "pop", "pot", "pub", "pun", "pup", "put", "rag", "ram", "rap", "rat", "rib", "rid", "rig", "rim", "rip", "rob",
        "rod", "rot", "rub", "rug", "rum", "run", "rut", "sad", "sag", "sap", "sat", "set", "sip", "sir", "sit", "six",
        "sob", "sod", "sop", "sub", "sum", "sun", "tab", "tag", "tan", "tap", "tar", "ten", "tin", "tip", "ton", "top",
        "tot", "tub", "tug", "van", "vat", "vet", "vex", "zap", "zen", "zip", "zoo", "zoom", "boot", "book", "food",
        "good", "moon", "noon", "pool", "room", "soon", "tool", "took", "bee", "beef", "beep", "deep", "feed", "feel",
        "feet", "geek", "keep", "meet", "need", "peek", "peel", "seed", "seek", "seem", "seen", "sleep", "steep",
        "street", "tree", "bait", "laid", "maid", "mail", "main", "nail", "paid", "pail", "pain", "raid", "rail",
        "rain", "sail", "tail", "trail", "train", "brain", "drain", "grain", "plain", "snail", "stain", "blob", "blot",
        "brag", "bran", "brat", "drag", "drip", "drop", "drug", "drum", "flag", "flap", "flat", "flip", "flop", "glad",
        "glum", "grab", "grin", "grip", "grub", "plan", "plot", "plug", "plum", "prod", "prom", "prop", "skid", "skim",
        "skin", "skip", "slim", "snag", "snap", "snip", "snob", "snug", "span", "spin", "spit", "spot", "spun", "stab",
        "stag", "star", "stem", "step", "stir", "stop", "stub", "stun", "trap", "trim", "trip", "trot", "tram", "kiln",
        "lamp", "limp", "lump", "pump", "ramp", "bank", "link", "pink", "rink", "sink", "tank", "dish", "fish", "gush",
        "lash", "mash", "mesh", "posh", "push", "rash", "rush", "wish", "bash", "dash", "gosh", "lush", "mush", "tosh",
        "flash", "flesh", "flush", "plush", "slash", "smash", "trash", "brush", "fresh", "skunk", "stink", "drink",
        "stump", "tramp", "trump", "bump", "dump", "jump", "damp"};
    for (const KindSpec& k : kKindPool) {
      w.insert(k.name);
      w.insert(k.plural);
    }
    for (const auto* list : {&kHabitats, &kDiets, &kColours, &kSizes}) w.insert(list->begin(), list->end());
    return w;
  }();
  return words;
}

std::string invent_name(std::mt19937_64& rng) {
  std::string name = std::string(draw(kOnsets, rng)) + draw(kVowels, rng);
  if (pick(rng, 2) == 0) {
    name += draw(kCodas, rng);
  } else {
    name += std::string(draw(kOnsets, rng)) + draw(kVowels, rng);
    if (pick(rng, 2) == 0) name += draw(kCodas, rng);
  }
  return name;
}

// n values 0..v-1, each used floor(n/v) or ceil(n/v) times, in random order: every value of an
// attribute is shared by several entities, which reverse questions need for their distractors.
std::vector<size_t> balanced_assignment(size_t n, size_t v, std::mt19937_64& rng) {
  std::vector<size_t> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = i % v;
  shuffle_in_place(out, rng);
  return out;
}


std::string capitalise(std::string s) {
  if (!s.empty()) s[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
  return s;
}

size_t attribute_index(SynAttribute a) { return static_cast<size_t>(a); }

// ---------------------------------------------------------------------------------------------
// Settings JSON.

uint64_t json_unsigned(const nlohmann::json& j, const std::string& key) {
  const auto& v = j.at(key);
  LITESTAGE_CHECK(v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0), "synthetic settings: '",
                  key, "' must be a non-negative integer, got ", v.dump());
  return v.get<uint64_t>();
}

}  // namespace

const std::vector<std::string>& synthetic_attribute_words(SynAttribute a) {
  switch (a) {
    case SynAttribute::Habitat:
      return kHabitats;
    case SynAttribute::Diet:
      return kDiets;
    case SynAttribute::Colour:
      return kColours;
    case SynAttribute::Size:
      return kSizes;
    case SynAttribute::Kind:
      break;
  }
  throw_error("synthetic: kind values are the world's kinds");
}

// -----------------------------------------------------------------------------------------------
// Settings

void SyntheticSettings::validate() const {
  LITESTAGE_CHECK(kinds >= 2 && kinds <= kKindPoolSize, "synthetic settings: kinds must be in 2..", kKindPoolSize,
                  ", got ", kinds);
  LITESTAGE_CHECK(entities >= 2 * kinds && entities <= 200, "synthetic settings: entities must be in ", 2 * kinds,
                  "..200 (at least two per kind), got ", entities);
  LITESTAGE_CHECK(min_options >= 2 && min_options <= max_options && max_options <= 5,
                  "synthetic settings: need 2 <= min_options <= max_options <= 5, got ", min_options, " and ",
                  max_options);
  LITESTAGE_CHECK(holdout_fraction > 0.0 && holdout_fraction <= 0.4,
                  "synthetic settings: holdout_fraction must be in (0, 0.4], got ", holdout_fraction);
  LITESTAGE_CHECK(train > 0, "synthetic settings: train must be positive");
  LITESTAGE_CHECK(biographies <= 1000, "synthetic settings: biographies must be in 0..1000, got ", biographies);
}

void to_json(nlohmann::json& j, const SyntheticSettings& s) {
  j = nlohmann::json{{"seed", s.seed},
                     {"entities", s.entities},
                     {"kinds", s.kinds},
                     {"train", s.train},
                     {"valid", s.valid},
                     {"test", s.test},
                     {"min_options", s.min_options},
                     {"max_options", s.max_options},
                     {"holdout_fraction", s.holdout_fraction},
                     {"biographies", s.biographies}};
}

void from_json(const nlohmann::json& j, SyntheticSettings& s) {
  LITESTAGE_CHECK(j.is_object(), "synthetic settings: expected a JSON object, got ", j.type_name());
  static const std::set<std::string> known = {"seed", "entities",    "kinds",       "train",           "valid",
                                              "test", "min_options", "max_options", "holdout_fraction",
                                              "biographies"};
  for (const auto& [key, value] : j.items())
    LITESTAGE_CHECK(known.count(key), "synthetic settings: unknown key '", key,
                    "' (known: seed, entities, kinds, train, valid, test, min_options, max_options, holdout_fraction, "
                    "biographies)");
  SyntheticSettings out;
  if (j.contains("seed")) out.seed = json_unsigned(j, "seed");
  auto size_key = [&j](const char* key, size_t& field) {
    if (j.contains(key)) field = static_cast<size_t>(json_unsigned(j, key));
  };
  size_key("entities", out.entities);
  size_key("kinds", out.kinds);
  size_key("train", out.train);
  size_key("valid", out.valid);
  size_key("test", out.test);
  size_key("min_options", out.min_options);
  size_key("max_options", out.max_options);
  size_key("biographies", out.biographies);
  if (j.contains("holdout_fraction")) {
    LITESTAGE_CHECK(j.at("holdout_fraction").is_number(), "synthetic settings: 'holdout_fraction' must be a number");
    out.holdout_fraction = j.at("holdout_fraction").get<double>();
  }
  out.validate();
  s = out;
}

SyntheticSettings read_synthetic_settings(const std::string& path) {
  const nlohmann::json j = read_json_file(path);
  try {
    return j.get<SyntheticSettings>();
  } catch (const Error& e) {
    throw_error(path, ": ", e.what());
  }
}

// -----------------------------------------------------------------------------------------------
// Names

std::string_view to_string(SynAttribute a) {
  switch (a) {
    case SynAttribute::Kind:
      return "kind";
    case SynAttribute::Habitat:
      return "habitat";
    case SynAttribute::Diet:
      return "diet";
    case SynAttribute::Colour:
      return "colour";
    case SynAttribute::Size:
      return "size";
  }
  return "?";
}

std::string_view to_string(SynQuestionType t) {
  switch (t) {
    case SynQuestionType::Lookup:
      return "lookup";
    case SynQuestionType::Reverse:
      return "reverse";
    case SynQuestionType::AbilityWhich:
      return "ability-which";
    case SynQuestionType::AbilityLookup:
      return "ability-lookup";
  }
  return "?";
}

// -----------------------------------------------------------------------------------------------
// World

std::vector<std::string> SyntheticWorld::values(SynAttribute a) const {
  std::vector<std::string> out;
  if (a == SynAttribute::Kind) {
    for (const SynKind& k : kinds) out.push_back(k.name);
  } else {
    for (const std::string& w : synthetic_attribute_words(a)) out.push_back(a == SynAttribute::Habitat ? "the " + w : w);
  }
  return out;
}

std::string SyntheticWorld::fact_clause(size_t e, SynAttribute a) const {
  const std::string subject = "The " + entities.at(e).name;
  const size_t v = value(e, a);
  switch (a) {
    case SynAttribute::Kind:
      return subject + " is a " + kinds.at(v).name;
    case SynAttribute::Habitat:
      return subject + " lives in the " + kHabitats.at(v);
    case SynAttribute::Diet:
      return subject + " eats " + kDiets.at(v);
    case SynAttribute::Colour:
      return subject + " is " + kColours.at(v);
    case SynAttribute::Size:
      return subject + " is " + kSizes.at(v);
  }
  return subject;
}

std::string SyntheticWorld::option_clause(size_t e, SynAttribute a, size_t v) const {
  const std::string subject = "the " + entities.at(e).name;
  const std::string negation = v == value(e, a) ? "" : "not ";
  const std::string is = " is " + negation;
  switch (a) {
    case SynAttribute::Kind:
      return kinds.at(v).name + is + "the kind of animal " + subject + " is";
    case SynAttribute::Habitat:
      return "the " + kHabitats.at(v) + is + "where " + subject + " lives";
    case SynAttribute::Diet:
      return kDiets.at(v) + (kDietPlural.at(v) ? " are " + negation : is) + "what " + subject + " eats";
    case SynAttribute::Colour:
      return kColours.at(v) + is + "the colour of " + subject;
    case SynAttribute::Size:
      return kSizes.at(v) + is + "the size of " + subject;
  }
  return subject;
}

std::string SyntheticWorld::ability_option_clause(size_t e, size_t k) const {
  const SynKind& own = kind_of(e);
  return kinds.at(k).ability + " is for " + kinds.at(k).plural + ", and the " + entities.at(e).name + " is a " +
         own.name;
}

std::string SyntheticWorld::ability_clause(size_t e, std::optional<size_t> other_kind) const {
  const SynKind& k = kind_of(e);
  std::string s = "The " + entities.at(e).name + " is a " + k.name + ", and " + k.plural;
  if (!other_kind) return s + " can " + k.ability;
  LITESTAGE_CHECK(*other_kind != value(e, SynAttribute::Kind),
                  "synthetic: ability_clause against the entity's own kind");
  return s + " cannot " + kinds.at(*other_kind).ability;
}

std::vector<std::string> SyntheticWorld::fact_paraphrases(size_t e, SynAttribute a) const {
  const std::string name = entities.at(e).name;
  const std::string v = values(a).at(value(e, a));
  std::vector<std::string> out = {fact_clause(e, a) + "."};
  switch (a) {
    case SynAttribute::Kind:
      out.push_back("The " + name + " is a kind of " + v + ".");
      out.push_back(ability_clause(e) + ".");
      break;
    case SynAttribute::Habitat:
      out.push_back("The " + name + " makes its home in " + v + ".");
      out.push_back("The home of the " + name + " is " + v + ".");
      break;
    case SynAttribute::Diet:
      out.push_back("The " + name + " feeds on " + v + ".");
      out.push_back("The food of the " + name + " is " + v + ".");
      break;
    case SynAttribute::Colour:
      out.push_back("The colour of the " + name + " is " + v + ".");
      out.push_back("The " + name + " looks " + v + ".");
      break;
    case SynAttribute::Size:
      out.push_back("The size of the " + name + " is " + v + ".");
      out.push_back("The " + name + " has a " + v + " body.");
      break;
  }
  return out;
}

std::string SyntheticWorld::kind_fact(size_t k) const {
  return capitalise(kinds.at(k).plural) + " can " + kinds.at(k).ability + ".";
}

void to_json(nlohmann::json& j, const SyntheticWorld& w) {
  nlohmann::json kinds = nlohmann::json::array();
  for (size_t k = 0; k < w.kinds.size(); ++k)
    kinds.push_back({{"name", w.kinds[k].name},
                     {"plural", w.kinds[k].plural},
                     {"ability", w.kinds[k].ability},
                     {"fact", w.kind_fact(k)}});
  nlohmann::json attributes = nlohmann::json::object();
  for (SynAttribute a : kSynAttributes) attributes[std::string(to_string(a))] = w.values(a);
  nlohmann::json entities = nlohmann::json::array();
  for (size_t e = 0; e < w.entities.size(); ++e) {
    nlohmann::json ej{{"name", w.entities[e].name}};
    std::vector<std::string> facts;
    for (SynAttribute a : kSynAttributes) {
      ej[std::string(to_string(a))] = w.values(a).at(w.value(e, a));
      facts.push_back(w.fact_clause(e, a) + ".");
    }
    facts.push_back(w.ability_clause(e) + ".");
    ej["facts"] = facts;
    entities.push_back(std::move(ej));
  }
  j = nlohmann::json{{"seed", w.seed}, {"kinds", kinds}, {"attributes", attributes}, {"entities", entities}};
}

SyntheticWorld make_synthetic_world(const SyntheticSettings& settings) {
  settings.validate();
  auto rng = stream(settings.seed, "world");
  SyntheticWorld w;
  w.seed = settings.seed;

  std::vector<size_t> pool(kKindPoolSize);
  for (size_t i = 0; i < pool.size(); ++i) pool[i] = i;
  std::vector<size_t> chosen = sample(pool, settings.kinds, rng);
  std::sort(chosen.begin(), chosen.end());  // pool order reads better in world.json
  for (size_t i : chosen) w.kinds.push_back({kKindPool[i].name, kKindPool[i].plural, kKindPool[i].ability});

  std::set<std::string> used;
  for (size_t attempts = 0; w.entities.size() < settings.entities; ++attempts) {
    LITESTAGE_CHECK(attempts < 1000000, "synthetic: could not invent ", settings.entities, " distinct names");
    std::string name = invent_name(rng);
    if (name.size() < 3 || name.size() > 6 || reserved_words().count(name) || !used.insert(name).second) continue;
    w.entities.push_back({name, {}});
  }

  const size_t n = w.entities.size();
  for (SynAttribute a : kSynAttributes) {
    const size_t v = a == SynAttribute::Kind ? w.kinds.size() : synthetic_attribute_words(a).size();
    const std::vector<size_t> assignment = balanced_assignment(n, v, rng);
    for (size_t e = 0; e < n; ++e) w.entities[e].values[attribute_index(a)] = assignment[e];
  }
  return w;
}

}  // namespace litestage
