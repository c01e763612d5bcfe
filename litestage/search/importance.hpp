#pragma once
// Sub-layer importance (LiteStage step 1). During the prefill of every stage the observer measures,
// per decoder layer, cos(x, x + Attn(norm(x))) for the attention sub-layer and cos(h, h +
// FFN(norm(h))) for the FFN, pooled over tokens (mean, or the last token), averaged over the
// stage's calls and the calibration examples, then accumulated across stages (sum or mean). High
// similarity = the sub-layer barely changes the residual stream = skipped first.
//
// The same pass records ShortGPT's Block Influence, 1 - cos(block input, block output), and the
// token-weighted pooled similarity the AdaSkip-style baseline ranks by.

#include <array>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "litestage/data/example.hpp"
#include "litestage/data/stage_records.hpp"
#include "litestage/model/observer.hpp"
#include "litestage/reasoning/pipeline.hpp"
#include "litestage/util/yaml_schema.hpp"

namespace litestage {

enum class TokenPooling { Mean, Last };
const EnumNames<TokenPooling>& token_pooling_names();  // "mean" | "last"
enum class StageAccumulation { Sum, Mean };
const EnumNames<StageAccumulation>& stage_accumulation_names();  // "sum" | "mean"

struct ImportanceSettings {
  TokenPooling pooling = TokenPooling::Mean;
  StageAccumulation accumulate = StageAccumulation::Sum;
};

struct StageImportance {
  std::vector<double> attn, ffn;   // (layers) mean cos(in, out) over the stage's calls
  std::vector<double> block;       // (layers) mean cos(block in, block out)
  int calls = 0;
};

struct ImportanceResult {
  int layers = 0;
  int examples = 0;
  ImportanceSettings settings;
  PerStage<StageImportance> stages;  // a stage that was never prefilled has empty vectors
  std::vector<double> attn, ffn;   // accumulated across stages (the ranking key)
  std::vector<double> block;       // accumulated block cos
  // Token-weighted cos over every prefill token of every stage (AdaSkip-style, stage-agnostic).
  std::vector<double> pooled_attn, pooled_ffn;

  // All 2L sub-layers, most redundant (highest accumulated cos) first; ties by layer, attn first.
  std::vector<SubLayer> ranking() const;
  std::vector<StageKind> measured_stages() const;  // those with measurements, in running order
  // Blocks by Block Influence (1 - accumulated block cos), least influential first.
  std::vector<int> block_ranking() const;
  double score(const SubLayer& s) const;
};

void to_json(nlohmann::json& j, const ImportanceResult& r);
void from_json(const nlohmann::json& j, ImportanceResult& r);

// Observer state: feed it events while `stage` is the current stage; finish() averages. The sums
// are kept per example and folded into the totals in example order (take_example / add), so the
// result does not depend on how the examples were spread over processes.
class ImportanceAccumulator {
 public:
  ImportanceAccumulator(int layers, ImportanceSettings settings);
  void set_stage(StageKind stage);  // also counts one generate call of that stage
  void observe(const SubLayerEvent& event);
  // The sums observed since the last call, as a flat vector, and cleared.
  std::vector<double> take_example();
  // Folds one example's sums (take_example's vector) into the totals.
  void add(const std::vector<double>& example);
  // The totals, with anything observed but not yet taken folded in.
  ImportanceResult finish(int examples) const;
  SubLayerObserver observer();

 private:
  struct Sums {
    std::vector<double> attn, ffn, block;
    std::vector<double> attn_n, ffn_n, block_n;
    double calls = 0;
  };
  struct Tally {
    PerStage<Sums> stages;
    std::vector<double> tok_attn, tok_ffn;  // sums of per-token cos
    double tok_attn_n = 0, tok_ffn_n = 0;
    std::vector<double*> fields();          // every number, in a fixed order
  };
  Tally empty_tally() const;
  int layers_;
  ImportanceSettings settings_;
  StageKind stage_ = StageKind::Recall;
  Tally example_, total_;
  std::vector<at::Tensor> block_input_;     // attention input per layer, for Block Influence
};

// Runs the full model (the pipeline's stages, no skipping) over the examples with the observer on.
ImportanceResult estimate_importance(Generator& generator, PipelineConfig full_pipeline,
                                     const std::vector<Example>& examples, const ImportanceSettings& settings,
                                     bool progress = true);

}  // namespace litestage
