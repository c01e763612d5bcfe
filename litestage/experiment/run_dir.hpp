#pragma once
// One run's output_dir: every file name under it, written once here, and the rank-0 write. The
// commands that fill it (`eval`, `importance`, `tradeoff`, the workflow's steps) name their files
// through it, so a name is never spelled twice (docs/experiments.md lists what each one holds).

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace litestage {

class RunDir {
 public:
  explicit RunDir(std::filesystem::path root) : root_(std::move(root)) {}
  const std::filesystem::path& root() const { return root_; }

  // Every run
  std::filesystem::path config() const { return root_ / "config.yaml"; }  // the effective experiment
  std::filesystem::path split() const { return root_ / "split.json"; }    // the evaluated split's SplitInfo
  // `eval`
  std::filesystem::path traces() const { return root_ / "traces.jsonl"; }
  std::filesystem::path predictions() const { return root_ / "predictions.jsonl"; }
  std::filesystem::path summary_json() const { return root_ / "summary.json"; }
  std::filesystem::path summary_md() const { return root_ / "summary.md"; }
  // `importance`, `tradeoff`
  std::filesystem::path importance() const { return root_ / "importance.json"; }
  std::filesystem::path ranking() const { return root_ / "ranking.txt"; }
  std::filesystem::path tradeoff_json() const { return root_ / "tradeoff.json"; }
  std::filesystem::path tradeoff_md() const { return root_ / "tradeoff.md"; }
  // The workflow (`run`, `reproduce`, `search`)
  std::filesystem::path fingerprint() const { return root_ / "fingerprint.json"; }
  std::filesystem::path journal() const { return root_ / "search_journal.jsonl"; }
  std::filesystem::path profile() const { return root_ / "budget_profile.yaml"; }
  std::filesystem::path results() const { return root_ / "results.json"; }
  std::filesystem::path table_stem() const { return root_ / "table"; }  // table.md, .csv, .tex
  std::filesystem::path sweeps() const { return root_ / "sweeps"; }
  std::filesystem::path sweep(const std::string& name) const { return sweeps() / (name + ".json"); }
  std::filesystem::path plots() const { return root_ / "plots"; }
  std::filesystem::path caches() const { return root_ / "cache"; }
  // The stage cache of one split's generate calls: cache/<split>_stages.jsonl.
  std::filesystem::path stage_cache(const std::string& split) const { return caches() / (split + "_stages.jsonl"); }
  std::filesystem::path methods() const { return root_ / "methods"; }
  std::filesystem::path method_traces(const std::string& method) const { return methods() / (method + ".traces.jsonl"); }

  // `text` into `file`, atomically, by rank 0 only (dist::write_output).
  void write(const std::filesystem::path& file, const std::string& text) const;
  // Journals, caches and traces here are only valid for the command and the configuration that
  // made them: `command` ("eval", "run") and the settings that change results (`fingerprint`) are
  // recorded in fingerprint.json. A later claim by another command, or with other settings, is
  // refused, naming the owner or the keys that differ, on every rank (a collective call). Rank 0
  // owns the directory.
  void claim(const std::string& command, const nlohmann::json& fingerprint) const;
  // Why `claim` would refuse ("" when it would not), as this process sees the directory.
  std::string claim_problem(const std::string& command, const nlohmann::json& fingerprint) const;
  // The command recorded in fingerprint.json; "" when there is none.
  std::string owner() const;

 private:
  std::filesystem::path root_;
};

// The settings that differ between two trees (JSON objects), as dotted keys, each as
// "key (A there, B now)", in the order met.
std::vector<std::string> differing_settings(const nlohmann::json& before, const nlohmann::json& now);

}  // namespace litestage
