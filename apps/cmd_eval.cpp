// litestage eval: run an experiment's multi-stage evaluation and write its results.

#include <iostream>

#include "command.hpp"
#include "options.hpp"
#include "litestage/experiment/evaluate.hpp"
#include "litestage/util/strings.hpp"

namespace litestage::cli {
namespace {

int run_eval_command(const std::vector<std::string>& args) {
  po::options_description desc("eval options");
  desc.add_options()
      ("experiment", po::value<std::string>()->required(), "experiment YAML file")
      ("set", po::value<std::vector<std::string>>()->composing(), "override a key: --set data.limit=20 (repeatable)")
      ("resume", po::bool_switch(), "continue an interrupted run in the same output_dir");
  po::positional_options_description pos;
  pos.add("experiment", 1);
  po::variables_map vm;
  if (auto rc = parse_options("eval", "EXPERIMENT.yaml [--set key=value ...] [--resume]", desc, args, vm, &pos))
    return *rc;
  std::vector<std::string> sets;
  if (vm.count("set")) sets = vm["set"].as<std::vector<std::string>>();
  Session session(load_experiment(vm["experiment"].as<std::string>(), sets));
  auto result = run_eval(session, vm["resume"].as<bool>());
  std::cout << read_file(session.spec().output_dir + "/summary.md") << "\nresults in " << session.spec().output_dir
            << "/\n";
  return 0;
}

LITESTAGE_COMMAND("eval", "evaluate an experiment's multi-stage pipeline (YAML)", run_eval_command);

}  // namespace
}  // namespace litestage::cli
