#include "options.hpp"

#include <algorithm>
#include <iostream>

#include "litestage/experiment/spec.hpp"
#include "litestage/kernels/runtime.hpp"
#include "litestage/util/error.hpp"
#include "litestage/util/yaml_schema.hpp"

namespace litestage::cli {

namespace {

bool is_positional(const std::string& name, const po::positional_options_description* positional) {
  if (!positional) return false;
  for (unsigned i = 0; i < positional->max_total_count() && i < 16; ++i)
    if (positional->name_for_position(i) == name) return true;
  return false;
}

// The options --help lists: the usage line shows the positional arguments, so they are left out.
po::options_description visible_options(const std::string& command, const po::options_description& all,
                                        const po::positional_options_description* positional) {
  po::options_description shown(command + " options");
  for (const auto& o : all.options())
    if (!is_positional(o->long_name(), positional)) shown.add(o);
  return shown;
}

// A usage error in the user's terms: a missing positional argument by its place in the usage line.
std::string usage_error(const po::error& e, const po::positional_options_description* positional) {
  if (const auto* missing = dynamic_cast<const po::required_option*>(&e)) {
    std::string name = missing->get_option_name();
    if (name.rfind("--", 0) == 0) name = name.substr(2);
    if (is_positional(name, positional)) return "missing argument: " + name + " (see the usage line)";
  }
  return e.what();
}

}  // namespace

std::optional<int> parse_options(const std::string& command, const std::string& usage,
                                 const po::options_description& desc, const std::vector<std::string>& args,
                                 po::variables_map& vm, const po::positional_options_description* positional) {
  po::options_description all(desc);
  all.add_options()("help,h", "show this help");
  try {
    auto parser = po::command_line_parser(args).options(all);
    if (positional) parser.positional(*positional);
    po::store(parser.run(), vm);
    if (vm.count("help")) {
      std::cout << "usage: litestage " << command << " " << usage << "\n\n"
                << visible_options(command, all, positional) << "\n";
      return 0;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "litestage " << command << ": " << usage_error(e, positional) << "\n"
              << "usage: litestage " << command << " " << usage << "\n"
              << "(see 'litestage " << command << " --help')\n";
    return 2;
  }
  return std::nullopt;
}

void check_path(const std::string& path, PathUse use, const std::string& flag) {
  if (auto why = path_problem(path, use); !why.empty()) throw_error(flag, " '", path, "' ", why);
}

void add_runtime_options(po::options_description& desc, const std::string& default_dtype) {
  desc.add_options()
      ("device", po::value<std::string>()->default_value(RuntimeRequest{}.device), "cpu or cuda[:N]")
      ("dtype", po::value<std::string>()->default_value(default_dtype),
       ("f32, bf16 or f16 (auto: bf16 on CUDA, with AMX, and with AVX512-BF16 where a probe measures it " +
        shortest_number_text(kAutoBf16Gain) + "x f32's speed; else f32)").c_str())
      ("threads", po::value<int>()->default_value(RuntimeRequest{}.threads), "intra-op CPU threads (0 = all cores)");
}

RuntimeRequest runtime_options(const po::variables_map& vm) {
  RuntimeRequest r;
  r.device = vm["device"].as<std::string>();
  r.dtype = vm["dtype"].as<std::string>();
  r.threads = vm["threads"].as<int>();
  return r;
}

std::optional<int> parse_experiment_args(const std::string& command, const std::vector<std::string>& args,
                                         ExperimentArgs& out, const po::options_description* extra,
                                         const std::string& extra_usage) {
  po::options_description desc(command + " options");
  desc.add_options()
      ("experiment", po::value<std::string>()->required(), "experiment YAML file")
      ("set", po::value<std::vector<std::string>>()->composing(), "override a key: --set data.limit=20 (repeatable)")
      ("threads", po::value<std::string>()->value_name("N"), "shorthand for --set runtime.threads=N (0: one per core)")
      ("limit", po::value<std::string>()->value_name("N"), "shorthand for --set data.limit=N")
      ("list-options", "print every experiment key (type, default, meaning) and exit");
  if (extra) desc.add(*extra);
  if (std::find(args.begin(), args.end(), "--list-options") != args.end()) {
    std::cout << list_options(option_infos(experiment_options()));
    return 0;
  }
  po::positional_options_description pos;
  pos.add("experiment", 1);
  std::string usage = "EXPERIMENT.yaml [--set key=value ...] [--threads N] [--limit N]";
  if (!extra_usage.empty()) usage += " " + extra_usage;
  if (auto rc = parse_options(command, usage, desc, args, out.vm, &pos)) return rc;
  out.file = out.vm["experiment"].as<std::string>();
  if (out.vm.count("set")) out.sets = out.vm["set"].as<std::vector<std::string>>();
  // Applied after the --set ones, checked as they are (an error names the key).
  for (const auto& [flag, key] : {std::pair{"threads", "runtime.threads"}, std::pair{"limit", "data.limit"}})
    if (out.vm.count(flag)) out.sets.push_back(std::string(key) + "=" + out.vm[flag].as<std::string>());
  return std::nullopt;
}

}  // namespace litestage::cli
