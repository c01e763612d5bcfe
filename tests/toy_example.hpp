#pragma once
// A two-option toy question for tests that only need some well-formed Example, and a toy story
// question with its TinyThinker stage records for tests that train.

#include <vector>

#include "litestage/data/example.hpp"
#include "litestage/data/stage_records.hpp"
#include "litestage/prompt/prompts.hpp"

namespace litestage::test {

inline Example toy_example(const std::string& id = "q1") {
  Example ex;
  ex.id = id;
  ex.stem = "which one";
  ex.choices = {"x", "y"};
  ex.labels = {"A", "B"};
  ex.answer = 0;
  ex.dataset = "toy";
  return ex;
}

// "Lily has a red ball": recall, analyze A, analyze B and summarize records (answer B).
inline std::vector<StageRecord> toy_story_records() {
  Example e;
  e.id = "toy";
  e.stem = "Lily has a red ball";
  e.choices = {"the ball is blue", "the ball is red"};
  e.labels = {"A", "B"};
  e.answer = 1;
  TeacherRationale r;
  r.recall = "Lily's ball is red.";
  r.analyses = {"the ball is not blue.", "the ball is red."};
  return build_stage_records(e, r);
}

}  // namespace litestage::test
