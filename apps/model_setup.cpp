#include "model_setup.hpp"

#include <iostream>

#include "litestage/model/blas.hpp"

namespace litestage::cli {

Runtime setup_runtime(const RuntimeOptions& options) {
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

LoadedModel load_model_and_tokenizer(const std::string& model_dir, const std::string& tokenizer_dir,
                                     const Runtime& runtime, bool need_tokenizer) {
  LoadedModel out;
  out.model = load_causal_lm(model_dir, runtime);
  if (need_tokenizer) out.tokenizer = load_tokenizer(tokenizer_dir.empty() ? model_dir : tokenizer_dir);
  return out;
}

}  // namespace litestage::cli
