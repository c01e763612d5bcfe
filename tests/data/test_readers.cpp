#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "litestage/data/readers.hpp"
#include "litestage/util/error.hpp"
#include "litestage/util/strings.hpp"
#include "support.hpp"

using namespace litestage;
using Catch::Contains;

namespace {

std::string row(const std::string& id, const std::string& key = "B") {
  return R"({"id": ")" + id +
         R"(", "question": {"stem": "Sun is a", "choices": [{"text": "star", "label": "A"}, {"text": "planet, maybe", "label": "B"}]}, "answerKey": ")" +
         key + R"("})";
}

std::string write(const std::string& dir, const std::string& name, const std::string& text) {
  auto path = (test::temp_dir(dir) / name).string();
  write_file_atomic(path, text);
  return path;
}

}  // namespace

TEST_CASE("choice JSONL: fields, order, blank lines", "[data][readers]") {
  auto path = write("rd-good", "x.jsonl", row("q1", "A") + "\n\n" + row("q2") + "\r\n");
  auto r = read_choice_jsonl(path, "obqa");
  REQUIRE(r.examples.size() == 2);
  const Example& e = r.examples[1];
  CHECK(e.id == "q2");
  CHECK(e.stem == "Sun is a");
  CHECK(e.choices == std::vector<std::string>{"star", "planet, maybe"});
  CHECK(e.labels == std::vector<std::string>{"A", "B"});
  CHECK(e.answer == 1);
  CHECK(e.answer_label() == "B");
  CHECK(e.dataset == "obqa");
  CHECK(e.source == path + ":3");
  CHECK(r.report.records == 2);
  CHECK(r.report.skipped == 0);
  CHECK(r.report.files == std::vector<std::string>{path});
}

TEST_CASE("choice JSONL: malformed rows name file and line", "[data][readers]") {
  struct Case {
    std::string line;
    std::string problem;
  };
  const std::vector<Case> cases = {
      {"{not json", "invalid JSON"},
      {"[1, 2]", "expected a JSON object"},
      {R"({"question": {"stem": "s", "choices": [{"text": "t", "label": "A"}]}, "answerKey": "A"})", "missing field 'id'"},
      {R"({"id": 7, "question": {"stem": "s", "choices": [{"text": "t", "label": "A"}]}, "answerKey": "A"})", "'id' must be a string"},
      {R"({"id": "x", "answerKey": "A"})", "missing field 'question'"},
      {R"({"id": "x", "question": {"choices": [{"text": "t", "label": "A"}]}, "answerKey": "A"})", "missing field 'question.stem'"},
      {R"({"id": "x", "question": {"stem": "s", "choices": []}, "answerKey": "A"})", "non-empty array"},
      {R"({"id": "x", "question": {"stem": "s", "choices": [{"label": "A"}]}, "answerKey": "A"})", "question.choices[0].text"},
      {R"({"id": "x", "question": {"stem": "s", "choices": [{"text": "t", "label": "A"}]}})", "missing field 'answerKey'"},
      {row("x", "E"), "answerKey 'E' is not one of the choice labels"},
      {R"({"id": "x", "question": {"stem": "s", "choices": [{"text": "t", "label": "B"}, {"text": "u", "label": "A"}]}, "answerKey": "A"})",
       "labels must run A, B, C"},
      {row("q1"), "duplicate id 'q1' (first seen at line 1)"},
  };
  for (const Case& c : cases) {
    INFO(c.line);
    auto path = write("rd-bad", "bad.jsonl", row("q1") + "\n" + c.line + "\n" + row("q3") + "\n");
    CHECK_THROWS_WITH(read_choice_jsonl(path, "csqa"), Contains(path + ":2: ") && Contains(c.problem));
    auto r = read_choice_jsonl(path, "csqa", ReadOptions{true});
    CHECK(r.examples.size() == 2);
    CHECK(r.report.records == 2);
    CHECK(r.report.skipped == 1);
    REQUIRE(r.report.problems.size() == 1);
    CHECK_THAT(r.report.problems[0], Contains(path + ":2: ") && Contains(c.problem));
  }
}

TEST_CASE("choice JSONL: skip_malformed counts every bad row", "[data][readers]") {
  auto path = write("rd-count", "bad.jsonl", "{\n" + row("a") + "\n" + row("a") + "\n" + row("b", "Z") + "\n" + row("c") + "\n");
  auto r = read_choice_jsonl(path, "obqa", ReadOptions{true});
  CHECK(r.examples.size() == 2);
  CHECK(r.report.skipped == 3);
  REQUIRE(r.report.problems.size() == 3);
  CHECK_THAT(r.report.problems[0], Contains(":1: invalid JSON"));
  CHECK_THAT(r.report.problems[1], Contains(":3: duplicate id 'a'"));
  CHECK_THAT(r.report.problems[2], Contains(":4: answerKey 'Z'"));
}

TEST_CASE("Example helpers and JSON round trip", "[data][readers]") {
  Example e;
  e.id = "x";
  e.stem = "s";
  e.choices = {"a", "b, c"};
  e.labels = {"A", "B"};
  e.answer = 1;
  e.dataset = "obqa";
  e.facts = {"f"};
  e.source = "f.jsonl:3";
  CHECK(!example_problem(e));
  CHECK(e.label_index("B") == 1);
  CHECK(!e.label_index("C"));
  nlohmann::json j = e;
  Example back = j.get<Example>();
  CHECK(nlohmann::json(back) == j);
  CHECK(back.choices == e.choices);
  CHECK(option_label(25) == "Z");
  CHECK_THROWS(option_label(26));
  e.answer = 2;
  CHECK_THAT(*example_problem(e), Contains("answer index 2"));
  CHECK_THROWS_WITH(e.answer_label(), Contains("answer index 2"));
}

TEST_CASE("missing file is reported with its path", "[data][readers]") {
  CHECK_THROWS_WITH(read_choice_jsonl("/nonexistent/x.jsonl", "obqa"), Contains("/nonexistent/x.jsonl"));
}

TEST_CASE("StrategyQA JSON: yes/no options and element lines", "[data][readers]") {
  const std::string text = "[\n"
                           "  {\"qid\": \"q1\", \"question\": \"Is water wet?\", \"answer\": true,\n"
                           "   \"facts\": [\"Water, like all liquids, wets.\"]},\n"
                           "  {\"qid\": \"q2\", \"question\": \"Is fire {cold}?\", \"answer\": false},\n"
                           "  {\"qid\": \"q3\", \"question\": \"Brackets ] and \\\" quotes\", \"answer\": \"yes\"},\n"
                           "  {\"qid\": \"q1\", \"question\": \"dup\", \"answer\": true}\n"
                           "]\n";
  auto path = write("rd-sqa", "strategyqa_train.json", text);
  CHECK_THROWS_WITH(read_strategyqa_json(path), Contains(path + ":5: field 'answer' must be true or false"));
  auto r = read_strategyqa_json(path, ReadOptions{true});
  REQUIRE(r.examples.size() == 2);
  CHECK(r.examples[0].choices == std::vector<std::string>{"yes", "no"});
  CHECK(r.examples[0].labels == std::vector<std::string>{"A", "B"});
  CHECK(r.examples[0].answer == 0);
  CHECK(r.examples[0].facts == std::vector<std::string>{"Water, like all liquids, wets."});
  CHECK(r.examples[0].source == path + ":2");
  CHECK(r.examples[1].answer == 1);
  CHECK(r.examples[1].source == path + ":4");
  CHECK(r.report.skipped == 2);
  REQUIRE(r.report.problems.size() == 2);
  CHECK_THAT(r.report.problems[1], Contains(path + ":6: duplicate id 'q1' (first seen at line 2)"));
}

TEST_CASE("StrategyQA JSON: broken JSON is fatal, with its line", "[data][readers]") {
  auto path = write("rd-sqa-bad", "s.json", "[\n  {\"qid\": \"a\", \"question\": \"q\", \"answer\": true},\n  {\"qid\": \n]\n");
  CHECK_THROWS_WITH(read_strategyqa_json(path, ReadOptions{true}), Contains(path + ":4: invalid JSON"));
  auto obj = write("rd-sqa-obj", "s.json", "{\"qid\": \"a\"}");
  CHECK_THROWS_WITH(read_strategyqa_json(obj), Contains("expected a JSON array"));
}

TEST_CASE("array_element_offsets skips nested structure and strings", "[data][readers]") {
  const std::string text = R"([ {"a": [1, {"b": "],,["}]}, 2 ,"x\"y" , [3]])";
  auto offs = array_element_offsets(text);
  REQUIRE(offs.size() == 4);
  CHECK(text[offs[0]] == '{');
  CHECK(text[offs[1]] == '2');
  CHECK(text.substr(offs[2], 3) == "\"x\\");
  CHECK(text[offs[3]] == '[');
  CHECK(array_element_offsets("[]").empty());
}

TEST_CASE("real raw files read cleanly", "[data][readers][shared]") {
  REQUIRE_SHARED(root, "data");
  auto count = [](const ReadResult& r) {
    CHECK(r.report.skipped == 0);
    return r.examples.size();
  };
  CHECK(count(read_choice_jsonl((root / "obqa/train.jsonl").string(), "obqa")) == 4957);
  CHECK(count(read_choice_jsonl((root / "obqa/dev.jsonl").string(), "obqa")) == 500);
  CHECK(count(read_choice_jsonl((root / "obqa/test.jsonl").string(), "obqa")) == 500);
  CHECK(count(read_choice_jsonl((root / "csqa/train_rand_split.jsonl").string(), "csqa")) == 9741);
  CHECK(count(read_choice_jsonl((root / "csqa/dev_rand_split.jsonl").string(), "csqa")) == 1221);
  auto sqa = read_strategyqa_json((root / "strategyqa/strategyqa_train.json").string());
  CHECK(count(sqa) == 2290);
  size_t yes = 0;
  for (const auto& e : sqa.examples) yes += e.answer == 0;
  CHECK(yes == 1071);
  CHECK(sqa.examples[0].id == "b8677742616fef051f00");
  CHECK(sqa.examples[0].source == (root / "strategyqa/strategyqa_train.json").string() + ":2");
}
