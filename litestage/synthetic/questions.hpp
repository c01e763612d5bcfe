#pragma once
// Inside the synthetic task: one random question for a combination (questions.cpp), which the
// splits (splits.cpp) draw until each is new.

#include <cstddef>
#include <optional>
#include <random>

#include "litestage/synthetic/task.hpp"

namespace litestage {

// A random question for combination c. `forced` (a reverse question's distractor entity) is made
// one of the options; the coverage pass uses it to state a fact whose own combinations are held out.
SyntheticQuestion make_question(const SyntheticWorld& w, const SyntheticSettings& s, const SynCombo& c,
                                std::mt19937_64& rng, std::optional<size_t> forced = std::nullopt);

}  // namespace litestage
