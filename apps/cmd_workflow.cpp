// LiteStage's offline configuration and comparison commands: importance, search, run, reproduce,
// profile.

#include <filesystem>
#include <iostream>

#include "command.hpp"
#include "litestage/experiment/run_dir.hpp"
#include "litestage/experiment/tradeoff.hpp"
#include "litestage/workflow/workflow.hpp"
#include "litestage/util/strings.hpp"
#include "model_setup.hpp"
#include "options.hpp"

namespace litestage::cli {
namespace {

// The workflow keeps its journal and caches in output_dir (fingerprint.json marks a run there): a
// second start continues the first. Say so, before the work, where the user looks.
void announce_resume(const std::string& command, const ExperimentSpec& spec) {
  if (!std::filesystem::exists(RunDir(spec.output_dir).fingerprint())) return;
  std::cerr << command << ": resuming the earlier run in '" << spec.output_dir
            << "' (its finished steps are read back, not redone)\n";
}

int run_importance_command(const std::vector<std::string>& args) {
  ExperimentArgs a;
  if (auto rc = parse_experiment_args("importance", args, a)) return *rc;
  Session session(load_experiment(a.file, a.sets));
  announce_runtime(session.runtime());
  RunDir(session.spec().output_dir).claim("importance", session.result_fingerprint());
  auto r = run_importance(session);
  std::cout << "sub-layers ranked by accumulated cos(in, out) over " << r.examples
            << " examples (most redundant first):\n";
  int i = 0;
  for (const auto& s : r.ranking()) {
    std::printf("%3d  %-5s %.5f  (recall %.4f, analyze %.4f, summarize %.4f)\n", ++i, to_string(s).c_str(), r.score(s),
                s.kind == SubLayerKind::Attention ? r.stages[StageKind::Recall].attn[s.layer] : r.stages[StageKind::Recall].ffn[s.layer],
                s.kind == SubLayerKind::Attention ? r.stages[StageKind::Analyze].attn[s.layer] : r.stages[StageKind::Analyze].ffn[s.layer],
                s.kind == SubLayerKind::Attention ? r.stages[StageKind::Summarize].attn[s.layer] : r.stages[StageKind::Summarize].ffn[s.layer]);
  }
  const RunDir dir(session.spec().output_dir);
  std::cout << "written: " << dir.importance().string() << ", " << dir.ranking().string() << "\n";
  return 0;
}

int run_tradeoff_command(const std::vector<std::string>& args) {
  po::options_description extra("tradeoff options");
  extra.add_options()
      ("step", po::value<int>()->default_value(1), "k goes 0, step, 2 step, ...")
      ("max-k", po::value<int>()->default_value(-1), "largest k (default: all 2L sub-layers)");
  ExperimentArgs a;
  if (auto rc = parse_experiment_args("tradeoff", args, a, &extra, "[--step S] [--max-k K]")) return *rc;
  Session session(load_experiment(a.file, a.sets));
  announce_runtime(session.runtime());
  RunDir(session.spec().output_dir).claim("tradeoff", session.result_fingerprint());
  const TradeoffResult r = run_tradeoff(session, a.vm["step"].as<int>(), a.vm["max-k"].as<int>());
  const RunDir dir(session.spec().output_dir);
  std::cout << "\n" << r.markdown() << "\nwritten: " << dir.tradeoff_json().string() << ", " << dir.tradeoff_md().string()
            << "\n";
  return 0;
}

int run_search_command(const std::vector<std::string>& args) {
  ExperimentArgs a;
  if (auto rc = parse_experiment_args("search", args, a)) return *rc;
  auto spec = load_experiment(a.file, a.sets);
  spec.methods = {Method::Full, Method::LiteStage};
  announce_resume("search", spec);
  Session session(spec);
  announce_runtime(session.runtime());
  WorkflowOptions opt;
  opt.evaluate_test = false;
  auto report = run_workflow(session, opt);
  const RunDir dir(spec.output_dir);
  std::cout << profile_text(report.profile) << "\nsweep tables: " << dir.sweeps().string() << "/\nbudget profile: "
            << dir.profile().string() << "\n";
  return 0;
}

int run_reproduce_command(const std::string& name, const std::vector<std::string>& args) {
  ExperimentArgs a;
  if (auto rc = parse_experiment_args(name, args, a)) return *rc;
  const ExperimentSpec spec = load_experiment(a.file, a.sets);
  announce_resume(name, spec);
  Session session(spec);
  announce_runtime(session.runtime());
  auto report = run_workflow(session, WorkflowOptions{});
  std::cout << "\n" << profile_text(report.profile) << "\nwritten:\n";
  for (const auto& f : report.files) std::cout << "  " << f << "\n";
  return 0;
}

int run_profile_command(const std::vector<std::string>& args) {
  po::options_description desc("profile options");
  desc.add_options()
      ("action", po::value<std::string>()->required(), "show")
      ("file", po::value<std::string>()->required(), "budget profile (YAML)")
      ("model", po::value<std::string>()->default_value(""), "also check that the profile fits this checkpoint");
  po::positional_options_description pos;
  pos.add("action", 1).add("file", 1);
  po::variables_map vm;
  if (auto rc = parse_options("profile", "show FILE [--model DIR]", desc, args, vm, &pos)) return *rc;
  if (vm["action"].as<std::string>() != "show") {
    std::cerr << "litestage profile: unknown action '" << vm["action"].as<std::string>() << "' (expected show)\n";
    return 2;
  }
  check_path(vm["file"].as<std::string>(), PathUse::InputFile, "profile file");
  if (!vm["model"].as<std::string>().empty()) check_path(vm["model"].as<std::string>(), PathUse::InputDir, "--model");
  auto p = load_profile(vm["file"].as<std::string>());
  std::cout << profile_text(p);
  if (!vm["model"].as<std::string>().empty()) {
    check_profile_model(p, identify_model(vm["model"].as<std::string>()), false);
    std::cout << "model check: the profile matches " << vm["model"].as<std::string>() << "\n";
  }
  return 0;
}

LITESTAGE_DISTRIBUTED_COMMAND("importance", "rank sub-layers by cos(in, out) over calibration examples", run_importance_command);
LITESTAGE_DISTRIBUTED_COMMAND("search", "stage-wise budget search + early-exit threshold -> budget profile", run_search_command);
LITESTAGE_INTERRUPTIBLE_COMMAND("tradeoff", "accuracy when every stage skips the k most redundant sub-layers, k = 0..2L", run_tradeoff_command);
LITESTAGE_DISTRIBUTED_COMMAND("reproduce", "search and evaluate a set of methods, write the comparison table",
                  [](const std::vector<std::string>& a) { return run_reproduce_command("reproduce", a); });
LITESTAGE_DISTRIBUTED_COMMAND("run", "the whole LiteStage workflow: search, baselines, test table, plots, profile",
                  [](const std::vector<std::string>& a) { return run_reproduce_command("run", a); });
LITESTAGE_COMMAND("profile", "show a budget profile (and check it against a model)", run_profile_command);

}  // namespace
}  // namespace litestage::cli
