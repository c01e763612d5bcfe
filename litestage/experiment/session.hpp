#pragma once
// Session: what one experiment loads once and every evaluation reuses — runtime, model,
// tokenizer, generator, datasets — and the pipeline configuration its YAML describes.

#include <memory>
#include <optional>
#include <string>

#include "litestage/data/dataset.hpp"
#include "litestage/experiment/spec.hpp"
#include "litestage/generate/generator.hpp"
#include "litestage/reasoning/pipeline.hpp"
#include "litestage/search/profile.hpp"

namespace litestage {

// Bumped when what an output directory holds changes shape (traces with costs, timed latencies,
// short-forward FLOPs): an older directory is refused rather than mixed.
constexpr int kOutputFormat = 5;

class Session {
 public:
  explicit Session(ExperimentSpec spec);

  const ExperimentSpec& spec() const { return spec_; }
  CausalLM& model() { return model_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  std::shared_ptr<Tokenizer> tokenizer_ptr() const { return tokenizer_; }
  Generator& generator() { return *generator_; }
  const Runtime& runtime() const { return runtime_; }
  int num_layers() const { return model_->num_layers(); }

  // The pipeline as the YAML describes it: stage skips from `stages` or the budget profile.
  PipelineConfig pipeline_config() const { return pipeline_; }
  // The same without any skipping or early exit: the full model.
  PipelineConfig full_pipeline_config() const;
  const std::optional<BudgetProfile>& profile() const { return profile_; }

  // A split of the experiment's dataset ("test", "calibration", ...); limit overrides the YAML's
  // limit when given, and offset/limit of the YAML apply to the experiment's own split only.
  Dataset dataset(const std::string& split, std::optional<size_t> limit = std::nullopt) const;
  // A split's identity by content: its example ids and the XXH64 of every file it was read from.
  static nlohmann::json data_fingerprint(const SplitInfo& info);

  // Model identity (hashes every weight byte once; cached).
  const ModelIdentity& identity();

  // What a result of this session depends on beyond the experiment's keys, by content, not by
  // path: the checkpoint's config and weight hashes, the tokenizer files' digests, the device, the
  // dtype and the CPU kernels chosen (vector ISA, native bf16 products), which can change outputs.
  nlohmann::json content_fingerprint();
  // Every setting that changes a result on the experiment's own split: the declared keys that do,
  // the content fingerprint, the threads and the split's identity (what a run directory is claimed
  // for; the workflow adds its search split).
  nlohmann::json result_fingerprint();

 private:
  ExperimentSpec spec_;
  Runtime runtime_;
  CausalLM model_{nullptr};
  std::shared_ptr<Tokenizer> tokenizer_;
  std::unique_ptr<Generator> generator_;
  PipelineConfig pipeline_;
  std::optional<BudgetProfile> profile_;
  std::optional<ModelIdentity> identity_;
};

}  // namespace litestage
