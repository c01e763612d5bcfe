// litestage env: what a run on this machine would use, without loading a model: the build, the
// runtime line every model-running command announces (device, dtype and why, threads, BLAS
// kernels, CPU features) and how memory is paged and reused. The first thing to attach to a
// report of a slow or odd run.

#include <iostream>

#include <torch/version.h>

#include "command.hpp"
#include "litestage/kernels/blas.hpp"
#include "litestage/util/provenance.hpp"
#include "model_setup.hpp"

namespace litestage::cli {
namespace {

int run_env(const std::vector<std::string>& args) {
  po::options_description desc("env options");
  add_runtime_options(desc);
  po::variables_map vm;
  if (auto rc = parse_options("env", "[--device D] [--dtype T] [--threads N]", desc, args, vm)) return *rc;
  const RuntimeRequest options = runtime_options(vm);
  set_threads(options.threads);
  const Runtime rt = make_runtime(options.device, options.dtype);
  const auto& b = build_info();
  std::cout << "litestage: " << b.version << " (commit " << b.commit << ", LibTorch " << TORCH_VERSION << ", "
            << b.build_type << " build)\n"
            << "runtime: " << runtime_description(rt) << "\n";
  if (rt.device.is_cpu()) {
    const std::string warning = blas_kernel_warning(loaded_blas(), host_cpu_info());
    if (!warning.empty()) std::cout << "warning: " << warning << "\n";
    std::cout << memory_description();
  }
  return 0;
}

LITESTAGE_COMMAND("env", "the build and runtime this machine gives a run: device, dtype, threads, BLAS, CPU, memory",
                  run_env);

}  // namespace
}  // namespace litestage::cli
