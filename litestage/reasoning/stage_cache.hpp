#pragma once
// StageCache: a memo of stage generations, optionally journaled to a JSONL file.

#include <string>
#include <unordered_map>

#include "litestage/reasoning/traces.hpp"

namespace litestage {

// Memo of stage generations. With deterministic decoding a stage's output and token count are a
// function of (prompt, skip plan, early exit, budget, sampling), so a search that changes one
// stage's plan re-runs only that stage. Hits reuse outputs and costs, never timings: their
// seconds are zero, and latencies come from timed passes without a cache (reasoning/timing.hpp).
// Optionally journaled to a JSONL file, which makes an interrupted search resumable.
class StageCache {
 public:
  StageCache() = default;
  // Loads `path` if it exists (a torn last line is ignored), then appends new entries to it.
  explicit StageCache(const std::string& path);
  const StageTrace* find(const std::string& key) const;
  void insert(const std::string& key, const StageTrace& trace);
  size_t size() const { return entries_.size(); }

 private:
  std::unordered_map<std::string, StageTrace> entries_;
  std::string path_;
};

}  // namespace litestage
