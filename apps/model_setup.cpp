#include "model_setup.hpp"

#include <iostream>

#include "litestage/kernels/blas.hpp"
#include "litestage/kernels/weight_memory.hpp"
#include "litestage/util/malloc_reuse.hpp"

namespace litestage::cli {

Runtime setup_runtime(const RuntimeRequest& options) {
  set_threads(options.threads);
  Runtime rt = make_runtime(options.device, options.dtype);
  announce_runtime(rt);
  return rt;
}

void announce_runtime(const Runtime& runtime) {
  std::cerr << "runtime: " << runtime_description(runtime) << "\n";
  if (runtime.device.is_cuda()) return;
  const std::string warning = blas_kernel_warning(loaded_blas(), host_cpu_info());
  if (!warning.empty()) std::cerr << "litestage: warning: " << warning << "\n";
}

std::string memory_description() {
  const int64_t huge = process_huge_page_bytes();
  char mb[64] = "";
  if (huge >= 0) std::snprintf(mb, sizeof mb, ", %.1f MB of this process on 2 MB pages", huge / 1e6);
  return "memory pages: transparent huge pages '" + transparent_huge_page_mode() + "'" + mb +
         " (weights and the read pass are mapped for them)\nmemory reuse: " + keep_freed_memory().detail + "\n";
}

LoadedModel load_model_and_tokenizer(const std::string& model_dir, const std::string& tokenizer_dir,
                                     const Runtime& runtime, bool need_tokenizer) {
  check_path(model_dir, PathUse::InputDir, "--model");
  if (!tokenizer_dir.empty()) check_path(tokenizer_dir, PathUse::InputDir, "--tokenizer");
  LoadedModel out;
  out.model = load_causal_lm(model_dir, runtime);
  if (need_tokenizer) out.tokenizer = load_tokenizer(tokenizer_dir.empty() ? model_dir : tokenizer_dir);
  return out;
}

}  // namespace litestage::cli
