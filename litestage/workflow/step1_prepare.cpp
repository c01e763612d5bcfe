#include "litestage/workflow/steps.hpp"

#include <algorithm>
#include <cstdio>
#include <set>

#include "litestage/dist/dist.hpp"
#include "litestage/model/blas.hpp"
#include "litestage/util/error.hpp"
#include "litestage/util/jsonl.hpp"
#include "litestage/util/strings.hpp"

namespace litestage {
namespace fs = std::filesystem;

namespace {

// Bumped when what an output directory holds changes shape (traces with costs, timed latencies):
// an older directory is refused rather than mixed.
constexpr int kOutputFormat = 3;

// The search split, kept apart from the importance examples when both come from the same split:
// the search must not select on the data that made the ranking.
Dataset search_split(Session& session) {
  const auto& spec = session.spec();
  auto data = session.dataset(spec.search.split, spec.search.limit > 0 ? std::optional<size_t>(spec.search.limit)
                                                                       : std::nullopt);
  if (spec.search.split != spec.importance.split) return data;
  const auto taken = static_cast<size_t>(spec.importance.examples);
  if (data.examples.size() <= taken) {
    std::fprintf(stderr, "warning: the search split has %zu examples and importance uses the first %zu of the same "
                 "split: the search reuses the importance examples (raise data.calibration_size)\n",
                 data.examples.size(), taken);
    return data;
  }
  data.examples.erase(data.examples.begin(), data.examples.begin() + static_cast<std::ptrdiff_t>(taken));
  data.info.split += " (after the " + std::to_string(taken) + " importance examples)";
  return data;
}

void warn_resolution(const std::vector<double>& epsilons, size_t examples) {
  const double one = 100.0 / static_cast<double>(examples);
  for (double eps : epsilons)
    if (eps < one)
      std::fprintf(stderr, "warning: epsilon %g points is below one question of the %zu-question search split "
                   "(%.2f points): it acts like epsilon 0\n", eps, examples, one);
}

}  // namespace

nlohmann::json run_fingerprint(Session& session, const Dataset& search_data) {
  const auto& spec = session.spec();
  // The declared keys that change results, then what the session resolved and the data drawn.
  nlohmann::json fp = options_json(experiment_options(), spec);
  fp["model"] = {{"config_hash", session.identity().config_hash}, {"weights_hash", session.identity().weights_hash}};
  fp["tokenizer"] = spec.tokenizer.empty() ? spec.model : spec.tokenizer;
  fp["runtime"]["device"] = session.runtime().device.str();
  fp["runtime"]["dtype"] = dtype_name(session.runtime().dtype);
  fp["runtime"]["threads"] = at::get_num_threads();
  fp["data"]["ids"] = session.dataset(spec.split).info.ids_fingerprint;
  fp["data"]["search_ids"] = search_data.info.ids_fingerprint;
  fp["search"]["max_k"] = settings_max_k(spec, session.num_layers());
  fp["format"] = kOutputFormat;
  return fp;
}

void claim_output_dir(const std::string& out, const nlohmann::json& fingerprint) {
  // Journals, caches and traces under output_dir are only valid for the configuration that made
  // them: refuse to mix results of another model, runtime, data, prompt or search setting. Rank 0
  // owns the directory (its error ends every rank).
  if (!dist::is_root()) return;
  const fs::path fp_path = fs::path(out) / "fingerprint.json";
  if (fs::exists(fp_path)) {
    const auto previous = read_json_file(fp_path.string());
    if (previous != fingerprint) {
      const auto diff = nlohmann::json::diff(previous, fingerprint);
      std::set<std::string> keys;
      for (const auto& op : diff) {
        std::string path = op.at("path").get<std::string>().substr(1);
        for (auto& c : path) c = c == '/' ? '.' : c;
        const size_t cut = path.find('.', path.find('.') + 1);  // two levels: "search.max_k"
        keys.insert(path.substr(0, cut));
      }
      throw_error("output directory '", out, "' holds results of a different configuration (",
                  join(std::vector<std::string>(keys.begin(), keys.end()), ", "),
                  " differ); choose another output_dir or delete it");
    }
  }
  fs::create_directories(out);
  write_file_atomic(fp_path.string(), fingerprint.dump(2) + "\n");
}

// Step 1: the output directory (claimed for this configuration), the search split, importance,
// a warm-up, the search settings, and the search split's stage cache, journal and evaluator.
void prepare(WorkflowRun& run) {
  const auto& spec = run.spec;
  run.search_data = search_split(run.session);
  // Claimed first: a directory refused for another configuration keeps its config.yaml.
  claim_output_dir(run.out.string(), run_fingerprint(run.session, run.search_data));
  fs::create_directories(run.out / "cache");
  fs::create_directories(run.out / "sweeps");
  dist::write_output((run.out / "config.yaml").string(), experiment_yaml(spec));

  banner("importance on " + spec.dataset + "/" + spec.importance.split + " (" +
         std::to_string(spec.importance.examples) + " examples)");
  run.report.importance = run_importance(run.session);
  run.base = run.session.full_pipeline_config();
  {
    // Untimed warm-up (allocator, thread pool, caches): the first measured latencies are kept for
    // good by the stage caches, so they must not be cold ones.
    MultiStagePipeline warm(run.session.generator(), run.base);
    for (size_t i = 0; i < std::min<size_t>(2, run.search_data.examples.size()); ++i) warm.run(run.search_data.examples[i]);
  }
  run.settings.max_k = settings_max_k(spec, run.L);
  run.settings.step = spec.search.step;
  run.settings.latency = spec.search.latency;
  run.epsilons = {spec.search.epsilon};
  for (double e : spec.epsilons)
    if (std::find(run.epsilons.begin(), run.epsilons.end(), e) == run.epsilons.end()) run.epsilons.push_back(e);
  warn_resolution(run.epsilons, run.search_data.examples.size());
  run.candidates.push_back({"full", -1, full_plans(run.L), {}});
  run.search_cache = std::make_unique<StageCache>((run.out / "cache" / "search_stages.jsonl").string());
  run.journal = std::make_unique<SearchJournal>((run.out / "search_journal.jsonl").string());
  run.evaluator = std::make_unique<PipelineEvaluator>(run.session.generator(), run.base, run.search_data.examples,
                                                      run.search_cache.get(), "search", timing_settings(spec));
}

}  // namespace litestage
