#pragma once
// BudgetProfile: the deployable result of LiteStage's offline configuration — per-stage skipped
// sub-layers and early-exit settings for one model, with the model's identity, the data it was
// searched on, the importance ranking and the measured accuracy/latency. YAML on disk
// (docs/budget-profile.md). Applying a profile to a different model is refused unless forced.

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "litestage/data/dataset.hpp"
#include "litestage/data/stage_records.hpp"
#include "litestage/generate/early_exit.hpp"
#include "litestage/model/config.hpp"
#include "litestage/model/skip_plan.hpp"
#include "litestage/search/importance.hpp"
#include "litestage/search/method.hpp"
#include "litestage/util/yaml_schema.hpp"

namespace litestage {

struct ModelIdentity {
  std::string path;
  std::string model_type;
  int layers = 0;
  std::string config_hash;   // XXH64 of the canonical config JSON (ModelConfig::to_json)
  std::string weights_hash;  // io::Checkpoint::digest() of the tensor files
  bool operator==(const ModelIdentity& o) const {
    return config_hash == o.config_hash && weights_hash == o.weights_hash;
  }
};

// Identity of a checkpoint directory (reads every weight byte once to hash it).
ModelIdentity identify_model(const std::filesystem::path& dir);

struct StageBudget {
  int k = 0;                      // sub-layers skipped (a prefix of the ranking for LiteStage)
  SkipPlan skip;
  EarlyExitConfig early_exit;
  std::optional<int> max_new_tokens;

  bool operator==(const StageBudget& o) const {
    return k == o.k && skip == o.skip && early_exit == o.early_exit && max_new_tokens == o.max_new_tokens;
  }
};

struct BudgetProfile {
  static constexpr const char* kFormat = "litestage-budget-profile/1";
  std::string format = kFormat;
  std::string created;           // ISO-8601 UTC
  Method method = Method::LiteStage;
  ModelIdentity model;
  std::string tokenizer;
  SplitInfo search_split;        // the data the search measured on
  TokenPooling pooling = TokenPooling::Mean;               // the importance settings of `ranking`
  StageAccumulation accumulate = StageAccumulation::Sum;
  std::vector<SubLayer> ranking; // most redundant first
  PerStage<StageBudget> stages;
  double epsilon = 0;
  double full_accuracy = 0;
  double target_accuracy = 0;
  double accuracy = 0;           // measured with this profile on the search split
  double full_latency = 0;       // mean seconds per question
  double latency = 0;
  double speedup() const { return latency > 0 ? full_latency / latency : 0; }
  std::map<std::string, std::string> settings;  // every other choice the search made, recorded

  // XXH64 over what the search decided and from what: method, model hashes, search split ids,
  // ranking, ε and the accuracies, and every stage's k, plan and early exit — not the timestamp or
  // the measured latencies. Two runs that chose the same profile have the same decision hash.
  std::string decision_hash() const;
};

void save_profile(const BudgetProfile& profile, const std::filesystem::path& file);
BudgetProfile load_profile(const std::filesystem::path& file);  // errors name file and key path
// The file's keys, read and written through the option table (util/yaml_schema.hpp).
const std::vector<Option<BudgetProfile>>& profile_options();
std::string profile_text(const BudgetProfile& profile);          // human summary for `profile show`

// Throws unless `actual` is the profile's model (config and weights hashes), or force is set
// (then it only checks the layer count, which a plan cannot do without).
void check_profile_model(const BudgetProfile& profile, const ModelIdentity& actual, bool force);

std::string utc_timestamp();

class YamlNode;
}  // namespace litestage
namespace YAML {
class Node;
}
namespace litestage {
// An early_exit mapping {enabled, window, threshold, metric}; keys not given keep `base`'s values.
// Shared by experiment files and profiles.
EarlyExitConfig parse_early_exit_yaml(const YamlNode& node, EarlyExitConfig base);
YAML::Node early_exit_yaml(const EarlyExitConfig& config);

}  // namespace litestage
