// The results tables: every row shows the latency model's predicted speedup beside the measured
// one (and the FLOPs ratio), in Markdown, CSV and LaTeX.

#include <catch2/catch.hpp>

#include "litestage/experiment/report.hpp"

using namespace litestage;

namespace {

MethodRow row(const std::string& method, double predicted_seconds, double flops, double timed) {
  MethodRow r;
  r.method = method;
  r.label = method;
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
  const std::vector<MethodRow> rows = {row("full", 0.5, 100, 1.0), row("litestage", 0.4, 50, 1.2)};
  const std::string md = table_markdown(rows, "");
  CHECK_THAT(md, Catch::Contains("| speedup [95% CI] | predicted speedup | FLOPs speedup |"));
  CHECK_THAT(md, Catch::Contains("| 1.20x | 1.25x | 2.00x | 0 |"));
  CHECK_THAT(md, Catch::Contains("| 1.00x | 1.00x | 1.00x | 0 |"));
  const std::string csv = table_csv(rows);
  CHECK_THAT(csv, Catch::Contains("speedup,speedup_low,speedup_high,predicted_speedup,predicted_s,cost_speedup,flops,"));
  CHECK_THAT(csv, Catch::Contains(",1.2000,0.0000,0.0000,1.2500,0.400000,2.0000,50,"));
  const std::string tex = table_latex(rows, "t");
  CHECK_THAT(tex, Catch::Contains("Speedup & Predicted & FLOPs"));
  CHECK_THAT(tex, Catch::Contains("1.20$\\times$ & 1.25$\\times$ & 2.00$\\times$"));
  // No prediction (a row without a cost): 0, not a division by zero.
  CHECK(row("x", 0, 0, 0).predicted_speedup() == 0);
}
