#include "model_setup.hpp"

namespace litestage::cli {

Runtime setup_runtime(const RuntimeOptions& options) {
  set_threads(options.threads);
  return make_runtime(options.device, options.dtype);
}

LoadedModel load_model_and_tokenizer(const std::string& model_dir, const std::string& tokenizer_dir,
                                     const Runtime& runtime, bool need_tokenizer) {
  LoadedModel out;
  out.model = load_causal_lm(model_dir, runtime);
  if (need_tokenizer) out.tokenizer = load_tokenizer(tokenizer_dir.empty() ? model_dir : tokenizer_dir);
  return out;
}

}  // namespace litestage::cli
