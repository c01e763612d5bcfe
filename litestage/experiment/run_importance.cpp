#include "litestage/experiment/run_importance.hpp"

#include <cstdio>
#include <filesystem>

#include "litestage/dist/dist.hpp"
#include "litestage/util/jsonl.hpp"
#include "litestage/util/strings.hpp"

namespace litestage {
namespace fs = std::filesystem;

ImportanceResult run_importance(Session& session, bool write) {
  const auto& spec = session.spec();
  fs::create_directories(spec.output_dir);
  auto path = fs::path(spec.output_dir) / "importance.json";
  auto data = session.dataset(spec.importance.split, static_cast<size_t>(spec.importance.examples));
  ImportanceSettings settings;
  settings.pooling = spec.importance.pooling;
  settings.accumulate = spec.importance.accumulate;
  // A result an earlier run left (as rank 0 sees it) is reused when it was made the same way.
  const std::string previous = dist::from_root([&] { return fs::exists(path) ? read_file(path.string()) : ""; });
  if (!previous.empty()) {
    auto j = parse_json(previous, path.string());
    if (j.value("ids_fingerprint", "") == data.info.ids_fingerprint && j.value("model", "") == spec.model) {
      auto r = j.at("importance").get<ImportanceResult>();
      if (r.settings.pooling == settings.pooling && r.settings.accumulate == settings.accumulate) {
        std::fprintf(stderr, "importance: reusing %s\n", path.string().c_str());
        return r;
      }
    }
  }
  auto r = estimate_importance(session.generator(), session.full_pipeline_config(), data.examples, settings);
  if (write) {
    // ranking.txt first: importance.json marks the step done (a rerun reuses it and writes nothing),
    // so a run killed between the two must find no importance.json.
    std::string ranking;
    for (const auto& s : r.ranking()) ranking += to_string(s) + " " + std::to_string(r.score(s)) + "\n";
    dist::write_output((fs::path(spec.output_dir) / "ranking.txt").string(),
                      "# sub-layer, accumulated cos(in, out); most redundant first\n" + ranking);
    nlohmann::json j = {{"model", spec.model}, {"ids_fingerprint", data.info.ids_fingerprint}, {"split", data.info},
                        {"importance", r}};
    dist::write_output(path.string(), j.dump(2) + "\n");
  }
  return r;
}

}  // namespace litestage
