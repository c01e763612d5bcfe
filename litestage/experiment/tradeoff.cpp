#include "litestage/experiment/tradeoff.hpp"

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "litestage/experiment/run_dir.hpp"
#include "litestage/search/budget_search.hpp"
#include "litestage/experiment/evaluate.hpp"
#include "litestage/experiment/run_importance.hpp"
#include "litestage/util/error.hpp"
#include "litestage/util/format.hpp"
#include "litestage/util/stats.hpp"
#include "litestage/util/strings.hpp"

namespace litestage {
namespace fs = std::filesystem;

namespace {

TradeoffRow evaluate_row(Session& session, const std::vector<Example>& examples, const std::vector<SubLayer>& ranking,
                         int k) {
  PipelineConfig config = session.full_pipeline_config();
  const SkipPlan plan = SkipPlan::from_ranking(ranking, static_cast<size_t>(k), session.num_layers());
  for (StageKind kind : kStages) config.stages[kind].skip = plan;
  MultiStagePipeline pipeline(session.generator(), config);
  EvalOptions eo;
  eo.label = "k=" + std::to_string(k);
  const Summary s = run_pipeline(pipeline, examples, eo).summary;
  TradeoffRow row;
  row.k = k;
  row.skipped = plan.to_string();
  row.examples = s.examples;
  row.correct = s.correct;
  row.unparsed = s.unparsed;
  row.accuracy = s.accuracy;
  const Interval w = wilson_interval(static_cast<size_t>(s.correct), static_cast<size_t>(s.examples));
  row.wilson_low = w.low;
  row.wilson_high = w.high;
  row.mean_seconds = s.mean_seconds;
  return row;
}

}  // namespace

std::string TradeoffResult::markdown() const {
  std::string out = "## Importance profile: cos(in, out) per sub-layer, mean over the stages' prefills\n\n";
  out += "| layer | attention cos | 1 - cos | FFN cos | 1 - cos |\n|---|---|---|---|---|\n";
  for (int l = 0; l < importance.layers; ++l) {
    double a = 0, f = 0;  // mean over the stages that ran
    const auto measured = importance.measured_stages();
    for (StageKind kind : measured) {
      a += importance.stages[kind].attn.at(static_cast<size_t>(l)) / static_cast<double>(measured.size());
      f += importance.stages[kind].ffn.at(static_cast<size_t>(l)) / static_cast<double>(measured.size());
    }
    out += "| " + std::to_string(l) + format(" | %.4f | %.2e", a, 1 - a) + format(" | %.4f | %.2e |\n", f, 1 - f);
  }
  out += "\n## Skipping the k most redundant sub-layers in every stage\n\n";
  out += "| k | skipped | accuracy | 95% Wilson | unparsed | s/question (one pass) |\n|---|---|---|---|---|---|\n";
  for (const TradeoffRow& r : rows)
    out += "| " + std::to_string(r.k) + " | " + r.skipped + format(" | %.1f%% | [%.1f, %.1f]", 100 * r.accuracy,
                                                                     100 * r.wilson_low, 100 * r.wilson_high) +
           " | " + std::to_string(r.unparsed) + format(" | %.3f |\n", r.mean_seconds);
  return out;
}

TradeoffResult run_tradeoff(Session& session, int step, int max_k) {
  LITESTAGE_CHECK(step >= 1, "tradeoff: step must be >= 1, got ", step);
  const int all = 2 * session.num_layers();
  if (max_k < 0 || max_k > all) max_k = all;
  TradeoffResult result;
  result.importance = run_importance(session);
  const std::vector<SubLayer> ranking = result.importance.ranking();
  const Dataset data = session.dataset(session.spec().split);
  for (int k = 0; k <= max_k; k += step) result.rows.push_back(evaluate_row(session, data.examples, ranking, k));

  nlohmann::json rows = nlohmann::json::array();
  for (const TradeoffRow& r : result.rows)
    rows.push_back({{"k", r.k}, {"skipped", r.skipped}, {"examples", r.examples}, {"correct", r.correct},
                    {"unparsed", r.unparsed}, {"accuracy", r.accuracy}, {"wilson95", {r.wilson_low, r.wilson_high}},
                    {"mean_seconds", r.mean_seconds}});
  const RunDir out(session.spec().output_dir);
  fs::create_directories(out.root());
  nlohmann::json j = {{"model", session.spec().model}, {"split", data.info}, {"importance", result.importance},
                      {"rows", rows}};
  out.write(out.tradeoff_json(), j.dump(2) + "\n");
  out.write(out.tradeoff_md(), result.markdown());
  return result;
}

}  // namespace litestage
