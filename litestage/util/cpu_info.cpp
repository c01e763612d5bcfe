#include "litestage/util/cpu_info.hpp"

#include <fstream>
#include <set>
#include <sstream>

#include "litestage/util/strings.hpp"

namespace litestage {

std::string CpuInfo::feature_list() const {
  std::string out;
  auto add = [&out](bool has, const char* name) {
    if (!has) return;
    if (!out.empty()) out += ' ';
    out += name;
  };
  add(avx2 && fma, "avx2");
  add(avx512, "avx512");
  add(avx512_bf16, "avx512_bf16");
  add(amx_bf16, "amx_bf16");
  return out.empty() ? "none of avx2/avx512/bf16" : out;
}

CpuInfo parse_cpu_info(const std::string& text) {
  CpuInfo info;
  std::istringstream in(text);
  std::string line;
  bool have_model = false;
  while (std::getline(in, line)) {
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string key = trim(line.substr(0, colon));
    const std::string value = trim(line.substr(colon + 1));
    if (key == "model name" && !have_model) {
      info.model = value;
      have_model = true;
    } else if (key == "flags" && !info.known) {
      std::set<std::string> flags;
      std::istringstream words(value);
      for (std::string w; words >> w;) flags.insert(w);
      auto has = [&flags](const char* f) { return flags.count(f) > 0; };
      info.known = true;
      info.avx2 = has("avx2");
      info.fma = has("fma");
      info.avx512 = has("avx512f") && has("avx512bw") && has("avx512dq") && has("avx512vl");
      info.avx512_bf16 = has("avx512_bf16");
      info.amx_bf16 = has("amx_bf16");
    }
  }
  return info;
}

const CpuInfo& host_cpu_info() {
  static const CpuInfo info = [] {
    std::ifstream in("/proc/cpuinfo");
    if (!in) return CpuInfo{};
    std::ostringstream text;
    text << in.rdbuf();
    return parse_cpu_info(text.str());
  }();
  return info;
}

}  // namespace litestage
