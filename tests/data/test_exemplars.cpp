#include <catch2/catch.hpp>

#include "litestage/data/exemplars.hpp"
#include "litestage/util/error.hpp"
#include "litestage/util/strings.hpp"
#include "support.hpp"

using namespace litestage;
using Catch::Contains;

TEST_CASE("exemplar options parse by label markers, keeping commas", "[data][exemplars]") {
  CHECK(parse_exemplar_options("A. yes, B. no") == std::vector<std::string>{"yes", "no"});
  CHECK(parse_exemplar_options("A. red, green and blue, B. plants sprouting, blooming, C. none") ==
        std::vector<std::string>{"red, green and blue", "plants sprouting, blooming", "none"});
  CHECK(parse_exemplar_options("A. only") == std::vector<std::string>{"only"});
  CHECK_THROWS_WITH(parse_exemplar_options("1. x, 2. y"), Contains("do not start with"));
}

namespace {
std::string write_exemplars(const std::string& body) {
  auto path = (test::temp_dir("exemplars") / "toy_cot.json").string();
  write_file_atomic(path, body);
  return path;
}

const char* kGood = R"([
  {
    "Q": "Sun is a",
    "Options": "A. star, B. planet, or moon",
    "Key Information": "The sun is a star",
    "Explanations": [
      "A is correct. Because the sun is a star.",
      "B is incorrect. While planets orbit, the sun does not"
    ],
    "Reference": "CoT"
  }
])";
}  // namespace

TEST_CASE("exemplars: fields, answer, analyses, conversions", "[data][exemplars]") {
  auto path = write_exemplars(kGood);
  auto xs = read_exemplars(path);
  REQUIRE(xs.size() == 1);
  const Exemplar& x = xs[0];
  CHECK(x.question == "Sun is a");
  CHECK(x.options == std::vector<std::string>{"star", "planet, or moon"});
  CHECK(x.key_information == "The sun is a star");
  CHECK(x.analyses == std::vector<std::string>{"the sun is a star.", "planets orbit, the sun does not"});
  CHECK(x.answer == 0);
  CHECK(x.reference == "CoT");
  CHECK(x.source == path + ":2");

  Example e = exemplar_example(x, "toy", 3);
  CHECK(e.id == "toy-exemplar-3");
  CHECK(e.labels == std::vector<std::string>{"A", "B"});
  CHECK(e.answer == 0);
  CHECK(!example_problem(e));
  TeacherRationale r = exemplar_rationale(x);
  CHECK(r.recall == "The sun is a star");
  CHECK(r.analyses == x.analyses);
  CHECK(r.answer == 0);
}

TEST_CASE("exemplars: malformed entries name file and line", "[data][exemplars]") {
  auto with = [](const std::string& options, const std::string& e1, const std::string& e2) {
    return "[\n{\"Q\": \"q\", \"Options\": \"" + options + "\", \"Key Information\": \"k\", \"Explanations\": [\"" + e1 +
           "\", \"" + e2 + "\"]}\n]";
  };
  const std::vector<std::pair<std::string, std::string>> cases = {
      {with("A. x, B. y", "A is correct. Because a", "B is correct. Because b"), "more than one"},
      {with("A. x, B. y", "A is incorrect. Because a", "B is incorrect. Because b"), "no explanation says"},
      {with("A. x, B. y", "B is correct. Because a", "A is incorrect. Because b"), "does not start with 'A is correct.'"},
      {with("A. x, B. y", "A is right. Because a", "B is incorrect. Because b"), "does not start with"},
      {with("A. x, B. y", "A is correct. a", "B is incorrect. Because b"), "no 'Because ' part"},
      {with("A. x, B. y, C. z", "A is correct. Because a", "B is incorrect. Because b"), "3 options but 2 explanations"},
      {with("x, y", "A is correct. Because a", "B is incorrect. Because b"), "do not start with"},
      {"[\n{\"Q\": \"q\", \"Options\": \"A. x\"}\n]", "missing string field 'Key Information'"},
  };
  for (const auto& [body, problem] : cases) {
    INFO(body);
    auto path = write_exemplars(body);
    CHECK_THROWS_WITH(read_exemplars(path), Contains(path + ":2: ") && Contains(problem));
  }
}

TEST_CASE("real TinyThinker exemplar files load", "[data][exemplars][shared]") {
  REQUIRE_SHARED(root, "data/prompts");
  const std::string data = root.parent_path().string();
  struct Want {
    const char* dataset;
    size_t count, options;
  };
  for (Want w : {Want{"obqa", 7, 4}, Want{"csqa", 8, 0}, Want{"strategyqa", 8, 2}}) {
    INFO(w.dataset);
    auto xs = read_exemplars(exemplar_path(data, w.dataset));
    CHECK(xs.size() == w.count);
    for (const auto& x : xs) {
      if (w.options) CHECK(x.options.size() == w.options);
      CHECK(x.analyses.size() == x.options.size());
      CHECK(x.answer >= 0);  // -1 when no explanation says "is correct."
      CHECK(x.answer < static_cast<int>(x.options.size()));
    }
  }
  auto obqa = read_exemplars(exemplar_path(data, "obqa"));
  CHECK(obqa[0].question == "What is the most likely to be an effect of acid rain on an aquatic environment?");
  CHECK(obqa[0].options[3] == "cleaner and clearer water");
  CHECK(obqa[0].answer == 0);
  CHECK(starts_with(obqa[0].analyses[0], "acid rain reduces water pH"));
  auto sqa = read_exemplars(exemplar_path(data, "strategyqa"));
  CHECK(sqa[2].options == std::vector<std::string>{"yes", "no"});
  CHECK(sqa[2].answer == 1);
}
