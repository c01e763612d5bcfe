#pragma once
// Checks on a workflow report's rows against its first row, the full model.

#include <catch2/catch.hpp>

#include <algorithm>
#include <vector>

#include "litestage/experiment/report.hpp"

namespace litestage::test {

// Every row carries the full row's accuracy, latency and FLOPs as its reference, and its measured
// speedup is an average of the per-question ones (full over own latency), so it lies between the
// smallest and the largest: whatever the estimator (ratio of sums, median of ratios, ...).
inline void check_rows_against_full(const std::vector<MethodRow>& rows) {
  REQUIRE(!rows.empty());
  const MethodRow& full = rows.front();
  REQUIRE(full.method == Method::Full);
  for (const MethodRow& r : rows) {
    INFO("row " << r.label);
    CHECK(r.full_accuracy == full.summary.accuracy);
    CHECK(r.full_latency == full.summary.mean_seconds);
    CHECK(r.full_flops == full.summary.mean_cost.flops);
    REQUIRE(r.timing.per_question.size() == full.timing.per_question.size());
    std::vector<double> ratios;
    for (size_t q = 0; q < r.timing.per_question.size(); ++q) {
      REQUIRE(r.timing.per_question[q] > 0);
      ratios.push_back(full.timing.per_question[q] / r.timing.per_question[q]);
    }
    REQUIRE(!ratios.empty());
    const auto [lo, hi] = std::minmax_element(ratios.begin(), ratios.end());
    CHECK(r.speedup() >= *lo * (1 - 1e-9));
    CHECK(r.speedup() <= *hi * (1 + 1e-9));
  }
}

}  // namespace litestage::test
