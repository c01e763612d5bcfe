#include "options.hpp"

#include <algorithm>
#include <iostream>

#include "litestage/experiment/spec.hpp"
#include "litestage/model/runtime.hpp"
#include "litestage/util/yaml_schema.hpp"

namespace litestage::cli {

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
      std::cout << "usage: litestage " << command << " " << usage << "\n\n" << all << "\n";
      return 0;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "litestage " << command << ": " << e.what() << "\n"
              << "usage: litestage " << command << " " << usage << "\n"
              << "(see 'litestage " << command << " --help')\n";
    return 2;
  }
  return std::nullopt;
}

void add_runtime_options(po::options_description& desc, const std::string& default_dtype) {
  desc.add_options()
      ("device", po::value<std::string>()->default_value("cpu"), "cpu or cuda[:N]")
      ("dtype", po::value<std::string>()->default_value(default_dtype),
       ("f32, bf16 or f16 (auto: bf16 on CUDA, with AMX, and with AVX512-BF16 where a probe measures it " +
        shortest_number_text(kAutoBf16Gain) + "x f32's speed; else f32)").c_str())
      ("threads", po::value<int>()->default_value(0), "intra-op CPU threads (0 = all cores)");
}

RuntimeOptions runtime_options(const po::variables_map& vm) {
  RuntimeOptions r;
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
      ("list-options", "print every experiment key (type, default, meaning) and exit");
  if (extra) desc.add(*extra);
  if (std::find(args.begin(), args.end(), "--list-options") != args.end()) {
    std::cout << list_options(option_infos(experiment_options()));
    return 0;
  }
  po::positional_options_description pos;
  pos.add("experiment", 1);
  std::string usage = "EXPERIMENT.yaml [--set key=value ...]";
  if (!extra_usage.empty()) usage += " " + extra_usage;
  if (auto rc = parse_options(command, usage, desc, args, out.vm, &pos)) return rc;
  out.file = out.vm["experiment"].as<std::string>();
  if (out.vm.count("set")) out.sets = out.vm["set"].as<std::vector<std::string>>();
  return std::nullopt;
}

}  // namespace litestage::cli
