#pragma once
// Small statistics for reported figures: intervals on accuracies, medians and spreads of timings.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace litestage {

struct Interval {
  double low = 0, high = 0;
};

// Wilson score interval for k successes in n trials (z = 1.96: 95 %). n = 0 gives [0, 1].
Interval wilson_interval(size_t k, size_t n, double z = 1.96);

// Median of the values (mean of the middle two for an even count); 0 for none.
double median(std::vector<double> values);

// 95 % percentile bootstrap interval of sum(numerator) / sum(denominator) over paired items
// (e.g. per-question latencies of two methods: the speedup), resampling items with replacement.
// Deterministic in `seed`. Needs equal, non-empty sizes.
Interval bootstrap_ratio_interval(const std::vector<double>& numerator, const std::vector<double>& denominator,
                                  int resamples = 2000, uint64_t seed = 1);

}  // namespace litestage
