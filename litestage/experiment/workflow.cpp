#include "litestage/experiment/workflow.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <numeric>
#include <set>

#include "litestage/dist/dist.hpp"
#include "litestage/experiment/evaluate.hpp"
#include "litestage/search/policies.hpp"
#include "litestage/reasoning/timing.hpp"
#include "litestage/model/blas.hpp"
#include "litestage/util/error.hpp"
#include "litestage/util/stats.hpp"
#include "litestage/util/jsonl.hpp"
#include "litestage/util/strings.hpp"
#include "litestage/util/timer.hpp"

namespace litestage {
namespace fs = std::filesystem;

namespace {

void banner(const std::string& text) { std::fprintf(stderr, "\n== %s\n", text.c_str()); }

std::string ee_text(const EarlyExitConfig& e) {
  if (!e.enabled) return "off";
  char buf[96];
  std::snprintf(buf, sizeof buf, "threshold %.3g (%s, n=%d)", e.threshold, confidence_metric_name(e.metric).c_str(),
                e.window);
  return buf;
}

std::string plans_text(const StagePlans& p) {
  std::string out;
  for (StageKind k : kStages) out += (out.empty() ? "" : " | ") + std::string(to_string(k)) + " " + p[k].to_string();
  return out;
}

std::string eps_label(double eps) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", eps);
  return buf;
}

// One configuration of a method to evaluate on the test split.
struct Candidate {
  std::string method;
  double epsilon = -1;
  StagePlans plans;
  EarlyExitConfig early_exit;  // all stages
  bool unconstrained = false;  // not held to the accuracy target
};

// Bumped when what an output directory holds changes shape (traces with costs, timed latencies):
// an older directory is refused rather than mixed.
constexpr int kOutputFormat = 2;

int settings_max_k(const ExperimentSpec& spec, int layers) { return spec.search.max_k.value_or(layers); }

TimingSettings timing_settings(const ExperimentSpec& spec) { return {spec.timing.repeats, spec.timing.warmup}; }

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

// Times every method together on the evaluation split and puts the timed medians into the rows
// (stage latencies, total, shares), with the full model's as the reference and a bootstrap interval
// over questions on each speedup. The first row is the full model.
void time_methods(Generator& generator, const std::vector<PipelineConfig>& configs,
                  const std::vector<Example>& examples, const TimingSettings& timing, std::vector<MethodRow>& rows) {
  // Rows with the same plans and early exit (e.g. one method at several ε) are one configuration:
  // timed once, they share the samples.
  std::vector<PipelineConfig> unique;
  std::vector<size_t> slot;
  std::map<std::string, size_t> seen;
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto [it, added] = seen.emplace(rows[i].skip + " / " + rows[i].early_exit, unique.size());
    if (added) unique.push_back(configs[i]);
    slot.push_back(it->second);
  }
  const auto samples = time_interleaved_progress(generator, unique, examples, timing, "methods");
  for (size_t i = 0; i < rows.size(); ++i) {
    Summary& s = rows[i].summary;
    rows[i].timing = samples[slot[i]];
    s.mean_seconds = rows[i].timing.median();
    for (auto kind : kStages) {
      auto& agg = s.stages[kind];
      agg.mean_seconds = rows[i].timing.stage_median(kind);
      agg.share = s.mean_seconds > 0 ? agg.mean_seconds / s.mean_seconds : 0;
    }
  }
  for (auto& r : rows) {
    r.full_accuracy = rows.front().summary.accuracy;
    r.full_latency = rows.front().summary.mean_seconds;
    r.full_flops = rows.front().summary.mean_cost.flops;
    const auto& full = rows.front().timing.per_question;
    const auto& own = r.timing.per_question;
    const double own_sum = std::accumulate(own.begin(), own.end(), 0.0);
    r.timed_speedup = own_sum > 0 ? std::accumulate(full.begin(), full.end(), 0.0) / own_sum : 0;
    r.speedup_ci = bootstrap_ratio_interval(full, own);
  }
}

PipelineConfig final_config(PipelineConfig base, const StagePlans& plans, const EarlyExitConfig& early_exit) {
  for (auto kind : kStages) {
    base.stages[kind].skip = plans[kind];
    base.stages[kind].early_exit = early_exit;
  }
  return base;
}

// The early-exit threshold sweep on fixed plans: accuracy (and cost) of each threshold from the
// stage cache, then, with measured latency, every threshold and the plans without early exit timed
// together; the fastest setting meeting the target wins (noise-aware, ties by cost). Writes `file`.
EarlyExitConfig sweep_early_exit(Session& session, const PipelineConfig& base, const StagePlans& plans, double target,
                                 const std::vector<Example>& examples, StageCache& cache, LatencyMode mode,
                                 const fs::path& file) {
  const auto& spec = session.spec();
  std::vector<EarlyExitConfig> settings = {EarlyExitConfig{}};  // [0]: early exit off
  for (double t : spec.early_exit_sweep.thresholds) {
    EarlyExitConfig ee;
    ee.enabled = true;
    ee.window = spec.early_exit_sweep.window;
    ee.threshold = t;
    ee.metric = parse_confidence_metric(spec.early_exit_sweep.metric);
    settings.push_back(ee);
  }
  std::vector<EvalPoint> points;
  std::vector<PipelineConfig> configs;
  for (const auto& ee : settings) {
    configs.push_back(final_config(base, plans, ee));
    PipelineEvaluator eval(session.generator(), configs.back(), examples, &cache, "early-exit " + ee_text(ee));
    points.push_back(eval.evaluate(plans));
  }
  if (mode == LatencyMode::Measured) {
    const auto timed =
        time_interleaved_progress(session.generator(), configs, examples, timing_settings(spec), "early-exit sweep");
    for (size_t i = 0; i < points.size(); ++i) {
      points[i].timing = timed[i];
      points[i].latency = timed[i].median();
    }
  }
  size_t best = 0;
  nlohmann::json rows = nlohmann::json::array();
  for (size_t i = 0; i < points.size(); ++i) {
    const bool ok = points[i].accuracy >= target - 1e-9;
    rows.push_back({{"early_exit", ee_text(settings[i])}, {"point", points[i]}, {"meets_target", ok}});
    if (i > 0 && ok && faster(points[i], points[best], mode)) best = i;
  }
  dist::write_output(file.string(), nlohmann::json{{"target_accuracy", target}, {"latency", to_string(mode)},
                                                  {"rows", rows}, {"chosen", ee_text(settings[best])}}.dump(2) + "\n");
  std::fprintf(stderr, "early exit: %s\n", ee_text(settings[best]).c_str());
  return settings[best];
}

}  // namespace

ImportanceResult run_importance(Session& session, bool write) {
  const auto& spec = session.spec();
  fs::create_directories(spec.output_dir);
  auto path = fs::path(spec.output_dir) / "importance.json";
  auto data = session.dataset(spec.importance.split, static_cast<size_t>(spec.importance.examples));
  ImportanceSettings settings;
  settings.pooling = parse_token_pooling(spec.importance.pooling);
  settings.accumulate = parse_stage_accumulation(spec.importance.accumulate);
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
    nlohmann::json j = {{"model", spec.model}, {"ids_fingerprint", data.info.ids_fingerprint}, {"split", data.info},
                        {"importance", r}};
    dist::write_output(path.string(), j.dump(2) + "\n");
    std::string ranking;
    for (const auto& s : r.ranking()) ranking += to_string(s) + " " + std::to_string(r.score(s)) + "\n";
    dist::write_output((fs::path(spec.output_dir) / "ranking.txt").string(),
                      "# sub-layer, accumulated cos(in, out); most redundant first\n" + ranking);
  }
  return r;
}

nlohmann::json run_fingerprint(Session& session, const Dataset& search_data) {
  const auto& spec = session.spec();
  return {
      {"model", {{"config_hash", session.identity().config_hash}, {"weights_hash", session.identity().weights_hash}}},
      {"tokenizer", spec.tokenizer.empty() ? spec.model : spec.tokenizer},
      {"runtime", {{"device", session.runtime().device.str()}, {"dtype", dtype_name(session.runtime().dtype)},
                   {"threads", at::get_num_threads()}, {"prefix_sharing", spec.prefix_sharing}}},
      {"data", {{"dataset", spec.dataset}, {"ids", session.dataset(spec.split).info.ids_fingerprint},
                {"search_ids", search_data.info.ids_fingerprint}, {"root", spec.data_root_or_default()}, {"split", spec.split},
                {"seed", spec.load.seed}, {"calibration_size", spec.load.calibration_size},
                {"offset", spec.load.offset}, {"limit", spec.load.limit ? nlohmann::json(*spec.load.limit) : nlohmann::json(nullptr)}}},
      {"prompt", {{"format", spec.prompt_format}, {"mode", spec.mode}, {"chat_template", spec.chat_template},
                  {"exemplars", spec.exemplars}, {"system_prompt", spec.system_prompt}}},
      {"generation", {{"max_new_tokens", {spec.stages[StageKind::Recall].max_new_tokens.value_or(spec.max_new_tokens),
                                          spec.stages[StageKind::Analyze].max_new_tokens.value_or(spec.max_new_tokens),
                                          spec.stages[StageKind::Summarize].max_new_tokens.value_or(spec.max_new_tokens)}},
                      {"sampling", {spec.sampling.temperature, spec.sampling.top_k, spec.sampling.top_p, spec.sampling.seed}},
                      {"stop", spec.stop}, {"batch_analyze", spec.batch_analyze}}},
      {"importance", {{"split", spec.importance.split}, {"examples", spec.importance.examples},
                      {"pooling", spec.importance.pooling}, {"accumulate", spec.importance.accumulate}}},
      {"search", {{"split", spec.search.split}, {"limit", spec.search.limit}, {"epsilon", spec.search.epsilon},
                  {"epsilons", spec.epsilons}, {"max_k", settings_max_k(spec, session.num_layers())}, {"step", spec.search.step},
                  {"latency", spec.search.latency}}},
      {"timing", {{"repeats", spec.timing.repeats}, {"warmup", spec.timing.warmup}}},
      {"early_exit_sweep", {{"thresholds", spec.early_exit_sweep.thresholds}, {"window", spec.early_exit_sweep.window},
                            {"metric", spec.early_exit_sweep.metric}}},
      {"seed", spec.seed},
      {"format", kOutputFormat}};
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

namespace {

// What the steps of one workflow run share, in the order the steps fill it in.
struct WorkflowRun {
  Session& session;
  const ExperimentSpec& spec;
  const WorkflowOptions& options;
  WorkflowReport& report;
  const int L;
  const fs::path out;
  Dataset search_data;                             // step 1
  PipelineConfig base;                             // the full model
  SearchSettings settings;
  std::vector<double> epsilons;                    // the main one first
  std::map<double, SearchResult> litestage_by_eps;  // step 2
  EarlyExitConfig litestage_ee;                    // step 3: at the main epsilon
  std::vector<Candidate> candidates;               // steps 2-4: what the test split evaluates

  WorkflowRun(Session& s, const WorkflowOptions& o, WorkflowReport& r)
      : session(s), spec(s.spec()), options(o), report(r), L(s.num_layers()), out(s.spec().output_dir) {}
  bool wants(const std::string& m) const {
    return std::find(spec.methods.begin(), spec.methods.end(), m) != spec.methods.end();
  }
  const SearchResult& main_search() const { return litestage_by_eps.at(spec.search.epsilon); }
  void add_files(const std::vector<std::string>& files) {
    report.files.insert(report.files.end(), files.begin(), files.end());
  }
};

StagePlans full_plans(int L) { return {SkipPlan(L), SkipPlan(L), SkipPlan(L)}; }

// Step 1: the output directory (claimed for this configuration), the search split, importance,
// a warm-up, and the search settings.
void prepare(WorkflowRun& run) {
  const auto& spec = run.spec;
  fs::create_directories(run.out / "cache");
  fs::create_directories(run.out / "sweeps");
  dist::write_output((run.out / "config.yaml").string(), experiment_yaml(spec));
  for (const auto& m : spec.methods)
    if (!is_method(m)) throw_error(spec.source, ": methods: unknown method '", m, "' (known: ", join(method_names(), ", "), ")");
  run.search_data = search_split(run.session);
  claim_output_dir(run.out.string(), run_fingerprint(run.session, run.search_data));

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
  run.settings.latency = parse_latency_mode(spec.search.latency);
  run.epsilons = {spec.search.epsilon};
  for (double e : spec.epsilons)
    if (std::find(run.epsilons.begin(), run.epsilons.end(), e) == run.epsilons.end()) run.epsilons.push_back(e);
  warn_resolution(run.epsilons, run.search_data.examples.size());
  run.candidates.push_back({"full", -1, full_plans(run.L), {}});
}

// Step 2: LiteStage's stage-wise search at every epsilon.
void search_litestage(WorkflowRun& run, SearchJournal& journal, PipelineEvaluator& evaluator) {
  const auto ranking = run.report.importance.ranking();
  auto build = [&](StageKind, int k) { return prefix_plan(ranking, k, run.L); };
  auto settings = run.settings;
  for (double eps : run.epsilons) {
    settings.epsilon = eps;
    banner("LiteStage stage-wise search, epsilon " + eps_label(eps) + " points, K = " + std::to_string(settings.max_k) +
           ", on " + run.spec.dataset + "/" + run.search_data.info.split + " (" +
           std::to_string(run.search_data.examples.size()) + " examples)");
    auto r = stage_wise_search(journal, evaluator, build, run.L, settings);
    run.litestage_by_eps[eps] = r;
    run.report.searches.push_back(r);
    dist::write_output((run.out / "sweeps" / ("litestage_eps" + eps_label(eps) + ".json")).string(),
                       nlohmann::json(r).dump(2) + "\n");
    if (run.options.plots && dist::is_root())
      run.add_files(plot_sweep(r, (run.out / "plots").string(), "sweep_litestage_eps" + eps_label(eps)));
  }
}

// Step 3: the early-exit threshold for LiteStage's plans (and the full model's, for
// early_exit_only): the fastest setting that still meets the search's target, on the same data.
void sweep_thresholds(WorkflowRun& run, StageCache& cache) {
  const auto& spec = run.spec;
  auto sweep = [&](const StagePlans& plans, double target, const std::string& what) {
    return sweep_early_exit(run.session, run.base, plans, target, run.search_data.examples, cache,
                            run.settings.latency, run.out / "sweeps" / ("early_exit_" + what + ".json"));
  };
  for (double eps : run.epsilons) {
    const auto& r = run.litestage_by_eps.at(eps);
    if (run.wants("litestage")) {
      banner("early-exit threshold sweep on LiteStage's plans, epsilon " + eps_label(eps));
      auto ee = sweep(r.plans, r.target, "litestage_eps" + eps_label(eps));
      if (eps == spec.search.epsilon) run.litestage_ee = ee;
      run.candidates.push_back({"litestage", eps, r.plans, ee});
    }
    if (run.wants("litestage_no_ee") && (eps == spec.search.epsilon || !run.wants("litestage")))
      run.candidates.push_back({"litestage_no_ee", eps, r.plans, {}});
  }
  if (run.wants("early_exit_only")) {
    banner("early-exit threshold sweep on the full model");
    auto ee = sweep(full_plans(run.L), run.main_search().target, "full");
    run.candidates.push_back({"early_exit_only", spec.search.epsilon, full_plans(run.L), ee});
  }
}

// Step 4: the baselines under the same target. uniform and adaskip are compared at every
// epsilon; shortgpt and random at the main one.
void search_baselines(WorkflowRun& run, SearchJournal& journal, PipelineEvaluator& evaluator) {
  const auto& spec = run.spec;
  const int L = run.L;
  auto shared = [&](const std::string& method, const std::function<SkipPlan(int)>& make, int max_k,
                    const std::vector<double>& eps_list) {
    auto s = run.settings;
    s.max_k = max_k;
    for (double eps : eps_list) {
      s.epsilon = eps;
      banner(method + " search, epsilon " + eps_label(eps) + " points");
      auto r = shared_knob_search(method, journal, evaluator, make, L, s);
      run.report.searches.push_back(r);
      dist::write_output((run.out / "sweeps" / (method + "_eps" + eps_label(eps) + ".json")).string(),
                         nlohmann::json(r).dump(2) + "\n");
      run.candidates.push_back({method, eps, r.plans, {}});
    }
  };
  const auto ranking = run.report.importance.ranking();
  const auto& config = run.session.model()->config();
  if (run.wants("uniform"))
    shared("uniform", [&](int k) { return prefix_plan(ranking, k, L); }, run.settings.max_k, run.epsilons);
  if (run.wants("adaskip")) {
    auto ada = adaskip_ranking(run.report.importance);
    // Ratios in steps of one sub-layer's average share, up to the share of K sub-layers.
    double per = SkipPlan::parse("b0-" + std::to_string(L - 1), L).removed_weight_fraction(config) / (2.0 * L);
    shared("adaskip", [&, ada, per](int k) { return adaskip_plan(ada, per * k, config); }, run.settings.max_k,
           run.epsilons);
  }
  if (run.wants("shortgpt")) {
    auto blocks = run.report.importance.block_ranking();
    shared("shortgpt", [&, blocks](int n) { return shortgpt_plan(blocks, n, L); }, std::max(1, run.settings.max_k / 2),
           {spec.search.epsilon});
  }
  // random skips as many sub-layers per stage as LiteStage chose, drawn at random: a control, not
  // held to the accuracy target (labelled so in the table).
  if (run.wants("random"))
    run.candidates.push_back(
        {"random", spec.search.epsilon, random_plans(run.main_search().k, L, spec.seed + 17), {}, true});
}

// The profile's settings record: how the search was run.
std::map<std::string, std::string> profile_settings(const WorkflowRun& run) {
  std::vector<std::string> order, thresholds;
  for (auto s : run.main_search().order) order.emplace_back(to_string(s));
  for (double v : run.spec.early_exit_sweep.thresholds) thresholds.push_back(eps_label(v));
  return {{"max_k", std::to_string(run.settings.max_k)},
          {"step", std::to_string(run.settings.step)},
          {"search_order", join(order, ",")},
          {"importance_examples", std::to_string(run.report.importance.examples)},
          {"early_exit_thresholds_swept", join(thresholds, ",")}};
}

// Step 5: the budget profile, LiteStage at the main epsilon with its early exit. Its accuracy
// comes from the stage cache; its latencies from the full model and it timed together.
void write_profile(WorkflowRun& run, StageCache& cache) {
  const auto& spec = run.spec;
  const auto& main_search = run.main_search();
  auto& p = run.report.profile;
  p.method = "litestage";
  p.created = utc_timestamp();
  p.model = run.session.identity();
  p.tokenizer = spec.tokenizer.empty() ? spec.model : spec.tokenizer;
  p.search_split = run.search_data.info;
  p.pooling = spec.importance.pooling;
  p.accumulate = spec.importance.accumulate;
  p.ranking = run.report.importance.ranking();
  for (auto kind : kStages) {
    StageBudget& b = p.stages[kind];
    b.k = main_search.k[kind];
    b.skip = main_search.plans[kind];
    b.early_exit = run.litestage_ee;
  }
  p.epsilon = spec.search.epsilon;
  p.full_accuracy = main_search.full.accuracy;
  p.target_accuracy = main_search.target;
  const PipelineConfig chosen = final_config(run.base, main_search.plans, run.litestage_ee);
  PipelineEvaluator final_eval(run.session.generator(), chosen, run.search_data.examples, &cache, "profile");
  const auto measured = final_eval.evaluate(main_search.plans);
  const auto timed = time_interleaved_progress(run.session.generator(), {run.base, chosen}, run.search_data.examples,
                                               timing_settings(spec), "profile");
  p.accuracy = measured.accuracy;
  p.latency = timed[1].median();
  p.full_latency = timed[0].median();
  p.settings = profile_settings(run);
  if (dist::is_root()) save_profile(p, run.out / "budget_profile.yaml");
  run.report.files.push_back((run.out / "budget_profile.yaml").string());
  if (run.options.plots && dist::is_root()) run.add_files(plot_importance(run.report.importance, (run.out / "plots").string()));
}

// Step 6: every candidate on the experiment's own split (identical stage generations shared
// through the split's stage cache), then all of them timed together.
void evaluate_candidates(WorkflowRun& run, const Dataset& test) {
  const auto& spec = run.spec;
  dist::write_output((run.out / "split.json").string(), nlohmann::json(test.info).dump(2) + "\n");
  StageCache test_cache((run.out / "cache" / (std::string(to_string(parse_split(spec.split))) + "_stages.jsonl")).string());
  fs::create_directories(run.out / "methods");
  std::vector<PipelineConfig> configs;
  for (const auto& c : run.candidates) {
    std::string label = c.method + (c.epsilon >= 0 && c.method != "full" ? " (eps=" + eps_label(c.epsilon) + ")" : "");
    banner("evaluating " + label + " on " + spec.dataset + "/" + test.info.split + " (" +
           std::to_string(test.examples.size()) + " examples)");
    configs.push_back(final_config(run.base, c.plans, c.early_exit));
    MultiStagePipeline pipeline(run.session.generator(), configs.back(), &test_cache);
    EvalOptions eo;
    eo.label = label;
    std::string file = c.method + (c.epsilon >= 0 ? "_eps" + eps_label(c.epsilon) : "");
    eo.traces_path = (run.out / "methods" / (file + ".traces.jsonl")).string();
    eo.resume = true;
    auto result = evaluate(pipeline, test.examples, eo);
    MethodRow row;
    row.method = c.method;
    row.label = label;
    row.epsilon = c.method == "full" ? -1 : c.epsilon;
    row.skip = plans_text(c.plans);
    row.early_exit = ee_text(c.early_exit);
    row.summary = result.summary;
    row.unconstrained = c.unconstrained;
    run.report.rows.push_back(row);
  }
  banner("timing every method on " + test.info.split + ": " + std::to_string(spec.timing.repeats) +
         " interleaved passes");
  time_methods(run.session.generator(), configs, test.examples, timing_settings(spec), run.report.rows);
}

std::string table_caption(const WorkflowRun& run, const Dataset& test) {
  const auto& spec = run.spec;
  return spec.name + ": " + spec.dataset + "/" + test.info.split + ", " + std::to_string(test.examples.size()) +
         " questions, " + dtype_name(run.session.runtime().dtype) + " on " + run.session.runtime().device.str() + ", " +
         std::to_string(at::get_num_threads()) + " threads; search on " + run.search_data.info.split + " (" +
         std::to_string(run.search_data.examples.size()) + ", choices by " + spec.search.latency +
         "), epsilon in accuracy points; latency: median (min–max) of " + std::to_string(spec.timing.repeats) +
         " passes interleaved over the methods after a warm-up, "
         "speedup with a 95% bootstrap interval over questions; cost speedup: the full model's FLOPs "
         "per question over the method's (deterministic); too long: questions with a stage past the "
         "context (answered wrong)";
}

// Step 7: the tables, the trade-off plot and results.json.
void write_report(WorkflowRun& run, const Dataset& test, size_t search_cache_entries, double seconds) {
  const auto caption = table_caption(run, test);
  const auto& rows = run.report.rows;
  if (dist::is_root()) write_tables(rows, run.out.string(), "table", caption);
  for (auto ext : {".md", ".csv", ".tex"}) run.report.files.push_back((run.out / ("table" + std::string(ext))).string());
  if (run.options.plots && dist::is_root()) run.add_files(plot_tradeoff(rows, (run.out / "plots").string()));
  nlohmann::json summary = nlohmann::json::array();
  for (const auto& r : rows)
    summary.push_back({{"method", r.method}, {"label", r.label}, {"epsilon", r.epsilon}, {"summary", r.summary},
                       {"accuracy_wilson95", {r.accuracy_ci().low, r.accuracy_ci().high}},
                       {"timing", r.timing}, {"speedup", r.speedup()},
                       {"speedup_bootstrap95", {r.speedup_ci.low, r.speedup_ci.high}},
                       {"cost_speedup", r.cost_speedup()}, {"delta_points", r.delta_points()},
                       {"held_to_target", !r.unconstrained}, {"skip", r.skip}, {"early_exit", r.early_exit}});
  dist::write_output((run.out / "results.json").string(),
                     nlohmann::json{{"experiment", run.spec.name}, {"split", test.info}, {"rows", summary},
                                    {"search_stage_cache", {{"entries", search_cache_entries}}},
                                    {"runtime", runtime_description(run.session.runtime())},
                                    {"ranks", dist::world_size()},
                                    {"seconds", seconds}}.dump(2) + "\n");
  if (run.options.print_table) std::cout << "\n" << table_markdown(rows, caption) << "\n";
}

}  // namespace

WorkflowReport run_workflow(Session& session, const WorkflowOptions& options) {
  Timer total;
  WorkflowReport report;
  WorkflowRun run(session, options, report);
  prepare(run);
  StageCache search_cache((run.out / "cache" / "search_stages.jsonl").string());
  PipelineEvaluator evaluator(session.generator(), run.base, run.search_data.examples, &search_cache, "search",
                              timing_settings(run.spec));
  SearchJournal journal((run.out / "search_journal.jsonl").string());
  search_litestage(run, journal, evaluator);
  sweep_thresholds(run, search_cache);
  search_baselines(run, journal, evaluator);
  write_profile(run, search_cache);
  if (!options.evaluate_test) return report;
  const auto test = session.dataset(run.spec.split);
  evaluate_candidates(run, test);
  write_report(run, test, search_cache.size(), total.seconds());
  std::fprintf(stderr, "workflow finished in %s; results in %s/\n", format_duration(total.seconds()).c_str(),
               run.out.string().c_str());
  return report;
}

}  // namespace litestage
