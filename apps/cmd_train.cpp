// litestage train: supervised fine-tuning on TinyThinker stage records (docs/training.md).

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "command.hpp"
#include "litestage/experiment/evaluate.hpp"
#include "litestage/train/trainer.hpp"
#include "litestage/util/format.hpp"
#include "litestage/util/progress.hpp"
#include "litestage/util/strings.hpp"
#include "options.hpp"

namespace litestage::cli {
namespace {

int run_train(const std::vector<std::string>& args) {
  po::options_description desc("train options");
  desc.add_options()
      ("config", po::value<std::string>()->required(), "training YAML (keys: docs/training.md)")
      ("set", po::value<std::vector<std::string>>()->composing(),
       "override a YAML key, e.g. --set training.max_steps=100 (repeatable)")
      ("resume", po::bool_switch(), "continue the run in output_dir/last (same as resume: true)")
      ("list-options", "print every training key (type, default, meaning) and exit");
  if (std::find(args.begin(), args.end(), "--list-options") != args.end()) {
    std::cout << list_options(option_infos(train_options()));
    return 0;
  }
  po::positional_options_description positional;
  positional.add("config", 1);
  po::variables_map vm;
  if (auto rc = parse_options("train", "CONFIG.yaml [--set key=value ...] [--resume]", desc, args, vm, &positional))
    return *rc;

  std::vector<std::string> overrides;
  if (vm.count("set")) overrides = vm["set"].as<std::vector<std::string>>();
  if (vm["resume"].as<bool>()) overrides.push_back("resume=true");
  const TrainConfig config = load_train_config(vm["config"].as<std::string>(), overrides);

  std::cout << "loading model, tokenizer and data ..." << std::endl;
  Trainer trainer(config);
  std::unique_ptr<Progress> progress;
  TrainerHooks hooks;
  double last_loss = 0;
  hooks.on_message = [](const std::string& text) { std::cout << text << std::endl; };
  hooks.on_step = [&](const StepStats& s) {
    if (!progress) {
      progress = std::make_unique<Progress>("train", static_cast<size_t>(trainer.total_steps()));
      progress->set_resumed(static_cast<size_t>(s.step - 1));
    }
    last_loss = s.loss;
    progress->update(static_cast<size_t>(s.step), "loss " + format("%.4f", s.loss) + " lr " + format("%.2e", s.lr));
  };
  hooks.on_log = [](const TrainLogRecord& r) { std::cout << format_log_line(r) << std::endl; };
  hooks.on_eval = [](const EvalRecord& r) { std::cout << format_eval_line(r) << std::endl; };
  trainer.set_hooks(hooks);
  if (config.pipeline_eval.enabled) {
    // Accuracy of the full three-stage pipeline (greedy, TinyThinker prompts) on a fixed split.
    const auto& pe = config.pipeline_eval;
    auto data = load_dataset(pe.dataset, pe.root.empty() ? default_data_root() : pe.root, pe.split,
                             LoadOptions{kDefaultSplitSeed, 0, static_cast<size_t>(pe.limit)});
    std::cout << "pipeline accuracy on " << pe.dataset << "/" << data.info.split << " (" << data.examples.size()
              << " questions) at every evaluation" << std::endl;
    trainer.set_accuracy_metric(
        [examples = data.examples, pe](CausalLM& model, std::shared_ptr<Tokenizer> tokenizer) {
          Generator generator(model, tokenizer);
          PipelineConfig pc;
          for (auto k : kStages)
            pc.stages[k].max_new_tokens = pe.max_new_tokens;
          MultiStagePipeline pipeline(generator, pc);
          EvalOptions eo;
          eo.label = "pipeline eval";
          return run_pipeline(pipeline, examples, eo).summary.accuracy;
        },
        "pipeline_accuracy");
  }

  TrainSummary s = trainer.train();
  if (progress) progress->finish("loss " + format("%.4f", last_loss));

  std::cout << "\ntrained steps " << s.start_step << " -> " << s.end_step << " of " << s.total_steps << " in "
            << format_duration(s.seconds);
  if (s.tokens > 0) std::cout << " (" << format("%.0f", s.tokens_per_second) << " tokens/s while training)";
  std::cout << "\n";
  if (s.end_step > s.start_step) std::cout << "final train loss (last log window): " << format("%.4f", s.last_loss) << "\n";
  if (s.last_eval && s.last_eval->val_loss) std::cout << "final validation loss: " << format("%.4f", *s.last_eval->val_loss) << "\n";
  if (s.best_value)
    std::cout << "best " << s.best_criterion << ": " << format("%.4f", *s.best_value) << " at step " << s.best_step
              << " -> " << (s.output_dir / "best").string() << "\n";
  std::cout << "last checkpoint: " << (s.output_dir / "last").string() << " (resume with --resume)\n"
            << "log: " << (s.output_dir / "train_log.jsonl").string() << "\n";
  return 0;
}

LITESTAGE_COMMAND("train", "fine-tune a model on TinyThinker stage records (SFT)", run_train);

}  // namespace
}  // namespace litestage::cli
