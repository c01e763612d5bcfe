#include "litestage/experiment/run_dir.hpp"

#include <algorithm>

#include "litestage/dist/dist.hpp"
#include "litestage/util/error.hpp"
#include "litestage/util/jsonl.hpp"
#include "litestage/util/strings.hpp"

namespace litestage {

void RunDir::write(const std::filesystem::path& file, const std::string& text) const {
  dist::write_output(file.string(), text);
}

namespace {
constexpr const char* kOwnerKey = "command";
// Fingerprints written before the owner was recorded were the workflow's.
constexpr const char* kUnnamedOwner = "run";
}  // namespace

std::string RunDir::owner() const {
  if (!std::filesystem::exists(fingerprint())) return "";
  return read_json_file(fingerprint().string()).value(kOwnerKey, kUnnamedOwner);
}

std::string RunDir::claim_problem(const std::string& command, const nlohmann::json& fingerprint) const {
  if (!std::filesystem::exists(this->fingerprint())) return "";
  auto previous = read_json_file(this->fingerprint().string());
  const std::string owner = previous.value(kOwnerKey, kUnnamedOwner);
  if (owner != command)
    return "output_dir '" + root_.string() + "' holds another command's run ('" + owner + "', " +
           this->fingerprint().filename().string() + "): choose another, e.g. --set output_dir=" +
           (root_ / command).string();
  previous.erase(kOwnerKey);
  if (previous == fingerprint) return "";
  auto keys = differing_settings(previous, fingerprint);
  constexpr size_t kShown = 6;
  const size_t more = keys.size() > kShown ? keys.size() - kShown : 0;
  keys.resize(std::min(keys.size(), kShown));
  return "output_dir '" + root_.string() + "' holds results of a different configuration: " + join(keys, ", ") +
         (more > 0 ? " and " + std::to_string(more) + " more" : "") +
         "; rerun with the same settings, or choose another output_dir";
}

void RunDir::claim(const std::string& command, const nlohmann::json& fingerprint) const {
  // Decided on rank 0 and refused on every rank, so that no rank goes on alone.
  const std::string problem = dist::from_root([&] { return claim_problem(command, fingerprint); });
  if (!problem.empty()) throw_error(problem);
  if (!dist::is_root()) return;
  std::filesystem::create_directories(root_);
  nlohmann::json owned = fingerprint;
  owned[kOwnerKey] = command;
  write_file_atomic(this->fingerprint().string(), owned.dump(2) + "\n");
}

std::vector<std::string> differing_settings(const nlohmann::json& before, const nlohmann::json& now) {
  const auto a = before.flatten(), b = now.flatten();
  auto text = [](const nlohmann::json& j, const std::string& k) -> std::string {
    if (!j.contains(k)) return "absent";
    return j[k].is_string() ? j[k].get<std::string>() : j[k].dump();
  };
  std::vector<std::string> out;
  for (const auto* side : {&a, &b})
    for (const auto& item : side->items()) {
      const std::string& k = item.key();
      if (text(a, k) == text(b, k)) continue;
      const std::string entry = join(split(k.substr(1), '/', false), ".") +  // a JSON pointer: "/search/max_k"
                                " (" + text(a, k) + " there, " + text(b, k) + " now)";
      if (std::find(out.begin(), out.end(), entry) == out.end()) out.push_back(entry);
    }
  return out;
}

}  // namespace litestage
