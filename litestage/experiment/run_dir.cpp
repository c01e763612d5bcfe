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

void RunDir::claim(const nlohmann::json& fingerprint) const {
  if (!dist::is_root()) return;
  if (std::filesystem::exists(this->fingerprint())) {
    const auto previous = read_json_file(this->fingerprint().string());
    if (previous != fingerprint)
      throw_error("output directory '", root_.string(), "' holds results of a different configuration (",
                  join(differing_settings(previous, fingerprint, 2), ", "), " differ); choose another output_dir or delete it");
  }
  std::filesystem::create_directories(root_);
  write_file_atomic(this->fingerprint().string(), fingerprint.dump(2) + "\n");
}

std::vector<std::string> differing_settings(const nlohmann::json& before, const nlohmann::json& now, int depth) {
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
      auto parts = split(k.substr(1), '/', false);  // a JSON pointer: "/search/max_k"
      if (depth > 0 && parts.size() > static_cast<size_t>(depth)) parts.resize(static_cast<size_t>(depth));
      std::string entry = join(parts, ".");
      if (depth == 0) entry += " (" + text(a, k) + " there, " + text(b, k) + " now)";
      if (std::find(out.begin(), out.end(), entry) == out.end()) out.push_back(entry);
    }
  if (depth > 0) std::sort(out.begin(), out.end());
  return out;
}

}  // namespace litestage
