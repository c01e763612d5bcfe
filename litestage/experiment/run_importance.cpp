#include "litestage/experiment/run_importance.hpp"

#include <cstdio>
#include <filesystem>

#include "litestage/dist/dist.hpp"
#include "litestage/experiment/run_dir.hpp"
#include "litestage/util/jsonl.hpp"
#include "litestage/util/strings.hpp"

namespace litestage {
namespace fs = std::filesystem;

namespace {

// Everything an importance ranking depends on (Session::content_fingerprint, the examples by
// content, and the keys of the sections that shape the prompts it is measured on).
nlohmann::json importance_fingerprint(Session& session, const SplitInfo& info) {
  const nlohmann::json keys = options_json(experiment_options(), session.spec());
  nlohmann::json fp = session.content_fingerprint();
  fp["data"] = Session::data_fingerprint(info);
  for (const char* section : {"prompt", "generation", "importance"})
    if (keys.contains(section)) fp[section] = keys.at(section);
  if (keys.contains("data")) fp["data"]["dataset"] = keys.at("data").value("dataset", "");
  return fp;
}

}  // namespace

ImportanceResult run_importance(Session& session, bool write) {
  const auto& spec = session.spec();
  const RunDir dir(spec.output_dir);
  fs::create_directories(dir.root());
  const fs::path path = dir.importance();
  auto data = session.dataset(spec.importance.split, static_cast<size_t>(spec.importance.examples));
  ImportanceSettings settings;
  settings.pooling = spec.importance.pooling;
  settings.accumulate = spec.importance.accumulate;
  // A result an earlier run left (as rank 0 sees it) is reused only when it was made from the same
  // content: checkpoint, tokenizer, runtime and kernels, examples and data files, prompt,
  // generation and importance settings (a checkpoint replaced at the same path is not reused).
  const nlohmann::json fingerprint = importance_fingerprint(session, data.info);
  const std::string previous = dist::from_root([&] { return fs::exists(path) ? read_file(path.string()) : ""; });
  if (!previous.empty()) {
    auto j = parse_json(previous, path.string());
    if (j.value("fingerprint", nlohmann::json()) == fingerprint) {
      std::fprintf(stderr, "importance: reusing %s\n", path.string().c_str());
      return j.at("importance").get<ImportanceResult>();
    }
    std::fprintf(stderr, "importance: %s was made from other inputs; measuring again\n", path.string().c_str());
  }
  auto r = estimate_importance(session.generator(), session.full_pipeline_config(), data.examples, settings);
  if (write) {
    // ranking.txt first: importance.json marks the step done (a rerun reuses it and writes nothing),
    // so a run killed between the two must find no importance.json.
    std::string ranking;
    for (const auto& s : r.ranking()) ranking += to_string(s) + " " + std::to_string(r.score(s)) + "\n";
    dir.write(dir.ranking(), "# sub-layer, accumulated cos(in, out); most redundant first\n" + ranking);
    nlohmann::json j = {{"model", spec.model}, {"fingerprint", fingerprint}, {"split", data.info}, {"importance", r}};
    dir.write(path, j.dump(2) + "\n");
  }
  return r;
}

}  // namespace litestage
