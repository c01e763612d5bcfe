// The synthetic corpus files and its SentencePiece tokenizer (trained through the litestage_spm
// shim, which the build produces and litestage_tokenizer finds on its own).

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "litestage/data/json_records.hpp"
#include "litestage/data/synthetic.hpp"
#include "litestage/data/synthetic_corpus.hpp"
#include "litestage/reasoning/prompts.hpp"
#include "litestage/tokenizer/spm_library.hpp"
#include "litestage/tokenizer/tokenizer.hpp"
#include "litestage/util/strings.hpp"
#include "support.hpp"

using namespace litestage;
namespace fs = std::filesystem;

namespace {

SyntheticSettings corpus_settings() {
  SyntheticSettings s;
  s.seed = 5;
  s.entities = 16;
  s.kinds = 4;
  s.train = 300;
  s.valid = 40;
  s.test = 40;
  return s;
}

// One corpus (and tokenizer) shared by the test cases below.
const fs::path& corpus_dir() {
  static const fs::path dir = [] {
    const fs::path d = test::temp_dir("synthetic-corpus");
    write_synthetic_corpus(d.string(), corpus_settings());
    return d;
  }();
  return dir;
}

std::vector<Example> read_examples(const fs::path& path) {
  std::vector<Example> out;
  ReadReport report;
  read_json_records(path.string(), RecordLayout::JsonLines, {}, report,
                    [&out](const nlohmann::json& j, size_t) -> std::optional<std::string> {
                      out.push_back(j.get<Example>());
                      return std::nullopt;
                    });
  return out;
}

}  // namespace

TEST_CASE("synthetic stage records are the prompt builders' strings", "[synthetic]") {
  const SyntheticTask t = generate_synthetic_task(corpus_settings());
  const std::vector<StageRecord> records = synthetic_stage_records(t.train);
  size_t r = 0;
  for (const SyntheticQuestion& q : t.train) {
    const Example& e = q.example;
    const std::string gt = e.answer_label();
    REQUIRE(r + e.choices.size() + 2 <= records.size());
    CHECK(records[r].kind == StageKind::Recall);
    CHECK(records[r].input == recall_prompt(e));
    CHECK(records[r].target == q.rationale.recall);
    CHECK(records[r].gt == gt);
    ++r;
    for (size_t i = 0; i < e.choices.size(); ++i, ++r) {
      CHECK(records[r].kind == StageKind::Analyze);
      CHECK(records[r].input == analyze_prompt(e, ReasoningMode::RecallAnalyzeSummarize, q.rationale.recall, i));
      CHECK(records[r].target == q.rationale.analyses[i]);
    }
    CHECK(records[r].kind == StageKind::Summarize);
    CHECK(records[r].input ==
          summarize_prompt(e, ReasoningMode::RecallAnalyzeSummarize, q.rationale.recall, q.rationale.analyses));
    CHECK(records[r].target == "So the answer is option " + gt + ".");
    ++r;
  }
  CHECK(r == records.size());
  // The teacher texts are already normalised: training targets are exactly the rationale.
  for (const SyntheticQuestion& q : t.train) CHECK(normalize_stage_output(q.rationale.recall) == q.rationale.recall);
}

TEST_CASE("write_synthetic_corpus writes examples, stage records, world and tokenizer text", "[synthetic]") {
  const fs::path& dir = corpus_dir();
  for (const char* name : {"settings.json", "world.json", "train.jsonl", "valid.jsonl", "test.jsonl",
                           "train_stage_records.jsonl", "valid_stage_records.jsonl", "corpus.txt"})
    CHECK(fs::is_regular_file(dir / name));

  const SyntheticSettings s = corpus_settings();
  const SyntheticTask t = generate_synthetic_task(s);
  CHECK(read_synthetic_settings((dir / "settings.json").string()).seed == s.seed);

  const std::vector<Example> test = read_examples(dir / "test.jsonl");
  REQUIRE(test.size() == t.test.size());
  for (size_t i = 0; i < test.size(); ++i) {
    CHECK(test[i].id == t.test[i].example.id);
    CHECK(test[i].choices == t.test[i].example.choices);
    CHECK(test[i].answer == t.test[i].example.answer);
    CHECK(test[i].facts == t.test[i].example.facts);
  }

  // The corpus directory's settings.json is a dataset root for load_dataset.
  register_synthetic_dataset();
  const Dataset loaded = load_dataset("synthetic", (dir / "settings.json").string(), Split::Test);
  REQUIRE(loaded.examples.size() == test.size());
  CHECK(loaded.examples.front().stem == test.front().stem);

  const StageRecordSet train_records = read_stage_records((dir / "train_stage_records.jsonl").string());
  const std::vector<StageRecord> expected = synthetic_stage_records(t.train);
  REQUIRE(train_records.records.size() == expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    CHECK(train_records.records[i].input == expected[i].input);
    CHECK(train_records.records[i].target == expected[i].target);
  }
  CHECK(read_stage_records((dir / "valid_stage_records.jsonl").string()).records.size() ==
        synthetic_stage_records(t.valid).size());

  // Every fact a test question needs is in some training stage-record target.
  for (const Example& e : test)
    for (const std::string& fact : e.facts) {
      std::string needle = to_lower(fact.substr(0, fact.size() - 1));
      INFO(e.id << ": " << fact);
      CHECK(std::any_of(train_records.records.begin(), train_records.records.end(), [&](const StageRecord& r) {
        return r.kind != StageKind::Summarize && to_lower(r.target).find(needle) != std::string::npos;
      }));
    }

  const std::string corpus = read_file((dir / "corpus.txt").string());
  CHECK(corpus == synthetic_tokenizer_text(expected));
  const nlohmann::json world = nlohmann::json::parse(read_file((dir / "world.json").string()));
  CHECK(world.at("entities").size() == s.entities);
}

TEST_CASE("train_synthetic_tokenizer: Llama conventions, prompts round-trip exactly", "[synthetic][spm]") {
  const fs::path& dir = corpus_dir();
  const SyntheticTokenizerReport report = train_synthetic_tokenizer(dir.string(), 512);
  CHECK(report.vocab_size > 259);
  CHECK(report.vocab_size <= 512);
  CHECK(report.checked > 1000);
  CHECK(report.split_mismatches == 0);  // encode(input + " " + target) == encode(input) ++ encode(target)
  for (const char* name : {"tokenizer.model", "tokenizer_config.json", "special_tokens_map.json"})
    CHECK(fs::is_regular_file(dir / name));

  SpmProcessor sp(dir / "tokenizer.model");
  CHECK(sp.unk_id() == 0);
  CHECK(sp.bos_id() == 1);
  CHECK(sp.eos_id() == 2);
  CHECK(sp.pad_id() == -1);
  CHECK(sp.encode_as_pieces("\n") == std::vector<std::string>{"▁", "<0x0A>"});

  // Every stage prompt and target of the unseen test questions round-trips, without <unk>.
  const SyntheticTask t = generate_synthetic_task(corpus_settings());
  size_t checked = 0;
  for (const StageRecord& r : synthetic_stage_records(t.test)) {
    for (const std::string& text : {r.input, r.input + " " + r.target}) {
      const std::vector<int> ids = sp.encode(text);
      INFO(text);
      CHECK(sp.decode(ids) == text);
      CHECK(std::find(ids.begin(), ids.end(), sp.unk_id()) == ids.end());
      ++checked;
    }
  }
  CHECK(checked > 100);
  for (const char* label : {"(A)", "(B)", "(C)", "(D)", "(E)"}) CHECK(sp.decode(sp.encode(label)) == label);

  // The directory is a Hugging Face tokenizer directory for load_tokenizer.
  const auto tok = load_tokenizer(dir);
  CHECK(tok->kind() == "sentencepiece");
  CHECK(tok->bos_id() == std::optional<int32_t>(1));
  CHECK(tok->eos_ids() == std::vector<int32_t>{2});
  const std::string prompt = recall_prompt(t.test.front().example);
  const std::vector<int32_t> ids = tok->encode(prompt);
  REQUIRE(!ids.empty());
  CHECK(ids.front() == 1);
  CHECK(tok->decode(ids) == prompt);
}
