#include "litestage/workflow/steps.hpp"

#include <algorithm>
#include <cstdio>
#include <set>

#include "litestage/dist/dist.hpp"
#include "litestage/kernels/blas.hpp"
#include "litestage/util/error.hpp"
#include "litestage/util/jsonl.hpp"
#include "litestage/util/strings.hpp"

namespace litestage {
namespace fs = std::filesystem;

namespace {

// The owner recorded in the run directory (run, reproduce and search share their directories).
constexpr const char* kWorkflowCommand = "run";

// The search split: its examples less every importance example (by id, whichever splits the two
// name), then at most search.limit of them. The search must not select on the data that made the
// ranking: nothing left is an error, never a silent reuse.
Dataset search_split(Session& session) {
  const auto& spec = session.spec();
  Dataset data = session.dataset(spec.search.split);
  const Dataset importance = session.dataset(spec.importance.split, static_cast<size_t>(spec.importance.examples));
  std::set<std::string> used;
  for (const auto& e : importance.examples) used.insert(e.id);
  const size_t before = data.examples.size();
  data.examples.erase(std::remove_if(data.examples.begin(), data.examples.end(),
                                     [&](const Example& e) { return used.count(e.id) != 0; }),
                      data.examples.end());
  const size_t removed = before - data.examples.size();
  if (data.examples.empty())
    throw_error("search.split '", spec.search.split, "' has ", before, " questions and all of them are importance ",
                "examples (importance.split '", spec.importance.split, "', importance.examples ",
                spec.importance.examples, "): the search would select on the data that made the ranking; raise ",
                "data.calibration_size to at least ", spec.importance.examples + 100,
                " (100 search questions) or set search.split to another split");
  if (spec.search.limit > 0 && data.examples.size() > static_cast<size_t>(spec.search.limit))
    data.examples.resize(static_cast<size_t>(spec.search.limit));
  if (removed > 0) data.info.rule += "; less the " + std::to_string(removed) + " importance examples";
  if (spec.search.limit > 0) {
    data.info.limit = static_cast<size_t>(spec.search.limit);
    data.info.rule += "; then the first " + std::to_string(spec.search.limit);
  }
  data.info.size = data.examples.size();
  data.info.ids_fingerprint = ids_fingerprint(data.examples);
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
  nlohmann::json fp = session.result_fingerprint();
  fp["data"]["search"] = Session::data_fingerprint(search_data.info);
  fp["search"]["max_k"] = settings_max_k(spec, session.num_layers());
  fp["search"]["latency_model"] = latency_model_or_defaults(spec.search.latency_model).hash();  // content, not path
  return fp;
}

void claim_output_dir(const std::string& out, const nlohmann::json& fingerprint) {
  RunDir(out).claim(kWorkflowCommand, fingerprint);
}

// Step 1: the output directory (claimed for this configuration), the search split, importance,
// a warm-up, the search settings, and the search split's stage cache, journal and evaluator.
void prepare(WorkflowRun& run) {
  const auto& spec = run.spec;
  run.search_data = search_split(run.session);
  // Claimed first: a directory refused for another configuration keeps its config.yaml.
  run.out.claim(kWorkflowCommand, run_fingerprint(run.session, run.search_data));
  fs::create_directories(run.out.caches());
  fs::create_directories(run.out.sweeps());
  run.out.write(run.out.config(), experiment_yaml(spec));

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
  run.latency = latency_model_or_defaults(spec.search.latency_model);
  run.epsilons = {spec.search.epsilon};
  for (double e : spec.epsilons)
    if (std::find(run.epsilons.begin(), run.epsilons.end(), e) == run.epsilons.end()) run.epsilons.push_back(e);
  warn_resolution(run.epsilons, run.search_data.examples.size());
  run.candidates.push_back({Method::Full, -1, full_plans(run.L), {}});
  if (run.wants(Method::Lossless)) run.candidates.push_back({Method::Lossless, -1, full_plans(run.L), {}, false, true});
  run.search_cache = std::make_unique<StageCache>(run.out.stage_cache("search").string());
  run.journal = std::make_unique<SearchJournal>(run.out.journal().string());
  run.evaluator = std::make_unique<PipelineEvaluator>(run.session.generator(), run.base, run.search_data.examples,
                                                      run.search_cache.get(), "search", timing_settings(spec),
                                                      run.latency);
}

}  // namespace litestage
