#pragma once
// Shared option handling for subcommands: parsing with a clear error on bad input, --help,
// and the runtime options (device, dtype, threads) every model-running command takes.

#include <boost/program_options.hpp>
#include <optional>
#include <string>
#include <vector>

#include "litestage/kernels/runtime.hpp"
#include "litestage/util/paths.hpp"

namespace litestage::cli {

namespace po = boost::program_options;

// Parses args into vm. Returns an exit code when the command should stop now: 0 after
// printing --help, 2 after printing a usage error. nullopt means carry on.
std::optional<int> parse_options(const std::string& command, const std::string& usage,
                                 const po::options_description& desc, const std::vector<std::string>& args,
                                 po::variables_map& vm,
                                 const po::positional_options_description* positional = nullptr);

// Refuses, naming `flag`, a path that cannot serve `use` (util/paths.hpp): "--out 'x' is a directory; ...".
void check_path(const std::string& path, PathUse use, const std::string& flag);

// --device, --dtype, --threads, with RuntimeRequest's defaults; `logits` asks for f32 (it is compared
// with reference logits).
void add_runtime_options(po::options_description& desc, const std::string& default_dtype = RuntimeRequest{}.dtype);
RuntimeRequest runtime_options(const po::variables_map& vm);

// The commands that take an experiment: `EXPERIMENT.yaml [--set key=value ...]` plus, optionally,
// the command's own options (`extra`, read back from `vm`).
struct ExperimentArgs {
  std::string file;
  std::vector<std::string> sets;
  po::variables_map vm;
};
std::optional<int> parse_experiment_args(const std::string& command, const std::vector<std::string>& args,
                                         ExperimentArgs& out, const po::options_description* extra = nullptr,
                                         const std::string& extra_usage = "");

}  // namespace litestage::cli
