// litestage synth: generate the synthetic reasoning task (docs/synthetic-task.md) into a directory:
// examples, TinyThinker stage records, the world, and a SentencePiece tokenizer trained on it.

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "command.hpp"
#include "litestage/synthetic/task.hpp"
#include "litestage/synthetic/corpus.hpp"
#include "litestage/prompt/prompts.hpp"
#include "options.hpp"

namespace litestage::cli {
namespace {

int run_synth(const std::vector<std::string>& args) {
  const SyntheticSettings defaults;
  po::options_description desc("synth options");
  desc.add_options()
      ("out", po::value<std::string>()->required(), "output directory (created; files are overwritten)")
      ("settings", po::value<std::string>(),
       "settings JSON to start from (the keys of settings.json); flags override it")
      ("seed", po::value<uint64_t>(), ("generator seed (default " + std::to_string(defaults.seed) + ")").c_str())
      ("train", po::value<size_t>(), ("training questions (default " + std::to_string(defaults.train) + ")").c_str())
      ("valid", po::value<size_t>(),
       ("validation questions (default " + std::to_string(defaults.valid) + ")").c_str())
      ("test", po::value<size_t>(), ("test questions (default " + std::to_string(defaults.test) + ")").c_str())
      ("entities", po::value<size_t>(),
       ("animals in the world (default " + std::to_string(defaults.entities) + ")").c_str())
      ("kinds", po::value<size_t>(), ("kinds, 2..8 (default " + std::to_string(defaults.kinds) + ")").c_str())
      ("holdout-fraction", po::value<double>(),
       "share of each question type's combinations held out for valid, and again for test (default 0.1)")
      ("biographies", po::value<size_t>(),
       ("biography records per entity (default " + std::to_string(defaults.biographies) + ")").c_str())
      ("vocab-size", po::value<int>()->default_value(kSyntheticVocabSize),
       "SentencePiece BPE vocabulary (at most; 256 are byte pieces; the corpus supports one piece per word)")
      ("no-tokenizer", po::bool_switch(), "write the corpus only");
  po::variables_map vm;
  const std::string usage = "--out DIR [--seed S --train N --valid N --test N --vocab-size V]";
  if (auto rc = parse_options("synth", usage, desc, args, vm)) return *rc;

  SyntheticSettings s = vm.count("settings") ? read_synthetic_settings(vm["settings"].as<std::string>()) : defaults;
  if (vm.count("seed")) s.seed = vm["seed"].as<uint64_t>();
  if (vm.count("train")) s.train = vm["train"].as<size_t>();
  if (vm.count("valid")) s.valid = vm["valid"].as<size_t>();
  if (vm.count("test")) s.test = vm["test"].as<size_t>();
  if (vm.count("entities")) s.entities = vm["entities"].as<size_t>();
  if (vm.count("kinds")) s.kinds = vm["kinds"].as<size_t>();
  if (vm.count("holdout-fraction")) s.holdout_fraction = vm["holdout-fraction"].as<double>();
  if (vm.count("biographies")) s.biographies = vm["biographies"].as<size_t>();
  s.validate();

  const std::string out = vm["out"].as<std::string>();
  check_path(out, PathUse::OutputDir, "--out");
  const SyntheticCorpusSummary sum = write_synthetic_corpus(out, s);
  std::printf("synthetic task, settings %s\n", nlohmann::json(s).dump().c_str());
  std::printf("questions: train %zu, valid %zu, test %zu; stage records: train %zu, valid %zu; option-reading records: %zu; biography records: %zu\n",
              sum.train, sum.valid, sum.test, sum.train_records, sum.valid_records, sum.reading_records,
              sum.biography_records);
  std::printf("chance accuracy (mean 1/#options): train %.4f, valid %.4f, test %.4f\n", sum.chance_train,
              sum.chance_valid, sum.chance_test);
  for (const std::string& f : sum.files) std::printf("  wrote %s\n", f.c_str());

  if (!vm["no-tokenizer"].as<bool>()) {
    const SyntheticTokenizerReport t = train_synthetic_tokenizer(out, vm["vocab-size"].as<int>());
    std::printf("tokenizer: %s, %d pieces; %zu records round-trip exactly (input + \" \" + target: mean %.1f, "
                "max %zu tokens; %zu where encoding input and target apart differs)\n",
                t.model_file.c_str(), t.vocab_size, t.checked, t.mean_tokens, t.max_tokens, t.split_mismatches);
  }

  // One test question as the pipeline will pose it.
  const SyntheticWorld world = make_synthetic_world(s);
  const auto test = generate_synthetic_split(world, s, Split::Test);
  if (!test.empty())
    std::printf("\nfirst test question, stage 1 prompt:\n%s\n", recall_prompt(test.front().example).c_str());
  std::printf("\nuse it in an experiment with data: {dataset: synthetic, root: %s/settings.json}\n", out.c_str());
  return 0;
}

LITESTAGE_COMMAND("synth", "generate the synthetic reasoning task, its stage records and a tokenizer", run_synth);

}  // namespace
}  // namespace litestage::cli
