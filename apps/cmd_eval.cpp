// litestage eval: run an experiment's multi-stage evaluation and write its results.

#include <algorithm>
#include <filesystem>
#include <iostream>

#include <nlohmann/json.hpp>

#include "command.hpp"
#include "model_setup.hpp"
#include "options.hpp"
#include "litestage/dist/dist.hpp"
#include "litestage/experiment/evaluate.hpp"
#include "litestage/experiment/time_breakdown.hpp"
#include "litestage/util/error.hpp"
#include "litestage/util/strings.hpp"
#include "litestage/util/yaml.hpp"
#include "litestage/util/yaml_schema.hpp"

namespace litestage::cli {
namespace {

namespace fs = std::filesystem;

// The files by which the other commands' runs are known: eval would overwrite their config.yaml.
constexpr const char* kOtherRunFiles[] = {"fingerprint.json", "budget_profile.yaml"};

// Every key of a YAML file's tree, dotted, with its value as text.
nlohmann::json flat_keys(const std::string& yaml_text) {
  return yaml_to_json(YamlNode::load_string(yaml_text).raw()).flatten();
}

// "data.limit (60 there, 2 now), generation.max_new_tokens (48 there, 20 now)".
std::string differing_keys(const std::string& before, const std::string& now) {
  const auto a = flat_keys(before), b = flat_keys(now);
  std::vector<std::string> keys;
  auto text = [](const nlohmann::json& j, const std::string& k) -> std::string {
    if (!j.contains(k)) return "absent";
    return j[k].is_string() ? j[k].get<std::string>() : j[k].dump();
  };
  for (const auto& side : {a, b})
    for (const auto& [k, v] : side.items())
      if (text(a, k) != text(b, k)) {
        std::string key = k.substr(1);
        for (auto& c : key) c = c == '/' ? '.' : c;
        std::string entry = key + " (" + text(a, k) + " there, " + text(b, k) + " now)";
        if (std::find(keys.begin(), keys.end(), entry) == keys.end()) keys.push_back(entry);
      }
  return join(keys, ", ");
}

// Refuses, before any work, an output_dir that holds another command's run, or (with --resume) an
// eval of other settings, naming what differs.
void check_eval_dir(const ExperimentSpec& spec, bool resume) {
  const fs::path dir = spec.output_dir;
  for (const char* file : kOtherRunFiles)
    if (fs::exists(dir / file))
      throw_error("output_dir '", dir.string(), "' holds another command's run (", file, "); eval would overwrite ",
                  "its config.yaml: choose another, e.g. --set output_dir=", (dir / "eval").string());
  const fs::path config = dir / "config.yaml";
  if (!resume || !fs::exists(dir / "traces.jsonl") || !fs::exists(config)) return;
  const std::string before = read_file(config.string()), now = experiment_yaml(spec);
  if (before != now)
    throw_error("cannot resume in '", dir.string(), "': settings differ from its config.yaml: ",
                differing_keys(before, now), "; rerun with the same settings, or choose another output_dir");
}

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
  if (dist::is_root()) check_eval_dir(spec, resume);
  Session session(spec);
  announce_runtime(session.runtime());
  auto result = run_eval(session, resume);
  if (!dist::is_root()) return 0;  // rank 0 wrote the results
  if (result.resumed > 0)
    std::cout << "resumed: " << result.resumed << " of " << result.traces.size() << " examples from the earlier run\n";
  std::cout << read_file(spec.output_dir + "/summary.md") << "\nresults in " << spec.output_dir << "/\n";
  return 0;
}

LITESTAGE_COMMAND("eval", "evaluate an experiment's multi-stage pipeline (YAML)", run_eval_command);

}  // namespace
}  // namespace litestage::cli
