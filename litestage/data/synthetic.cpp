#include "litestage/data/synthetic.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <tuple>
#include <utility>

#include "litestage/data/shuffle.hpp"
#include "litestage/util/error.hpp"
#include "litestage/util/jsonl.hpp"
#include "litestage/util/strings.hpp"

namespace litestage {

namespace {

// ---------------------------------------------------------------------------------------------
// Portable randomness: mt19937_64 streams derived from (seed, tag), bounded draws by rejection
// (uniform_below), our own Fisher–Yates.

// Independent stream per purpose, so e.g. the test questions do not change when train grows.
std::mt19937_64 stream(uint64_t seed, std::string_view tag) {
  uint64_t h = 1469598103934665603ULL;
  for (char c : tag) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  return std::mt19937_64(splitmix64(seed ^ splitmix64(h)));
}

size_t pick(std::mt19937_64& rng, size_t n) { return static_cast<size_t>(uniform_below(rng, n)); }

template <typename T>
void shuffle_in_place(std::vector<T>& v, std::mt19937_64& rng) {
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[pick(rng, i)]);
}

// k distinct elements of pool in random order (partial Fisher–Yates).
std::vector<size_t> sample(std::vector<size_t> pool, size_t k, std::mt19937_64& rng) {
  LITESTAGE_CHECK(k <= pool.size(), "synthetic: cannot draw ", k, " of ", pool.size());
  for (size_t i = 0; i < k; ++i) std::swap(pool[i], pool[i + pick(rng, pool.size() - i)]);
  pool.resize(k);
  return pool;
}

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

const std::vector<std::string>& attribute_words(SynAttribute a) {
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
    for (const std::string& w : attribute_words(a)) out.push_back(a == SynAttribute::Habitat ? "the " + w : w);
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
    const size_t v = a == SynAttribute::Kind ? w.kinds.size() : attribute_words(a).size();
    const std::vector<size_t> assignment = balanced_assignment(n, v, rng);
    for (size_t e = 0; e < n; ++e) w.entities[e].values[attribute_index(a)] = assignment[e];
  }
  return w;
}

// -----------------------------------------------------------------------------------------------
// Facts and combinations

bool SynFact::operator<(const SynFact& o) const {
  return std::make_tuple(static_cast<int>(type), index, static_cast<int>(attribute)) <
         std::make_tuple(static_cast<int>(o.type), o.index, static_cast<int>(o.attribute));
}
bool SynFact::operator==(const SynFact& o) const { return !(*this < o) && !(o < *this); }

std::string fact_sentence(const SyntheticWorld& w, const SynFact& f) {
  if (f.type == SynFact::Type::KindAbility) return w.kind_fact(f.index);
  return w.fact_clause(f.index, f.attribute) + ".";
}

bool SynCombo::operator<(const SynCombo& o) const {
  return std::make_tuple(static_cast<int>(type), entity, static_cast<int>(attribute)) <
         std::make_tuple(static_cast<int>(o.type), o.entity, static_cast<int>(o.attribute));
}
bool SynCombo::operator==(const SynCombo& o) const { return !(*this < o) && !(o < *this); }

std::string combo_name(const SyntheticWorld& w, const SynCombo& c) {
  std::string s = std::string(to_string(c.type)) + "/" + w.entities.at(c.entity).name;
  if (c.type == SynQuestionType::Lookup || c.type == SynQuestionType::Reverse)
    s += "/" + std::string(to_string(c.attribute));
  return s;
}

namespace {

std::vector<SynCombo> combos_of_type(const SyntheticWorld& w, SynQuestionType t) {
  std::vector<SynCombo> out;
  for (size_t e = 0; e < w.entities.size(); ++e) {
    if (t == SynQuestionType::Lookup || t == SynQuestionType::Reverse) {
      for (SynAttribute a : kSynAttributes) out.push_back({t, e, a});
    } else {
      out.push_back({t, e, SynAttribute::Kind});
    }
  }
  return out;
}

}  // namespace

SyntheticHoldout synthetic_holdout(const SyntheticWorld& w, const SyntheticSettings& settings) {
  SyntheticHoldout h;
  for (SynQuestionType t : kSynQuestionTypes) {
    std::vector<SynCombo> all = combos_of_type(w, t);
    auto rng = stream(settings.seed, "holdout/" + std::string(to_string(t)));
    shuffle_in_place(all, rng);
    const size_t n = all.size();
    const size_t k =
        std::max<size_t>(1, static_cast<size_t>(std::lround(settings.holdout_fraction * static_cast<double>(n))));
    LITESTAGE_CHECK(2 * k < n, "synthetic: holding out ", k, " ", to_string(t), " combinations for valid and ", k,
                    " for test leaves none of its ", n, " for train (more entities or a smaller holdout_fraction)");
    h.test.insert(h.test.end(), all.begin(), all.begin() + static_cast<std::ptrdiff_t>(k));
    h.valid.insert(h.valid.end(), all.begin() + static_cast<std::ptrdiff_t>(k),
                   all.begin() + static_cast<std::ptrdiff_t>(2 * k));
    h.train.insert(h.train.end(), all.begin() + static_cast<std::ptrdiff_t>(2 * k), all.end());
  }
  for (auto* v : {&h.train, &h.valid, &h.test}) std::sort(v->begin(), v->end());
  return h;
}

// -----------------------------------------------------------------------------------------------
// Questions

namespace {

const std::string kCorrect = ", so this is correct.";
const std::string kNotCorrect = ", so this is not correct.";

std::string question_stem(const SyntheticWorld& w, const SynCombo& c) {
  const std::string name = w.entities.at(c.entity).name;
  if (c.type == SynQuestionType::AbilityWhich) return "Which of these can " + w.kind_of(c.entity).ability + "?";
  if (c.type == SynQuestionType::AbilityLookup) return "What can the " + name + " do?";
  if (c.type == SynQuestionType::Lookup) {
    switch (c.attribute) {
      case SynAttribute::Kind:
        return "What kind of animal is the " + name + "?";
      case SynAttribute::Habitat:
        return "Where does the " + name + " live?";
      case SynAttribute::Diet:
        return "What does the " + name + " eat?";
      case SynAttribute::Colour:
        return "What colour is the " + name + "?";
      case SynAttribute::Size:
        return "How big is the " + name + "?";
    }
  }
  const size_t v = w.value(c.entity, c.attribute);
  switch (c.attribute) {
    case SynAttribute::Kind:
      return "Which of these is a " + w.kinds.at(v).name + "?";
    case SynAttribute::Habitat:
      return "Which of these lives in the " + kHabitats.at(v) + "?";
    case SynAttribute::Diet:
      return "Which of these eats " + kDiets.at(v) + "?";
    case SynAttribute::Colour:
      return "Which of these is " + kColours.at(v) + "?";
    case SynAttribute::Size:
      return "Which of these is " + kSizes.at(v) + "?";
  }
  return "?";
}

// The option items of a question: attribute values (lookup), entities (reverse, ability-which) or
// kinds, shown by their ability (ability-lookup). Index 0 of the pool is never special: `correct`
// names the right item.
struct OptionPlan {
  size_t correct = 0;
  std::vector<size_t> distractor_pool;
};

OptionPlan option_plan(const SyntheticWorld& w, const SynCombo& c) {
  OptionPlan p;
  const size_t kind = w.value(c.entity, SynAttribute::Kind);
  switch (c.type) {
    case SynQuestionType::Lookup: {
      p.correct = w.value(c.entity, c.attribute);
      const size_t n = w.values(c.attribute).size();
      for (size_t v = 0; v < n; ++v)
        if (v != p.correct) p.distractor_pool.push_back(v);
      break;
    }
    case SynQuestionType::Reverse:
      p.correct = c.entity;
      for (size_t e = 0; e < w.entities.size(); ++e)
        if (w.value(e, c.attribute) != w.value(c.entity, c.attribute)) p.distractor_pool.push_back(e);
      break;
    case SynQuestionType::AbilityWhich:
      p.correct = c.entity;
      for (size_t e = 0; e < w.entities.size(); ++e)
        if (w.value(e, SynAttribute::Kind) != kind) p.distractor_pool.push_back(e);
      break;
    case SynQuestionType::AbilityLookup:
      p.correct = kind;
      for (size_t k = 0; k < w.kinds.size(); ++k)
        if (k != kind) p.distractor_pool.push_back(k);
      break;
  }
  return p;
}

// A random question for combination c. `forced` (a reverse question's distractor entity) is made
// one of the options; the coverage pass uses it to state a fact whose own combinations are held out.
SyntheticQuestion make_question(const SyntheticWorld& w, const SyntheticSettings& s, const SynCombo& c,
                                std::mt19937_64& rng, std::optional<size_t> forced = std::nullopt) {
  OptionPlan plan = option_plan(w, c);
  LITESTAGE_CHECK(!plan.distractor_pool.empty(), "synthetic: ", combo_name(w, c), " has no possible distractor");
  const size_t max_k = std::min(s.max_options, plan.distractor_pool.size() + 1);
  const size_t min_k = std::min(s.min_options, max_k);
  const size_t k = min_k + pick(rng, max_k - min_k + 1);

  std::vector<size_t> items;
  if (forced) {
    auto it = std::find(plan.distractor_pool.begin(), plan.distractor_pool.end(), *forced);
    LITESTAGE_CHECK(it != plan.distractor_pool.end(), "synthetic: forced distractor is not a valid distractor");
    plan.distractor_pool.erase(it);
    items = sample(plan.distractor_pool, k - 2, rng);
    items.push_back(*forced);
  } else {
    items = sample(plan.distractor_pool, k - 1, rng);
  }
  items.push_back(plan.correct);
  shuffle_in_place(items, rng);

  SyntheticQuestion q;
  q.combo = c;
  Example& ex = q.example;
  ex.dataset = kSyntheticDatasetName;
  ex.stem = question_stem(w, c);
  const size_t e = c.entity;
  const SynAttribute a = c.attribute;
  std::set<SynFact> needed;
  const auto entity_fact = [](size_t entity, SynAttribute attribute) {
    return SynFact{SynFact::Type::EntityAttribute, entity, attribute};
  };

  // Recall states, from memory, the facts the analyses compare against: the target's fact (lookup,
  // ability-lookup), or every option's fact (reverse, ability-which). A question about options
  // that are entities thus recalls each option's fact forwards, from its name; nothing needs the
  // reverse lookup value -> entity, which a model that stored "The zun lives in the river" cannot
  // do (docs/synthetic-task.md, "Why the recall lists the options").
  switch (c.type) {
    case SynQuestionType::Lookup:
      q.rationale.recall = w.fact_clause(e, a) + ".";
      break;
    case SynQuestionType::Reverse:
      for (size_t item : items) q.rationale.recall += (q.rationale.recall.empty() ? "" : " ") + w.fact_clause(item, a) + ".";
      break;
    case SynQuestionType::AbilityWhich:
      // "Only bats can echolocate.": the kind fact without a capital, which could be an option letter.
      for (size_t item : items) q.rationale.recall += w.fact_clause(item, SynAttribute::Kind) + ". ";
      q.rationale.recall += "Only " + w.kind_of(e).plural + " can " + w.kind_of(e).ability + ".";
      break;
    case SynQuestionType::AbilityLookup:
      q.rationale.recall = w.ability_clause(e) + ".";
      break;
  }
  if (c.type == SynQuestionType::Lookup) needed.insert(entity_fact(e, a));
  if (c.type == SynQuestionType::AbilityWhich || c.type == SynQuestionType::AbilityLookup) {
    needed.insert(entity_fact(e, SynAttribute::Kind));
    needed.insert({SynFact::Type::KindAbility, w.value(e, SynAttribute::Kind), SynAttribute::Kind});
  }

  const std::vector<std::string> values = c.type == SynQuestionType::Lookup ? w.values(a) : std::vector<std::string>{};
  for (size_t i = 0; i < items.size(); ++i) {
    const size_t item = items[i];
    const bool correct = item == plan.correct;
    if (correct) ex.answer = static_cast<int>(i);
    ex.labels.push_back(option_label(i));
    std::string clause;
    switch (c.type) {
      case SynQuestionType::Lookup:
        ex.choices.push_back(values.at(item));
        clause = w.option_clause(e, a, item);
        break;
      case SynQuestionType::Reverse:
        ex.choices.push_back(w.entities.at(item).name);
        clause = w.fact_clause(item, a);
        needed.insert(entity_fact(item, a));
        break;
      case SynQuestionType::AbilityWhich:
        ex.choices.push_back(w.entities.at(item).name);
        clause = correct ? w.ability_clause(item) : w.ability_clause(item, w.value(e, SynAttribute::Kind));
        needed.insert(entity_fact(item, SynAttribute::Kind));
        break;
      case SynQuestionType::AbilityLookup:
        ex.choices.push_back(w.kinds.at(item).ability);
        clause = w.ability_option_clause(e, item);
        needed.insert({SynFact::Type::KindAbility, item, SynAttribute::Kind});
        break;
    }
    q.rationale.analyses.push_back(clause + (correct ? kCorrect : kNotCorrect));
  }
  q.needed.assign(needed.begin(), needed.end());
  q.stated = q.needed;  // every needed fact is spelled out by the recall or an analysis (docs/synthetic-task.md)
  for (const SynFact& f : q.needed) ex.facts.push_back(fact_sentence(w, f));
  return q;
}

std::string question_key(const Example& e) {
  std::string key = e.stem;
  for (const std::string& c : e.choices) key += '\x1f' + c;
  return key;
}

// Accumulates a split's questions without duplicates.
class SplitBuilder {
 public:
  SplitBuilder(const SyntheticWorld& w, const SyntheticSettings& s, std::mt19937_64& rng) : w_(w), s_(s), rng_(rng) {}

  // Tries a few random questions for c; true when one new to the split was added.
  bool add(const SynCombo& c, std::optional<size_t> forced = std::nullopt) {
    for (int attempt = 0; attempt < 16; ++attempt) {
      SyntheticQuestion q = make_question(w_, s_, c, rng_, forced);
      if (!keys_.insert(question_key(q.example)).second) continue;
      stated_.insert(q.stated.begin(), q.stated.end());
      questions_.push_back(std::move(q));
      return true;
    }
    return false;
  }

  // Deals questions to the question type that has the fewest so far (so the types stay balanced
  // even after the coverage pass) and, within a type, round-robin over its combinations
  // (reshuffled every pass), until the split has `target` questions. A type that finds nothing new
  // in two whole passes over its combinations is exhausted and leaves the rotation.
  void fill(const std::vector<SynCombo>& combos, size_t target, Split split) {
    struct Queue {
      SynQuestionType type;
      std::vector<SynCombo> combos;
      size_t next = 0;
      size_t count = 0;
      size_t failures = 0;  // since the last question this type added
    };
    std::vector<Queue> queues;
    for (SynQuestionType t : kSynQuestionTypes) {
      Queue q{t, {}, 0, 0, 0};
      for (const SynCombo& c : combos)
        if (c.type == t) q.combos.push_back(c);
      for (const SyntheticQuestion& done : questions_)
        if (done.combo.type == t) ++q.count;
      q.next = q.combos.size();
      if (!q.combos.empty()) queues.push_back(std::move(q));
    }
    LITESTAGE_CHECK(!queues.empty() || questions_.size() >= target, "synthetic: no combinations for the ",
                    to_string(split), " split");
    while (questions_.size() < target) {
      if (queues.empty())
        throw_error("synthetic: the ", to_string(split), " split ran out of distinct questions after ",
                    questions_.size(), " of ", target, " (too few entities or options for its combinations)");
      auto qi = std::min_element(queues.begin(), queues.end(),
                                 [](const Queue& a, const Queue& b) { return a.count < b.count; });
      Queue& q = *qi;
      if (q.next == q.combos.size()) {
        shuffle_in_place(q.combos, rng_);
        q.next = 0;
      }
      if (add(q.combos[q.next++])) {
        ++q.count;
        q.failures = 0;
      } else if (++q.failures > 2 * q.combos.size()) {
        queues.erase(qi);
      }
    }
  }

  const std::set<SynFact>& stated() const { return stated_; }
  std::vector<SyntheticQuestion>& questions() { return questions_; }

 private:
  const SyntheticWorld& w_;
  const SyntheticSettings& s_;
  std::mt19937_64& rng_;
  std::set<std::string> keys_;
  std::set<SynFact> stated_;
  std::vector<SyntheticQuestion> questions_;
};

std::vector<SynFact> all_facts(const SyntheticWorld& w) {
  std::vector<SynFact> out;
  for (size_t e = 0; e < w.entities.size(); ++e)
    for (SynAttribute a : kSynAttributes) out.push_back({SynFact::Type::EntityAttribute, e, a});
  for (size_t k = 0; k < w.kinds.size(); ++k) out.push_back({SynFact::Type::KindAbility, k, SynAttribute::Kind});
  return out;
}

// Adds to `b` one training question stating fact f, from training combinations only.
void cover(SplitBuilder& b, const SyntheticWorld& w, const std::set<SynCombo>& train, const SynFact& f,
           std::mt19937_64& rng) {
  std::vector<SynCombo> direct;
  auto consider = [&](const SynCombo& c) {
    if (train.count(c)) direct.push_back(c);
  };
  if (f.type == SynFact::Type::KindAbility) {
    for (size_t e = 0; e < w.entities.size(); ++e)
      if (w.value(e, SynAttribute::Kind) == f.index) {
        consider({SynQuestionType::AbilityWhich, e, SynAttribute::Kind});
        consider({SynQuestionType::AbilityLookup, e, SynAttribute::Kind});
      }
  } else {
    consider({SynQuestionType::Lookup, f.index, f.attribute});
    consider({SynQuestionType::Reverse, f.index, f.attribute});
    if (f.attribute == SynAttribute::Kind) {
      consider({SynQuestionType::AbilityWhich, f.index, SynAttribute::Kind});
      consider({SynQuestionType::AbilityLookup, f.index, SynAttribute::Kind});
    }
  }
  shuffle_in_place(direct, rng);
  for (const SynCombo& c : direct)
    if (b.add(c)) return;
  if (f.type == SynFact::Type::EntityAttribute) {
    // Every combination naming the fact is held out: state it as a distractor of a training
    // reverse question about another entity.
    std::vector<SynCombo> hosts;
    for (const SynCombo& c : train)
      if (c.type == SynQuestionType::Reverse && c.attribute == f.attribute &&
          w.value(c.entity, f.attribute) != w.value(f.index, f.attribute))
        hosts.push_back(c);
    shuffle_in_place(hosts, rng);
    for (const SynCombo& c : hosts)
      if (b.add(c, f.index)) return;
  }
  throw_error("synthetic: no training question can state '", fact_sentence(w, f),
              "' (all its combinations are held out: use more entities or a smaller holdout_fraction)");
}

}  // namespace

std::vector<SyntheticQuestion> generate_synthetic_split(const SyntheticWorld& w, const SyntheticSettings& s,
                                                        Split split) {
  s.validate();
  LITESTAGE_CHECK(split != Split::Calibration, "synthetic: the calibration split is drawn from valid by load_dataset");
  const SyntheticHoldout h = synthetic_holdout(w, s);
  const std::string name(to_string(split));
  auto rng = stream(s.seed, "questions/" + name);
  SplitBuilder b(w, s, rng);

  if (split == Split::Train) {
    const std::set<SynCombo> train(h.train.begin(), h.train.end());
    std::vector<SynFact> facts = all_facts(w);
    shuffle_in_place(facts, rng);
    for (const SynFact& f : facts)
      if (!b.stated().count(f)) cover(b, w, train, f, rng);
    LITESTAGE_CHECK(b.questions().size() <= s.train, "synthetic: train = ", s.train,
                    " is smaller than the coverage pass, which needs ", b.questions().size(),
                    " questions to state every world fact");
    b.fill(h.train, s.train, split);
  } else {
    b.fill(split == Split::Valid ? h.valid : h.test, split == Split::Valid ? s.valid : s.test, split);
  }

  std::vector<SyntheticQuestion> out = std::move(b.questions());
  shuffle_in_place(out, rng);  // the coverage pass must not sit at the front of train
  const int width = 5;
  for (size_t i = 0; i < out.size(); ++i) {
    std::string index = std::to_string(i);
    if (index.size() < static_cast<size_t>(width)) index.insert(0, static_cast<size_t>(width) - index.size(), '0');
    Example& ex = out[i].example;
    ex.id = "syn-" + name + "-" + index + "-" + std::string(to_string(out[i].combo.type));
    ex.source = "synthetic(seed " + std::to_string(s.seed) + ") " + name + " #" + std::to_string(i) + " " +
                combo_name(w, out[i].combo);
  }
  return out;
}

SyntheticTask generate_synthetic_task(const SyntheticSettings& settings) {
  SyntheticTask t;
  t.settings = settings;
  t.world = make_synthetic_world(settings);
  t.holdout = synthetic_holdout(t.world, settings);
  t.train = generate_synthetic_split(t.world, settings, Split::Train);
  t.valid = generate_synthetic_split(t.world, settings, Split::Valid);
  t.test = generate_synthetic_split(t.world, settings, Split::Test);
  return t;
}

std::vector<Example> synthetic_examples(const std::vector<SyntheticQuestion>& questions) {
  std::vector<Example> out;
  out.reserve(questions.size());
  for (const SyntheticQuestion& q : questions) out.push_back(q.example);
  return out;
}

double chance_accuracy(const std::vector<Example>& examples) {
  if (examples.empty()) return 0.0;
  double sum = 0.0;
  for (const Example& e : examples) sum += 1.0 / static_cast<double>(e.choices.size());
  return sum / static_cast<double>(examples.size());
}

// -----------------------------------------------------------------------------------------------
// Dataset provider

SyntheticSettings synthetic_settings_for_root(const std::string& root, std::string* source_file) {
  namespace fs = std::filesystem;
  std::string file;
  if (!root.empty()) {
    if (fs::is_regular_file(root))
      file = root;
    else if (fs::is_regular_file(fs::path(root) / "synthetic" / "settings.json"))
      file = (fs::path(root) / "synthetic" / "settings.json").string();
  }
  if (source_file) *source_file = file;
  return file.empty() ? SyntheticSettings{} : read_synthetic_settings(file);
}

SplitSource synthetic_provider(const std::string& root, Split split, const LoadOptions& /*options*/) {
  std::string file;
  const SyntheticSettings settings = synthetic_settings_for_root(root, &file);
  const SyntheticWorld world = make_synthetic_world(settings);
  SplitSource source;
  source.examples = synthetic_examples(generate_synthetic_split(world, settings, split));
  const std::string held = split == Split::Train ? "training combinations (all but the held-out ones)"
                                                 : "the " + std::string(to_string(split)) + " held-out combinations";
  source.rule = "synthetic task generated in memory from settings " + nlohmann::json(settings).dump() +
                (file.empty() ? std::string(" (defaults)") : " (from " + file + ")") + "; questions over " + held +
                ", dealt round-robin over question types; docs/synthetic-task.md";
  if (!file.empty()) source.report.files.push_back(file);
  source.report.records = source.examples.size();
  return source;
}


}  // namespace litestage
