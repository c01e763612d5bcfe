#include "litestage/experiment/workflow.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>

#include "litestage/experiment/evaluate.hpp"
#include "litestage/search/policies.hpp"
#include "litestage/util/error.hpp"
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
  return "recall " + p[0].to_string() + " | analyze " + p[1].to_string() + " | summarize " + p[2].to_string();
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
};

}  // namespace

ImportanceResult run_importance(Session& session, bool write) {
  const auto& spec = session.spec();
  fs::create_directories(spec.output_dir);
  auto path = fs::path(spec.output_dir) / "importance.json";
  auto data = session.dataset(spec.importance.split, static_cast<size_t>(spec.importance.examples));
  ImportanceSettings settings;
  settings.pooling = parse_token_pooling(spec.importance.pooling);
  settings.accumulate = parse_stage_accumulation(spec.importance.accumulate);
  if (fs::exists(path)) {
    auto j = nlohmann::json::parse(read_file(path.string()));
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
    write_file_atomic(path.string(), j.dump(2) + "\n");
    std::string ranking;
    for (const auto& s : r.ranking()) ranking += to_string(s) + " " + std::to_string(r.score(s)) + "\n";
    write_file_atomic((fs::path(spec.output_dir) / "ranking.txt").string(),
                      "# sub-layer, accumulated cos(in, out); most redundant first\n" + ranking);
  }
  return r;
}

WorkflowReport run_workflow(Session& session, const WorkflowOptions& options) {
  const auto& spec = session.spec();
  Timer total;
  WorkflowReport report;
  const int L = session.num_layers();
  const auto& config = session.model()->config();
  fs::path out = spec.output_dir;
  fs::create_directories(out / "cache");
  fs::create_directories(out / "sweeps");
  write_file_atomic((out / "config.yaml").string(), experiment_yaml(spec));
  for (const auto& m : spec.methods)
    if (!is_method(m)) throw_error(spec.source, ": methods: unknown method '", m, "' (known: ", join(method_names(), ", "), ")");

  // Journals and stage caches under output_dir are only valid for the configuration that made
  // them: refuse to mix measurements of another model, runtime, data or prompt setting.
  nlohmann::json fingerprint = {
      {"model", {{"config_hash", session.identity().config_hash}, {"weights_hash", session.identity().weights_hash}}},
      {"tokenizer", spec.tokenizer.empty() ? spec.model : spec.tokenizer},
      {"runtime", {{"device", session.runtime().device.str()}, {"dtype", dtype_name(session.runtime().dtype)},
                   {"threads", at::get_num_threads()}}},
      {"data", {{"dataset", spec.dataset}, {"root", spec.data_root_or_default()}, {"split", spec.split},
                {"seed", spec.load.seed}, {"calibration_size", spec.load.calibration_size},
                {"offset", spec.load.offset}, {"limit", spec.load.limit ? nlohmann::json(*spec.load.limit) : nlohmann::json(nullptr)}}},
      {"prompt", {{"format", spec.prompt_format}, {"mode", spec.mode}, {"chat_template", spec.chat_template},
                  {"exemplars", spec.exemplars}, {"system_prompt", spec.system_prompt}}},
      {"generation", {{"max_new_tokens", {spec.stage(StageKind::Recall).max_new_tokens.value_or(spec.max_new_tokens),
                                          spec.stage(StageKind::Analyze).max_new_tokens.value_or(spec.max_new_tokens),
                                          spec.stage(StageKind::Summarize).max_new_tokens.value_or(spec.max_new_tokens)}},
                      {"sampling", {spec.sampling.temperature, spec.sampling.top_k, spec.sampling.top_p, spec.sampling.seed}},
                      {"stop", spec.stop}, {"batch_analyze", spec.batch_analyze}}},
      {"importance", {{"split", spec.importance.split}, {"examples", spec.importance.examples},
                      {"pooling", spec.importance.pooling}, {"accumulate", spec.importance.accumulate}}},
      {"search", {{"split", spec.search.split}, {"limit", spec.search.limit}}}};
  auto fp_path = out / "fingerprint.json";
  if (fs::exists(fp_path)) {
    auto previous = nlohmann::json::parse(read_file(fp_path.string()));
    if (previous != fingerprint) {
      std::vector<std::string> differ;
      for (const auto& [k, v] : fingerprint.items())
        if (!previous.contains(k) || previous[k] != v) differ.push_back(k);
      throw_error("output directory '", out.string(), "' holds measurements of a different configuration (",
                  join(differ, ", "), " differ); choose another output_dir or delete it");
    }
  }
  write_file_atomic(fp_path.string(), fingerprint.dump(2) + "\n");

  banner("importance on " + spec.dataset + "/" + spec.importance.split + " (" +
         std::to_string(spec.importance.examples) + " examples)");
  report.importance = run_importance(session);
  const auto ranking = report.importance.ranking();

  auto search_data = session.dataset(spec.search.split, spec.search.limit > 0
                                                             ? std::optional<size_t>(spec.search.limit)
                                                             : std::nullopt);
  StageCache search_cache((out / "cache" / "search_stages.jsonl").string());
  auto base = session.full_pipeline_config();
  {
    // Untimed warm-up (allocator, thread pool, caches): the first measured latencies are kept for
    // good by the stage caches, so they must not be cold ones.
    MultiStagePipeline warm(session.generator(), base);
    for (size_t i = 0; i < std::min<size_t>(2, search_data.examples.size()); ++i) warm.run(search_data.examples[i]);
  }
  PipelineEvaluator evaluator(session.generator(), base, search_data.examples, &search_cache, "search");
  SearchJournal journal((out / "search_journal.jsonl").string());

  SearchSettings settings;
  settings.max_k = spec.search.max_k.value_or(L);
  settings.step = spec.search.step;
  std::vector<double> epsilons = {spec.search.epsilon};
  for (double e : spec.epsilons)
    if (std::find(epsilons.begin(), epsilons.end(), e) == epsilons.end()) epsilons.push_back(e);
  auto wants = [&](const std::string& m) { return std::find(spec.methods.begin(), spec.methods.end(), m) != spec.methods.end(); };

  std::vector<Candidate> candidates;
  candidates.push_back({"full", -1, {SkipPlan(L), SkipPlan(L), SkipPlan(L)}, {}});
  std::map<double, SearchResult> litestage_by_eps;
  auto build = [&](StageKind, int k) { return prefix_plan(ranking, k, L); };
  for (double eps : epsilons) {
    settings.epsilon = eps;
    banner("LiteStage stage-wise search, epsilon " + eps_label(eps) + " points, K = " + std::to_string(settings.max_k) +
           ", on " + spec.dataset + "/" + search_data.info.split + " (" + std::to_string(search_data.examples.size()) +
           " examples)");
    auto r = stage_wise_search(journal, evaluator, build, L, settings);
    litestage_by_eps[eps] = r;
    report.searches.push_back(r);
    write_file_atomic((out / "sweeps" / ("litestage_eps" + eps_label(eps) + ".json")).string(),
                      nlohmann::json(r).dump(2) + "\n");
    if (options.plots) {
      auto f = plot_sweep(r, (out / "plots").string(), "sweep_litestage_eps" + eps_label(eps));
      report.files.insert(report.files.end(), f.begin(), f.end());
    }
  }
  const auto& main_search = litestage_by_eps.at(spec.search.epsilon);

  // Early-exit threshold: the lowest latency that still meets the search's target, on the same data.
  auto sweep_threshold = [&](const StagePlans& plans, double target, const std::string& what) {
    EarlyExitConfig best;  // disabled unless a threshold meets the target
    double best_latency = journal.evaluate(evaluator, plans).latency;
    nlohmann::json rows = nlohmann::json::array();
    for (double t : spec.early_exit_sweep.thresholds) {
      auto cfg = base;
      EarlyExitConfig ee;
      ee.enabled = true;
      ee.window = spec.early_exit_sweep.window;
      ee.threshold = t;
      ee.metric = parse_confidence_metric(spec.early_exit_sweep.metric);
      for (auto k : kStages) cfg.stage(k).early_exit = ee;
      PipelineEvaluator ee_eval(session.generator(), cfg, search_data.examples, &search_cache, "early-exit " + eps_label(t));
      SearchJournal ee_journal((out / "cache" / ("ee_" + what + "_t" + eps_label(t) + ".jsonl")).string());
      auto p = ee_journal.evaluate(ee_eval, plans);
      bool ok = p.accuracy >= target - 1e-9;
      rows.push_back({{"threshold", t}, {"point", p}, {"meets_target", ok}});
      if (ok && p.latency < best_latency) {
        best = ee;
        best_latency = p.latency;
      }
    }
    write_file_atomic((out / "sweeps" / ("early_exit_" + what + ".json")).string(),
                      nlohmann::json{{"target_accuracy", target}, {"rows", rows}, {"chosen", ee_text(best)}}.dump(2) + "\n");
    std::fprintf(stderr, "early exit for %s: %s\n", what.c_str(), ee_text(best).c_str());
    return best;
  };
  EarlyExitConfig litestage_ee;
  for (double eps : epsilons) {
    const auto& r = litestage_by_eps.at(eps);
    if (wants("litestage")) {
      banner("early-exit threshold sweep on LiteStage's plans, epsilon " + eps_label(eps));
      auto ee = sweep_threshold(r.plans, r.target, "litestage_eps" + eps_label(eps));
      if (eps == spec.search.epsilon) litestage_ee = ee;
      candidates.push_back({"litestage", eps, r.plans, ee});
    }
    if (wants("litestage_no_ee") && (eps == spec.search.epsilon || !wants("litestage")))
      candidates.push_back({"litestage_no_ee", eps, r.plans, {}});
  }
  if (wants("early_exit_only")) {
    banner("early-exit threshold sweep on the full model");
    auto ee = sweep_threshold({SkipPlan(L), SkipPlan(L), SkipPlan(L)}, main_search.target, "full");
    candidates.push_back({"early_exit_only", spec.search.epsilon, {SkipPlan(L), SkipPlan(L), SkipPlan(L)}, ee});
  }

  // uniform and adaskip are compared at every epsilon; shortgpt and random at the main one.
  const std::vector<double> main_only = {spec.search.epsilon};
  auto shared = [&](const std::string& method, const std::function<SkipPlan(int)>& make, int max_k,
                    const std::vector<double>& eps_list) {
    auto s = settings;
    s.max_k = max_k;
    for (double eps : eps_list) {
      s.epsilon = eps;
      banner(method + " search, epsilon " + eps_label(eps) + " points");
      auto r = shared_knob_search(method, journal, evaluator, make, L, s);
      report.searches.push_back(r);
      write_file_atomic((out / "sweeps" / (method + "_eps" + eps_label(eps) + ".json")).string(),
                        nlohmann::json(r).dump(2) + "\n");
      candidates.push_back({method, eps, r.plans, {}});
    }
  };
  if (wants("uniform")) shared("uniform", [&](int k) { return prefix_plan(ranking, k, L); }, settings.max_k, epsilons);
  if (wants("adaskip")) {
    auto ada = adaskip_ranking(report.importance);
    // Ratios in steps of one sub-layer's average share, up to the share of K sub-layers.
    double per = SkipPlan::parse("b0-" + std::to_string(L - 1), L).removed_weight_fraction(config) / (2.0 * L);
    shared("adaskip", [&, ada, per](int k) { return adaskip_plan(ada, per * k, config); }, settings.max_k, epsilons);
  }
  if (wants("shortgpt")) {
    auto blocks = report.importance.block_ranking();
    shared("shortgpt", [&, blocks](int n) { return shortgpt_plan(blocks, n, L); }, std::max(1, settings.max_k / 2),
           main_only);
  }
  if (wants("random"))
    candidates.push_back({"random", spec.search.epsilon, random_plans(main_search.k, L, spec.seed + 17), {}});

  // The budget profile: LiteStage at the main epsilon, with its early exit.
  auto& p = report.profile;
  p.method = "litestage";
  p.created = utc_timestamp();
  p.model = session.identity();
  p.tokenizer = spec.tokenizer.empty() ? spec.model : spec.tokenizer;
  p.search_split = search_data.info;
  p.pooling = spec.importance.pooling;
  p.accumulate = spec.importance.accumulate;
  p.ranking = ranking;
  for (auto kind : kStages) {
    StageBudget b;
    b.k = main_search.k[stage_index(kind)];
    b.skip = main_search.plans[stage_index(kind)];
    b.early_exit = litestage_ee;
    p.stages[std::string(to_string(kind))] = b;
  }
  p.epsilon = spec.search.epsilon;
  p.full_accuracy = main_search.full.accuracy;
  p.target_accuracy = main_search.target;
  {
    auto cfg = base;
    for (auto kind : kStages) cfg.stage(kind).early_exit = litestage_ee;
    PipelineEvaluator final_eval(session.generator(), cfg, search_data.examples, &search_cache, "profile");
    SearchJournal none;
    auto measured = none.evaluate(final_eval, main_search.plans);
    p.accuracy = measured.accuracy;
    p.latency = measured.latency;
  }
  p.full_latency = main_search.full.latency;
  p.settings = {{"max_k", std::to_string(settings.max_k)},
                {"step", std::to_string(settings.step)},
                {"search_order", [&] {
                   std::vector<std::string> o;
                   for (auto s : main_search.order) o.emplace_back(to_string(s));
                   return join(o, ",");
                 }()},
                {"importance_examples", std::to_string(report.importance.examples)},
                {"early_exit_thresholds_swept", [&] {
                   std::vector<std::string> t;
                   for (double v : spec.early_exit_sweep.thresholds) t.push_back(eps_label(v));
                   return join(t, ",");
                 }()}};
  save_profile(p, out / "budget_profile.yaml");
  report.files.push_back((out / "budget_profile.yaml").string());

  if (options.plots) {
    auto f = plot_importance(report.importance, (out / "plots").string());
    report.files.insert(report.files.end(), f.begin(), f.end());
  }
  if (!options.evaluate_test) return report;

  // Every candidate on the experiment's own split; identical stage generations are shared.
  auto test = session.dataset(spec.split);
  write_file_atomic((out / "split.json").string(), nlohmann::json(test.info).dump(2) + "\n");
  StageCache test_cache((out / "cache" / (std::string(to_string(parse_split(spec.split))) + "_stages.jsonl")).string());
  fs::create_directories(out / "methods");
  Summary full_summary;
  for (const auto& c : candidates) {
    std::string label = c.method + (c.epsilon >= 0 && c.method != "full" ? " (eps=" + eps_label(c.epsilon) + ")" : "");
    banner("evaluating " + label + " on " + spec.dataset + "/" + test.info.split + " (" +
           std::to_string(test.examples.size()) + " examples)");
    auto cfg = base;
    for (auto kind : kStages) {
      cfg.stage(kind).skip = c.plans[stage_index(kind)];
      cfg.stage(kind).early_exit = c.early_exit;
    }
    MultiStagePipeline pipeline(session.generator(), cfg, &test_cache);
    EvalOptions eo;
    eo.label = label;
    std::string file = c.method + (c.epsilon >= 0 ? "_eps" + eps_label(c.epsilon) : "");
    eo.traces_path = (out / "methods" / (file + ".traces.jsonl")).string();
    eo.resume = true;
    auto result = evaluate(pipeline, test.examples, eo);
    MethodRow row;
    row.method = c.method;
    row.label = label;
    row.epsilon = c.method == "full" ? -1 : c.epsilon;
    row.skip = plans_text(c.plans);
    row.early_exit = ee_text(c.early_exit);
    row.summary = result.summary;
    if (c.method == "full") full_summary = result.summary;
    report.rows.push_back(row);
  }
  for (auto& r : report.rows) {
    r.full_accuracy = full_summary.accuracy;
    r.full_latency = full_summary.mean_seconds;
  }
  std::string caption = spec.name + ": " + spec.dataset + "/" + test.info.split + ", " +
                        std::to_string(test.examples.size()) + " questions, " + dtype_name(session.runtime().dtype) +
                        " on " + session.runtime().device.str() + ", " + std::to_string(at::get_num_threads()) +
                        " threads; search on " + search_data.info.split + " (" +
                        std::to_string(search_data.examples.size()) + "), epsilon in accuracy points";
  write_tables(report.rows, out.string(), "table", caption);
  for (auto ext : {".md", ".csv", ".tex"}) report.files.push_back((out / ("table" + std::string(ext))).string());
  if (options.plots) {
    auto f = plot_tradeoff(report.rows, (out / "plots").string());
    report.files.insert(report.files.end(), f.begin(), f.end());
  }
  nlohmann::json summary = nlohmann::json::array();
  for (const auto& r : report.rows)
    summary.push_back({{"method", r.method}, {"label", r.label}, {"epsilon", r.epsilon}, {"summary", r.summary},
                       {"speedup", r.speedup()}, {"delta_points", r.delta_points()}, {"skip", r.skip},
                       {"early_exit", r.early_exit}});
  write_file_atomic((out / "results.json").string(),
                    nlohmann::json{{"experiment", spec.name}, {"split", test.info}, {"rows", summary},
                                   {"search_stage_cache", {{"entries", search_cache.size()}}},
                                   {"seconds", total.seconds()}}.dump(2) + "\n");
  if (options.print_table) std::cout << "\n" << table_markdown(report.rows, caption) << "\n";
  std::fprintf(stderr, "workflow finished in %s; results in %s/\n", format_duration(total.seconds()).c_str(),
               out.string().c_str());
  return report;
}

}  // namespace litestage
