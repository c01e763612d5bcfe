// The `litestage` command: dispatches to the registered subcommands.

#include <exception>
#include <iostream>

#include <c10/util/Exception.h>

#include "command.hpp"
#include "litestage/util/error.hpp"

namespace litestage::cli {

std::map<std::string, Command>& registry() {
  static std::map<std::string, Command> commands;
  return commands;
}

Registrar::Registrar(std::string name, std::string summary,
                     std::function<int(const std::vector<std::string>&)> run) {
  auto key = name;
  registry()[key] = Command{std::move(name), std::move(summary), std::move(run)};
}

}  // namespace litestage::cli

namespace {

void print_usage(std::ostream& out) {
  out << "usage: litestage <command> [options]\n\ncommands:\n";
  for (const auto& [name, cmd] : litestage::cli::registry()) {
    out << "  " << name << std::string(name.size() < 12 ? 12 - name.size() : 1, ' ') << cmd.summary << "\n";
  }
  out << "\n'litestage <command> --help' describes a command's options.\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    print_usage(std::cerr);
    return 2;
  }
  std::string name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    print_usage(std::cout);
    return 0;
  }
  auto& commands = litestage::cli::registry();
  auto it = commands.find(name);
  if (it == commands.end()) {
    std::cerr << "litestage: unknown command '" << name << "'\n";
    print_usage(std::cerr);
    return 2;
  }
  std::vector<std::string> args(argv + 2, argv + argc);
  try {
    return it->second.run(args);
  } catch (const c10::Error& e) {
    // LibTorch's own checks (shapes, kernels): the message without its C++ backtrace.
    std::cerr << "litestage " << name << ": error: " << e.what_without_backtrace() << "\n";
    return 1;
  } catch (const litestage::Error& e) {
    std::cerr << "litestage " << name << ": error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "litestage " << name << ": error: " << e.what() << "\n";
    return 1;
  }
}
