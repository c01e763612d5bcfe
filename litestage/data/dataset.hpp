#pragma once
// Dataset splits and the load_dataset() entry point. The split rules (docs/datasets.md):
//   obqa        train/valid/test = official train/dev/test.jsonl (4957/500/500), file order.
//   csqa        test = official dev_rand_split.jsonl (1221); valid = 1221 examples drawn from
//               train_rand_split.jsonl with the seed; train = the rest of the official train.
//   strategyqa  strategyqa_train.json (2290) permuted with the seed, then cut
//               train = floor(n*8/10), valid = floor(n/10), test = the rest (1832/229/229).
//   calibration (any dataset) = the first calibration_size examples of the valid split permuted
//               with the seed: a subset of valid, hence disjoint from test by construction.
// Every split keeps source-file order; only membership is random. offset/limit then cut the split.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "litestage/data/example.hpp"
#include "litestage/data/json_records.hpp"

namespace litestage {

enum class Split { Train, Valid, Test, Calibration };

std::string_view to_string(Split split);
// "train", "valid" (or "validation"), "test", "calibration"; throws listing the names otherwise.
Split parse_split(std::string_view name);
// Every name parse_split accepts, in that order (for option choices and messages).
const std::vector<std::string>& split_names();

inline constexpr uint64_t kDefaultSplitSeed = 42;
inline constexpr size_t kDefaultCalibrationSize = 32;
inline constexpr size_t kCsqaValidSize = 1221;  // = size of the official CSQA dev set (TinyThinker)

struct LoadOptions {
  uint64_t seed = kDefaultSplitSeed;  // seeds every random split and the calibration draw
  size_t offset = 0;                  // skip this many examples of the split (past the end: an error)
  std::optional<size_t> limit;        // then keep at most this many
  size_t calibration_size = kDefaultCalibrationSize;
  bool skip_malformed = false;        // see ReadOptions
};

// Everything needed to reproduce (and to audit) the examples a run used; results record it.
struct SplitInfo {
  std::string dataset;
  std::string split;
  uint64_t seed = kDefaultSplitSeed;
  size_t offset = 0;
  std::optional<size_t> limit;
  std::optional<size_t> calibration_size;  // set for the calibration split only
  size_t split_size = 0;                   // examples in the split before offset/limit
  size_t size = 0;                         // examples returned
  std::string rule;                        // how the split is formed, in words
  std::vector<std::string> files;          // source files read
  size_t skipped_malformed = 0;
  std::vector<std::string> malformed;      // "path:line: problem" for each skipped record
  std::string ids_fingerprint;             // FNV-1a 64 (hex) of the returned ids, in order
};

void to_json(nlohmann::json& j, const SplitInfo& info);
void from_json(const nlohmann::json& j, SplitInfo& info);

struct Dataset {
  std::vector<Example> examples;
  SplitInfo info;
};

// What a dataset provider returns for one of Train/Valid/Test (never Calibration: load_dataset
// derives it from Valid for every dataset alike).
struct SplitSource {
  std::vector<Example> examples;
  std::string rule;
  ReadReport report;
};
using DatasetProvider = std::function<SplitSource(const std::string& root, Split split, const LoadOptions& options)>;

// Adds (or replaces) a named dataset. The built-ins ("obqa", "csqa", "strategyqa" and the
// project's "synthetic" task) are always present; others register themselves through this call, explicitly
// (a static-initialiser registration in a static library would be dropped by the linker).
void register_dataset(const std::string& name, DatasetProvider provider);
bool has_dataset(const std::string& name);
std::vector<std::string> dataset_names();

// Loads one split of a named dataset from `root` (layout in data/README.md), applies the split
// rule, then offset/limit. Throws litestage::Error for unknown names, missing files, malformed
// records (unless options.skip_malformed) and a calibration_size larger than the valid split.
Dataset load_dataset(const std::string& name, const std::string& root, Split split, const LoadOptions& options = {});
Dataset load_dataset(const std::string& name, const std::string& root, std::string_view split,
                     const LoadOptions& options = {});

// $LITESTAGE_DATA_ROOT when set and non-empty, else "../shared/data" (relative to the working
// directory: the layout of a checkout that sits beside ../shared).
std::string default_data_root();

// FNV-1a 64 over the ids joined by '\n', as 16 hex digits: a cheap identity check for a split.
std::string ids_fingerprint(const std::vector<Example>& examples);

}  // namespace litestage
