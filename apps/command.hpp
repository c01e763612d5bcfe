#pragma once
// Subcommand registry. Each apps/cmd_<name>.cpp defines one subcommand and registers it with
// LITESTAGE_COMMAND; main.cpp dispatches on argv[1]. Subcommands parse their own options with
// Boost.Program_options (see options.hpp) and return the process exit code.

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace litestage::cli {

// What a command asks of the process around it (bits).
enum CommandTraits : unsigned {
  kOneProcess = 0,
  kDistributed = 1,    // spreads its questions over the ranks of a multi-process launch
  kInterruptible = 2,  // its loops stop at an interrupt, finishing the files they write
};

struct Command {
  std::string name;
  std::string summary;
  // args excludes the program name and the subcommand name.
  std::function<int(const std::vector<std::string>& args)> run;
  unsigned traits = kOneProcess;
};

std::map<std::string, Command>& registry();

struct Registrar {
  Registrar(std::string name, std::string summary, std::function<int(const std::vector<std::string>&)> run,
            unsigned traits = kOneProcess);
};

}  // namespace litestage::cli

#define LITESTAGE_CONCAT_INNER(a, b) a##b
#define LITESTAGE_CONCAT(a, b) LITESTAGE_CONCAT_INNER(a, b)
#define LITESTAGE_COMMAND(name, summary, fn) \
  static ::litestage::cli::Registrar LITESTAGE_CONCAT(litestage_registrar_, __LINE__)(name, summary, fn)
// A command that runs distributed and stops at an interrupt (the evaluation commands).
#define LITESTAGE_DISTRIBUTED_COMMAND(name, summary, fn)                                          \
  static ::litestage::cli::Registrar LITESTAGE_CONCAT(litestage_registrar_, __LINE__)(name, summary, fn, \
      ::litestage::cli::kDistributed | ::litestage::cli::kInterruptible)
// A single-process command that stops at an interrupt.
#define LITESTAGE_INTERRUPTIBLE_COMMAND(name, summary, fn) \
  static ::litestage::cli::Registrar LITESTAGE_CONCAT(litestage_registrar_, __LINE__)(name, summary, fn, \
      ::litestage::cli::kInterruptible)
