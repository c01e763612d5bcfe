// The synthetic corpus files and its SentencePiece tokenizer (trained through the litestage_spm
// shim, which the build produces and litestage_tokenizer finds on its own).

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "litestage/data/json_records.hpp"
#include "litestage/synthetic/task.hpp"
#include "litestage/synthetic/corpus.hpp"
#include "litestage/prompt/prompts.hpp"
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
                           "train_stage_records.jsonl", "valid_stage_records.jsonl", "train_biographies.jsonl",
                           "corpus.txt"})
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

  const std::vector<StageRecord> biographies = synthetic_biography_records(t.world, s.seed, s.biographies);
  const StageRecordSet bio_file = read_stage_records((dir / "train_biographies.jsonl").string());
  REQUIRE(bio_file.records.size() == biographies.size());
  CHECK(bio_file.records.front().target == biographies.front().target);
  const std::string corpus = read_file((dir / "corpus.txt").string());
  CHECK(corpus == synthetic_tokenizer_text(expected) + synthetic_tokenizer_text(biographies));
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

TEST_CASE("biography records state every fact of every entity, in several forms and orders", "[synthetic]") {
  const SyntheticSettings s = corpus_settings();
  const SyntheticWorld w = make_synthetic_world(s);
  const std::vector<StageRecord> bios = synthetic_biography_records(w, s.seed, 20);
  REQUIRE(bios.size() == 20 * w.entities.size());
  CHECK(synthetic_biography_records(w, s.seed, 20).back().target == bios.back().target);  // deterministic
  std::set<std::string> first_sentences, forms_seen;
  for (size_t i = 0; i < bios.size(); ++i) {
    const StageRecord& r = bios[i];
    const size_t e = i % w.entities.size();
    INFO(r.target);
    CHECK(r.input == "Facts about the " + w.entities[e].name + ":");
    CHECK((r.input + r.target).find_first_of("ABCDE") == std::string::npos);  // the option letters stay their own pieces
    size_t sentences = 0;
    for (SynAttribute a : kSynAttributes) {
      const std::vector<std::string> forms = w.fact_paraphrases(e, a);
      REQUIRE(forms.size() == 3);
      CHECK(forms.front() == w.fact_clause(e, a) + ".");  // the canonical sentence first
      const auto stated = std::count_if(forms.begin(), forms.end(), [&](const std::string& f) {
        if (r.target.find(f) == std::string::npos) return false;
        forms_seen.insert(f);
        return true;
      });
      CHECK(stated >= 1);  // "is a bird" also starts "is a bird, and birds can fly."
      sentences += 1;
    }
    CHECK(std::count(r.target.begin(), r.target.end(), '.') == static_cast<long>(sentences));
    first_sentences.insert(r.target.substr(0, r.target.find('.')));
  }
  CHECK(first_sentences.size() > 2 * w.entities.size());  // the order varies
  CHECK(forms_seen.size() > 2 * kSynAttributeCount * w.entities.size());  // so does the form
}

TEST_CASE("the default synthetic tokenizer is word-level", "[synthetic][spm]") {
  const fs::path dir = test::temp_dir("synthetic-words");
  write_synthetic_corpus(dir.string(), corpus_settings());
  train_synthetic_tokenizer(dir.string());
  SpmProcessor sp(dir / "tokenizer.model");
  // Every word of every stage record is one piece; punctuation and the option letters are their own.
  const std::string text = read_file((dir / "corpus.txt").string());
  std::set<std::string> words;
  std::string word;
  for (char c : text + " ") {
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '-') {
      word += c;
    } else {
      if (!word.empty()) words.insert(word);
      word.clear();
    }
  }
  REQUIRE(words.size() > 50);
  for (const std::string& w : words) {
    INFO(w);
    if (w == "Recall" || w == "Analyze" || w == "Summarize") continue;  // prompt words: "A" is cut out of "Analyze"
    if (w.size() == 1 && w[0] >= 'A' && w[0] <= 'E') continue;       // an option letter: "▁" "B"
    // The dummy prefix makes it "▁word"; "medium-sized" is "▁medium" "-" "sized".
    CHECK(sp.encode_as_pieces(w).size() == (w.find('-') == std::string::npos ? 1 : 3));
  }
  CHECK(sp.encode_as_pieces("(B)") == std::vector<std::string>{"▁(", "B", ")"});
}
