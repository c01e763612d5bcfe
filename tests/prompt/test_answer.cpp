#include <catch2/catch.hpp>

#include "litestage/prompt/answer.hpp"

using namespace litestage;

namespace {
Example four_options() {
  Example e;
  e.id = "q";
  e.stem = "s";
  e.choices = {"a", "b", "c", "d"};
  e.labels = {"A", "B", "C", "D"};
  e.answer = 2;
  return e;
}
}  // namespace

TEST_CASE("answer regex: the TinyThinker pattern", "[reasoning][answer]") {
  CHECK(kAnswerPattern == R"(the answer is option ([A-Z])\.)");
  CHECK(parse_answer("So the answer is option C.") == 'C');
  CHECK(parse_answer("  So the answer is option C.  ") == 'C');
  CHECK(parse_answer("Therefore the answer is option Z. Done") == 'Z');
  CHECK(parse_answer("xthe answer is option A.") == 'A');  // re.search: no word boundary
}

TEST_CASE("answer regex: no match", "[reasoning][answer]") {
  CHECK(!parse_answer(""));
  CHECK(!parse_answer("So the answer is option C"));     // no period
  CHECK(!parse_answer("So the answer is option C!"));
  CHECK(!parse_answer("So the answer is C."));
  CHECK(!parse_answer("So the answer is option (C)."));
  CHECK(!parse_answer("So the answer is option  C."));   // two spaces
  CHECK(!parse_answer("So the answer is\noption C."));
}

TEST_CASE("answer regex: case-sensitive as in the reference", "[reasoning][answer]") {
  CHECK(!parse_answer("The answer is option C."));  // capital T does not match ...
  CHECK(parse_answer("So The answer is option C. the answer is option D.") == 'D');  // ... so the later one wins
  CHECK(!parse_answer("so the answer is option c."));
  CHECK(!parse_answer("SO THE ANSWER IS OPTION C."));
  CHECK(!parse_answer("the Answer is option C."));
}

TEST_CASE("answer regex: first match wins", "[reasoning][answer]") {
  CHECK(parse_answer("So the answer is option B. No wait, the answer is option D.") == 'B');
  CHECK(parse_answer("the answer is option x. the answer is option A. the answer is option B.") == 'A');
  CHECK(parse_answer("the answer is option the answer is option E.") == 'E');
}

TEST_CASE("judge_answer", "[reasoning][answer]") {
  const Example e = four_options();
  auto right = judge_answer(e, "So the answer is option C.");
  CHECK(right.parsed());
  CHECK(right.index == 2);
  CHECK(right.correct);

  auto wrong = judge_answer(e, "So the answer is option A.");
  CHECK(wrong.parsed());
  CHECK(wrong.index == 0);
  CHECK(!wrong.correct);

  auto outside = judge_answer(e, "So the answer is option F.");  // parsed, but not an option here
  CHECK(outside.letter == 'F');
  CHECK(!outside.index);
  CHECK(!outside.correct);

  auto none = judge_answer(e, "I am not sure.");
  CHECK(!none.parsed());
  CHECK(!none.index);
  CHECK(!none.correct);
}
