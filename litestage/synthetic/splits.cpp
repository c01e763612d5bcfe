// The synthetic task's splits, and its dataset provider (task.hpp).
#include <algorithm>
#include <optional>
#include <set>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "litestage/synthetic/questions.hpp"
#include "litestage/synthetic/random.hpp"
#include "litestage/synthetic/task.hpp"
#include "litestage/util/error.hpp"

namespace litestage {

using namespace synthetic;  // random.hpp

namespace {

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

void register_synthetic_dataset() { register_dataset(kSyntheticDatasetName, synthetic_provider); }

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
