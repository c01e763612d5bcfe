// The `litestage` command: dispatches to the registered subcommands.

#include <unistd.h>

#include <cstdlib>
#include <exception>
#include <iostream>

#include <c10/util/Exception.h>

#include "command.hpp"
#include "litestage/dist/dist.hpp"
#include "litestage/model/blas.hpp"
#include "litestage/util/error.hpp"
#include "litestage/util/malloc_reuse.hpp"

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

// The commands that spread their questions over the ranks of a multi-process launch.
bool runs_distributed(const std::string& name) {
  return name == "run" || name == "reproduce" || name == "search" || name == "importance" || name == "eval";
}

// Joins the world the launcher described (torchrun, srun, a shell loop); a world of 1 is a no-op.
void join_world(const std::string& name) {
  const auto launch = litestage::dist::launch_from_env();
  if (launch.world_size > 1 && !runs_distributed(name))
    litestage::throw_error("WORLD_SIZE is ", launch.world_size, " but 'litestage ", name,
                           "' runs as one process (run, reproduce, search, importance and eval run distributed)");
  litestage::dist::init(launch);
}

int fail(const std::string& name, const std::string& message) {
  namespace dist = litestage::dist;
  std::string where = dist::active() ? " [rank " + std::to_string(dist::rank()) + "]" : "";
  std::fprintf(dist::error_stream(), "litestage %s%s: error: %s\n", name.c_str(), where.c_str(), message.c_str());
  std::fflush(dist::error_stream());
  dist::abort(message);
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  ensure_blas_kernels(argv);
  litestage::keep_freed_memory();
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
    join_world(name);
    const int rc = it->second.run(args);
    litestage::dist::finalize();
    return rc;
  } catch (const c10::Error& e) {
    // LibTorch's own checks (shapes, kernels): the message without its C++ backtrace.
    return fail(name, e.what_without_backtrace());
  } catch (const std::exception& e) {
    return fail(name, e.what());
  }
}
