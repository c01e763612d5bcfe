// The `litestage` command: dispatches to the registered subcommands.

#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <exception>
#include <iostream>

#include <c10/util/Exception.h>
#include <torch/version.h>

#include "command.hpp"
#include "litestage/dist/dist.hpp"
#include "litestage/kernels/blas.hpp"
#include "litestage/synthetic/task.hpp"
#include "litestage/util/error.hpp"
#include "litestage/util/malloc_reuse.hpp"
#include "litestage/util/progress.hpp"
#include "litestage/util/provenance.hpp"
#include "litestage/util/strings.hpp"

namespace litestage::cli {

std::map<std::string, Command>& registry() {
  static std::map<std::string, Command> commands;
  return commands;
}

Registrar::Registrar(std::string name, std::string summary, std::function<int(const std::vector<std::string>&)> run,
                     unsigned traits) {
  auto key = name;
  registry()[key] = Command{std::move(name), std::move(summary), std::move(run), traits};
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

// Joins the world the launcher described (torchrun, srun, a shell loop); a world of 1 is a no-op.
void join_world(const litestage::cli::Command& command) {
  const auto launch = litestage::dist::launch_from_env();
  if (launch.world_size > 1 && !(command.traits & litestage::cli::kDistributed)) {
    std::vector<std::string> distributed;
    for (const auto& [name, cmd] : litestage::cli::registry())
      if (cmd.traits & litestage::cli::kDistributed) distributed.push_back(name);
    litestage::throw_error("WORLD_SIZE is ", launch.world_size, " but 'litestage ", command.name,
                           "' runs as one process (", litestage::join(distributed, ", "), " run distributed)");
  }
  litestage::dist::init(launch);
}

// Edit distance (optimal string alignment): how many insertions, deletions, substitutions and
// swaps of neighbours turn a into b ("evla" is 1 from "eval").
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i)
    for (size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1])});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

// The command nearest to a mistyped name, when it is a plausible typo (at most 2 edits, and fewer
// than half the name's letters); "" otherwise.
std::string nearest_command(const std::string& name) {
  std::string best;
  size_t best_distance = 3;
  for (const auto& [candidate, cmd] : litestage::cli::registry()) {
    const size_t d = edit_distance(name, candidate);
    if (d < best_distance && 2 * d < std::max(name.size(), candidate.size())) {
      best = candidate;
      best_distance = d;
    }
  }
  return best;
}

void print_version() {
  const auto& b = litestage::build_info();
  std::cout << "litestage " << b.version << "\ncommit: " << b.commit << "\nLibTorch: " << TORCH_VERSION
            << "\nbuild: " << b.build_type << "\n";
}

// Ctrl-C in the commands whose loops report progress: the run stops between two items
// (util/progress.hpp), its finished work saved; a second Ctrl-C ends the process at once.
void on_interrupt(int) {
  litestage::request_interrupt();
  static const char note[] = "\nlitestage: stopping after the current item (Ctrl-C again to stop at once)\n";
  (void)!write(STDERR_FILENO, note, sizeof note - 1);
}

void install_interrupt_handler() {
  struct sigaction sa {};
  sa.sa_handler = on_interrupt;
  sa.sa_flags = SA_RESETHAND;  // the second SIGINT takes the default action
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
}

// What an interrupted command tells its user: how much was kept and how to go on.
std::string interrupted_message(const std::string& name, const litestage::Interrupted& e) {
  const std::string counts = std::to_string(e.done) + " of " + std::to_string(e.total);
  if (name == "eval") return "interrupted: " + counts + " saved; rerun with --resume";
  return "interrupted in " + e.label + " (" + counts + "); rerun the same command to continue (finished steps are kept)";
}

int fail(const std::string& name, const std::string& message, const char* kind = "error: ") {
  namespace dist = litestage::dist;
  std::string where = dist::active() ? " [rank " + std::to_string(dist::rank()) + "]" : "";
  std::fprintf(dist::error_stream(), "litestage %s%s: %s%s\n", name.c_str(), where.c_str(), kind, message.c_str());
  std::fflush(dist::error_stream());
  dist::abort(message);
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  ensure_blas_kernels(argv);
  litestage::keep_freed_memory();
  litestage::register_synthetic_dataset();  // `data.dataset: synthetic` for every command
  if (argc < 2) {
    print_usage(std::cerr);
    return 2;
  }
  std::string name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    print_usage(std::cout);
    return 0;
  }
  if (name == "--version" || name == "-V" || name == "version") {
    print_version();
    return 0;
  }
  auto& commands = litestage::cli::registry();
  auto it = commands.find(name);
  if (it == commands.end()) {
    std::cerr << "litestage: unknown command '" << name << "'";
    if (const auto near = nearest_command(name); !near.empty()) std::cerr << "; did you mean '" << near << "'?";
    std::cerr << "\n\n";
    print_usage(std::cerr);
    return 2;
  }
  litestage::set_command_line(argc, argv);
  if (it->second.traits & litestage::cli::kInterruptible) install_interrupt_handler();  // their loops stop on it
  std::vector<std::string> args(argv + 2, argv + argc);
  try {
    join_world(it->second);
    const int rc = it->second.run(args);
    litestage::dist::finalize();
    return rc;
  } catch (const litestage::Interrupted& e) {
    fail(name, interrupted_message(name, e), "");
    return 130;  // as a shell reports a SIGINT
  } catch (const c10::Error& e) {
    // LibTorch's own checks (shapes, kernels): the message without its C++ backtrace.
    return fail(name, e.what_without_backtrace());
  } catch (const std::exception& e) {
    return fail(name, e.what());
  }
}
