// The `litestage` command: dispatches to the registered subcommands.

#include <unistd.h>

#include <cstdlib>
#include <exception>
#include <iostream>

#include <c10/util/Exception.h>

#include "command.hpp"
#include "litestage/model/blas.hpp"
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

// OpenBLAS picks its kernels when it loads, before main(). When it picked generic ones on a CPU
// with AVX2 or AVX-512 and the user named no kernel set, run this same command again with
// OPENBLAS_CORETYPE set (once: the re-run finds it set). Measured on a Sapphire Rapids Xeon:
// 2048^2 f32 GEMM 30-37 GFLOP/s with Prescott kernels, ~200 with SkylakeX ones.
void ensure_blas_kernels(char** argv) {
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr) return;  // the user's choice, or the re-run
  const litestage::BlasInfo blas = litestage::loaded_blas();
  if (!blas.openblas) return;
  const std::string better = litestage::better_openblas_core(litestage::host_cpu_info(), blas.core);
  if (better.empty()) return;
  setenv("OPENBLAS_CORETYPE", better.c_str(), 1);
  execv("/proc/self/exe", argv);
  unsetenv("OPENBLAS_CORETYPE");  // exec failed: carry on with the slow kernels, and say so
  std::cerr << "litestage: warning: " << litestage::blas_kernel_warning(blas, litestage::host_cpu_info()) << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  ensure_blas_kernels(argv);
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
