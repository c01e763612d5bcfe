#include <catch2/catch.hpp>

#include "litestage/data/dataset.hpp"
#include "litestage/data/exemplars.hpp"
#include "litestage/data/readers.hpp"
#include "litestage/prompt/prompts.hpp"
#include "litestage/util/error.hpp"
#include "litestage/util/strings.hpp"
#include "support.hpp"

using namespace litestage;
using Catch::Contains;

namespace {

constexpr auto kFull = ReasoningMode::RecallAnalyzeSummarize;

Example toy() {
  Example e;
  e.id = "toy-1";
  e.stem = "The sun is a";
  e.choices = {"star", "planet, or moon"};
  e.labels = {"A", "B"};
  e.answer = 0;
  e.dataset = "toy";
  return e;
}

const Example& find(const std::vector<Example>& examples, const std::string& id) {
  for (const auto& e : examples)
    if (e.id == id) return e;
  FAIL("example " << id << " not found");
  throw std::logic_error("unreachable");
}

}  // namespace

TEST_CASE("normalize_stage_output: strip, then '.' unless it ends in . \" '", "[reasoning][prompts]") {
  CHECK(normalize_stage_output("  Plants need light \n") == "Plants need light.");
  CHECK(normalize_stage_output("Plants need light.") == "Plants need light.");
  CHECK(normalize_stage_output("he said \"no\"") == "he said \"no\"");
  CHECK(normalize_stage_output("the farmers'") == "the farmers'");
  CHECK(normalize_stage_output("Is it?") == "Is it?.");  // only . " ' count, as in the reference
  CHECK(normalize_stage_output("done. \t") == "done.");
  // Empty output: the reference's "".endswith(...) is False, so it becomes ".".
  CHECK(normalize_stage_output("") == ".");
  CHECK(normalize_stage_output(" \n ") == ".");
  for (const char* s : {"a", "a.", "", "x\"", "  y  "})
    CHECK(normalize_stage_output(normalize_stage_output(s)) == normalize_stage_output(s));  // idempotent
}

TEST_CASE("reasoning modes", "[reasoning][prompts]") {
  CHECK(to_string(kFull) == "recall_analyze_summarize");
  CHECK(parse_reasoning_mode("summarize") == ReasoningMode::SummarizeOnly);
  CHECK(parse_reasoning_mode("recall_summarize") == ReasoningMode::RecallSummarize);
  CHECK(parse_reasoning_mode("analyze_summarize") == ReasoningMode::AnalyzeSummarize);
  CHECK_THROWS_WITH(parse_reasoning_mode("full"), Contains("reasoning mode: unknown 'full' (known: recall_analyze_summarize,"));
  CHECK(uses_recall(kFull));
  CHECK(uses_analyze(kFull));
  CHECK(!uses_analyze(ReasoningMode::RecallSummarize));
  CHECK(!uses_recall(ReasoningMode::AnalyzeSummarize));
  CHECK(!uses_recall(ReasoningMode::SummarizeOnly));
  CHECK(!uses_analyze(ReasoningMode::SummarizeOnly));
}

TEST_CASE("full-mode prompts on a toy example", "[reasoning][prompts]") {
  const Example e = toy();
  CHECK(render_options(e) == "(A) star (B) planet, or moon");
  CHECK(recall_prompt(e) == "The sun is a\n(A) star (B) planet, or moon\nRecall:");
  CHECK(analyze_prompt(e, kFull, " The sun is a star ", 1) ==
        "The sun is a\n(A) star (B) planet, or moon\nRecall: The sun is a star.\nAnalyze: For option B,");
  CHECK(summarize_prompt(e, kFull, "The sun is a star", {"the sun is a star", ""}) ==
        "The sun is a\n(A) star (B) planet, or moon\nRecall: The sun is a star.\n"
        "Analyze: For option A, the sun is a star. For option B, .\nSummarize:");
  CHECK_THROWS_WITH(analyze_prompt(e, kFull, "r", 2), Contains("option 2 out of range"));
  CHECK_THROWS_WITH(summarize_prompt(e, kFull, "r", {"only one"}), Contains("1 analyses for 2 options"));
}

TEST_CASE("ablation-mode prompts", "[reasoning][prompts]") {
  const Example e = toy();
  const std::vector<std::string> analyses = {"yes", "no"};
  // Direct answer: the stage-1 prompt with "Recall:" replaced by "Summarize:".
  CHECK(summarize_prompt(e, ReasoningMode::SummarizeOnly, "ignored", analyses) ==
        "The sun is a\n(A) star (B) planet, or moon\nSummarize:");
  CHECK(summarize_prompt(e, ReasoningMode::RecallSummarize, "Stars shine", analyses) ==
        "The sun is a\n(A) star (B) planet, or moon\nRecall: Stars shine.\nSummarize:");
  // Without Recall, Analyze follows the options directly.
  CHECK(analyze_prompt(e, ReasoningMode::AnalyzeSummarize, "ignored", 0) ==
        "The sun is a\n(A) star (B) planet, or moon\nAnalyze: For option A,");
  CHECK(summarize_prompt(e, ReasoningMode::AnalyzeSummarize, "ignored", analyses) ==
        "The sun is a\n(A) star (B) planet, or moon\nAnalyze: For option A, yes. For option B, no.\nSummarize:");
  CHECK_THROWS_WITH(analyze_prompt(e, ReasoningMode::RecallSummarize, "r", 0), Contains("has no Analyze stage"));
  CHECK_THROWS_WITH(analyze_prompt(e, ReasoningMode::SummarizeOnly, "r", 0), Contains("has no Analyze stage"));
}

TEST_CASE("OBQA prompts from the real file, comma option intact", "[reasoning][prompts][shared]") {
  REQUIRE_SHARED(path, "data/obqa/test.jsonl");
  const auto test = read_choice_jsonl(path.string(), "obqa");
  const Example& e = find(test.examples, "9-230");
  CHECK(e.answer_label() == "A");

  const std::string q =
      "How could we determine approximately how far a bird is from the ground?\n"
      "(A) Measure the altitude of the bird using a reference point, such as a tall building. "
      "(B) Identify the species of bird (C) Ask the bird how high it was when it returns back to earth "
      "(D) Measure the bird's mass";
  // TinyThinker's ", " split of "A. Measure ... point, such as a tall building., B. ..." would have
  // produced "(A) Measure the altitude of the bird using a reference point (s) ch as a tall building.".
  CHECK_THAT(render_options(e), !Contains("(s)"));

  const std::string stage1 = recall_prompt(e);
  CHECK(stage1 == q + "\nRecall:");

  const std::string recall = "  Altitude is height above the ground, measured against a reference point \n";
  CHECK(analyze_prompt(e, kFull, recall, 0) ==
        q + "\nRecall: Altitude is height above the ground, measured against a reference point.\nAnalyze: For option A,");
  CHECK(analyze_prompt(e, kFull, recall, 3) ==
        stage1 + " Altitude is height above the ground, measured against a reference point.\nAnalyze: For option D,");

  const std::vector<std::string> analyses = {
      " comparing with a building of known height gives the altitude.",
      "the species says nothing about height",
      "birds cannot report \"how high\"",
      "",
  };
  CHECK(summarize_prompt(e, kFull, recall, analyses) ==
        q +
            "\nRecall: Altitude is height above the ground, measured against a reference point."
            "\nAnalyze: For option A, comparing with a building of known height gives the altitude."
            " For option B, the species says nothing about height."
            " For option C, birds cannot report \"how high\""
            " For option D, ."
            "\nSummarize:");
}

TEST_CASE("CSQA prompts from the real file", "[reasoning][prompts][shared]") {
  REQUIRE_SHARED(path, "data/csqa/dev_rand_split.jsonl");
  const auto dev = read_choice_jsonl(path.string(), "csqa");
  const Example& e = find(dev.examples, "1afa02df02c908a558b4036e80242fac");
  const std::string q =
      "A revolving door is convenient for two direction travel, but it also serves as a security measure at a what?\n"
      "(A) bank (B) library (C) department store (D) mall (E) new york";
  CHECK(recall_prompt(e) == q + "\nRecall:");
  const std::string recall = "Banks use revolving doors to control who enters";
  CHECK(analyze_prompt(e, kFull, recall, 4) ==
        q + "\nRecall: Banks use revolving doors to control who enters.\nAnalyze: For option E,");
  CHECK(summarize_prompt(e, kFull, recall, {"banks need security.", "libraries rarely do", "stores want easy entry",
                                            "malls want easy entry", "a city is not a building"}) ==
        q +
            "\nRecall: Banks use revolving doors to control who enters."
            "\nAnalyze: For option A, banks need security. For option B, libraries rarely do."
            " For option C, stores want easy entry. For option D, malls want easy entry."
            " For option E, a city is not a building.\nSummarize:");
}

TEST_CASE("StrategyQA prompts from the real file", "[reasoning][prompts][shared]") {
  REQUIRE_SHARED(path, "data/strategyqa/strategyqa_train.json");
  const auto all = read_strategyqa_json(path.string());
  const Example& e = find(all.examples, "b8677742616fef051f00");
  CHECK(e.answer_label() == "A");
  const std::string q = "Are more people today related to Genghis Khan than Julius Caesar?\n(A) yes (B) no";
  CHECK(recall_prompt(e) == q + "\nRecall:");
  CHECK(analyze_prompt(e, kFull, "Genghis Khan had many more children'", 1) ==
        q + "\nRecall: Genghis Khan had many more children'\nAnalyze: For option B,");
  CHECK(summarize_prompt(e, kFull, "Genghis Khan had many more children",
                         {"more descendants trace to Genghis Khan", "Caesar had only three children."}) ==
        q +
            "\nRecall: Genghis Khan had many more children."
            "\nAnalyze: For option A, more descendants trace to Genghis Khan. For option B, Caesar had only three children."
            "\nSummarize:");
  CHECK(summarize_prompt(e, ReasoningMode::SummarizeOnly, "", {}) == q + "\nSummarize:");
}

TEST_CASE("stage records are the inference prompts", "[reasoning][prompts]") {
  const Example e = toy();
  TeacherRationale r{" Stars shine by fusion", {"the sun is a star", "the sun is no planet"}, std::nullopt};
  const auto records = build_stage_records(e, r);
  REQUIRE(records.size() == 4);
  CHECK(records[0].kind == StageKind::Recall);
  CHECK(records[0].input == recall_prompt(e));
  CHECK(records[0].target == "Stars shine by fusion.");
  CHECK(records[1].kind == StageKind::Analyze);
  CHECK(records[1].input == "The sun is a\n(A) star (B) planet, or moon\nRecall: Stars shine by fusion.\nAnalyze: For option A,");
  CHECK(records[1].target == "the sun is a star.");
  CHECK(records[2].input == analyze_prompt(e, kFull, r.recall, 1));
  CHECK(records[2].target == "the sun is no planet.");
  CHECK(records[3].kind == StageKind::Summarize);
  CHECK(records[3].input == summarize_prompt(e, kFull, r.recall, r.analyses));
  CHECK(records[3].target == "So the answer is option A.");
  for (const auto& rec : records) CHECK(rec.gt == "A");

  // A teacher may name another answer (TinyThinker relabels by teacher vote).
  r.answer = 1;
  CHECK(build_stage_records(e, r).back().target == "So the answer is option B.");
  CHECK(build_stage_records(e, r).back().gt == "B");

  // Ablation modes leave the missing stages out.
  auto rs = build_stage_records(e, r, ReasoningMode::RecallSummarize);
  REQUIRE(rs.size() == 2);
  CHECK(rs[1].input == "The sun is a\n(A) star (B) planet, or moon\nRecall: Stars shine by fusion.\nSummarize:");
  auto as = build_stage_records(e, r, ReasoningMode::AnalyzeSummarize);
  REQUIRE(as.size() == 3);
  CHECK(as[0].input == "The sun is a\n(A) star (B) planet, or moon\nAnalyze: For option A,");
  auto so = build_stage_records(e, r, ReasoningMode::SummarizeOnly);
  REQUIRE(so.size() == 1);
  CHECK(so[0].input == "The sun is a\n(A) star (B) planet, or moon\nSummarize:");

  // Round trip through the JSONL file keeps every byte.
  auto path = (test::temp_dir("prompts-records") / "train.jsonl").string();
  write_stage_records(path, records);
  auto back = read_stage_records(path).records;
  REQUIRE(back.size() == records.size());
  for (size_t i = 0; i < back.size(); ++i) CHECK(back[i].input == records[i].input);

  r.analyses.pop_back();
  CHECK_THROWS_WITH(build_stage_records(e, r), Contains("1 analyses for 2 options"));
  CHECK_NOTHROW(build_stage_records(e, r, ReasoningMode::RecallSummarize));
  Example bad = e;
  bad.labels = {"A", "C"};
  CHECK_THROWS_WITH(build_stage_records(bad, r, ReasoningMode::SummarizeOnly), Contains("labels must run A, B"));
}

TEST_CASE("few-shot turns from TinyThinker exemplars", "[reasoning][prompts][shared]") {
  REQUIRE_SHARED(path, "data/prompts/strategyqa_cot.json");
  const auto exemplars = read_exemplars(path.string());
  const auto turns = few_shot_turns(exemplars, "strategyqa");
  REQUIRE(turns[StageKind::Recall].size() == exemplars.size());
  REQUIRE(turns[StageKind::Analyze].size() == 2 * exemplars.size());
  REQUIRE(turns[StageKind::Summarize].size() == exemplars.size());

  const std::string q = "Do hamsters provide food for any animals?\n(A) yes (B) no";
  const std::string recall = "Hamsters serve as prey for other animals in the food chain.";
  CHECK(turns[StageKind::Recall][0].user == q + "\nRecall:");
  CHECK(turns[StageKind::Recall][0].assistant == recall);
  CHECK(turns[StageKind::Analyze][0].user == q + "\nRecall: " + recall + "\nAnalyze: For option A,");
  CHECK(turns[StageKind::Analyze][0].assistant ==
        "hamsters are prey for various predators, reflecting their role in the food chain and ecosystem "
        "interconnectedness.");
  CHECK(turns[StageKind::Analyze][1].user == q + "\nRecall: " + recall + "\nAnalyze: For option B,");
  CHECK(starts_with(turns[StageKind::Summarize][0].user, q + "\nRecall: " + recall + "\nAnalyze: For option A, hamsters are prey"));
  CHECK(ends_with(turns[StageKind::Summarize][0].user, "\nSummarize:"));
  CHECK(turns[StageKind::Summarize][0].assistant == "So the answer is option A.");
  CHECK(turns[StageKind::Summarize][2].assistant == "So the answer is option B.");  // the Spice Girls exemplar

  const auto direct = few_shot_turns(exemplars, "strategyqa", ReasoningMode::SummarizeOnly);
  CHECK(direct[StageKind::Recall].empty());
  CHECK(direct[StageKind::Analyze].empty());
  CHECK(direct[StageKind::Summarize][0].user == q + "\nSummarize:");

  REQUIRE_SHARED(obqa_path, "data/prompts/obqa_cot.json");
  const auto obqa = few_shot_turns(read_exemplars(obqa_path.string()), "obqa");
  CHECK(obqa[StageKind::Analyze].size() == 4 * 7);
  CHECK(starts_with(obqa[StageKind::Recall][0].user,
                    "What is the most likely to be an effect of acid rain on an aquatic environment?\n"
                    "(A) decrease in plant life (B) increase in fish population (C) increase in plant growth "
                    "(D) cleaner and clearer water\nRecall:"));
}
