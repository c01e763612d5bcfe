// The results tables: every row shows the latency model's predicted speedup beside the measured
// one (and the FLOPs ratio), in Markdown, CSV and LaTeX.

#include <catch2/catch.hpp>

#include "litestage/experiment/report.hpp"

using namespace litestage;

namespace {

MethodRow row(Method method, double predicted_seconds, double flops, double timed) {
  MethodRow r;
  r.method = method;
  r.label = method_name(method);
  r.skip = "none";
  r.early_exit = "off";
  r.summary.examples = 10;
  r.summary.correct = 9;
  r.summary.accuracy = 0.9;
  r.summary.mean_seconds = 1.0;
  r.summary.mean_cost.flops = flops;
  r.full_flops = 100;
  r.full_predicted = 0.5;
  r.predicted_seconds = predicted_seconds;
  r.timed_speedup = timed;
  return r;
}

}  // namespace

TEST_CASE("every table row shows the predicted speedup beside the measured one", "[experiment][report]") {
  // litestage: measured 1.20x, predicted 0.5 / 0.4 = 1.25x, FLOPs 100 / 50 = 2.00x.
  const std::vector<MethodRow> rows = {row(Method::Full, 0.5, 100, 1.0), row(Method::LiteStage, 0.4, 50, 1.2)};
  const std::string md = table_markdown(rows, "");
  CHECK_THAT(md, Catch::Contains("| speedup [95% CI] | predicted speedup | FLOPs speedup |"));
  CHECK_THAT(md, Catch::Contains("| 1.20x | 1.25x | 2.00x | 0 |  |"));  // not speculative: no tokens per verify
  CHECK_THAT(md, Catch::Contains("| 1.00x | 1.00x | 1.00x | 0 |  |"));
  const std::string csv = table_csv(rows);
  CHECK_THAT(csv, Catch::Contains("speedup,speedup_low,speedup_high,predicted_speedup,predicted_s,cost_speedup,flops,"));
  CHECK_THAT(csv, Catch::Contains(",1.2000,0.0000,0.0000,1.2500,0.400000,2.0000,50,"));
  const std::string tex = table_latex(rows, "t");
  CHECK_THAT(tex, Catch::Contains("Speedup & Predicted & FLOPs"));
  CHECK_THAT(tex, Catch::Contains("1.20$\\times$ & 1.25$\\times$ & 2.00$\\times$"));
  // No prediction (a row without a cost): 0, not a division by zero.
  CHECK(row(Method::Uniform, 0, 0, 0).predicted_speedup() == 0);
}

TEST_CASE("a speculative row shows its tokens per verify forward per stage and its settings", "[experiment][report]") {
  MethodRow lossless = row(Method::Lossless, 0.5, 100, 1.1);
  lossless.speculative = "lookup, gamma 8, ngram 3, adaptive";
  // Recall: (3 accepted + 4 forwards) / 4 = 1.75; Analyze: (10 + 5) / 5 = 3; Summarize: none.
  lossless.summary.stages[StageKind::Recall].speculative = {4, 6, 3};
  lossless.summary.stages[StageKind::Analyze].speculative = {5, 20, 10};
  const std::vector<MethodRow> rows = {row(Method::Full, 0.5, 100, 1.0), lossless};
  const std::string md = table_markdown(rows, "");
  CHECK_THAT(md, Catch::Contains("| too long | tokens per verify |"));
  CHECK_THAT(md, Catch::Contains("| 1.10x | 1.00x | 1.00x | 0 | 1.75/3.00/- |"));
  CHECK_THAT(md, Catch::Contains("- lossless: skip none; early exit off; speculative lookup, gamma 8, ngram 3, adaptive"));
  CHECK_THAT(md, Catch::Contains("- full: skip none; early exit off\n"));
  const std::string csv = table_csv(rows);
  CHECK_THAT(csv, Catch::Contains(",skip,early_exit,speculative,tokens_per_verify\n"));
  CHECK_THAT(csv, Catch::Contains(",none,off,\"lookup, gamma 8, ngram 3, adaptive\",1.75/3.00/-\n"));
  CHECK_THAT(csv, Catch::Contains(",none,off,off,\n"));
}

TEST_CASE("the tables' stage columns: every stage in running order, in each format", "[experiment][report]") {
  MethodRow r = row(Method::Full, 0.5, 100, 1.0);
  r.full_accuracy = 0.9;  // Δ 0
  r.summary.stages[StageKind::Recall].mean_seconds = 0.125;
  r.summary.stages[StageKind::Analyze].mean_seconds = 0.5;
  r.summary.stages[StageKind::Summarize].mean_seconds = 0.375;
  r.summary.stages[StageKind::Analyze].share = 0.5;
  const std::vector<MethodRow> rows = {r};
  CHECK_THAT(table_markdown(rows, ""),
             Catch::Contains("| method | acc % [95% CI] | Δ acc | recall (s) | analyze (s) | summarize (s) | total s "
                             "(min–max) | tokens |") &&
                 Catch::Contains(" | +0.00 | 0.1250 | 0.5000 | 0.3750 | 1.0000 | "));
  const std::string csv = table_csv(rows);
  CHECK(csv.rfind("method,label,epsilon,accuracy,accuracy_low,accuracy_high,delta_points,recall_s,analyze_s,summarize_s,"
                  "total_s,total_s_min,",
                  0) == 0);
  CHECK_THAT(csv, Catch::Contains(",prompt_too_long,recall_share,analyze_share,summarize_share,unparsed,") &&
                      Catch::Contains(",0.0000,0.125000,0.500000,0.375000,1.000000,") &&
                      Catch::Contains(",0,0.0000,0.5000,0.0000,"));
  CHECK_THAT(table_latex(rows, "t"), Catch::Contains("$\\Delta$ & Recall (s) & Analyze (s) & Summarize (s) & Total (s) &") &&
                                         Catch::Contains(" & +0.00 & 0.1250 & 0.5000 & 0.3750 & 1.0000 & "));
}
