#pragma once
// A small experiment on the embedded demo model, for tests that drive the built `litestage` on
// real work (multi-process runs, killed runs), and the deterministic part of its search journal.

#include <filesystem>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

namespace litestage::test {

// Writes dir/exp.yaml: `limit` test questions, 20 calibration ones, one thread per process, a
// 2-sub-layer search at epsilon 10 on the deterministic cost; `extra` is appended (YAML lines).
std::filesystem::path demo_experiment(const std::filesystem::path& dir, const std::string& name, int limit,
                                      const std::string& extra = "");

// out/search_journal.jsonl as accuracy, correct, flops, tokens and examples by plan (latencies,
// which vary from run to run, left out).
std::map<std::string, nlohmann::json> journal_points(const std::filesystem::path& out);

}  // namespace litestage::test
