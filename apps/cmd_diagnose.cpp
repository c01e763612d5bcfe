// litestage diagnose: per-stage teacher-forced exact match on stage-record files and full
// three-stage accuracy on dataset splits, side by side (docs/training.md, "Diagnosing a model").
// Training records against held-out ones tells "not fitted" from "does not transfer".

#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "command.hpp"
#include "litestage/data/dataset.hpp"
#include "litestage/synthetic/task.hpp"
#include "litestage/experiment/diagnose.hpp"
#include "litestage/experiment/evaluate.hpp"
#include "litestage/stage/stage.hpp"
#include "litestage/util/error.hpp"
#include "litestage/util/stats.hpp"
#include "model_setup.hpp"

namespace litestage::cli {
namespace {

std::string percent(int k, int n) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%d/%d (%.1f%%)", k, n, n ? 100.0 * k / n : 0.0);
  return buf;
}

std::string interval(size_t k, size_t n) {
  const Interval i = wilson_interval(k, n);
  char buf[64];
  std::snprintf(buf, sizeof buf, "[%.1f, %.1f]", 100 * i.low, 100 * i.high);
  return buf;
}

nlohmann::json teacher_forced_section(MultiStagePipeline& pipeline, const std::vector<std::string>& specs,
                                      size_t limit) {
  nlohmann::json out = nlohmann::json::array();
  if (specs.empty()) return out;
  std::cout << "\nTeacher-forced exact match (gold prompt, greedy output vs gold text), at most " << limit
            << " records per stage\n\n| records | Recall | Analyze | Summarize |\n|---|---|---|---|\n";
  for (const std::string& spec : specs) {
    const size_t eq = spec.find('=');
    LITESTAGE_CHECK(eq != std::string::npos && eq > 0, "--records: expected NAME=FILE, got '", spec, "'");
    const std::string name = spec.substr(0, eq), file = spec.substr(eq + 1);
    const StageMatches m = teacher_forced_exact_match(pipeline, read_stage_records(file).records, limit);
    nlohmann::json j{{"name", name}, {"file", file}};
    std::cout << "| " << name;
    for (StageKind kind : kStages) {
      const StageMatch& s = m[kind];
      std::cout << " | " << percent(s.exact, s.records);
      nlohmann::json misses = nlohmann::json::array();
      for (const auto& miss : s.misses)
        misses.push_back({{"prompt_tail", miss.prompt_tail}, {"expected", miss.expected}, {"got", miss.got}});
      j[std::string(to_string(kind))] = {{"records", s.records}, {"exact", s.exact}, {"misses", misses}};
    }
    std::cout << " |" << std::endl;
    out.push_back(j);
  }
  for (const auto& j : out)
    for (StageKind stage : kStages) {
      const std::string kind(to_string(stage));
      for (const auto& miss : j[kind]["misses"])
        std::cout << "  " << j["name"].get<std::string>() << "/" << kind << " miss after '"
                  << miss["prompt_tail"].get<std::string>() << "'\n    expected: " << miss["expected"].get<std::string>()
                  << "\n    got:      " << miss["got"].get<std::string>() << "\n";
    }
  return out;
}

nlohmann::json pipeline_section(MultiStagePipeline& pipeline, const po::variables_map& vm,
                                const std::vector<std::string>& splits, size_t limit) {
  nlohmann::json out = nlohmann::json::array();
  if (splits.empty()) return out;
  const std::string dataset = vm["dataset"].as<std::string>();
  const std::string root = vm["root"].as<std::string>().empty() ? default_data_root() : vm["root"].as<std::string>();
  std::vector<std::string> rows;
  for (const std::string& split : splits) {
    const Dataset data = load_dataset(dataset, root, split, LoadOptions{kDefaultSplitSeed, 0, limit});
    EvalOptions eo;
    eo.label = "pipeline " + split;
    const EvalResult r = run_pipeline(pipeline, data.examples, eo);
    const auto n = static_cast<size_t>(r.summary.examples), k = static_cast<size_t>(r.summary.correct);
    const double chance = chance_accuracy(data.examples);
    char chance_text[32];
    std::snprintf(chance_text, sizeof chance_text, "%.1f%%", 100 * chance);
    rows.push_back("| " + split + " | " + percent(r.summary.correct, r.summary.examples) + " | " + interval(k, n) +
                   " | " + chance_text + " | " + std::to_string(r.summary.unparsed) + " |");
    const Interval w = wilson_interval(k, n);
    out.push_back({{"split", split}, {"questions", n}, {"correct", k}, {"accuracy", r.summary.accuracy},
                   {"wilson95", {w.low, w.high}}, {"chance", chance}, {"unparsed", r.summary.unparsed}});
  }
  std::cout << "\nFull three-stage accuracy (" << dataset << ", greedy)\n\n"
            << "| split | accuracy | 95% Wilson | chance | unparsed |\n|---|---|---|---|---|\n";
  for (const auto& row : rows) std::cout << row << "\n";
  return out;
}

int run_diagnose(const std::vector<std::string>& args) {
  po::options_description desc("diagnose options");
  desc.add_options()
      ("model", po::value<std::string>()->required(), "Hugging Face checkpoint directory")
      ("tokenizer", po::value<std::string>()->default_value(""), "tokenizer directory (default: the model's)")
      ("records", po::value<std::vector<std::string>>()->composing(),
       "NAME=FILE: stage records to continue teacher-forced (repeatable, e.g. train=... valid=...)")
      ("dataset", po::value<std::string>()->default_value("synthetic"), "dataset of the pipeline questions")
      ("root", po::value<std::string>()->default_value(""), "dataset root (synthetic: a settings.json)")
      ("split", po::value<std::vector<std::string>>()->composing(),
       "split to answer with the full three-stage pipeline (repeatable: train, valid, test)")
      ("limit", po::value<size_t>()->default_value(100), "records per stage, and questions per split")
      ("max-new-tokens", po::value<int>()->default_value(96), "token budget of every stage")
      ("json", po::value<std::string>()->default_value(""), "also write the figures (and misses) as JSON");
  add_runtime_options(desc);
  po::variables_map vm;
  const std::string usage = "--model DIR [--records NAME=FILE ...] [--split S ...] [--root R] [--limit N]";
  if (auto rc = parse_options("diagnose", usage, desc, args, vm)) return *rc;
  const auto records = vm.count("records") ? vm["records"].as<std::vector<std::string>>() : std::vector<std::string>{};
  const auto splits = vm.count("split") ? vm["split"].as<std::vector<std::string>>() : std::vector<std::string>{};
  LITESTAGE_CHECK(!records.empty() || !splits.empty(), "diagnose: give --records NAME=FILE and/or --split NAME");

  auto runtime = setup_runtime(runtime_options(vm));
  auto loaded = load_model_and_tokenizer(vm["model"].as<std::string>(), vm["tokenizer"].as<std::string>(), runtime);
  Generator generator(loaded.model, loaded.tokenizer);
  PipelineConfig config;
  for (auto kind : kStages)
    config.stages[kind].max_new_tokens = vm["max-new-tokens"].as<int>();
  MultiStagePipeline pipeline(generator, config);

  const size_t limit = vm["limit"].as<size_t>();
  nlohmann::json report{{"model", vm["model"].as<std::string>()}};
  report["teacher_forced"] = teacher_forced_section(pipeline, records, limit);
  report["pipeline"] = pipeline_section(pipeline, vm, splits, limit);
  const std::string json_path = vm["json"].as<std::string>();
  if (!json_path.empty()) {
    std::ofstream f(json_path);
    LITESTAGE_CHECK(f.good(), "diagnose: cannot write '", json_path, "'");
    f << report.dump(2) << "\n";
    std::cout << "\nwrote " << json_path << "\n";
  }
  return 0;
}

LITESTAGE_COMMAND("diagnose", "per-stage teacher-forced exact match and pipeline accuracy (train vs held-out)",
                  run_diagnose);

}  // namespace
}  // namespace litestage::cli
