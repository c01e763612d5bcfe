#include "litestage/reasoning/stage_cache.hpp"

#include <filesystem>

#include "litestage/dist/dist.hpp"
#include "litestage/util/jsonl.hpp"

namespace litestage {

namespace {

// Rank r > 0 of a multi-process run appends to <stem>.rank<r>.jsonl beside rank 0's file.
std::string rank_file(const std::filesystem::path& path, int rank) {
  if (rank == 0) return path.string();
  return (path.parent_path() / (path.stem().string() + ".rank" + std::to_string(rank) + path.extension().string()))
      .string();
}

}  // namespace

StageCache::StageCache(const std::string& path) : path_(rank_file(path, dist::rank())) {
  // Every rank's entries, from runs of any world size: a stage generated once is never repeated.
  const std::filesystem::path base(path);
  std::vector<std::string> files = {path};
  const auto dir = base.has_parent_path() ? base.parent_path() : std::filesystem::path(".");
  const std::string prefix = base.stem().string() + ".rank";
  if (std::filesystem::is_directory(dir))
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
      const auto name = e.path().filename().string();
      if (name.rfind(prefix, 0) == 0 && e.path().extension() == base.extension()) files.push_back(e.path().string());
    }
  for (const auto& file : files)
    read_jsonl(
        file, [&](const nlohmann::json& j) { entries_[j.at("key").get<std::string>()] = j.at("trace").get<StageTrace>(); },
        "stage-cache entry");
}

const StageTrace* StageCache::find(const std::string& key) const {
  auto it = entries_.find(key);
  return it == entries_.end() ? nullptr : &it->second;
}

void StageCache::insert(const std::string& key, const StageTrace& trace) {
  entries_[key] = trace;
  if (!path_.empty()) append_jsonl(path_, {{"key", key}, {"trace", trace}});
}

}  // namespace litestage
