// The synthetic task's facts, combinations, held-out combinations and questions (task.hpp).
#include <algorithm>
#include <optional>
#include <set>
#include <tuple>

#include "litestage/synthetic/questions.hpp"
#include "litestage/synthetic/random.hpp"
#include "litestage/synthetic/task.hpp"
#include "litestage/util/error.hpp"

namespace litestage {

using namespace synthetic;  // random.hpp

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
      return "Which of these lives in the " + synthetic_attribute_words(SynAttribute::Habitat).at(v) + "?";
    case SynAttribute::Diet:
      return "Which of these eats " + synthetic_attribute_words(SynAttribute::Diet).at(v) + "?";
    case SynAttribute::Colour:
      return "Which of these is " + synthetic_attribute_words(SynAttribute::Colour).at(v) + "?";
    case SynAttribute::Size:
      return "Which of these is " + synthetic_attribute_words(SynAttribute::Size).at(v) + "?";
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

// The option items of a question for c, in random order: the correct one, `forced` when given,
// and distractors drawn from the plan's pool, between settings.min_options and max_options in all.
std::vector<size_t> draw_items(const SyntheticWorld& w, const SyntheticSettings& s, const SynCombo& c,
                               OptionPlan plan, std::mt19937_64& rng, std::optional<size_t> forced) {
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
  return items;
}

// Recall states, from memory, the facts the analyses compare against: the target's fact (lookup,
// ability-lookup), or every option's fact (reverse, ability-which). A question about options
// that are entities thus recalls each option's fact forwards, from its name; nothing needs the
// reverse lookup value -> entity, which a model that stored "The zun lives in the river" cannot
// do (docs/synthetic-task.md, "Why the recall lists the options").
std::string recall_text(const SyntheticWorld& w, const SynCombo& c, const std::vector<size_t>& items) {
  const size_t e = c.entity;
  std::string recall;
  switch (c.type) {
    case SynQuestionType::Lookup:
      return w.fact_clause(e, c.attribute) + ".";
    case SynQuestionType::Reverse:
      for (size_t item : items) recall += (recall.empty() ? "" : " ") + w.fact_clause(item, c.attribute) + ".";
      return recall;
    case SynQuestionType::AbilityWhich:
      // "Only bats can echolocate.": the kind fact without a capital, which could be an option letter.
      for (size_t item : items) recall += w.fact_clause(item, SynAttribute::Kind) + ". ";
      return recall + "Only " + w.kind_of(e).plural + " can " + w.kind_of(e).ability + ".";
    case SynQuestionType::AbilityLookup:
      return w.ability_clause(e) + ".";
  }
  return recall;
}

}  // namespace

SyntheticQuestion make_question(const SyntheticWorld& w, const SyntheticSettings& s, const SynCombo& c,
                                std::mt19937_64& rng, std::optional<size_t> forced) {
  const OptionPlan plan = option_plan(w, c);
  const std::vector<size_t> items = draw_items(w, s, c, plan, rng, forced);

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

  q.rationale.recall = recall_text(w, c, items);
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

}  // namespace litestage
