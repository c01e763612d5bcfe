// litestage eval: run an experiment's multi-stage evaluation and write its results.

#include <iostream>

#include "command.hpp"
#include "model_setup.hpp"
#include "options.hpp"
#include "litestage/dist/dist.hpp"
#include "litestage/experiment/evaluate.hpp"
#include "litestage/util/strings.hpp"

namespace litestage::cli {
namespace {

int run_eval_command(const std::vector<std::string>& args) {
  po::options_description own;
  own.add_options()("resume", po::bool_switch(), "continue an interrupted run in the same output_dir");
  ExperimentArgs a;
  if (auto rc = parse_experiment_args("eval", args, a, &own, "[--resume]")) return *rc;
  Session session(load_experiment(a.file, a.sets));
  announce_runtime(session.runtime());
  auto result = run_eval(session, a.vm["resume"].as<bool>());
  if (!dist::is_root()) return 0;  // rank 0 wrote the results
  std::cout << read_file(session.spec().output_dir + "/summary.md") << "\nresults in " << session.spec().output_dir
            << "/\n";
  return 0;
}

LITESTAGE_COMMAND("eval", "evaluate an experiment's multi-stage pipeline (YAML)", run_eval_command);

}  // namespace
}  // namespace litestage::cli
