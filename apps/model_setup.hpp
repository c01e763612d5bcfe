#pragma once
// Loading what the model-running subcommands share: runtime (device/dtype/threads), the model
// and its tokenizer.

#include <memory>
#include <string>

#include "litestage/model/causal_lm.hpp"
#include "litestage/tokenizer/tokenizer.hpp"
#include "options.hpp"

namespace litestage::cli {

// Applies --threads and parses --device/--dtype; announces the result (announce_runtime).
Runtime setup_runtime(const RuntimeRequest& options);
// One line on stderr: device, dtype and why, threads, BLAS kernels, CPU features; and a warning
// with the fix when OpenBLAS runs kernels weaker than the CPU supports.
void announce_runtime(const Runtime& runtime);

// How memory is paged (huge pages for the weights) and reused (freed memory kept): two lines.
std::string memory_description();

struct LoadedModel {
  CausalLM model{nullptr};
  std::shared_ptr<Tokenizer> tokenizer;
};

// Model from --model DIR; tokenizer from --tokenizer DIR when given, else the model directory.
LoadedModel load_model_and_tokenizer(const std::string& model_dir, const std::string& tokenizer_dir,
                                     const Runtime& runtime, bool need_tokenizer = true);

}  // namespace litestage::cli
