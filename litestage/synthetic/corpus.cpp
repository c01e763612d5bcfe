#include "litestage/synthetic/corpus.hpp"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "litestage/data/shuffle.hpp"
#include "litestage/prompt/prompts.hpp"
#include "litestage/tokenizer/sentencepiece.hpp"
#include "litestage/tokenizer/spm_library.hpp"
#include "litestage/util/error.hpp"
#include "litestage/util/strings.hpp"

namespace litestage {

namespace fs = std::filesystem;

namespace {

std::string examples_jsonl(const SyntheticWorld& world, const std::vector<SyntheticQuestion>& questions) {
  std::string out;
  for (const SyntheticQuestion& q : questions) {
    nlohmann::json j = q.example;
    j["synthetic"] = {{"type", std::string(to_string(q.combo.type))},
                      {"combo", combo_name(world, q.combo)},
                      {"recall", q.rationale.recall},
                      {"analyses", q.rationale.analyses}};
    out += j.dump() + "\n";
  }
  return out;
}

std::string path_in(const std::string& dir, const char* name) { return (fs::path(dir) / name).string(); }

}  // namespace

std::vector<StageRecord> synthetic_stage_records(const std::vector<SyntheticQuestion>& questions) {
  std::vector<StageRecord> out;
  for (const SyntheticQuestion& q : questions) {
    std::vector<StageRecord> r = build_stage_records(q.example, q.rationale, ReasoningMode::RecallAnalyzeSummarize);
    out.insert(out.end(), std::make_move_iterator(r.begin()), std::make_move_iterator(r.end()));
  }
  return out;
}

std::vector<StageRecord> synthetic_option_reading_records(const std::vector<SyntheticQuestion>& questions,
                                                          uint64_t seed, size_t per_question) {
  std::vector<StageRecord> out;
  uint64_t n = 0;
  for (const SyntheticQuestion& q : questions) {
    const Example& e = q.example;
    const std::string prompt = render_options(e) + "\nAnalyze:";
    const std::string gold = e.labels.at(static_cast<size_t>(e.answer));
    for (size_t k = 0; k < per_question; ++k) {
      StageRecord r;
      r.kind = StageKind::Analyze;
      r.input = prompt;
      r.gt = gold;
      for (size_t i : seeded_permutation(e.choices.size(), seed * 1000003u + n++)) {
        if (!r.target.empty()) r.target += ' ';
        r.target += "For option " + e.labels[i] + ", " + e.choices[i] + ".";
      }
      out.push_back(std::move(r));
    }
  }
  return out;
}

std::vector<StageRecord> synthetic_biography_records(const SyntheticWorld& world, uint64_t seed,
                                                     size_t per_entity) {
  std::vector<StageRecord> out;
  uint64_t n = 0;
  for (size_t k = 0; k < per_entity; ++k) {
    for (size_t e = 0; e < world.entities.size(); ++e) {
      const uint64_t draw = splitmix64(seed ^ splitmix64(0xb10ULL + n++));
      StageRecord r;
      r.kind = StageKind::Recall;
      r.input = "Facts about the " + world.entities[e].name + ":";
      r.gt = "A";  // no question, no gold: the record format needs a letter
      // The canonical sentence half of the time, each paraphrase a quarter; facts in a random order.
      for (size_t i : seeded_permutation(kSynAttributeCount, draw)) {
        const std::vector<std::string> forms = world.fact_paraphrases(e, kSynAttributes[i]);
        const uint64_t pick = (draw >> (8 * i)) & 3;
        if (!r.target.empty()) r.target += ' ';
        r.target += forms.at(pick < 2 ? 0 : pick - 1);
      }
      out.push_back(std::move(r));
    }
  }
  return out;
}

std::string synthetic_tokenizer_text(const std::vector<StageRecord>& records) {
  std::string out;
  for (const StageRecord& r : records) out += r.input + " " + r.target + "\n\n";
  return out;
}

SyntheticCorpusSummary write_synthetic_corpus(const std::string& dir, const SyntheticSettings& settings) {
  const SyntheticTask task = generate_synthetic_task(settings);
  std::error_code ec;
  fs::create_directories(dir, ec);
  LITESTAGE_CHECK(!ec && fs::is_directory(dir), "synthetic corpus: cannot create directory '", dir,
                  "': ", ec.message());

  SyntheticCorpusSummary s;
  s.dir = dir;
  auto write = [&s](const std::string& path, const std::string& content) {
    write_file_atomic(path, content);
    s.files.push_back(path);
  };
  write(path_in(dir, "settings.json"), nlohmann::json(task.settings).dump(2) + "\n");
  write(path_in(dir, "world.json"), nlohmann::json(task.world).dump(2) + "\n");
  write(path_in(dir, "train.jsonl"), examples_jsonl(task.world, task.train));
  write(path_in(dir, "valid.jsonl"), examples_jsonl(task.world, task.valid));
  write(path_in(dir, "test.jsonl"), examples_jsonl(task.world, task.test));

  const std::vector<StageRecord> train_records = synthetic_stage_records(task.train);
  const std::vector<StageRecord> valid_records = synthetic_stage_records(task.valid);
  write_stage_records(path_in(dir, "train_stage_records.jsonl"), train_records);
  s.files.push_back(path_in(dir, "train_stage_records.jsonl"));
  write_stage_records(path_in(dir, "valid_stage_records.jsonl"), valid_records);
  s.files.push_back(path_in(dir, "valid_stage_records.jsonl"));
  const std::vector<StageRecord> reading_records = synthetic_option_reading_records(task.train, task.settings.seed, 2);
  write_stage_records(path_in(dir, "train_option_reading.jsonl"), reading_records);
  s.files.push_back(path_in(dir, "train_option_reading.jsonl"));
  const std::vector<StageRecord> biography_records =
      synthetic_biography_records(task.world, task.settings.seed, task.settings.biographies);
  write_stage_records(path_in(dir, "train_biographies.jsonl"), biography_records);
  s.files.push_back(path_in(dir, "train_biographies.jsonl"));
  write(path_in(dir, "corpus.txt"),
        synthetic_tokenizer_text(train_records) + synthetic_tokenizer_text(biography_records));

  s.train = task.train.size();
  s.valid = task.valid.size();
  s.test = task.test.size();
  s.train_records = train_records.size();
  s.valid_records = valid_records.size();
  s.reading_records = reading_records.size();
  s.biography_records = biography_records.size();
  s.chance_train = chance_accuracy(synthetic_examples(task.train));
  s.chance_valid = chance_accuracy(synthetic_examples(task.valid));
  s.chance_test = chance_accuracy(synthetic_examples(task.test));
  return s;
}

namespace {

// The Hugging Face files beside tokenizer.model that make the directory load as a Llama tokenizer.
void write_tokenizer_configs(const std::string& dir) {
  const nlohmann::json config = {{"add_bos_token", true},
                                 {"add_eos_token", false},
                                 {"bos_token", "<s>"},
                                 {"eos_token", "</s>"},
                                 {"unk_token", "<unk>"},
                                 {"pad_token", nullptr},
                                 {"clean_up_tokenization_spaces", false},
                                 {"legacy", true},
                                 {"model_max_length", 2048},
                                 {"sp_model_kwargs", nlohmann::json::object()},
                                 {"tokenizer_class", "LlamaTokenizer"}};
  write_file_atomic(path_in(dir, "tokenizer_config.json"), config.dump(2) + "\n");
  const nlohmann::json special = {{"bos_token", "<s>"}, {"eos_token", "</s>"}, {"unk_token", "<unk>"}};
  write_file_atomic(path_in(dir, "special_tokens_map.json"), special.dump(2) + "\n");

}

// Every (or every n/max_checked-th) stage record of the corpus encodes without <unk> and decodes
// back to its text; counts the records whose prompt and target tokenise differently apart.
void check_round_trips(const std::string& dir, const Tokenizer& tok, size_t max_checked,
                       SyntheticTokenizerReport& report) {
  const std::optional<int32_t> unk = tok.token_id("<unk>");
  EncodeOptions plain;
  plain.add_bos = false;
  plain.parse_special = false;
  size_t total_tokens = 0;
  for (const char* name : {"train_stage_records.jsonl", "valid_stage_records.jsonl"}) {
    const std::string path = path_in(dir, name);
    if (!fs::is_regular_file(path)) continue;
    const std::vector<StageRecord> records = read_stage_records(path).records;
    const size_t n = records.size();
    const size_t take = max_checked == 0 ? n : std::min(n, max_checked);
    for (size_t i = 0; i < take; ++i) {
      const StageRecord& r = records[take == n ? i : i * n / take];
      const std::string text = r.input + " " + r.target;
      const std::vector<int32_t> ids = tok.encode(text, plain);
      const std::string back = tok.decode(ids);
      LITESTAGE_CHECK(back == text, "synthetic tokenizer: ", path, " record ", i,
                      " does not round-trip:\n  text: ", text, "\n  back: ", back);
      LITESTAGE_CHECK(!unk || std::find(ids.begin(), ids.end(), *unk) == ids.end(), "synthetic tokenizer: ", path,
                      " record ", i, " encodes to <unk>");
      std::vector<int32_t> joined = tok.encode(r.input, plain);
      const std::vector<int32_t> target = tok.encode(r.target, plain);
      joined.insert(joined.end(), target.begin(), target.end());
      if (joined != ids) ++report.split_mismatches;
      report.max_tokens = std::max(report.max_tokens, ids.size());
      total_tokens += ids.size();
      ++report.checked;
    }
  }
  report.mean_tokens = report.checked ? static_cast<double>(total_tokens) / static_cast<double>(report.checked) : 0.0;
}

}  // namespace

SyntheticTokenizerReport train_synthetic_tokenizer(const std::string& dir, int vocab_size, size_t max_checked) {
  const std::string corpus = path_in(dir, "corpus.txt");
  LITESTAGE_CHECK(fs::is_regular_file(corpus), "synthetic tokenizer: '", corpus,
                  "' not found (write_synthetic_corpus writes it)");
  LITESTAGE_CHECK(vocab_size >= 300 && vocab_size <= 32000,
                  "synthetic tokenizer: vocab_size must be in 300..32000 "
                  "(byte_fallback alone takes 256 pieces), got ",
                  vocab_size);
  const std::string prefix = path_in(dir, "tokenizer");
  // The trainer parses one space-separated flag string.
  LITESTAGE_CHECK(std::none_of(prefix.begin(), prefix.end(), [](char c) { return c == ' ' || c == '\t'; }),
                  "synthetic tokenizer: the directory path must not contain whitespace: '", dir, "'");

  // Llama's conventions. The prompts contain "\n", which the trainer never sees (it reads lines):
  // byte_fallback encodes it as <0x0A>. identity normalisation and remove_extra_whitespaces=false
  // keep every prompt byte-exact; hard_vocab_limit=false lets the small corpus end below vocab_size.
  // The option letters A..E are user-defined symbols, so a letter is the same piece in the options
  // line ("(" "B" ")") and in "For option B," ("▁" "B" ","): reading option B's text from the
  // prompt's letter is then the same-token match a model already uses to copy names. With plain
  // BPE they are unrelated pieces ("B" vs "▁B") and a small model trained from scratch gives every
  // option the same analysis. The task's texts keep capitals A..E for the letters ("The zun", not
  // "A zun"); only "Analyze" also holds the piece "A".
  const std::string flags = "--input=" + corpus + " --model_prefix=" + prefix +
                            " --model_type=bpe --vocab_size=" + std::to_string(vocab_size) +
                            " --character_coverage=1.0 --byte_fallback=true --normalization_rule_name=identity"
                            " --remove_extra_whitespaces=false --add_dummy_prefix=true --split_digits=true"
                            " --unk_id=0 --bos_id=1 --eos_id=2 --pad_id=-1 --hard_vocab_limit=false"
                            " --user_defined_symbols=A,B,C,D,E --num_threads=2";
  spm_train(flags);

  write_tokenizer_configs(dir);

  SyntheticTokenizerReport report;
  report.model_file = prefix + ".model";
  const auto tok = load_sentencepiece_tokenizer(dir);
  report.vocab_size = tok->vocab_size();
  check_round_trips(dir, *tok, max_checked, report);
  return report;
}

}  // namespace litestage
