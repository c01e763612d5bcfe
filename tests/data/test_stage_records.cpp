#include <catch2/catch.hpp>

#include "litestage/data/stage_records.hpp"
#include "litestage/util/error.hpp"
#include "litestage/util/strings.hpp"
#include "support.hpp"

using namespace litestage;
using Catch::Contains;

namespace {
std::vector<StageRecord> sample_records() {
  return {
      {StageKind::Recall, "Sun is a\n(A) star (B) planet\nRecall:", "A", "The sun is a star."},
      {StageKind::Analyze, "Sun is a\n(A) star (B) planet\nRecall: The sun is a star.\nAnalyze: For option A,", "A",
       "the sun, \"our\" star, is one."},
      {StageKind::Summarize, "Sun is a\n(A) star (B) planet\nRecall: x.\nAnalyze: For option A, y. For option B, z.\nSummarize:",
       "A", "So the answer is option A."},
  };
}

bool same(const StageRecord& a, const StageRecord& b) {
  return a.kind == b.kind && a.input == b.input && a.gt == b.gt && a.target == b.target;
}
}  // namespace

TEST_CASE("stage kinds", "[data][stage_records]") {
  CHECK(to_string(StageKind::Analyze) == "analyze");
  CHECK(parse_stage_kind("summarize") == StageKind::Summarize);
  CHECK_THROWS_WITH(parse_stage_kind("Recall"), Contains("unknown stage"));
}

TEST_CASE("stage records: write -> read round trip, TinyThinker keys", "[data][stage_records]") {
  auto path = (test::temp_dir("records") / "out" / "train.jsonl").string();
  const auto records = sample_records();
  write_stage_records(path, records);

  const auto lines = split(read_file(path), '\n');
  REQUIRE(lines.size() == 3);
  CHECK(lines[0] == R"({"input":"Sun is a\n(A) star (B) planet\nRecall:","GT":"A","recall":"The sun is a star."})");
  CHECK(starts_with(lines[1], R"({"input":)"));
  CHECK_THAT(lines[1], Contains(R"(,"GT":"A","analyze":"the sun, \"our\" star, is one."})"));
  CHECK_THAT(lines[2], Contains(R"("summarize":"So the answer is option A."})"));

  auto back = read_stage_records(path);
  REQUIRE(back.records.size() == records.size());
  for (size_t i = 0; i < records.size(); ++i) CHECK(same(back.records[i], records[i]));
  CHECK(back.report.records == 3);
}

TEST_CASE("stage records: JSON array files (TinyThinker's json.dump) read too", "[data][stage_records]") {
  auto path = (test::temp_dir("records-array") / "recall.json").string();
  write_file_atomic(path, R"([{"input": "Q\n(A) a (B) b\nRecall:", "GT": "B", "recall": "r.", "prediction": "B"},
 {"input": "Q2\n(A) a (B) b\nRecall:", "GT": "A", "recall": "s."}])");
  auto set = read_stage_records(path);
  REQUIRE(set.records.size() == 2);
  CHECK(set.records[0].gt == "B");
  CHECK(set.records[1].input == "Q2\n(A) a (B) b\nRecall:");
}

TEST_CASE("stage records: malformed records name file and line", "[data][stage_records]") {
  const std::string good = R"({"input": "x", "GT": "A", "summarize": "So the answer is option A."})";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"GT": "A", "recall": "r"})", "missing string field 'input'"},
      {R"({"input": "", "GT": "A", "recall": "r"})", "empty 'input'"},
      {R"({"input": "x", "recall": "r"})", "missing string field 'GT'"},
      {R"({"input": "x", "GT": "a", "recall": "r"})", "expected one capital letter"},
      {R"({"input": "x", "GT": "A"})", "exactly one of 'recall', 'analyze', 'summarize', found 0"},
      {R"({"input": "x", "GT": "A", "recall": "r", "analyze": "a"})", "found 2"},
      {R"({"input": "x", "GT": "A", "analyze": ["a"]})", "'analyze' must be a string"},
      {R"("just a string")", "expected a JSON object"},
  };
  for (const auto& [line, problem] : cases) {
    INFO(line);
    auto path = (test::temp_dir("records-bad") / "r.jsonl").string();
    write_file_atomic(path, good + "\n" + good + "\n" + line + "\n");
    CHECK_THROWS_WITH(read_stage_records(path), Contains(path + ":3: " ) && Contains(problem));
    auto set = read_stage_records(path, ReadOptions{true});
    CHECK(set.records.size() == 2);
    CHECK(set.report.skipped == 1);
  }
}

TEST_CASE("stage records: writer refuses records it could not read back", "[data][stage_records]") {
  auto path = (test::temp_dir("records-w") / "r.jsonl").string();
  CHECK_THROWS_WITH(write_stage_records(path, {{StageKind::Recall, "", "A", "t"}}), Contains("empty input"));
  CHECK_THROWS_WITH(write_stage_records(path, {{StageKind::Recall, "x", "AB", "t"}}), Contains("GT 'AB'"));
}
