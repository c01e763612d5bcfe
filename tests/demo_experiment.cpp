#include "demo_experiment.hpp"

#include <sstream>

#include "litestage/util/strings.hpp"
#include "process.hpp"

namespace litestage::test {

namespace fs = std::filesystem;

fs::path demo_experiment(const fs::path& dir, const std::string& name, int limit, const std::string& extra) {
  const fs::path root = LITESTAGE_SOURCE_DIR;
  const auto file = dir / "exp.yaml";
  write_file_atomic(file.string(),
                    "name: " + name + "\nmodel: " + (root / "data" / "demo-model").string() +
                        "\nruntime: {device: cpu, dtype: f32, threads: 1}\n"
                        "data: {dataset: synthetic, root: " + (root / "data" / "synthetic" / "settings.json").string() +
                        ", split: test, limit: " + std::to_string(limit) + ", calibration_size: 20}\n"
                        "generation: {max_new_tokens: 48}\nimportance: {split: calibration, examples: 6}\n"
                        "search: {split: calibration, epsilon: 10, latency: cost, max_k: 2}\n"
                        "timing: {repeats: 1, warmup: 0}\n"
                        "early_exit_sweep: {thresholds: [0.6], window: 4, metric: probability}\n" + extra);
  return file;
}

std::map<std::string, nlohmann::json> journal_points(const fs::path& out) {
  std::map<std::string, nlohmann::json> points;
  std::istringstream in(slurp(out / "search_journal.jsonl"));
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line);
    const auto& p = j.at("point");
    points[j.at("plans").get<std::string>()] = {p.at("accuracy"), p.at("correct"), p.at("flops"), p.at("tokens"),
                                               p.at("examples")};
  }
  return points;
}

}  // namespace litestage::test
