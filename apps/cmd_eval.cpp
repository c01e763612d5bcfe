// litestage eval: run an experiment's multi-stage evaluation and write its results.

#include <iostream>

#include "command.hpp"
#include "model_setup.hpp"
#include "options.hpp"
#include "litestage/experiment/run_dir.hpp"
#include "litestage/dist/dist.hpp"
#include "litestage/experiment/evaluate.hpp"
#include "litestage/experiment/time_breakdown.hpp"
#include "litestage/util/error.hpp"
#include "litestage/util/strings.hpp"

namespace litestage::cli {
namespace {

// eval --time-breakdown: the split run once more with phase clocks; prints the table, writes nothing.
int print_time_breakdown(const ExperimentSpec& spec) {
  if (dist::active()) throw_error("--time-breakdown runs as one process; launch it without torchrun/srun");
  Session session(spec);
  announce_runtime(session.runtime());
  const auto data = session.dataset(spec.split);
  const auto b = time_breakdown(session, data.examples, spec.timing.warmup);
  std::cout << "where each stage's time goes: " << spec.dataset << "/" << data.info.split << ", "
            << time_breakdown_markdown(b);
  return 0;
}

int run_eval_command(const std::vector<std::string>& args) {
  po::options_description own;
  own.add_options()("resume", po::bool_switch(), "continue an interrupted run in the same output_dir")(
      "time-breakdown", po::bool_switch(),
      "instead: run the split with phase clocks and print where each stage's time goes (writes nothing)");
  ExperimentArgs a;
  if (auto rc = parse_experiment_args("eval", args, a, &own, "[--resume | --time-breakdown]")) return *rc;
  const bool resume = a.vm["resume"].as<bool>();
  const ExperimentSpec spec = load_experiment(a.file, a.sets);
  if (a.vm["time-breakdown"].as<bool>()) return print_time_breakdown(spec);
  Session session(spec);
  announce_runtime(session.runtime());
  auto result = run_eval(session, resume);
  if (!dist::is_root()) return 0;  // rank 0 wrote the results
  if (result.resumed > 0)
    std::cout << "resumed: " << result.resumed << " of " << result.traces.size() << " examples from the earlier run\n";
  std::cout << read_file(RunDir(spec.output_dir).summary_md().string()) << "\nresults in " << spec.output_dir << "/\n";
  return 0;
}

LITESTAGE_DISTRIBUTED_COMMAND("eval", "evaluate an experiment's multi-stage pipeline (YAML)", run_eval_command);

}  // namespace
}  // namespace litestage::cli
