#pragma once
// Subcommand registry. Each apps/cmd_<name>.cpp defines one subcommand and registers it with
// LITESTAGE_COMMAND; main.cpp dispatches on argv[1]. Subcommands parse their own options with
// Boost.Program_options (see options.hpp) and return the process exit code.

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace litestage::cli {

struct Command {
  std::string name;
  std::string summary;
  // args excludes the program name and the subcommand name.
  std::function<int(const std::vector<std::string>& args)> run;
};

std::map<std::string, Command>& registry();

struct Registrar {
  Registrar(std::string name, std::string summary,
            std::function<int(const std::vector<std::string>&)> run);
};

}  // namespace litestage::cli

#define LITESTAGE_CONCAT_INNER(a, b) a##b
#define LITESTAGE_CONCAT(a, b) LITESTAGE_CONCAT_INNER(a, b)
#define LITESTAGE_COMMAND(name, summary, fn) \
  static ::litestage::cli::Registrar LITESTAGE_CONCAT(litestage_registrar_, __LINE__)(name, summary, fn)
