#pragma once
// Result tables (Markdown, CSV, LaTeX) and plots (gnuplot PNG + SVG, with their data files beside
// them so users can re-plot).

#include <array>
#include <string>
#include <vector>

#include "litestage/search/budget_search.hpp"
#include "litestage/search/importance.hpp"
#include "litestage/util/stats.hpp"

namespace litestage {

struct MethodRow {
  Method method = Method::Full;
  std::string label;             // method and its setting, e.g. "litestage (eps=2)"
  double epsilon = -1;           // accuracy budget the method was searched under (-1: none)
  std::string skip;              // per-stage plans, text
  std::string early_exit;        // "off" or "threshold 0.45 (probability, n=4)"
  std::string speculative = "off";  // speculative decoding: SpeculativeConfig::describe()
  Summary summary;               // on the evaluation split (latencies: the timed passes' medians)
  double full_accuracy = 0;      // the full model's, same split
  double full_latency = 0;
  double full_flops = 0;
  double full_predicted = 0;     // the latency model's seconds per question (model/latency_model.hpp)
  double predicted_seconds = 0;  // this method's
  LatencySamples timing;         // this method's timed passes (interleaved with every other method's)
  // Timed rows: the full model's per-question median latencies summed over this row's, and its
  // 95 % bootstrap interval over questions (the same statistic). 0: untimed.
  double timed_speedup = 0;
  Interval speedup_ci{0, 0};
  bool unconstrained = false;    // not held to the accuracy target (random)
  double delta_points() const { return 100.0 * (summary.accuracy - full_accuracy); }
  double speedup() const {
    if (timed_speedup > 0) return timed_speedup;
    return summary.mean_seconds > 0 ? full_latency / summary.mean_seconds : 0;
  }
  // The FLOPs ratio: the full model's FLOPs per question over this method's (batch 1 time does not
  // follow it: kept to show how far it is from the clock).
  double cost_speedup() const { return summary.mean_cost.flops > 0 ? full_flops / summary.mean_cost.flops : 0; }
  // The latency model's prediction of the speedup, from the deterministic cost alone.
  double predicted_speedup() const { return predicted_seconds > 0 ? full_predicted / predicted_seconds : 0; }
  Interval accuracy_ci() const;  // 95 % Wilson
};

std::string table_markdown(const std::vector<MethodRow>& rows, const std::string& caption);
std::string table_csv(const std::vector<MethodRow>& rows);
std::string table_latex(const std::vector<MethodRow>& rows, const std::string& caption);
// Writes <dir>/<stem>.md, .csv, .tex.
void write_tables(const std::vector<MethodRow>& rows, const std::string& dir, const std::string& stem,
                  const std::string& caption);

// True when gnuplot is on PATH.
bool gnuplot_available();

// Each writes <dir>/<stem>.dat and .gp, and (with gnuplot) .png and .svg. Returns the files made.
std::vector<std::string> plot_tradeoff(const std::vector<MethodRow>& rows, const std::string& dir);
std::vector<std::string> plot_sweep(const SearchResult& search, const std::string& dir, const std::string& stem);
std::vector<std::string> plot_importance(const ImportanceResult& importance, const std::string& dir);

}  // namespace litestage
